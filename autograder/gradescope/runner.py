"""The in-container runner: ``python -m autograder.gradescope run|check``, what run_autograder and setup.sh call."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.gradescope.config import DEFAULT_TIME_LIMIT, DEFAULT_VISIBILITY, SKIP_PARTS, _jail, load_config
from autograder.gradescope.results import Results, failure_results, outcome_results
from autograder.sandbox.backends import DEFAULT_BACKEND, jailed

if TYPE_CHECKING:
    from autograder.grading.private import PrivateCourses

STUDENT = "student"  # the private course's only student
ROOT_ENV = "ZENGRAD_GRADESCOPE_ROOT"  # tests only: a directory laid out like /autograder
PYTHON_ENV = "ZENGRAD_GRADESCOPE_PYTHON"  # tests only: the interpreter run_autograder uses


def submission_files(submission: Path, assignment: str) -> dict[str, bytes]:
    """The student's files, as ``submitted/<student>/<assignment>/`` holds them.

    The notebook may sit in a sub-folder (an uploaded folder or repository): the folder that holds
    ``<assignment>.ipynb`` is the submission then. A missing or renamed notebook is left to the
    pipeline's own check, which names what it found.
    """
    folder = submission
    if not (submission / f"{assignment}.ipynb").is_file():
        found = [p.parent for p in submission.rglob(f"{assignment}.ipynb")
                 if p.is_file() and not SKIP_PARTS & set(p.relative_to(submission).parts)]
        if len(found) == 1:
            folder = found[0]
    files: dict[str, bytes] = {}
    for p in sorted(folder.rglob("*")) if folder.is_dir() else []:
        rel = p.relative_to(folder)
        if p.is_file() and not p.is_symlink() and not SKIP_PARTS & set(rel.parts):
            files[str(rel)] = p.read_bytes()
    return files


def _kill_children() -> None:
    """Kill every process this one started (the jails; each takes its namespace with it)."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child.kill()


def _print_report(data: dict[str, Any], flags: list[dict] | None = None) -> None:
    """What the instructor sees in Gradescope's stdout box."""
    print(f"\nzengrad-kit: {data['extra_data']['status']}, score {data['score']:g}"
          + (f" ({data['extra_data'].get('error_kind')})" if data["extra_data"].get("error_kind") else ""))
    for t in data["tests"][1:]:
        print(f"  {t['name']}: {t['score']:g} / {t['max_score']:g}")
    for f in flags or []:
        print(f"  integrity flag: {json.dumps(f, sort_keys=True)}")
    print(data["output"])
    sys.stdout.flush()


def run(root: str | Path = "/autograder") -> dict[str, Any]:
    """Grade ``<root>/submission`` and write ``<root>/results/results.json`` (always); the results written."""
    start = time.monotonic()
    root = Path(root)
    from autograder.grading.private import PrivateCourses

    source = root / "source"
    courses = PrivateCourses()  # this run's private course, removed whatever happens
    results = Results(root / "results" / "results.json")
    cfg: dict[str, Any] = {"assignment": "?", "visibility": DEFAULT_VISIBILITY, "sandbox": DEFAULT_BACKEND,
                           "time_limit": DEFAULT_TIME_LIMIT, "overrides": [], "fingerprint": "?"}
    try:
        cfg = load_config(source)
    except Exception as exc:  # noqa: BLE001 - a broken bundle: say so
        data = failure_results(cfg, source, "bundle", f"the autograder bundle is broken ({type(exc).__name__}: "
                                                      f"{exc}).", time.monotonic() - start)
        results.write(data)
        with contextlib.suppress(Exception):
            _print_report(data)
        return data

    def give_up(kind: str, reason: str) -> None:
        data = failure_results(cfg, source, kind, reason, time.monotonic() - start)
        if results.write(data):
            with contextlib.suppress(Exception):
                _print_report(data)
        with contextlib.suppress(Exception):
            _kill_children()
        with contextlib.suppress(Exception):
            courses.close()
        os._exit(0)

    limit = float(cfg.get("time_limit") or DEFAULT_TIME_LIMIT)
    deadline = limit - max(10.0, 0.05 * limit)
    done = threading.Event()

    def watchdog() -> None:
        if not done.wait(max(1.0, deadline - (time.monotonic() - start))):
            give_up("timeout", f"grading did not finish within the autograder's time limit ({deadline:.0f} s): "
                               "code that blocks (sleep, input()) or runs for very long.")

    threading.Thread(target=watchdog, daemon=True, name="zengrad-gradescope-watchdog").start()
    previous = None
    with contextlib.suppress(ValueError):  # not in the main thread: no handler
        previous = signal.signal(signal.SIGTERM, lambda *_: give_up("terminated", "the autograder was stopped "
                                                                                  "(SIGTERM) before grading finished."))
    try:
        try:
            data = _grade(root, source, cfg, start, courses)
        except BaseException as exc:  # noqa: BLE001 - our own failure: never without a results.json
            traceback.print_exc()
            data = failure_results(cfg, source, "internal", f"the autograder itself failed ({type(exc).__name__}: "
                                                            f"{str(exc)[:500]}).", time.monotonic() - start)
        done.set()
        flags = data["extra_data"].pop("flags", [])
        if results.write(data):
            with contextlib.suppress(Exception):
                _print_report(data, flags)
    finally:
        done.set()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        with contextlib.suppress(Exception):
            courses.close()
    return data


