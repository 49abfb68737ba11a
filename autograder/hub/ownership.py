"""A grading run started as root in a course that belongs to someone else runs as that someone.

Files written as root (results, feedback, autograded notebooks, the gradebook's journal) are
files the owner's next run cannot replace; that run then errors on every submission. So ``grade``
and ``serve`` started as root re-execute themselves as the course's owner (``setpriv``, the owner's
groups, the owner's home), after checking that the owner can run this interpreter at all;
if not, they refuse and say which command to use.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from autograder.hub.accounts import Account, can_execute

# per-user directories of the caller (root's, or a test's): meaningless or unreadable for the owner
CALLER_DIRS = ("IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "MPLCONFIGDIR",
               "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME")


class OwnerError(RuntimeError):
    """The run cannot switch to the course's owner: nothing was done (the message says what to run)."""


def owner_to_switch_to(course: Path) -> Account | None:
    """The account to run as: the course's owner when we are root and it is not (None: stay)."""
    if os.geteuid() != 0:
        return None
    uid = course.stat().st_uid
    if uid == 0:
        return None
    owner = Account.with_uid(uid)
    if owner is None:
        raise OwnerError(f"{course} belongs to uid {uid}, which has no account: `chown -R USER: {course}` first")
    return owner


def owner_environment(owner: Account, course: Path) -> dict[str, str]:
    """This environment, as the owner: its name and home, without the caller's per-user directories."""
    env = {k: v for k, v in os.environ.items() if k not in CALLER_DIRS}
    home = owner.home
    if not home.is_dir() or home.stat().st_uid != owner.uid:  # a system user without a home of its own
        home = course / ".home"
        home.mkdir(mode=0o700, exist_ok=True)
        os.chown(home, owner.uid, owner.gid)
    env.update(HOME=str(home), USER=owner.name, LOGNAME=owner.name)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    return env


def with_course(argv: list[str], course: Path) -> list[str]:
    """``argv`` with its ``--course`` replaced by the absolute path (the run starts in the course directory)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--course":
            skip = True
        elif not arg.startswith("--course="):
            out.append(arg)
    return [*out, "--course", str(course)]


def reexec_as_owner(course: Path, command: str, argv: list[str]) -> None:
    """If we are root in a course someone else owns, become that user and run ``zengrad-kit ARGV`` again
    (never returns then); raise :class:`OwnerError` when the owner cannot run this interpreter."""
    owner = owner_to_switch_to(course)
    if owner is None:
        return
    problem = can_execute(owner, Path(sys.executable))
    if problem:
        raise OwnerError(
            f"{course} belongs to {owner.name}; running `{command}` as root would leave files {owner.name} cannot "
            f"write, and {owner.name} cannot run {sys.executable} ({problem}). Nothing was done. Make a venv "
            f"{owner.name} can run (e.g. `/usr/bin/python3 -m venv /srv/zengrad-venv`, not from a Python under "
            f"/root) and run: runuser -u {owner.name} -- /srv/zengrad-venv/bin/zengrad-kit {' '.join(argv)}")
    print(f"zengrad-kit: {course} belongs to {owner.name}: running `{command}` as {owner.name}, not root "
          f"(files root writes there would break {owner.name}'s next run)", file=sys.stderr, flush=True)
    args = [*owner.setpriv(), sys.executable, "-m", "autograder.cli", *with_course(argv, course)]
    os.chdir(course)  # the caller's directory may be closed to the owner (/root)
    os.execve(args[0], args, owner_environment(owner, course))  # does not return
