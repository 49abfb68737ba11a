"""``zengrad-kit serve``: submit-time feedback through the real nbgrader exchange.

Students submit with nbgrader's own exchange classes (what the Assignment List's buttons run) and
fetch their feedback the same way; the service runs as the real CLI in a subprocess, and the
crash tests ``kill -9`` it at a named step (``ZENGRAD_SERVICE_PAUSE_AT``) and start it again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.service import pages
from autograder.service.policy import GradingService, Rules
from autograder.service.state import State
from autograder.service.student import Student, release
from tests.course_helpers import mutate, nbgrader, release_nb, solution_nb

PS1 = "ps1_operators"
ZENGRAD = str(Path(sys.executable).parent / "zengrad-kit")


# ------------------------------------------------------------------------------------------- rules and state

def _t(minutes: float) -> str:
    return (dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)).isoformat()


def test_rate_limit_is_decided_from_receipt_times_only() -> None:
    rules = Rules(2, 60.0, {"*": "full"})
    assert rules.allowance(_t(0), [], True) == (True, "")
    assert rules.allowance(_t(5), [_t(0)], True) == (True, "")
    ok, next_at = rules.allowance(_t(10), [_t(0), _t(5)], True)
    assert not ok and next_at == _t(60)  # the oldest of the window leaves it at 11:00
    assert rules.allowance(_t(61), [_t(0), _t(5)], True) == (True, "")
    assert rules.allowance(_t(10), [_t(0), _t(5)], False) == (True, "")  # after the due date: no limit
    assert Rules(0, 60.0).allowance(_t(0), [], True) == (False, "")


def test_visibility_per_assignment_and_cell() -> None:
    service = GradingService(visibility="pass-fail", assignments={"ps1_operators": {
        "feedbacks_per_window": 5, "visibility": {"mul_test": "none"}}})
    rules = service.rules("ps1_operators")
    assert rules.per_window == 5 and rules.window_minutes == 60.0
    assert rules.visibility(["add_test", "mul_test"], True) == {"add_test": "pass-fail", "mul_test": "none"}
    assert rules.visibility(["add_test", "mul_test"], False) == {"add_test": "full", "mul_test": "full"}
    assert service.rules("ps2_backprop").per_window == 3
    with pytest.raises(ValueError):
        GradingService(assignments={"x": {"visibility": {"*": "everything"}}}).rules("x")


def _state(tmp_path: Path, subs: list[tuple[str, str, str, float]]) -> State:
    state = State(tmp_path / "state.db")
    for name, student, assignment, minute in subs:
        state.add_seen([name])
        state.enqueue(name, student, assignment, _t(minute))
    return state


def test_round_robin_serves_every_student_before_anyone_twice(tmp_path: Path) -> None:
    flood = [(f"bob+ps{i}+x", "bob", f"ps{i}", 0.1 * i) for i in range(1, 6)]
    state = _state(tmp_path, [*flood, ("carol+ps1+x", "carol", "ps1", 5), ("dan+ps2+x", "dan", "ps2", 6)])
    served = [state.next_job().student for _ in range(7)]
    assert served[:3] == ["bob", "carol", "dan"]  # bob's flood came first, yet carol and dan wait for one of his
    assert served[3:] == ["bob"] * 4
    assert state.next_job() is None


def test_a_newer_submission_supersedes_the_waiting_one_never_the_one_being_graded(tmp_path: Path) -> None:
    state = _state(tmp_path, [("a1", "alice", "ps1", 0)])
    assert state.next_job().name == "a1"  # being graded
    for name, minute in (("a2", 1), ("a3", 2)):
        state.add_seen([name])
        state.enqueue(name, "alice", "ps1", _t(minute))
    assert {r.name: r.state for r in state.rows()} == {"a1": "grading", "a2": "superseded", "a3": "queued"}
    state.add_seen(["a0"])  # an older one seen late (a rescan) does not push out the newest
    state.enqueue("a0", "alice", "ps1", _t(-1))
    assert state.row("a0").state == "superseded" and state.row("a3").state == "queued"
    assert state.recover() == 1 and state.row("a1").state == "queued"  # after a crash: graded again


def test_a_feedback_file_belongs_to_one_submission(tmp_path: Path) -> None:
    state = State(tmp_path / "state.db")
    assert state.claim_page("h1", "alice+ps1+t", "ps1")
    assert state.claim_page("h1", "alice+ps1+t", "ps1")  # the same submission again: a re-release
    assert not state.claim_page("h1", "mallory+ps1+t", "ps1")  # a copied secret cannot take it over


def test_pages_escape_what_students_control() -> None:
    evil = "<img src=x onerror=alert(1)>"
    for html in (pages.refused_page("ps1", evil), pages.error_page("ps1", _t(0), evil),
                 pages.stray_page("ps1", evil, ["ps1"]), pages.superseded_page("ps1", _t(0), evil),
                 pages.deferred_page(evil, _t(0), "Grading it used more"),
                 pages.waiting_page(evil, _t(0), 1, 30.0, False, _t(1))):
        assert "<img" not in html and "&lt;img" in html
        assert "Content-Security-Policy" in html and "<script" not in html


def test_the_waiting_page_says_when_to_fetch_again() -> None:
    queued = pages.waiting_page("ps1", _t(0), 2, 42.0, False, _t(0.75), busy=2, workers=2)
    assert "2 submissions of other students are ahead of it and 2 of 2 graders are busy" in queued
    assert "expected wait about 40 seconds" in queued and "again after 2026-12-01 10:00:45 UTC" in queued
    grading = pages.waiting_page("ps1", _t(0), 0, 200.0, True, _t(3.5))
    assert "being graded now; expected to be done in about 3 minutes" in grading and "10:03:30 UTC" in grading


def test_the_cpu_budget_decides_from_cpu_time_only() -> None:
    rules = GradingService(submit_cpu_seconds=20, assignments={"ps3_mlp": {"submit_cpu_seconds": 60}})
    assert rules.rules("ps1_operators").over_budget(20.5) and not rules.rules("ps1_operators").over_budget(19.9)
    assert not rules.rules("ps3_mlp").over_budget(59) and rules.rules("ps3_mlp").over_budget(61)
    assert not rules.rules("ps1_operators").over_budget(None)  # unknown CPU (a cluster task): not by this rule
    assert not GradingService(submit_cpu_seconds=0).rules("ps1_operators").over_budget(1e9)


# ------------------------------------------------------------------------------------------------- the service

@pytest.fixture(scope="module")
def served(course_template, tmp_path_factory):
    """The course with ps1 released to an exchange of its own."""
    root = tmp_path_factory.mktemp("served")
    course = course_template.copy_to(root / "course")
    exchange = root / "exchange"
    old = os.environ.get("ZENGRAD_EXCHANGE")
    os.environ["ZENGRAD_EXCHANGE"] = str(exchange)
    release(course.root, PS1)
    yield course, exchange, root
    if old is None:
        os.environ.pop("ZENGRAD_EXCHANGE", None)
    else:
        os.environ["ZENGRAD_EXCHANGE"] = old


def student(served, name: str) -> Student:
    _, exchange, root = served
    return Student(name, root / "homes" / name, exchange)


def serve(course_root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([ZENGRAD, "serve", "--until-idle", "--course", str(course_root), *args],
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def rows(course_root: Path) -> dict[str, dict]:
    path = course_root / "service" / "state.db"
    if not path.exists():
        return {}  # the service has not started yet
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        return {r["name"]: dict(r) for r in db.execute("SELECT * FROM submissions")}
    except sqlite3.OperationalError:
        return {}  # its tables are being made
    finally:
        db.close()


def feedback_files(course_root: Path, names: list[str]) -> list[tuple[str, str]]:
    db = sqlite3.connect(course_root / "service" / "state.db")
    marks = ",".join("?" * len(names))
    return db.execute(f"SELECT hash, name FROM pages WHERE name IN ({marks})", names).fetchall()


def wrong_mul():
    return mutate(solution_nb(PS1), "mul_solution", "self.grad += other.data * out.grad",
                  "self.grad = other.data * out.grad")


def test_submit_fetch_feedback_fix_resubmit_and_the_rate_limit(served) -> None:
    course, exchange, _ = served
    alice = student(served, "alice")
    first = alice.submit(PS1, wrong_mul())
    serve(course.root, "--GradingService.feedbacks_per_window=2")
    page = alice.feedback_for(PS1, first)
    assert page is not None and 'data-kind="graded"' in page
    assert "mul" in page and "out.grad" in page or "+=" in page  # the hidden check's diagnosis for mul
    assert "You can get 1 more hidden-check feedback" in page
    state = rows(course.root)[first]
    outcome = json.loads(state["outcome"])
    assert {c["grade_id"]: c["score"] < c["max_score"] for c in outcome["cells"]}["mul_test"]

    second = alice.submit(PS1, solution_nb(PS1))
    serve(course.root, "--GradingService.feedbacks_per_window=2")
    page = alice.feedback_for(PS1, second)
    outcome2 = json.loads(rows(course.root)[second]["outcome"])
    assert outcome2["score"] == outcome2["max_score"] > 0 and "You can get 0 more" in page

    third = alice.submit(PS1, solution_nb(PS1))
    serve(course.root, "--GradingService.feedbacks_per_window=2")
    page = alice.feedback_for(PS1, third)
    assert 'data-kind="rate-limited"' in page and "counts for your final grade" in page
    assert "next hidden-check feedback is available for a submission received after" in page
    assert rows(course.root)[third]["counted"] == 0 and rows(course.root)[third]["grade_runs"] == 0
    # the first page is still the first submission's: one page per submission
    assert 'data-kind="graded"' in alice.feedback_for(PS1, first)

    # final grades stay batch: nbgrader collect + zengrad-kit grade give the service's per-cell scores
    assert not (course.root / "submitted").exists() or not any((course.root / "submitted").iterdir())
    nbgrader(course.root, "collect", PS1, "--update", "--log-level=WARN", check=True)
    batch = subprocess.run([ZENGRAD, "grade", PS1, "--course", str(course.root), "--student", "alice",
                            "--no-progress"], capture_output=True, text=True, timeout=600)
    assert batch.returncode == 0, batch.stderr[-2000:]
    graded = json.loads((course.root / "reports" / "outcomes.json").read_text())
    mine = next(o for o in graded["outcomes"] if o["student"] == "alice")
    assert {c["grade_id"]: c["score"] for c in mine["cells"]} == {c["grade_id"]: c["score"]
                                                                  for c in outcome2["cells"]}


def test_bad_input_gets_a_page_and_everyone_else_is_served(served) -> None:
    course, exchange, root = served
    subs = {}
    subs["badjson"] = (student(served, "badjson"), student(served, "badjson").submit(PS1, b"{ not json"))
    subs["renamed"] = (student(served, "renamed"), student(served, "renamed").submit(PS1, solution_nb(PS1),
                                                                                     name="my_copy.ipynb"))
    subs["other"] = (student(served, "other"), student(served, "other").submit(PS1, release_nb("ps2_backprop")))
    big = student(served, "big")
    big.fetch(PS1)
    (big.home / PS1 / "data.csv").write_bytes(b"0" * (60 << 20))
    subs["big"] = (big, big.submit(PS1, solution_nb(PS1)))
    subs["honest"] = (student(served, "honest"), student(served, "honest").submit(PS1, solution_nb(PS1)))
    serve(course.root, "--workers", "2")
    state = rows(course.root)
    got = {k: s.feedback_for(PS1, name, "my_copy" if k == "renamed" else None) for k, (s, name) in subs.items()}
    assert all(got.values()), {k: bool(v) for k, v in got.items()}
    assert 'data-kind="error"' in got["badjson"] and "bad-json" in got["badjson"]
    assert 'data-kind="stray"' in got["renamed"] and "Did you rename the notebook?" in got["renamed"]
    assert 'data-kind="refused"' in got["big"] and "larger than the course accepts" in got["big"]
    assert state[subs["big"][1]]["state"] == "refused"
    # another assignment's notebook under this one's name: an explicit error, as in a batch run, with its page
    assert 'data-kind="error"' in got["other"] and "autograde-failed" in got["other"]
    assert json.loads(state[subs["other"][1]]["outcome"])["status"] == "error"
    honest = json.loads(state[subs["honest"][1]]["outcome"])
    assert honest["score"] == honest["max_score"] > 0
    refused = json.loads((course.root / "reports" / "collect.json").read_text())["submissions"]
    assert "larger than the course accepts" in refused[subs["big"][1]]["refused"]


@pytest.mark.slow
def test_one_students_flood_does_not_delay_another(served) -> None:
    course, _, _ = served
    bob, carol = student(served, "flood"), student(served, "carol")
    floods = [bob.submit(PS1, wrong_mul()) for _ in range(6)]
    late = carol.submit(PS1, solution_nb(PS1))
    serve(course.root, "--workers", "1", "--GradingService.feedbacks_per_window=10")
    state = rows(course.root)
    graded = sorted((state[n]["started"], n) for n in [*floods, late] if state[n]["started"])
    assert [n for _, n in graded].index(late) <= 1  # at most one of the flood before carol's first
    assert {state[n]["state"] for n in floods[1:-1]} == {"superseded"}  # the waiting ones gave way to the newest
    assert 'data-kind="superseded"' in bob.feedback_for(PS1, floods[2])
    assert len(feedback_files(course.root, floods)) == len(floods)  # one page each, never more


def _start(course_root: Path, step: str) -> subprocess.Popen:
    env = dict(os.environ, ZENGRAD_SERVICE_PAUSE_AT=step)
    return subprocess.Popen([ZENGRAD, "serve", "--course", str(course_root), "--workers", "1",
                             "--GradingService.rescan_seconds=1"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def _wait_for(check, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.05)
    raise AssertionError("the service never reached the step")


@pytest.mark.slow
@pytest.mark.parametrize("step", ["collect", "grade", "release"])
def test_kill_9_at_any_step_then_restart_gives_exactly_one_feedback(served, step: str) -> None:
    course, _, _ = served
    s = student(served, f"crash-{step}")
    name = s.submit(PS1, wrong_mul())
    folder = course.root / "service"
    proc = _start(course.root, step)
    try:
        if step == "grade":
            _wait_for(lambda: rows(course.root).get(name, {}).get("state") == "grading", proc)
            time.sleep(1.0)  # inside the worker's grading
        else:
            _wait_for(lambda: (folder / f"paused-at-{step}").exists(), proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        (folder / f"paused-at-{step}").unlink(missing_ok=True)
    before = rows(course.root)[name]
    assert before["state"] in {"seen", "grading", "graded"} and before["released"] is None
    serve(course.root)
    after = rows(course.root)[name]
    assert after["state"] == "graded" and after["released"] is not None
    assert after["grade_runs"] == (2 if step == "grade" else 1)
    outcome = json.loads(after["outcome"])
    scores = {c["grade_id"]: c["score"] for c in outcome["cells"]}
    assert scores.get("mul_test") == 0 and scores.get("add_test", 0) > 0, outcome  # as an uninterrupted grading
    assert len(feedback_files(course.root, [name])) == 1
    page = s.feedback_for(PS1, name)
    assert 'data-kind="graded"' in page and page.count('id="zengrad-service"') == 1


# what `nbgrader submit` writes, run as a real unix user: the notebook, timestamp.txt, submission_secret.txt
SUBMIT_WITH_SECRET = """
import datetime, os, shutil, sys
inbound, name, notebook, secret = sys.argv[1:5]
path = os.path.join(inbound, name)
os.mkdir(path)
shutil.copy(notebook, os.path.join(path, os.path.basename(notebook)))
with open(os.path.join(path, "timestamp.txt"), "w") as fh:
    fh.write(name.split("+")[2])
