"""``zengrad-kit hub setup``: make a course ready for a JupyterHub, safely, in one idempotent command.

Run as root. In order, each step printed as it is done (a second run prints only what changed):

1. refuse an interpreter the grader (or, when known, the students) cannot run: a venv made from
   a Python under ``/root`` (mode 700) starts for nobody else (exit 126);
2. record the course id and the exchange in ``<course>/hub/hub.json`` (the course's
   ``nbgrader_config.py`` reads them: no ``ZENGRAD_EXCHANGE`` in instructor shells);
3. register every assignment of ``source/`` in the gradebook (``gradebook``);
4. make the shared exchange with modes that keep submissions apart (``exchange_dirs``);
5. write the students' config and lock the instructor plugins; the formgrader service's config;
   the ``jupyterhub_config.py`` fragment (``jupyter_files``);
6. give the course to the grader, unreadable by anyone else: owner the grader, group the
   grader's primary group, directories 0750 and files 0640, the secrets 0700/0600
   (``layout``), the course directory itself 0750;
7. check as the grader that the course's code imports, then run ``doctor``'s checks.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from autograder.hub import exchange_dirs, jupyter_files
from autograder.hub.accounts import NOBODY, Account, AccountError, can_execute, group_members, group_name
from autograder.hub.configured import course_id as configured_course_id
from autograder.hub.deployment import HUB_DIR, Deployment
from autograder.hub.layout import SECRET_ENTRIES


class SetupError(RuntimeError):
    """Setup cannot go on; the message says why and what to do. Nothing after the failing step was done."""


@dataclass
class Options:
    course: Path
    exchange: Path
    grader: str
    course_id: str | None = None
    jupyter_dir: Path = jupyter_files.SYSTEM_JUPYTER
    formgrader_port: int = 9999
    student_python: Path | None = None


def _say(line: str) -> None:
    print(f"  {line}", flush=True)


def check_interpreters(grader: Account, student_python: Path | None) -> None:
    """Refuse (before changing anything) an interpreter its users cannot start."""
    python = Path(sys.executable)
    fix = ("make the venv from an interpreter every user can run, e.g. `/usr/bin/python3 -m venv /srv/zengrad-venv` "
           "(Debian's), not from a Python under /root (mode 700), install zengrad-kit into it and run setup with it")
    problem = can_execute(grader, python)
    if problem:
        raise SetupError(f"the grader {grader.name} cannot run {python} ({problem}); {fix}")
    _say(f"{grader.name} can run {python}")
    if student_python is not None:
        problem = can_execute(Account.named(NOBODY), student_python)
        if problem:
            raise SetupError(f"students cannot run their servers' interpreter {student_python} ({problem}); {fix}")
        _say(f"students (checked as {NOBODY}) can run {student_python}")
    for script in ("jupyterhub-singleuser", "zengrad-kit", "nbgrader"):
        if not (python.parent / script).exists():
            raise SetupError(f"{python.parent / script} is missing: the formgrader service and the grading service "
                             f"run from this venv; install it: {python.parent / 'pip'} install jupyterhub "
                             "(the hub's version)")


def _want_mode(course: Path, path: Path, st: os.stat_result) -> int:
    parts = path.relative_to(course).parts
    secret = bool(parts) and parts[0] in SECRET_ENTRIES
    if stat.S_ISDIR(st.st_mode):
        return 0o700 if secret else 0o750
    executable = st.st_mode & stat.S_IXUSR
    if secret:
        return 0o700 if executable else 0o600
    return 0o750 if executable else 0o640


def lock_down(course: Path, grader: Account) -> list[str]:
    """Owner the grader, group the grader's, nothing for other users; the secrets for the grader alone."""
    owners = modes = 0
    paths = [course]
    for dirpath, dirnames, filenames in os.walk(course):
        paths += [Path(dirpath) / n for n in dirnames + filenames]
    for path in paths:
        st = path.lstat()
        if (st.st_uid, st.st_gid) != (grader.uid, grader.gid):
            os.lchown(path, grader.uid, grader.gid)
            owners += 1
        if stat.S_ISLNK(st.st_mode):
            continue
        want = _want_mode(course, path, st)
        if stat.S_IMODE(path.lstat().st_mode) != want:
            os.chmod(path, want)
            modes += 1
    done = []
    if owners:
        done.append(f"{course}: {owners} paths now owned by {grader.name}:{group_name(grader.gid)}")
    if modes:
        done.append(f"{course}: {modes} modes set (directories 0750, files 0640; {', '.join(sorted(SECRET_ENTRIES))} "
                    "0700/0600; nothing for other users)")
    return done


