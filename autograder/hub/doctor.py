"""``zengrad-kit doctor``: check a course deployment and say, for each problem, how to fix it.

Checks, in the order an instructor would fix them:

* **secrets**: every path of the course another user can read that holds solutions, source
  notebooks, checks, the reference engine, the gradebook, reports, feedback, submissions,
  autograded notebooks, the service's state and pages, or a submission secret (``exposure``);
* **ownership**: files of the course owned by someone else (a run as root leaves files the next
  run as the owner cannot write);
* **exchange**: the shared exchange's modes (``exchange_dirs``);
* **gradebook**: every assignment of ``source/`` registered;
* **interpreters**: the course's Python can be run by its owner, the students' by a student, and an
  installed copy of the grading code is not readable by students;
* **sandbox**: one trivial sandbox starts, as the course's owner;
* **page policy**: formgrader runs with ``autograder.screen.server``;
* **service**: whether ``zengrad-kit serve`` runs, and what its status says.

A LEAK or BREAK finding makes the command exit 1.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from autograder.hub.accounts import NOBODY, Account, AccountError, can_execute, user_name
from autograder.hub.configured import course_id as configured_course_id
from autograder.hub.configured import exchange_root, state_dir
from autograder.hub.deployment import Deployment
from autograder.hub.exposure import Exposure
from autograder.hub.findings import BREAK, LEAK, OK, WARN, Finding
from autograder.hub.layout import secret_entry, secret_reason


def _fix_permissions(course: Path, owner: str) -> str:
    grader = owner if owner != "root" else "GRADER"
    return (f"sudo zengrad-kit hub setup --course {course} --exchange EXCHANGE --grader {grader} (or at least: "
            f"chmod -R go-rwx {course})")


def leaks(course: Path, state_dir: str = "service") -> list[Finding]:
    """Secrets of the course other users can read, one finding per top-level entry."""
    owner = course.stat().st_uid
    by_entry: dict[str, list[Any]] = defaultdict(list)
    for exposed in Exposure(owner).walk(course):
        reason = secret_reason(course, exposed.path, state_dir)
        if reason:
            by_entry[secret_entry(course, exposed.path)].append((exposed, reason))
    found = []
    for entry, items in sorted(by_entry.items()):
        first, reason = items[0]
        where = course if entry == "." else course / entry
        found.append(Finding(LEAK, f"{where}: {reason}: readable by {first.readers} ({len(items)} path(s), e.g. "
                                   f"{first.path} mode {stat.S_IMODE(first.mode):04o})",
                             _fix_permissions(course, user_name(owner))))
    return found


def ownership(course: Path) -> list[Finding]:
    """Files in the course owned by anyone but the course's owner.

    ``__pycache__`` is left out: Python run as root writes byte code there, and a cache its owner
    cannot rewrite is only not refreshed (Python compiles in memory); nothing fails.
    """
    owner = course.stat().st_uid
    others: dict[int, list[Path]] = defaultdict(list)
    for dirpath, dirnames, filenames in os.walk(course):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            with contextlib.suppress(OSError):
                uid = path.lstat().st_uid
                if uid != owner:
                    others[uid].append(path)
    found = []
    if Account.with_uid(owner) is None:
        found.append(Finding(BREAK, f"{course} belongs to uid {owner}, which has no account: nobody can grade it as "
                                    "its owner", f"chown -R GRADER: {course} (or run zengrad-kit hub setup)"))
    for uid, paths in sorted(others.items()):
        found.append(Finding(BREAK, f"{len(paths)} path(s) in {course} belong to {user_name(uid)}, not to the "
                                    f"course's owner {user_name(owner)} (e.g. {paths[0]}): a run as "
                                    f"{user_name(owner)} cannot replace them",
                             f"chown -R {user_name(owner)}: {course}   (then run grade/serve as {user_name(owner)}; "
                             "as root, zengrad-kit grade switches to the owner itself)"))
    return found


def exchange(course: Path, cfg: Any) -> list[Finding]:
    from autograder.hub import exchange_dirs

    root = exchange_root(cfg)
    course_id = configured_course_id(cfg)
    with contextlib.suppress(ValueError):
        root.resolve().relative_to(course.resolve())
        return [Finding(OK, f"exchange {root} is inside the course (one machine, one user): not checked")]
    return exchange_dirs.check(root, course_id, course.stat().st_uid) or [
        Finding(OK, f"exchange {root}: modes and owners as they should be")]


def gradebook(course: Path) -> list[Finding]:
    from autograder.hub.gradebook import missing

    try:
        names = missing(course)
    except Exception as exc:  # noqa: BLE001 - an unreadable or foreign database is a finding, not a crash
        return [Finding(BREAK, f"cannot read the gradebook: {type(exc).__name__}: {exc}")]
    if names:
        return [Finding(BREAK, f"not in the gradebook: {', '.join(names)} (grade refuses them)",
                        "sudo zengrad-kit hub setup ... (registers every assignment without touching release/)")]
    return [Finding(OK, "gradebook: every assignment of source/ registered")]


def interpreters(course: Path, deployment: Deployment | None) -> list[Finding]:
    """The owner can run this interpreter; students can run theirs; students cannot read the grading code."""
    found: list[Finding] = []
    owner = Account.with_uid(course.stat().st_uid)
    python = Path(sys.executable)
    fix = ("make the venv from an interpreter everyone can run, e.g. `/usr/bin/python3 -m venv /srv/zengrad-venv` "
           "(not one under /root), and install zengrad-kit there")
    if os.geteuid() == 0 and owner is not None and owner.uid != 0:
        problem = can_execute(owner, python)
        found.append(Finding(BREAK, f"the course's owner {owner.name} cannot run {python}: {problem}", fix)
                     if problem else Finding(OK, f"{owner.name} can run {python}"))
    if deployment and deployment.student_python and os.geteuid() == 0:
        with contextlib.suppress(AccountError):
            problem = can_execute(Account.named(NOBODY), Path(deployment.student_python))
            found.append(Finding(BREAK, f"students cannot run their servers' interpreter "
                                        f"{deployment.student_python}: {problem}", fix)
                         if problem else Finding(OK, f"students can run {deployment.student_python}"))
    import autograder

    package = Path(autograder.__file__).resolve().parent
    with contextlib.suppress(ValueError):
        package.relative_to(course.resolve())
        return found  # the course's own copy: the secrets walk covers it
    exposed = next(iter(Exposure(course.stat().st_uid).walk(package / "checks")), None)
    if exposed:
        found.append(Finding(LEAK, f"the installed grading code {package} (hidden checks) is readable by "
                                   f"{exposed.readers}", f"install zengrad-kit editable from the course (pip "
                                                         f"install -e {course}), or chmod -R go-rwx {package}"))
    return found


def sandbox(course: Path, cfg: Any) -> list[Finding]:
    """One trivial sandbox, started as the user that grades: the course's owner."""
    from autograder.grading.config import sandbox_backend

    backend = sandbox_backend(cfg)
    if not backend.jailed:
        return [Finding(WARN, f"no sandbox: {backend.warning}", "set c.Sandbox.backend = 'bwrap'")]
    owner = Account.with_uid(course.stat().st_uid)
    if os.geteuid() == 0 and owner is not None and owner.uid != 0:
        code = ("import sys; from autograder.grading.config import course_config, sandbox_backend\n"
                "from autograder.sandbox.backends import SandboxUnavailable\n"
                f"b = sandbox_backend(course_config({str(course)!r}))\n"
                "try: b.preflight()\nexcept SandboxUnavailable as e: sys.exit(str(e))")
        proc = owner.run([sys.executable, "-c", code], timeout=120, cwd=course,
                         env={"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"})
        lines = proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"]
        problem = None if proc.returncode == 0 else lines[-1]
        who = owner.name
    else:
        problem, who = backend.problem(), user_name(os.geteuid())
    if problem:
        return [Finding(BREAK, f"the sandbox does not start as {who}: {problem}")]
    return [Finding(OK, f"the sandbox ({backend.name}) starts as {who}")]


