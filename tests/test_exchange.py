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
import stat
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.exchange import (
    TIMESTAMP_FORMAT,
    FileTypes,
    Intake,
    OwnerRules,
    open_inbound,
    refused_submissions,
    take,
)
from autograder.exchange.filetypes import ignore_globs, is_active
from autograder.exchange.ids import id_problem
from tests.course_helpers import nbgrader
from tests.unix import as_user

ASSIGNMENT = "ps1_operators"
STOCK_COLLECT = "--ExchangeFactory.collect=nbgrader.exchange.default.collect.ExchangeCollect"
TYPES = FileTypes.of_names([f"{ASSIGNMENT}.ipynb", "gradcheck.py"])


def _now(offset: float = 0.0) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset)).strftime(TIMESTAMP_FORMAT)


def _make(path: Path, notebook: bytes = b"{}", stamp: str | None = None, extra: dict[str, bytes] | None = None) -> Path:
    path.mkdir(parents=True)
    (path / f"{ASSIGNMENT}.ipynb").write_bytes(notebook)
    (path / "timestamp.txt").write_text(stamp or path.name.split("+")[2])
    for name, data in (extra or {}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


def read(path: Path, rules: OwnerRules | None = None, staging: Path | None = None,
         assignment: str | None = ASSIGNMENT) -> Intake:
    """What the collector decides about one inbound entry (and its private copy), read by descriptor."""
    fd = open_inbound(path.parent)
    try:
        return take(fd, path.name, rules or OwnerRules(), lambda a: TYPES if a == ASSIGNMENT else None,
                    staging or path.parent.parent / "staging", assignment)
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------------------------ the rule


@pytest.fixture
def inbound(tmp_path: Path) -> Path:
    path = tmp_path / "inbound"
    path.mkdir()
    return path


def test_an_honest_submission_is_accepted_with_the_grader_s_time(inbound: Path) -> None:
    intake = read(_make(inbound / f"amy+{ASSIGNMENT}+{_now()}+r4nd", extra={"gradcheck.py": b"x",
                                                                           "submission_secret.txt": b"s3cret"}))
    sub = intake.sub
    assert sub.refused is None, sub.refused
    assert sub.student == "amy" and sub.files == ["gradcheck.py", f"{ASSIGNMENT}.ipynb", "submission_secret.txt"]
    assert abs((sub.received_at - dt.datetime.now(dt.UTC)).total_seconds()) < 30
    staged = intake.staged
    assert staged is not None and stat.S_IMODE(os.stat(staged).st_mode) == 0o700  # private to the collector
    assert sorted(p.name for p in staged.iterdir()) == [*sub.files, "timestamp.txt"]
    assert (staged / "timestamp.txt").read_text() == sub.received_at.strftime(TIMESTAMP_FORMAT)
    assert intake.secret == "s3cret"


def _fifo_timestamp(path: Path) -> None:
    path.mkdir()
    (path / f"{ASSIGNMENT}.ipynb").write_bytes(b"{}")
    os.mkfifo(path / "timestamp.txt")  # reading it by path would wait forever


@pytest.mark.parametrize("case, reason", [
    ("back-dated", "back-dated"),
    ("timestamp-txt-back-dated", "back-dated: timestamp.txt says"),
    ("future", "dated in the future"),
    ("symlink", "is a symbolic link"),
    ("symlink-deep", "a/b/c.txt is a symbolic link"),
    ("dir-symlink", "data is a symbolic link"),
    ("submission-symlink", "not a folder (a symbolic link or a file)"),
    ("submission-file", "not a folder"),
    ("hardlink", "is a hard link"),
    ("fifo", "notes.txt is a FIFO"),
    ("fifo-timestamp", "timestamp.txt is a FIFO"),
    ("dev-zero", "timestamp.txt is a symbolic link"),
    ("socket", "is a socket"),
    ("dot-dot", "malformed submission name"),
    ("glob-id", "'*' (a glob character)"),
    ("bidi-id", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("other-assignment", "not 'ps1_operators'"),
    ("too-big", "larger than the course accepts"),
    ("many-empty-folders", "more than 200 files and folders"),
    ("too-deep", "nested deeper than 8 folders"),
    ("big-timestamp", "timestamp.txt is larger than 256 bytes"),
    ("no-notebook", "holds no notebook"),
    ("bad-timestamp", "does not hold a time"),
    ("unknown-owner", "is owned by uid 54321, not by amy"),
])
def test_what_is_refused_and_why(inbound: Path, tmp_path: Path, case: str, reason: str) -> None:
    rules = OwnerRules(max_bytes=1 << 20)
    name = f"amy+{ASSIGNMENT}+{_now()}+r"
    path = inbound / name
    (tmp_path / "secret.txt").write_text("the instructor's")
    if case == "back-dated":
        path = _make(inbound / f"amy+{ASSIGNMENT}+2026-01-01 09:00:00.000000 UTC+r")
    elif case == "timestamp-txt-back-dated":
        _make(path, stamp="2026-01-01 09:00:00.000000 UTC")
    elif case == "future":
        path = _make(inbound / f"amy+{ASSIGNMENT}+{_now(3600)}+r")
    elif case == "symlink":
        path.mkdir()
        (path / f"{ASSIGNMENT}.ipynb").symlink_to(tmp_path / "secret.txt")
    elif case == "symlink-deep":
        _make(path)
        (path / "a" / "b").mkdir(parents=True)
        (path / "a" / "b" / "c.txt").symlink_to(tmp_path / "secret.txt")
    elif case == "dir-symlink":
        _make(path)
        (path / "data").symlink_to(tmp_path)
    elif case == "submission-symlink":
        _make(tmp_path / "elsewhere", stamp=_now())
        path.symlink_to(tmp_path / "elsewhere")
    elif case == "submission-file":
        path.write_text("not a folder")
    elif case == "hardlink":
        _make(path)
        os.link(path / f"{ASSIGNMENT}.ipynb", tmp_path / "second-name")
    elif case == "fifo":
        _make(path)
        os.mkfifo(path / "notes.txt")  # copying it would block forever
    elif case == "fifo-timestamp":
        _fifo_timestamp(path)
    elif case == "dev-zero":
        path.mkdir()
        (path / f"{ASSIGNMENT}.ipynb").write_bytes(b"{}")
        (path / "timestamp.txt").symlink_to("/dev/zero")  # read by path: without a bound
    elif case == "socket":
        import socket

        _make(path)
        here = os.getcwd()
        os.chdir(path)  # a socket's path is limited to 108 bytes: bind it by a relative one
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind("s")
        finally:
            os.chdir(here)
    elif case == "dot-dot":
        path = _make(inbound / f"..+{ASSIGNMENT}+{_now()}+r")
    elif case == "glob-id":
        path = _make(inbound / f"a_vict*+{ASSIGNMENT}+{_now()}+r")
    elif case == "bidi-id":
        path = _make(inbound / f"amy\u202egnp+{ASSIGNMENT}+{_now()}+r")
    elif case == "other-assignment":
        path = _make(inbound / f"amy+ps2_backprop+{_now()}+r")
    elif case == "too-big":
        _make(path, notebook=b"x" * (2 << 20))
    elif case == "many-empty-folders":
        _make(path)
        for i in range(300):
            (path / f"d{i}").mkdir()
    elif case == "too-deep":
        _make(path)
        (path / "/".join("d" * 10)).mkdir(parents=True)
    elif case == "big-timestamp":
        _make(path, stamp=_now() + " " * 1000)
    elif case == "no-notebook":
        path.mkdir()
        (path / "timestamp.txt").write_text(_now())
    elif case == "bad-timestamp":
        _make(path, stamp="yesterday, honest")
    else:
        _make(path)
        for p in (path, *path.iterdir()):
            os.lchown(p, 54321, 54321)  # nobody's uid: not the student's, not the collector's
    intake = read(path, rules, tmp_path / "staging")
    sub = intake.sub
    assert sub.refused is not None and reason in sub.refused, sub.refused
    assert intake.staged is None and not list((tmp_path / "staging").glob("*"))  # nothing of it is kept


def test_a_student_id_is_plain_ascii_without_glob_or_separator() -> None:
    assert id_problem("amy") is None and id_problem("a.b-c_d@x") is None and id_problem("7up") is None
    for bad in ("a_vict*", "a?", "a[b]", "a/b", "..", "-rf", "", "a b", "amy\u202e", "\u0430my", "x" * 129):
        assert id_problem(bad), bad


def test_only_the_assignment_s_files_travel_on_and_active_types_never(inbound: Path) -> None:
    extra = {"notes.HTML": b"<script>", "page.xht": b"<script>", "a.XHTM": b"x", "b.mht": b"x", "c.es": b"x",
             "plot.svg": b"<svg/>", "evil.html": b"<script>", "mylib.py": b"x = 1", "notes.txt": b"hi",
             "ps1_operators-Copy1.ipynb": b"{}", "sub/gradcheck.py": b"x", "gradcheck.py": b"# mine"}
    intake = read(_make(inbound / f"amy+{ASSIGNMENT}+{_now()}+r", extra=extra))
    sub = intake.sub
    assert sub.refused is None, sub.refused
    assert sub.files == ["gradcheck.py", "ps1_operators-Copy1.ipynb", f"{ASSIGNMENT}.ipynb"]
    assert sub.dropped == ["a.XHTM", "b.mht", "c.es", "evil.html", "mylib.py", "notes.HTML", "notes.txt",
                           "page.xht", "plot.svg", "sub/gradcheck.py"]
    assert sorted(p.name for p in intake.staged.iterdir()) == [*sub.files, "timestamp.txt"]
    # the instructor may admit more by pattern, in any case, but never a type a browser runs
    types = FileTypes.of_names([f"{ASSIGNMENT}.ipynb"], ["*.TXT", "*.html"])
    assert types.travels("notes.txt") and not types.travels("notes.HTML") and not types.travels("x.tar.SVG")


def test_stock_nbgrader_ignores_every_active_type_in_any_case() -> None:
    import fnmatch

    globs = ignore_globs()
    for name in ("notes.HTML", "page.xht", "a.XhTm", "b.MHT", "c.es", "d.svgz", "e.Js", "f.pdf"):
        assert is_active(name) and any(fnmatch.fnmatchcase(name, g) for g in globs), name
    assert not any(fnmatch.fnmatchcase(n, g) for g in globs for n in ("ps1_operators.ipynb", "gradcheck.py"))


def test_a_pseudo_student_may_hand_in_the_collector_s_files_only_on_a_local_course(inbound: Path) -> None:
    path = _make(inbound / f"amy+{ASSIGNMENT}+{_now()}+r")  # amy is no unix user here; the files are the collector's
    assert read(path).sub.refused is None
    refused = read(path, OwnerRules(local_students=False)).sub.refused
    assert refused and "owned by" in refused and "someone else's name" in refused


def test_owner_names_map_hub_users_to_students() -> None:
    root = pwd.getpwuid(0).pw_name
    assert OwnerRules(owner_names={root: "amy"}).student_of_uid(0) == "amy"
    assert OwnerRules(owner_template="jupyter-{student}").student_of_uid(0) is None
    assert OwnerRules().student_of_uid(0) == root


# ------------------------------------------------------------------------------------- two real unix users


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



def test_a_mount_point_inside_a_submission_is_refused(inbound: Path, tmp_path: Path) -> None:
    """A file system mounted in a submission (a student's FUSE mount could block every read) is never entered."""
    path = _make(inbound / f"amy+{ASSIGNMENT}+{_now()}+r")
    (path / "data").mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path / "data")],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        refused = read(path, staging=tmp_path / "staging").sub.refused
    finally:
        subprocess.run(["umount", str(path / "data")], check=False)
    assert refused == "data is on another file system (a mount point)"


