"""Collecting from a shared exchange: forged, back-dated and malformed submissions are refused.

The end-to-end cases use two real unix users (created here; grading runs as root, as in CI):
each writes into the exchange's ``inbound/`` as itself, exactly the layout ``nbgrader submit``
writes, and the instructor runs the real ``nbgrader collect``. Stock nbgrader's collect is run
on the same exchange first, to show the hole the course's collector closes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest

from autograder.exchange import (
    TIMESTAMP_FORMAT,
    InboundSubmission,
    OwnerRules,
    copy_submission,
    inspect_submission,
    refused_submissions,
)
from tests.course_helpers import nbgrader, release_nb, solution_nb

ASSIGNMENT = "ps1_operators"
USERS = ("zgalice", "zgbob")
STOCK_COLLECT = "--ExchangeFactory.collect=nbgrader.exchange.default.collect.ExchangeCollect"


def _now(offset: float = 0.0) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset)).strftime(TIMESTAMP_FORMAT)


def _make(path: Path, notebook: bytes = b"{}", stamp: str | None = None, extra: dict[str, bytes] | None = None) -> Path:
    path.mkdir(parents=True)
    (path / f"{ASSIGNMENT}.ipynb").write_bytes(notebook)
    (path / "timestamp.txt").write_text(stamp or path.name.split("+")[2])
    for name, data in (extra or {}).items():
        (path / name).write_bytes(data)
    return path


# ------------------------------------------------------------------------------------------------ the rule


@pytest.fixture
def inbound(tmp_path: Path) -> Path:
    path = tmp_path / "inbound"
    path.mkdir()
    return path


def test_an_honest_submission_is_accepted_with_the_grader_s_time(inbound: Path) -> None:
    sub = inspect_submission(_make(inbound / f"amy+{ASSIGNMENT}+{_now()}+r4nd", extra={"gradcheck.py": b"x"}),
                             OwnerRules(), ASSIGNMENT)
    assert sub.refused is None, sub.refused
    assert sub.student == "amy" and sorted(sub.files) == ["gradcheck.py", f"{ASSIGNMENT}.ipynb", "timestamp.txt"]
    assert abs((sub.received_at - dt.datetime.now(dt.UTC)).total_seconds()) < 30


@pytest.mark.parametrize("case, reason", [
    ("back-dated", "back-dated"),
    ("timestamp-txt-back-dated", "back-dated: timestamp.txt says"),
    ("future", "dated in the future"),
    ("symlink", "is a symbolic link"),
    ("hardlink", "is a hard link"),
    ("fifo", "not a regular file"),
    ("dot-dot", "malformed submission name"),
    ("other-assignment", "not 'ps1_operators'"),
    ("too-big", "larger than the course accepts"),
    ("no-notebook", "holds no notebook"),
    ("bad-timestamp", "does not hold a time"),
    ("unknown-owner", "is owned by uid 54321, not by amy"),
])
def test_what_is_refused_and_why(inbound: Path, tmp_path: Path, case: str, reason: str) -> None:
    rules = OwnerRules(max_bytes=1 << 20)
    name = f"amy+{ASSIGNMENT}+{_now()}+r"
    if case == "back-dated":
        path = _make(inbound / f"amy+{ASSIGNMENT}+2026-01-01 09:00:00.000000 UTC+r")
    elif case == "timestamp-txt-back-dated":
        path = _make(inbound / name, stamp="2026-01-01 09:00:00.000000 UTC")
    elif case == "future":
        path = _make(inbound / f"amy+{ASSIGNMENT}+{_now(3600)}+r")
    elif case == "symlink":
        path = inbound / name
        path.mkdir()
        (tmp_path / "secret.txt").write_text("the instructor's")
        (path / f"{ASSIGNMENT}.ipynb").symlink_to(tmp_path / "secret.txt")
    elif case == "hardlink":
        path = _make(inbound / name)
        os.link(path / f"{ASSIGNMENT}.ipynb", tmp_path / "second-name")
    elif case == "fifo":
        path = _make(inbound / name)
        os.mkfifo(path / "notes.txt")  # copying it would block forever
    elif case == "dot-dot":
        path = _make(inbound / f"..+{ASSIGNMENT}+{_now()}+r")
    elif case == "other-assignment":
        path = _make(inbound / f"amy+ps2_backprop+{_now()}+r")
    elif case == "too-big":
        path = _make(inbound / name, notebook=b"x" * (2 << 20))
    elif case == "no-notebook":
        path = inbound / name
        path.mkdir()
        (path / "timestamp.txt").write_text(_now())
    elif case == "bad-timestamp":
        path = _make(inbound / name, stamp="yesterday, honest")
    else:
        path = _make(inbound / name)
        for p in (path, *path.iterdir()):
            os.lchown(p, 54321, 54321)  # nobody's uid: not the student's, not the collector's
        rules = OwnerRules(collector_uid=os.getuid(), max_bytes=1 << 20)
    sub = inspect_submission(path, rules, ASSIGNMENT)
    assert sub.refused is not None and reason in sub.refused, sub.refused


def test_active_files_are_left_behind_not_collected(inbound: Path, tmp_path: Path) -> None:
    path = _make(inbound / f"amy+{ASSIGNMENT}+{_now()}+r", extra={"evil.html": b"<script>", "plot.svg": b"<svg/>"})
    sub = inspect_submission(path, OwnerRules(), ASSIGNMENT)
    assert sub.refused is None and sorted(sub.dropped) == ["evil.html", "plot.svg"]
    copy_submission(path, tmp_path / "dest", sub, OwnerRules())
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == [f"{ASSIGNMENT}.ipynb", "timestamp.txt"]
    assert (tmp_path / "dest" / "timestamp.txt").read_text() == sub.received_at.strftime(TIMESTAMP_FORMAT)


def test_a_file_swapped_for_a_link_after_the_check_is_not_followed(inbound: Path, tmp_path: Path) -> None:
    path = _make(inbound / f"amy+{ASSIGNMENT}+{_now()}+r")
    sub = inspect_submission(path, OwnerRules(), ASSIGNMENT)
    assert sub.refused is None
    (tmp_path / "secret.txt").write_text("the instructor's")
    (path / f"{ASSIGNMENT}.ipynb").unlink()
    (path / f"{ASSIGNMENT}.ipynb").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(OSError):
        copy_submission(path, tmp_path / "dest", sub, OwnerRules())
    assert not (tmp_path / "dest").exists() and not list(tmp_path.glob(".collect-*"))


def test_owner_names_map_hub_users_to_students() -> None:
    root = pwd.getpwuid(0).pw_name
    assert OwnerRules(owner_names={root: "amy"}).student_of_uid(0) == "amy"
    assert OwnerRules(owner_template="jupyter-{student}").student_of_uid(0) is None
    assert OwnerRules().student_of_uid(0) == root


# ------------------------------------------------------------------------------------- two real unix users


@pytest.fixture(scope="module")
def unix_users() -> dict[str, tuple[int, int]]:
    """Two real unix users (created for the test, removed after): name -> (uid, gid)."""
    if os.getuid() != 0 or shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("needs root with useradd and setpriv to create the two student accounts (CI grades as root)")
    made = []
    for name in USERS:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
            made.append(name)
    yield {name: (pwd.getpwnam(name).pw_uid, pwd.getpwnam(name).pw_gid) for name in USERS}
    for name in made:
        subprocess.run(["userdel", name], check=False)


def as_user(users: dict[str, tuple[int, int]], name: str, script: str, *args: str) -> None:
    """Run a small Python script as that unix user (Debian's python3: the grader's venv is not theirs to read)."""
    uid, gid = users[name]
    command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "/usr/bin/python3", "-I", "-c", script]
    subprocess.run([*command, *args], check=True, capture_output=True, text=True, timeout=60,
                   env={"HOME": "/nonexistent"})


# what `nbgrader submit` writes: student+assignment+timestamp+random/, the notebook, timestamp.txt
SUBMIT = """
import os, shutil, sys
inbound, name, stamp, notebook = sys.argv[1:5]
path = os.path.join(inbound, name)
os.mkdir(path)
shutil.copy(notebook, os.path.join(path, os.path.basename(notebook)))
with open(os.path.join(path, "timestamp.txt"), "w") as fh:
    fh.write(stamp)