def page_policy(course: Path) -> list[Finding]:
    """Formgrader, where it runs for this course, serves its pages with the page policy."""
    from jupyter_core.paths import jupyter_config_path
    from jupyter_server.extension.config import ExtensionConfigManager

    from autograder.hub.deployment import HUB_DIR
    from autograder.hub.jupyter_files import FORMGRADER_EXTENSION, PAGE_POLICY_EXTENSION

    service_dir = course / HUB_DIR / "formgrader"
    paths = jupyter_config_path()
    where = "this environment's Jupyter"
    if service_dir.is_dir():
        paths = [str(service_dir), *paths]
        where = f"the formgrader service ({service_dir})"
    enabled = ExtensionConfigManager(read_config_path=paths).get_jpserver_extensions()
    if not enabled.get(FORMGRADER_EXTENSION):
        return [Finding(OK, f"formgrader is off in {where}: no page policy needed there")]
    if not enabled.get(PAGE_POLICY_EXTENSION):
        return [Finding(LEAK, f"formgrader runs in {where} without {PAGE_POLICY_EXTENSION}: a submission's page "
                              "could run script as the instructor",
                        f"jupyter server extension enable --sys-prefix {PAGE_POLICY_EXTENSION}")]
    return [Finding(OK, f"formgrader runs with the page policy ({PAGE_POLICY_EXTENSION}) in {where}")]