def test_a_lease_cannot_make_collection_wait(inbound: Path, tmp_path: Path) -> None:
    """A write lease on a file would hold every other open for lease-break-time (45 s): refused at once instead."""
    path = _make(inbound / f"amy+{ASSIGNMENT}+{_now()}+r")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, signal, sys, time\n"
        "signal.signal(signal.SIGIO, signal.SIG_IGN)\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"), str(path / f"{ASSIGNMENT}.ipynb")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        start = time.monotonic()
        refused = read(path, staging=tmp_path / "staging").sub.refused
        assert time.monotonic() - start < 5
    finally:
        holder.kill()
        holder.wait()
    assert refused == f"{ASSIGNMENT}.ipynb could not be opened without waiting (a lease holds it)"


def test_a_hub_course_takes_only_students_own_files(tmp_path: Path) -> None:
    """`zengrad-kit hub setup` records hub/hub.json; the course's config then turns local_students off."""
    import json as _json

    from autograder.exchange import OwnerCheckedCollect
    from autograder.grading.config import course_config
    from tests.course_helpers import REPO

    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    assert OwnerCheckedCollect(config=course_config(course)).local_students is True  # a local course
    (course / "hub").mkdir()
    (course / "hub" / "hub.json").write_text(_json.dumps({"course_id": "zengrad", "exchange": str(tmp_path)}))
    assert OwnerCheckedCollect(config=course_config(course)).local_students is False