os.chmod(path, 0o777)
"""


@pytest.fixture
def shared_exchange(course, unix_users):
    """The course with an exchange every student can write into (inbound 733, as nbgrader makes it)."""
    root = Path(tempfile.mkdtemp(prefix="zg-exchange-"))
    os.chmod(root, 0o755)
    inbound = root / "zengrad" / "inbound"
    inbound.mkdir(parents=True)
    os.chmod(root / "zengrad", 0o755)
    os.chmod(inbound, 0o733)
    files = Path(tempfile.mkdtemp(prefix="zg-files-"))
    os.chmod(files, 0o755)
    for label, nb in (("right", solution_nb(ASSIGNMENT)), ("stub", release_nb(ASSIGNMENT))):
        (files / label).mkdir()
        nbformat.write(nb, files / label / f"{ASSIGNMENT}.ipynb")
        os.chmod(files / label, 0o755)
        os.chmod(files / label / f"{ASSIGNMENT}.ipynb", 0o644)
    os.environ["ZENGRAD_EXCHANGE"] = str(root)
    try:
        yield course, inbound, files
    finally:
        os.environ.pop("ZENGRAD_EXCHANGE", None)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(files, ignore_errors=True)


def _fill_inbound(users, inbound: Path, files: Path) -> dict[str, str]:
    names = {
        "alice": f"zgalice+{ASSIGNMENT}+{_now()}+{secrets.token_urlsafe(6)}",
        # bob, a second later, in alice's name, with a stub: stock collect takes it over alice's own work
        "forged": f"zgalice+{ASSIGNMENT}+{_now(1)}+{secrets.token_urlsafe(6)}",
        # bob's own, with his clock set back to before a deadline
        "backdated": f"zgbob+{ASSIGNMENT}+2026-01-01 09:00:00.000000 UTC+{secrets.token_urlsafe(6)}",
    }
    as_user(users, "zgalice", SUBMIT, str(inbound), names["alice"], names["alice"].split("+")[2],
            str(files / "right" / f"{ASSIGNMENT}.ipynb"))
    as_user(users, "zgbob", SUBMIT, str(inbound), names["forged"], names["forged"].split("+")[2],
            str(files / "stub" / f"{ASSIGNMENT}.ipynb"))
    as_user(users, "zgbob", SUBMIT, str(inbound), names["backdated"], "2026-01-01 09:00:00.000000 UTC",
            str(files / "stub" / f"{ASSIGNMENT}.ipynb"))
    return names


def test_stock_collect_takes_a_forged_submission_over_the_students_own(shared_exchange, unix_users) -> None:
    """The hole, measured: stock nbgrader warns, then collects bob's file as alice's work."""
    course, inbound, files = shared_exchange
    _fill_inbound(unix_users, inbound, files)
    result = nbgrader(course.root, "collect", ASSIGNMENT, STOCK_COLLECT)
    assert result.returncode == 0, result.stderr
    assert "cheating attempt" in result.stderr
    collected = nbformat.read(course.root / "submitted" / "zgalice" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    assert collected == nbformat.read(files / "stub" / f"{ASSIGNMENT}.ipynb", 4)  # bob's stub, in alice's name
    assert (course.root / "submitted" / "zgbob").is_dir()  # and bob's back-dated one, at his time


def test_collect_refuses_forged_and_back_dated_submissions(shared_exchange, unix_users) -> None:
    course, inbound, files = shared_exchange
    names = _fill_inbound(unix_users, inbound, files)
    result = nbgrader(course.root, "collect", ASSIGNMENT)
    assert result.returncode == 0, result.stderr
    submitted = course.root / "submitted"
    got = nbformat.read(submitted / "zgalice" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    assert got == nbformat.read(files / "right" / f"{ASSIGNMENT}.ipynb", 4)  # alice's own work
    assert not (submitted / "zgbob").exists()
    received = dt.datetime.strptime((submitted / "zgalice" / ASSIGNMENT / "timestamp.txt").read_text(),
                                    "%Y-%m-%d %H:%M:%S.%f UTC").replace(tzinfo=dt.UTC)
    assert abs((received - dt.datetime.now(dt.UTC)).total_seconds()) < 120  # the grader's clock
    refused = {e["name"]: e["refused"] for e in refused_submissions(course.root)}
    assert set(refused) == {names["forged"], names["backdated"]}
    assert refused[names["forged"]].endswith("is owned by zgbob, not by zgalice: a submission in someone else's name")
    assert refused[names["backdated"]].startswith("back-dated: its name says 2026-01-01T09:00:00+00:00")
    assert result.stderr.count("REFUSED") == 2
    report = json.loads((course.root / "reports" / "collect.json").read_text())["submissions"]
    assert report[names["alice"]]["collected"] is True and report[names["alice"]]["owner"] == "zgalice"


def test_a_resubmission_replaces_the_collected_one_only_with_update(shared_exchange, unix_users) -> None:
    course, inbound, files = shared_exchange
    first = f"zgalice+{ASSIGNMENT}+{_now()}+{secrets.token_urlsafe(6)}"
    as_user(unix_users, "zgalice", SUBMIT, str(inbound), first, first.split("+")[2],
            str(files / "stub" / f"{ASSIGNMENT}.ipynb"))
    assert nbgrader(course.root, "collect", ASSIGNMENT).returncode == 0
    dest = course.root / "submitted" / "zgalice" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert nbformat.read(dest, 4) == nbformat.read(files / "stub" / f"{ASSIGNMENT}.ipynb", 4)
    second = f"zgalice+{ASSIGNMENT}+{_now(2)}+{secrets.token_urlsafe(6)}"
    os.utime(inbound, None)
    import time

    time.sleep(1.1)  # a later receipt
    as_user(unix_users, "zgalice", SUBMIT, str(inbound), second, second.split("+")[2],
            str(files / "right" / f"{ASSIGNMENT}.ipynb"))
    assert nbgrader(course.root, "collect", ASSIGNMENT).returncode == 0
    assert nbformat.read(dest, 4) == nbformat.read(files / "stub" / f"{ASSIGNMENT}.ipynb", 4)  # kept without --update
    assert nbgrader(course.root, "collect", "--update", ASSIGNMENT).returncode == 0
    assert nbformat.read(dest, 4) == nbformat.read(files / "right" / f"{ASSIGNMENT}.ipynb", 4)


__all__ = ["InboundSubmission"]
