"""The exchange cannot be raced: each race replayed deterministically, as two real unix students.

The collector is paused at a named step of its walk (``ZENGRAD_COLLECT_PAUSE_AT``: after it opened
the submission, after it listed a folder, after it looked at an entry, after it opened a file);
while it waits, the student (a real unix user, through ``setpriv``) swaps something under it: the
whole submission for a link to the instructor's source folder or to a classmate's collected work,
a file for a link or a FIFO, a folder for a link, ``timestamp.txt`` for a FIFO or a link to
``/dev/zero``. Then the collector resumes. Every time: nothing blocks, the instructor's and the
classmate's bytes never enter the student's copy, and what is copied is the student's own or the
submission is refused with its reason.

The same races then run end to end: the real ``nbgrader collect`` (the course's collector) paused
mid-walk, and ``nbgrader collect`` and ``zengrad-kit serve`` over an inbound that holds a FIFO
named ``timestamp.txt``, a link to ``/dev/zero`` and a folder swapped for a link, next to a
classmate's honest submission, which is collected and graded as her own.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from autograder.exchange import OwnerRules
from autograder.exchange.intake import PAUSE_AT_ENV, PAUSE_DIR_ENV, Intake
from tests.course_helpers import REPO, nbgrader
from tests.test_exchange import ASSIGNMENT, _now, read
from tests.unix import as_user

NB = f"{ASSIGNMENT}.ipynb"
SOURCE = REPO / "source" / ASSIGNMENT  # the instructor's: solutions and hidden tests
HUB_RULES = OwnerRules(local_students=False)  # as `zengrad-kit hub setup` configures it

# what `nbgrader submit` writes, as the student: the folder, the notebook, timestamp.txt, a secret, a data folder
SUBMIT = """
import os, sys
inbound, name, content = sys.argv[1:4]
path = os.path.join(inbound, name)
os.mkdir(path)
os.mkdir(os.path.join(path, "data"))
for rel, data in (("ps1_operators.ipynb", content), ("timestamp.txt", name.split("+")[2]),
                  ("submission_secret.txt", "s" * 32), ("data/notes.txt", "mine")):
    with open(os.path.join(path, rel), "w") as fh:
        fh.write(data)
