"""``zengrad-kit doctor``, the leak guard of ``grade``, ownership and the exchange's modes, on real files and accounts.

The whole hub (setup, students, formgrader) is tests/test_hub.py (slow); these are the parts that
need no hub: a course copied where every user can reach it, as a fresh clone is.
"""

from __future__ import annotations

import grp
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder.hub import exchange_dirs
from autograder.hub.accounts import NOBODY, Account, can_execute
from autograder.hub.exposure import Exposure

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changes owners and runs commands as other users")


def zengrad_kit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})}, cwd="/")


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory every user can enter (pytest's tmp dirs are 0700: nothing below them is exposed)."""
    path = Path(tempfile.mkdtemp(prefix="zengrad-doctor-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def cloned(course, public_dir: Path) -> Path:
    """The generated course, world-readable where every user can reach it: what a fresh clone looks like."""
    dest = public_dir / "course"
    shutil.copytree(course.root, dest)
    for path in [dest, *dest.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return dest


def test_doctor_names_a_world_readable_course_and_exits_1_and_no_course_leak_once_private(cloned: Path) -> None:
    found = zengrad_kit("doctor", "--course", str(cloned))
    assert found.returncode == 1, found.stdout + found.stderr
    for entry, reason in (("source", "the source notebooks"), ("gradebook.db", "the gradebook")):
        assert f"[LEAK] {cloned / entry}: {reason}" in found.stdout and "readable by every user" in found.stdout, \
            found.stdout
    assert f"[LEAK] {cloned}: the course directory" in found.stdout, found.stdout
    assert "fix: sudo zengrad-kit hub setup --course" in found.stdout
    os.chmod(cloned, 0o700)  # nothing below is reachable now
    fixed = zengrad_kit("doctor", "--course", str(cloned))
    serious = [line for line in fixed.stdout.splitlines() if "[LEAK]" in line or "[BREAK]" in line]
    # this copy is graded by the checkout's code: a finding of its own when the checkout is readable (as here)
    code = Path(__file__).resolve().parent.parent / "autograder"
    assert serious in ([], [f"  [LEAK] the installed grading code {code} (hidden checks) is readable by every user"]), \
        fixed.stdout
    assert fixed.returncode == (1 if serious else 0), fixed.stdout + fixed.stderr


def test_a_group_exposes_only_when_someone_besides_the_owner_is_in_it(public_dir: Path) -> None:
    secret = public_dir / "secret"
    secret.mkdir(mode=0o750)
    (secret / "grades.csv").write_text("x")
    os.chmod(secret / "grades.csv", 0o640)
    root_group = grp.getgrgid(0)
    if set(root_group.gr_mem) - {"root"}:
        pytest.skip("group root has other members here")
    assert list(Exposure(0).walk(secret)) == []  # group root: nobody but the owner
    if os.geteuid() != 0:
        pytest.skip("chgrp to another group needs root")
    nogroup = Account.named(NOBODY).gid  # nobody's primary group: someone besides root is in it
    os.chown(secret, 0, nogroup)
    os.chown(secret / "grades.csv", 0, nogroup)
    exposed = {p.path.name: p.readers for p in Exposure(0).walk(secret)}
    assert set(exposed) == {"secret", "grades.csv"} and all(NOBODY in r for r in exposed.values()), exposed
    os.chmod(secret, 0o700)  # the directory no longer lets the group in: the file is safe whatever its mode
    assert list(Exposure(0).walk(secret)) == []


@needs_root
def test_the_exchange_gets_modes_that_keep_submissions_apart_and_doctor_sees_each_weakening(public_dir: Path) -> None:
    root = public_dir / "exchange"
    grader = Account.named(NOBODY)
    done = exchange_dirs.prepare(root, "zengrad", grader)
    assert any("1777" in line for line in done) and any("3733" in line for line in done), done
    assert exchange_dirs.prepare(root, "zengrad", grader) == []  # idempotent
    assert exchange_dirs.check(root, "zengrad", grader.uid) == []
    inbound = root / "zengrad" / "inbound"
    assert stat.S_IMODE(inbound.stat().st_mode) == 0o3733 and inbound.stat().st_uid == grader.uid
    for path, mode, expected in ((inbound, 0o2733, "no sticky bit"), (inbound, 0o3777, "can list it"),
                                 (root / "zengrad" / "feedback", 0o755, "can list it"),
                                 (root, 0o777, "not 1777: a student can rename")):
        before = stat.S_IMODE(path.stat().st_mode)
        os.chmod(path, mode)
        found = exchange_dirs.check(root, "zengrad", grader.uid)
        assert any(expected in f.what and f.serious for f in found), (path, found)
        os.chmod(path, before)
    os.chown(root / "zengrad" / "outbound", 0, 0)
    assert any("nbgrader refuses to release" in f.what for f in exchange_dirs.check(root, "zengrad", grader.uid))


def test_grade_refuses_a_readable_course_on_a_shared_exchange_and_warns_on_a_local_one(cloned: Path,
                                                                                        public_dir: Path) -> None:
    shared = zengrad_kit("grade", "--course", str(cloned), "--no-progress",
                         env={"ZENGRAD_EXCHANGE": str(public_dir / "exchange")})
    assert shared.returncode == 5, shared.stdout + shared.stderr
    assert "OTHER USERS CAN READ THIS COURSE'S SECRETS" in shared.stderr and "REFUSING to grade" in shared.stderr
    assert not (cloned / "reports").exists()  # nothing was done
    env = {k: v for k, v in os.environ.items() if k != "ZENGRAD_EXCHANGE"}
    local = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", "--course", str(cloned), "--no-progress"],
                           capture_output=True, text=True, timeout=300, env=env, cwd="/")
    assert local.returncode == 0, local.stdout + local.stderr  # nothing submitted: nothing to grade
    assert "OTHER USERS CAN READ" in local.stderr and "going on: the exchange is inside the course" in local.stderr


@pytest.fixture
def grader() -> Iterator[Account]:
    """A grader account with a group of its own (``zghub*`` names belong to these tests), removed afterwards."""
    name = "zghubdoc"
    subprocess.run(["userdel", "-r", "-f", name], capture_output=True)
    subprocess.run(["useradd", "-m", "-U", "-s", "/bin/bash", name], check=True, capture_output=True)
    yield Account.named(name)
    subprocess.run(["userdel", "-r", "-f", name], capture_output=True)
    subprocess.run(["groupdel", name], capture_output=True)


def _others_cannot_run_this_python() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    if can_execute(Account.named(NOBODY), Path(sys.executable)) is None:
        return f"{sys.executable} runs for other users here (the hub test covers the switch to the owner)"
    return None


@needs_root
def test_hub_setup_refuses_an_interpreter_the_grader_cannot_run_and_changes_nothing(
        cloned: Path, public_dir: Path, grader: Account) -> None:
    reason = _others_cannot_run_this_python()
    if reason:
        pytest.skip(reason)
    before = {p: (p.stat().st_uid, p.stat().st_mode) for p in [cloned, *cloned.rglob("*")]}
    result = zengrad_kit("hub", "setup", "--course", str(cloned), "--exchange", str(public_dir / "exchange"),
                         "--grader", grader.name, "--jupyter-dir", str(public_dir / "jupyter"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"the grader {grader.name} cannot run {sys.executable} (exit 126" in result.stderr, result.stderr
    assert "/usr/bin/python3 -m venv" in result.stderr
    assert before == {p: (p.stat().st_uid, p.stat().st_mode) for p in [cloned, *cloned.rglob("*")]}
    assert not (public_dir / "exchange").exists() and not (cloned / "hub").exists()


@needs_root
def test_grade_as_root_in_a_course_its_owner_cannot_grade_with_this_python_refuses_and_writes_nothing(
        course, grader: Account) -> None:
    reason = _others_cannot_run_this_python()
    if reason:
        pytest.skip(reason)
    for path in [course.root, *course.root.rglob("*")]:
        os.lchown(path, grader.uid, grader.gid)
    before = sorted(str(p) for p in course.root.rglob("*"))
    result = zengrad_kit("grade", "ps1_operators", "--course", str(course.root), "--no-progress")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"belongs to {grader.name}" in result.stderr and f"runuser -u {grader.name} --" in result.stderr, \
        result.stderr
    assert before == sorted(str(p) for p in course.root.rglob("*"))  # no root-owned file left behind


def test_the_course_config_reads_the_exchange_hub_setup_recorded(course, tmp_path: Path) -> None:
    from autograder.grading.config import course_config
    from autograder.hub.deployment import Deployment

    Deployment("course101", str(tmp_path / "exchange"), "grader", "/etc/jupyter", None, 9999).write(course.root)
    env = {k: v for k, v in os.environ.items() if k != "ZENGRAD_EXCHANGE"}
    code = ("import sys; from autograder.grading.config import course_config; c = course_config(sys.argv[1]); "
            "print(c.Exchange.root, c.CourseDirectory.course_id)")
    read = subprocess.run([sys.executable, "-c", code, str(course.root)], capture_output=True, text=True, env=env)
    assert read.stdout.split() == [str(tmp_path / "exchange"), "course101"], read.stderr
    os.environ["ZENGRAD_EXCHANGE"] = "/elsewhere"
    try:
        assert course_config(course.root).Exchange.root == "/elsewhere"  # the variable still wins
    finally:
        del os.environ["ZENGRAD_EXCHANGE"]