with open(os.path.join(path, "submission_secret.txt"), "w") as fh:
    fh.write(secret)
os.chmod(path, 0o777)
"""


def test_a_submission_in_someone_elses_name_is_refused_and_never_replaces_their_feedback(request) -> None:
    import secrets

    import nbformat
    from nbgrader.utils import notebook_hash

    from tests.test_exchange import _now
    from tests.unix import as_user

    course, inbound, files = request.getfixturevalue("shared_exchange")
    users = request.getfixturevalue("unix_users")
    release(course.root, PS1)
    nb = f"{PS1}.ipynb"
    own = f"zgalice+{PS1}+{_now()}+{secrets.token_urlsafe(6)}"
    forged = f"zgalice+{PS1}+{_now(1)}+{secrets.token_urlsafe(6)}"
    secret = secrets.token_hex(64)
    as_user(users, "zgalice", SUBMIT_WITH_SECRET, str(inbound), own, str(files / "right" / nb), secret)
    # bob, in alice's name, with the secret of hers he would need to overwrite her page (suppose he got it)
    as_user(users, "zgbob", SUBMIT_WITH_SECRET, str(inbound), forged, str(files / "stub" / nb), secret)
    serve(course.root, "--workers", "1")
    state = rows(course.root)
    assert state[own]["state"] == "graded" and json.loads(state[own]["outcome"])["score"] > 0
    assert state[forged]["state"] == "refused" and "someone else's name" in state[forged]["reason"]
    assert state[forged]["page"] == 0 and not feedback_files(course.root, [forged])
    page = (inbound.parent / "feedback" / f"{notebook_hash(secret=secret, notebook_id=PS1)}.html").read_text()
    assert 'data-kind="graded"' in page  # alice's own feedback, not bob's
    refused = json.loads((course.root / "reports" / "collect.json").read_text())["submissions"]
    assert "owned by zgbob" in refused[forged]["refused"]
    assert nbformat.read(files / "right" / nb, 4)  # her work untouched


# ---------------------------------------------------------------------------------------- on a hub: timing, budget

def _page(exchange: Path, name: str) -> str:
    from nbgrader.utils import notebook_hash

    secret = (exchange / "zengrad" / "inbound" / name / "submission_secret.txt").read_text()
    path = exchange / "zengrad" / "feedback" / f"{notebook_hash(secret=secret, notebook_id=PS1)}.html"
    return path.read_text() if path.exists() else ""


def _running_service(course_root: Path, exchange: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, ZENGRAD_EXCHANGE=str(exchange))
    return subprocess.Popen([ZENGRAD, "serve", "--course", str(course_root), *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _stop(proc: subprocess.Popen) -> str:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
    return err


def _until(check, proc: subprocess.Popen, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        assert proc.poll() is None, "the service stopped"
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:g} s")


@pytest.mark.slow
def test_a_service_started_before_the_first_release_sees_submissions_at_once(course_template, tmp_path) -> None:
    """Started while the exchange has no inbound/ yet, with rescans 10 minutes apart: inotify alone finds it."""
    course = course_template.copy_to(tmp_path / "course")
    exchange = tmp_path / "exchange"
    proc = _running_service(course.root, exchange, "--workers", "1", "--GradingService.rescan_seconds=600")
    try:
        time.sleep(8)  # the service is up and watching the nearest folder that exists
        os.environ["ZENGRAD_EXCHANGE"] = str(exchange)
        try:
            release(course.root, PS1)
            name = Student("early", tmp_path / "home", exchange).submit(PS1, solution_nb(PS1))
        finally:
            os.environ.pop("ZENGRAD_EXCHANGE", None)
        at = time.monotonic()
        _until(lambda: 'data-kind="graded"' in _page(exchange, name), proc, 120, "feedback")
        assert time.monotonic() - at < 100  # far below the 600 s rescan
    finally:
        err = _stop(proc)
    assert "does not exist yet: watching" in err and f"watching {exchange / 'zengrad' / 'inbound'}" in err, err


def _looping() -> object:
    from tests.course_helpers import cell

    nb = solution_nb(PS1)
    cell(nb, "mul_solution").source += "\nwhile True:  # never ends\n    pass\n"
    return nb


@pytest.mark.slow
def test_busy_loops_are_set_aside_at_their_cpu_budget_and_the_queue_moves_on(served) -> None:
    """Two busy loops hold both workers; a third student's page counts them in its wait, and its feedback comes
    without waiting for them (the spare worker, or a worker their CPU budget frees); the loops are set aside at
    their budget (their pages say so), never graded."""
    course, exchange, _ = served
    proc = _running_service(course.root, exchange, "--workers", "2", "--GradingService.submit_cpu_seconds=15",
                            "--GradingService.feedbacks_per_window=10")
    try:
        loops = [student(served, f"loop{i}").submit(PS1, _looping()) for i in range(2)]
        status = course.root / "service" / "status.json"
        _until(lambda: status.exists() and sum(r["seconds"] >= 6 for r in json.loads(status.read_text())["running"])
               == 2, proc, 120, "both loops graded for 6 s")
        third = student(served, "third").submit(PS1, solution_nb(PS1))
        at = time.monotonic()
        waiting = _until(lambda: (p := _page(exchange, third)) and 'data-kind="waiting"' in p and p, proc, 30,
                         "the third's waiting page")
        assert "0 submissions of other students are ahead of it and 2 of 2 graders are busy" in waiting, waiting
        promised = int(re.search(r"expected wait about (\d+) seconds", waiting).group(1))
        assert 5 <= promised <= 45, waiting  # until the spare worker or a loop's budget frees a worker, plus a grading
        assert "Fetch Feedback</em> again after" in waiting
        _until(lambda: 'data-kind="graded"' in _page(exchange, third), proc, 120, "the third's feedback")
        took = time.monotonic() - at
        for name in loops:
            _until(lambda name=name: 'data-kind="deferred"' in _page(exchange, name), proc, 60, "a loop set aside")
    finally:
        err = _stop(proc)
    state = rows(course.root)
    assert [state[n]["state"] for n in loops] == ["deferred", "deferred"], err[-2000:]
    assert all(state[n]["grade_runs"] == 1 and not state[n]["outcome"] for n in loops)
    assert err.count("SET ASIDE") == 2 and "over the budget of 15" in err, err[-2000:]
    page = _page(exchange, loops[0])
    assert "more than the 15 CPU seconds" in page and "graded with everyone's submissions after the due date" in page
    assert (exchange / "zengrad" / "inbound" / loops[0]).is_dir()  # kept for the batch collect
    assert took < 90, took