def service(course: Path, cfg: Any) -> list[Finding]:
    """Is ``zengrad-kit serve`` running on this course (it holds its lock), and what does its status say."""
    folder = course / state_dir(cfg)
    lock = folder / "lock"
    if not lock.exists():
        return [Finding(OK, "the grading service has never run on this course (optional: zengrad-kit serve)")]
    try:
        with open(lock) as fh:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        running = False
    except OSError:
        running = True
    if not running:
        return [Finding(WARN, "the grading service is not running (no process holds service/lock)",
                        "start it: the hub does when jupyterhub_config.py includes <course>/hub/jupyterhub_config.py,"
                        " or `zengrad-kit serve`")]
    status = folder / "status.json"
    age = time.time() - status.stat().st_mtime if status.exists() else None
    detail = ""
    with contextlib.suppress(OSError, ValueError):
        detail = f": {json.loads(status.read_text()).get('counts', {})}"
    if age is not None and age > 600:
        return [Finding(WARN, f"the grading service runs but its status is {age / 60:.0f} min old{detail}",
                        "look at the hub's log (services log there) and service/logs/")]
    return [Finding(OK, f"the grading service runs{detail}")]


def students_config(deployment: Deployment) -> list[Finding]:
    """The students' nbgrader config names this course's exchange; the instructor plugins are locked there."""
    from autograder.hub.jupyter_files import INSTRUCTOR_PLUGINS, student_config

    folder = Path(deployment.student_jupyter)
    fix = "run `zengrad-kit hub setup` again (it rewrites the students' config)"
    config = folder / "nbgrader_config.py"
    text = config.read_text() if config.exists() else ""
    if student_config(deployment.course_id, Path(deployment.exchange)) not in text:
        return [Finding(BREAK, f"{config} does not point students at course {deployment.course_id} on "
                               f"{deployment.exchange}: their Assignment List shows nothing", fix)]
    page = folder / "labconfig" / "page_config.json"
    try:
        locked = json.loads(page.read_text()).get("lockedExtensions", {})
    except (OSError, ValueError):
        locked = {}
    unlocked = [p for p in INSTRUCTOR_PLUGINS if not locked.get(p)]
    if unlocked:
        return [Finding(WARN, f"instructor plugins not locked for students in {page}: {', '.join(unlocked)}", fix)]
    return [Finding(OK, f"students' config {config}: course {deployment.course_id}, instructor plugins locked")]


def diagnose(course: Path) -> list[Finding]:
    from autograder.grading.config import course_config

    cfg = course_config(course)
    deployment = Deployment.read(course)
    found = leaks(course, state_dir(cfg))
    found += ownership(course)
    found += exchange(course, cfg)
    found += gradebook(course)
    found += interpreters(course, deployment)
    found += sandbox(course, cfg)
    found += page_policy(course)
    found += service(course, cfg)
    if deployment is None:
        found.append(Finding(OK, "no hub setup recorded (hub/hub.json): a one-machine course"))
    else:
        found += students_config(deployment)
    return found


def report(course: Path, found: list[Finding]) -> int:
    """Print the findings, serious first; exit 1 when any would leak or break grading."""
    order = {LEAK: 0, BREAK: 1, WARN: 2, OK: 3}
    print(f"zengrad-kit doctor: {course} (owner {user_name(course.stat().st_uid)})")
    for finding in sorted(found, key=lambda f: order.get(f.severity, 9)):
        print("  " + finding.render())
    serious = [f for f in found if f.serious]
    print(f"{len(serious)} problem(s) that leak or break grading" if serious else
          "no problem that leaks or breaks grading")
    return 1 if serious else 0