os.chmod(path, 0o755)
"""

# the swaps, as the student, while the collector waits
ATTACKS = {
    "folder-to-link": "os.rename(sub, sub + '.orig'); os.symlink(target, sub)",
    "file-to-link": "f = os.path.join(sub, 'ps1_operators.ipynb'); os.unlink(f); os.symlink(target, f)",
    "file-to-fifo": "f = os.path.join(sub, 'ps1_operators.ipynb'); os.unlink(f); os.mkfifo(f)",
    "data-to-link": "d = os.path.join(sub, 'data'); os.rename(d, d + '.orig'); os.symlink(target, d)",
    "timestamp-to-fifo": "f = os.path.join(sub, 'timestamp.txt'); os.unlink(f); os.mkfifo(f)",
    "timestamp-to-dev-zero": "f = os.path.join(sub, 'timestamp.txt'); os.unlink(f); os.symlink('/dev/zero', f)",
}


@pytest.fixture
def exchange(unix_users) -> Path:
    """An inbound/ as nbgrader makes it (root's, 2733: students write, cannot list), reachable by the students."""
    root = Path(tempfile.mkdtemp(prefix="zg-races-"))
    os.chmod(root, 0o755)
    inbound = root / "inbound"
    inbound.mkdir()
    os.chmod(inbound, 0o2733)
    yield inbound
    shutil.rmtree(root, ignore_errors=True)


def submit(users, student: str, inbound: Path, content: str) -> str:
    name = f"{student}+{ASSIGNMENT}+{_now()}+{secrets.token_urlsafe(6)}"
    as_user(users, student, SUBMIT, str(inbound), name, content)
    return name


def race(users, inbound: Path, name: str, step: str, attack: str, target: Path) -> Intake:
    """Take ``name`` with the collector paused at ``step``, while the student performs ``attack``."""
    pause = Path(tempfile.mkdtemp(prefix="zg-pause-"))
    result: dict[str, Intake] = {}
    os.environ[PAUSE_DIR_ENV], os.environ[PAUSE_AT_ENV] = str(pause), step
    try:
        worker = threading.Thread(target=lambda: result.setdefault("intake", read(inbound / name, HUB_RULES)))
        worker.start()
        deadline = time.monotonic() + 30
        while not (pause / "paused").exists():
            assert worker.is_alive() and time.monotonic() < deadline, f"the collector never reached {step}"
            time.sleep(0.01)
        script = f"import os, sys\nsub, target = sys.argv[1:3]\n{ATTACKS[attack]}\n"
        as_user(users, name.split("+")[0], script, str(inbound / name), str(target))
        (pause / "resume").touch()
        worker.join(30)
        assert not worker.is_alive(), "the collector blocked"
    finally:
        os.environ.pop(PAUSE_DIR_ENV, None)
        os.environ.pop(PAUSE_AT_ENV, None)
        shutil.rmtree(pause, ignore_errors=True)
    return result["intake"]


def staged_bytes(intake: Intake) -> list[bytes]:
    return [p.read_bytes() for p in sorted(intake.staged.rglob("*")) if p.is_file()] if intake.staged else []


@pytest.mark.parametrize("step, attack, refused", [
    ("opened", "folder-to-link", None),  # the folder already open is walked: bob's own files, nothing else
    ("listed:", "file-to-link", "ps1_operators.ipynb is a symbolic link"),
    ("checked:ps1_operators.ipynb", "file-to-link", "ps1_operators.ipynb was replaced"),
    ("checked:ps1_operators.ipynb", "file-to-fifo", "ps1_operators.ipynb was replaced"),
    ("read:ps1_operators.ipynb", "file-to-link", "changed while it was being collected"),
    ("listed:", "data-to-link", "data is a symbolic link"),
    ("checked:data", "data-to-link", "data was replaced"),
    ("listed:", "timestamp-to-fifo", "timestamp.txt is a FIFO"),
    ("checked:timestamp.txt", "timestamp-to-dev-zero", "timestamp.txt was replaced"),
])
@pytest.mark.parametrize("victim", ["instructor", "classmate"])
def test_a_swap_at_any_step_never_collects_anyone_else_s_files(unix_users, exchange: Path, tmp_path: Path,
                                                                step: str, attack: str, refused: str | None,
                                                                victim: str) -> None:
    # the classmate's collected work: root's copy under submitted/, as the collector leaves it
    classmate = tmp_path / "submitted" / "zgalice" / ASSIGNMENT
    classmate.mkdir(parents=True)
    (classmate / NB).write_text("alice's collected work")
    (classmate / "data").mkdir()
    (classmate / "data" / "notes.txt").write_text("alice's notes")
    (classmate / "timestamp.txt").write_text(_now())
    folder = SOURCE if victim == "instructor" else classmate
    target = folder if attack in ("folder-to-link", "data-to-link") else folder / NB
    name = submit(unix_users, "zgbob", exchange, "bob's own work")
    intake = race(unix_users, exchange, name, step, attack, target)
    theirs = {p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert not theirs & set(staged_bytes(intake))
    if refused is None:
        assert intake.sub.refused is None, intake.sub.refused
        assert (intake.staged / NB).read_text() == "bob's own work"
    else:
        assert intake.sub.refused and refused in intake.sub.refused, intake.sub.refused
        assert intake.staged is None


def test_files_the_collector_owns_are_never_a_student_s_submission(unix_users, exchange: Path) -> None:
    """Even were a link followed, the instructor's and the collected files are not the student's own."""
    name = submit(unix_users, "zgbob", exchange, "bob's own work")
    shutil.copy(SOURCE / NB, exchange / name / "copied.ipynb")  # root's file inside bob's folder
    for rules in (HUB_RULES, OwnerRules()):  # local_students admits the collector's files for pseudo-students only
        refused = read(exchange / name, rules).sub.refused
        assert refused and "copied.ipynb is owned by root, not by zgbob" in refused


# ----------------------------------------------------------------------------------------- end to end

HOSTILE = """
import os, sys
inbound, kind, name, target = sys.argv[1:5]
path = os.path.join(inbound, name)
os.mkdir(path)
with open(os.path.join(path, "ps1_operators.ipynb"), "w") as fh:
    fh.write("{}")
with open(os.path.join(path, "submission_secret.txt"), "w") as fh:
    fh.write("b" * 32)
if kind == "fifo-timestamp":
    os.mkfifo(os.path.join(path, "timestamp.txt"))
elif kind == "dev-zero":
    os.symlink("/dev/zero", os.path.join(path, "timestamp.txt"))
else:  # the whole submission swapped for a link to the instructor's source folder
    os.rename(path, path + ".gone")
    os.symlink(target, path)
"""


def _hostile_inbound(users, inbound: Path, files: Path) -> tuple[str, dict[str, str]]:
    alice = f"zgalice+{ASSIGNMENT}+{_now()}+{secrets.token_urlsafe(6)}"
    as_user(users, "zgalice", SUBMIT_HONEST, str(inbound), alice, str(files / "right" / NB), "a" * 32)
    hostile = {}
    for kind in ("fifo-timestamp", "dev-zero", "swapped-folder"):
        name = f"zgbob+{ASSIGNMENT}+{_now(1)}+{kind}"
        as_user(users, "zgbob", HOSTILE, str(inbound), kind, name, str(SOURCE))
        hostile[kind] = name
    return alice, hostile


SUBMIT_HONEST = """
import os, shutil, sys
inbound, name, notebook, secret = sys.argv[1:5]
path = os.path.join(inbound, name)
os.mkdir(path)
shutil.copy(notebook, os.path.join(path, os.path.basename(notebook)))
for rel, data in (("timestamp.txt", name.split("+")[2]), ("submission_secret.txt", secret)):
    with open(os.path.join(path, rel), "w") as fh:
        fh.write(data)
os.chmod(path, 0o755)
"""

REASONS = {"fifo-timestamp": "timestamp.txt is a FIFO", "dev-zero": "timestamp.txt is a symbolic link",
           "swapped-folder": "not a folder (a symbolic link or a file)"}


def test_nbgrader_collect_finishes_over_fifos_devices_and_swapped_folders(shared_exchange, unix_users) -> None:
    course, inbound, files = shared_exchange
    alice, hostile = _hostile_inbound(unix_users, inbound, files)
    result = nbgrader(course.root, "collect", ASSIGNMENT, timeout=120)
    assert result.returncode == 0, result.stderr
    got = course.root / "submitted" / "zgalice" / ASSIGNMENT
    assert (got / NB).read_bytes() == (files / "right" / NB).read_bytes()  # alice's own work
    bob = course.root / "submitted" / "zgbob" / ASSIGNMENT  # his folder renamed aside (…+swapped-folder.gone)
    assert (bob / NB).read_text() == "{}"  # is his own work, not the source the link points to
    report = json.loads((course.root / "reports" / "collect.json").read_text())["submissions"]
    for kind, name in hostile.items():
        assert REASONS[kind] in report[name]["refused"], report[name]
    assert report[alice]["collected"] is True


def test_nbgrader_collect_paused_mid_walk_collects_only_the_student_s_own(shared_exchange, unix_users) -> None:
    """The issue's race, end to end: the folder swapped for a link to the source while the collector reads."""
    course, inbound, files = shared_exchange
    name = submit(unix_users, "zgbob", inbound, "bob's own work")
    pause = Path(tempfile.mkdtemp(prefix="zg-pause-"))
    env = dict(os.environ, **{PAUSE_DIR_ENV: str(pause), PAUSE_AT_ENV: "listed:"})
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    collect = subprocess.Popen([sys.executable, "-m", "nbgrader", "collect", ASSIGNMENT], cwd=course.root, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (pause / "paused").exists():
            assert collect.poll() is None and time.monotonic() < deadline, "nbgrader collect never paused"
            time.sleep(0.02)
        script = f"import os, sys\nsub, target = sys.argv[1:3]\n{ATTACKS['folder-to-link']}\n"
        as_user(unix_users, "zgbob", script, str(inbound / name), str(course.root / "source" / ASSIGNMENT))
        (pause / "resume").touch()
        _, err = collect.communicate(timeout=60)
    finally:
        collect.kill()
        shutil.rmtree(pause, ignore_errors=True)
    assert collect.returncode == 0, err
    got = course.root / "submitted" / "zgbob" / ASSIGNMENT
    assert (got / NB).read_text() == "bob's own work"
    report = json.loads((course.root / "reports" / "collect.json").read_text())["submissions"][name]
    assert report["dropped"] == ["data/notes.txt"] and not (got / "data").exists()  # not a file of ps1
    source = {p.read_bytes() for p in (course.root / "source" / ASSIGNMENT).rglob("*") if p.is_file()}
    assert not source & {p.read_bytes() for p in got.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_serve_finishes_over_fifos_devices_and_swapped_folders(shared_exchange, unix_users) -> None:
    from autograder.service.student import release
    from tests.test_service import rows, serve

    course, inbound, files = shared_exchange
    release(course.root, ASSIGNMENT)
    alice, hostile = _hostile_inbound(unix_users, inbound, files)
    serve(course.root, "--workers", "1", timeout=240)
    state = rows(course.root)
    assert state[alice]["state"] == "graded" and json.loads(state[alice]["outcome"])["score"] > 0
    for kind, name in hostile.items():
        assert state[name]["state"] == "refused" and REASONS[kind] in state[name]["reason"], state[name]
    stored = {p.name: p for p in (course.root / "service" / "store").glob("zgbob*")}
    assert list(stored) == [hostile["swapped-folder"] + ".gone"]  # his own folder, renamed aside
    assert (stored[hostile["swapped-folder"] + ".gone"] / NB).read_text() == "{}"