def _grade(root: Path, source: Path, cfg: dict[str, Any], start: float, courses: PrivateCourses) -> dict[str, Any]:
    from autograder.grading import private
    from autograder.grading.config import Overrides

    jail = _jail()
    if jailed(cfg["sandbox"]):
        try:
            jail.preflight()
        except jail.SandboxUnavailable as exc:
            return failure_results(cfg, source, "sandbox", f"the sandbox that student code runs in cannot start in "
                                                           f"this container, so nothing was graded ({exc})",
                                   time.monotonic() - start)
    else:
        print(f"WARNING: {jail.UNSAFE_WARNING}", flush=True)
    assignment = cfg["assignment"]
    material = dataclasses.replace(private.Material.from_course(source / "course", assignment),
                                   fingerprint=cfg["fingerprint"])
    files = submission_files(root / "submission", assignment)
    overrides = Overrides.of([*cfg.get("overrides", []), f"--Sandbox.backend={cfg['sandbox']}"])
    try:
        graded = private.grade_submission(material, STUDENT, files, private.Grading(overrides), courses=courses)
    except private.VersionMismatch as exc:
        return failure_results(cfg, source, "version", f"the grading code installed in this container is not the "
                                                       f"code the autograder was built with ({exc}).",
                               time.monotonic() - start)
    outcome = graded.outcome
    print(outcome.log[-20000:], flush=True)
    data = outcome_results(cfg, source, outcome, time.monotonic() - start)
    data["extra_data"]["flags"] = list(outcome.flags)
    return data


def check(source: Path) -> int:
    """At build time (setup.sh): the installed grading code is the bundle's; whether the sandbox starts here."""
    from autograder.grading.private import fingerprint

    jail = _jail()

    cfg = load_config(source)
    found = fingerprint()
    if found != cfg["fingerprint"]:
        print(f"zengrad-kit: error: the installed grading code ({found}) is not the code this bundle was built "
              f"with ({cfg['fingerprint']}); rebuild the bundle with the same zengrad-kit and nbgrader versions")
        return 1
    print(f"zengrad-kit: grading code {found} installed for {cfg['assignment']}")
    if not jailed(cfg["sandbox"]):
        print(f"WARNING: this bundle grades WITHOUT the sandbox (--sandbox none): {jail.UNSAFE_WARNING}")
        return 0
    try:
        jail.preflight()
    except jail.SandboxUnavailable as exc:
        print(f"WARNING: the sandbox cannot start in the build container ({exc}). If it cannot start when "
              "submissions are graded either, every submission gets an error result saying so.")
    else:
        print("zengrad-kit: the sandbox starts in this container")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.gradescope run|check``: what run_autograder and setup.sh call."""
    bindir = str(Path(sys.executable).parent)  # nbgrader shells out to alembic
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="grade <root>/submission into <root>/results/results.json")
    r.add_argument("--root", default=os.environ.get(ROOT_ENV, "/autograder"), help=argparse.SUPPRESS)
    c = sub.add_parser("check", help="check the installation (setup.sh)")
    c.add_argument("--source", default="/autograder/source")
    args = parser.parse_args(argv)
    if args.command == "check":
        return check(Path(args.source))
    run(args.root)
    return 0