def _grader_imports(grader: Account, course: Path) -> None:
    proc = grader.run([sys.executable, "-c", "import autograder.screen.server, autograder.cli, nbgrader"],
                      cwd=course, timeout=120)
    if proc.returncode != 0:
        raise SetupError(f"as {grader.name}, the course's code does not import from {sys.executable}: "
                         f"{proc.stderr.strip().splitlines()[-1:]}; install zengrad-kit in that venv (pip install -e "
                         f"{course}) and make it readable by {grader.name}")


def setup(opts: Options) -> int:
    from autograder.grading.config import course_config
    from autograder.hub import gradebook
    from autograder.hub.doctor import diagnose, report

    if os.geteuid() != 0:
        raise SetupError("hub setup changes owners and modes: run it as root (sudo zengrad-kit hub setup ...)")
    course = opts.course.resolve()
    if not (course / "nbgrader_config.py").exists():
        raise SetupError(f"{course} is not a course directory (no nbgrader_config.py)")
    try:
        grader = Account.named(opts.grader)
    except AccountError as exc:
        raise SetupError(str(exc)) from None
    if grader.uid == 0:
        raise SetupError("the grader must not be root: grading runs as the grader, services too")
    others = group_members(grader.gid) - {grader.name}
    if others:
        raise SetupError(f"the grader's primary group {group_name(grader.gid)} has other members "
                         f"({', '.join(sorted(others))}): they would read the course; give {grader.name} a group of "
                         "its own (useradd -U)")
    exchange = opts.exchange.resolve()
    if exchange == course or course in exchange.parents:
        raise SetupError("the shared exchange must be outside the course (students must not reach the course)")
    student_python = opts.student_python
    if student_python is None and shutil.which("jupyterhub-singleuser"):
        student_python = Path(shutil.which("jupyterhub-singleuser")).parent / "python"  # type: ignore[arg-type]
    print(f"zengrad-kit hub setup: course {course}, grader {grader.name}, exchange {exchange}")

    print("1. interpreters")
    check_interpreters(grader, student_python if student_python and student_python.exists() else None)

    print("2. the course's hub record")
    course_id = opts.course_id or configured_course_id(course_config(course), "zengrad")
    deployment = Deployment(course_id=course_id, exchange=str(exchange), grader=grader.name,
                            student_jupyter=str(opts.jupyter_dir),
                            student_python=str(student_python) if student_python else None,
                            formgrader_port=opts.formgrader_port)
    if deployment.write(course):
        _say(f"{Deployment.path(course)}: course id {course_id}, exchange {exchange} (nbgrader_config.py reads it)")

    print("3. gradebook")
    todo = gradebook.missing(course)
    if todo:
        gradebook.register(course, todo)
        _say(f"registered {', '.join(todo)} in {course / 'gradebook.db'} (release/ untouched)")
    else:
        _say("every assignment of source/ is in the gradebook")

    print("4. exchange")
    for line in exchange_dirs.prepare(exchange, course_id, grader) or ["modes and owners already right"]:
        _say(line)

    print("5. Jupyter config: students, formgrader, the hub")
    hub_dir = course / HUB_DIR
    done = jupyter_files.write_student_files(opts.jupyter_dir, course_id, exchange)
    done += jupyter_files.write_formgrader_files(hub_dir / "formgrader")
    fragment = hub_dir / "jupyterhub_config.py"
    text = jupyter_files.hub_fragment(
        course=course, course_id=course_id, grader=grader.name, venv_bin=Path(sys.executable).parent,
        formgrader_port=opts.formgrader_port, formgrader_config=hub_dir / "formgrader",
        student_jupyter=None if opts.jupyter_dir == jupyter_files.SYSTEM_JUPYTER else opts.jupyter_dir)
    if not fragment.exists() or fragment.read_text() != text:
        fragment.write_text(text)
        done.append(f"{fragment}: formgrader (/services/{course_id}/formgrader) and {course_id}-serve as services "
                    f"of the hub, run as {grader.name}")
    for line in done or ["already written"]:
        _say(line)

    print("6. owner and modes")
    for line in lock_down(course, grader) or ["already right"]:
        _say(line)

    print("7. checks")
    _grader_imports(grader, course)
    _say(f"{grader.name} imports the course's code")
    found = diagnose(course)
    code = report(course, found)
    print(f"\nadd to the END of your jupyterhub_config.py:\n    load_subconfig({str(fragment)!r})\n"
          f"then restart the hub; the grader opens formgrader at <hub>/services/{course_id}/formgrader")
    return code
