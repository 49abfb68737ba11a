"""The command line of this package: ``hub setup``, ``doctor``, and what ``grade``/``serve`` do first."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.hub.guard import EXIT_UNSAFE

if TYPE_CHECKING:
    from autograder.grading.config import Overrides

EXIT_USAGE = 2


def cmd_hub_setup(args: argparse.Namespace, overrides: Overrides) -> int:
    from autograder.hub.setup import Options, SetupError, setup

    if overrides:
        print("zengrad-kit: error: hub setup takes no config overrides", file=sys.stderr)
        return EXIT_USAGE
    opts = Options(course=Path(args.course), exchange=Path(args.exchange), grader=args.grader,
                   course_id=args.course_id, jupyter_dir=Path(args.jupyter_dir), formgrader_port=args.formgrader_port,
                   student_python=Path(args.student_python) if args.student_python else None)
    try:
        return setup(opts)
    except SetupError as exc:
        print(f"zengrad-kit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def cmd_doctor(args: argparse.Namespace, overrides: Overrides) -> int:
    from autograder.hub.doctor import diagnose, report

    course = args.find_course(args.course)  # the CLI's own rule (--course, the working directory, the checkout)
    return report(course, diagnose(course))


def before_grading(course: Path, command: str, argv: list[str]) -> int | None:
    """Run as the course's owner (re-executes when root) and refuse leaky shared courses; an exit status to stop
    with, or None to go on."""
    from autograder.hub.guard import leak_check
    from autograder.hub.ownership import OwnerError, reexec_as_owner

    try:
        reexec_as_owner(course, command, argv)
    except OwnerError as exc:
        print(f"zengrad-kit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return leak_check(course, command)


def add_parsers(sub: argparse._SubParsersAction, find_course: Callable[[str | None], Path]) -> None:
    from autograder.hub.jupyter_files import SYSTEM_JUPYTER

    hub = sub.add_parser("hub", help="set a course up for JupyterHub (as root)")
    hub_sub = hub.add_subparsers(dest="hub_command", required=True)
    hs = hub_sub.add_parser(
        "setup", help="make a course ready for a JupyterHub, unreadable by students (idempotent; as root)",
        description="Give the course to the grader, unreadable by other users; make the shared exchange with safe "
                    "modes; write the students' nbgrader config and lock the instructor plugins; register every "
                    "assignment in the gradebook; write <course>/hub/jupyterhub_config.py (formgrader and the "
                    "grading service as hub-managed services). Run it with the venv the hub's services will use. "
                    "Safe to run again.")
    hs.add_argument("--course", required=True, help="the course directory")
    hs.add_argument("--exchange", required=True, help="the shared nbgrader exchange, e.g. /srv/nbgrader/exchange")
    hs.add_argument("--grader", required=True, help="the unix user that owns the course and grades (not a student)")
    hs.add_argument("--course-id", help="nbgrader's course id (default: the course's, zengrad)")
    hs.add_argument("--jupyter-dir", default=str(SYSTEM_JUPYTER),
                    help=f"where students' servers find their nbgrader config and plugin locks (default: "
                         f"{SYSTEM_JUPYTER}; any other directory is passed to them as JUPYTER_CONFIG_PATH)")
    hs.add_argument("--formgrader-port", type=int, default=9999, help="loopback port of the formgrader service")
    hs.add_argument("--student-python", help="the interpreter students' servers run (default: the one of "
                                             "jupyterhub-singleuser on PATH), checked to start for other users")
    hs.set_defaults(func=cmd_hub_setup)

    doc = sub.add_parser("doctor", help="check a course deployment; each finding with its fix (exit 1: leak/break)",
                         description="Secrets readable by other users, mixed ownership, exchange modes, gradebook, "
                                     "interpreters, the sandbox, formgrader's page policy, the grading service. "
                                     f"Exit 1 when something would leak or break grading. grade and serve run the "
                                     f"leak check first (and exit {EXIT_UNSAFE} when the exchange is shared).")
    doc.add_argument("--course")
    doc.set_defaults(func=cmd_doctor, find_course=find_course)
