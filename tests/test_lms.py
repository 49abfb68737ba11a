"""Grades into the LMS: Canvas, Moodle and Brightspace CSVs for a 30-student roster, and a push to Canvas.

The gradebook is a real nbgrader ``Gradebook`` in a throwaway course, filled through nbgrader's
API (30 students, two assignments, an errored submission with partial scores in the gradebook,
missing submissions, a late penalty, hostile names), with the ``reports/outcomes.json`` that
``zengrad-kit grade`` writes. Each LMS file is parsed back and checked against the documented
columns of its format (see ``autograder/results/lms.py``). One test goes through a really graded
course (about 17 s). The Canvas push runs against a local fake Canvas HTTP server (``tests/fake_canvas.py``).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.results import lms
from autograder.results.outcomes import Outcome, save_outcomes

A1, A2 = "ps1_operators", "ps2_backprop"
CELLS = {A1: {"add": 4.0, "mul": 6.0}, A2: {"order": 2.0, "grads": 3.0}}
MAX = {a: sum(c.values()) for a, c in CELLS.items()}
N = 30
IDS = [f"s{i:02d}" for i in range(1, N + 1)]
ERRORED = ("s05", A1)  # bad-json per outcomes.json, yet the gradebook holds a partial score for it
ERRORED_PARTIAL = {"add": 3.0, "mul": 0.0}
NO_SUBMISSION = ("s06", A2)
LATE = ("s07", A1, 1.5)  # penalty in points
NOT_IN_ROSTER = ("s29", "s30")  # nbgrader students the LMS roster does not have
ROSTER_ONLY = ("r31", "r32")  # roster students nbgrader never saw
HOSTILE = "s08"  # first name starts like a formula


def cell_scores(student: str, assignment: str) -> dict[str, float]:
    """Deterministic per-cell scores with halves, within each cell's points."""
    i = int(student[1:])
    return {cell: min(points, ((i * (k + 3)) % (2 * int(points) + 1)) / 2)
            for k, (cell, points) in enumerate(CELLS[assignment].items())}


def expected_score(student: str, assignment: str) -> float | None:
    """What the LMS file must say: None for an empty cell."""
    if (student, assignment) in (ERRORED, NO_SUBMISSION):
        return None
    total = sum(cell_scores(student, assignment).values())
    if (student, assignment) == LATE[:2]:
        total = max(0.0, total - LATE[2])
    return total


@pytest.fixture(scope="module")
def course30(tmp_path_factory: pytest.TempPathFactory, isolated_jupyter: None) -> Path:
    """A course directory with a real nbgrader gradebook of 30 students and the outcomes of a grading run."""
    from nbgrader.api import Gradebook

    root = tmp_path_factory.mktemp("lms") / "course"
    root.mkdir()
    (root / "nbgrader_config.py").write_text(
        'c = get_config()\nc.ExportApp.plugin_class = "autograder.results.export.StatusCsvExportPlugin"\n')
    outcomes: list[Outcome] = []
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for a, cells in CELLS.items():
            gb.add_assignment(a, duedate="2026-11-20 12:00:00")
            gb.add_notebook(a, a)
            for cell, points in cells.items():
                gb.add_grade_cell(cell, a, a, max_score=points, cell_type="code")
        for i, sid in enumerate(IDS, 1):
            first = "=HYPERLINK(\"http://x\")" if sid == HOSTILE else f"First{i:02d}"
            gb.add_student(sid, first_name=first, last_name=f"Last{i:02d}", email=f"{sid}@uni.example")
            for a in CELLS:
                if (sid, a) == NO_SUBMISSION:
                    continue
                gb.add_submission(a, sid, timestamp="2026-11-20 10:00:00")
                scores = ERRORED_PARTIAL if (sid, a) == ERRORED else cell_scores(sid, a)
                for cell, score in scores.items():
                    gb.find_grade(cell, a, a, sid).auto_score = score
                if (sid, a) == LATE[:2]:
                    gb.find_submission_notebook(a, a, sid).late_submission_penalty = LATE[2]
                gb.db.commit()
                errored = (sid, a) == ERRORED
                outcomes.append(Outcome(a, sid, status="error" if errored else "graded",
                                        error_kind="bad-json" if errored else None,
                                        message="ps1_operators.ipynb is not a readable notebook" if errored else "",
                                        autograded=not errored))
                if not errored:
                    (root / "autograded" / sid / a).mkdir(parents=True)
                (root / "submitted" / sid / a).mkdir(parents=True)
    save_outcomes(root / "reports", outcomes)
    return root


def roster_people() -> list[tuple[str, int, str, str]]:
    """(login, canvas user id, first, last) of the 30 roster students: 28 nbgrader ones, 2 the LMS only has."""
    people = [(sid, 1000 + int(sid[1:]), f"First{sid[1:]}", f"Last{sid[1:]}") for sid in IDS
              if sid not in NOT_IN_ROSTER]
    people += [(rid, 1000 + int(rid[1:]), f"Only{rid[1:]}", "Roster") for rid in ROSTER_ONLY]
    assert len(people) == N
    return people


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        csv.writer(fh).writerows(rows)
    return path


def canvas_roster(path: Path) -> Path:
    """As Canvas's Grades → Export writes it (points row, read-only score columns, the test student)."""
    rows = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{A1} (501)", "Backprop (502)",
             "Current Score", "Final Score"],
            ["    Points Possible", "", "", "", "", "10.00", "5.00", "(read only)", "(read only)"]]
    for k, (login, uid, first, last) in enumerate(roster_people()):
        rows.append([f"{last}, {first}", str(uid), f"SIS{uid}", login.upper() if k % 3 == 0 else login,
                     "Section A", "", "", "", ""])
    rows.append(["Student, Test", "9999", "", "", "Section A", "", "", "", ""])
    return write_csv(path, rows)


def moodle_roster(path: Path) -> Path:
    """As Moodle's Export → Plain text file writes it (default profile fields, no username)."""
    rows = [["First name", "Last name", "ID number", "Institution", "Department", "Email address",
             f"Assignment: {A1} (Real)", f"Assignment: {A2} (Real)", "Course total (Real)",
             "Last downloaded from this course"]]
    for login, uid, first, last in roster_people():
        rows.append([first, last, str(uid), "Uni", "CS", f"{login}@uni.example", "-", "-", "-", "1795000000"])
    return write_csv(path, rows)


def brightspace_roster(path: Path) -> Path:
    """As Brightspace's Export (key field Both, points grade) writes it."""
    rows = [["OrgDefinedId", "Username", "Last Name", "First Name", "Email",
             f"{A1} Points Grade <Numeric MaxPoints:10 Category:Problem sets>",
             f"{A2} Points Grade <Numeric MaxPoints:5 Category:Problem sets>", "End-of-Line Indicator"]]
    for login, uid, first, last in roster_people():
        rows.append([f"#00{uid}", f"#{login}", last, first, f"{login}@uni.example", "", "", "#"])
    return write_csv(path, rows)


def read_back(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def as_number(cell: str) -> float | None:
    """An importer's reading of a grade cell: empty is None, anything else must be a plain number."""
    if cell == "":
        return None
    assert not cell.startswith(("'", "=", "+", "@")), cell
    return float(cell)


def problems_of(result: lms.LmsExport) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {}
    for p in result.problems:
        out.setdefault(p.kind, set()).add((p.student or p.roster_key.lower(), p.assignment))
    return out


def check_scores(by_student: dict[str, dict[str, float | None]], columns: dict[str, str]) -> None:
    """Every matched student's numbers are nbgrader's; errored and missing cells are empty; nobody else."""
    matched = [s for s in IDS if s not in NOT_IN_ROSTER]
    assert sorted(by_student) == sorted(matched)
    for sid in matched:
        for a, column in columns.items():
            assert by_student[sid][column] == expected_score(sid, a), (sid, a)


def test_canvas_csv_has_canvas_columns_and_nbgraders_numbers(course30: Path, tmp_path: Path) -> None:
    roster = canvas_roster(tmp_path / "canvas-export.csv")
    result = lms.export_lms(course30, "canvas", roster, tmp_path / "canvas.csv", items={A2: "Backprop"})
    header, rows = read_back(tmp_path / "canvas.csv")
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{A1} (501)", "Backprop (502)"]
    assert rows[0][0].strip() == "Points Possible" and rows[0][5:] == ["10", "5"]
    students = rows[1:]
    assert all(len(r) == len(header) for r in students)
    login_to_id = {login: str(uid) for login, uid, _, _ in roster_people()}
    by_student = {}
    for r in students:
        login = r[3].lower()
        assert r[1] == login_to_id[login] and r[2] == f"SIS{r[1]}"  # Canvas's own identity, copied
        by_student[login] = {h: as_number(v) for h, v in zip(header[5:], r[5:], strict=True)}
    check_scores(by_student, {A1: f"{A1} (501)", A2: "Backprop (502)"})
    kinds = problems_of(result)
    assert kinds["error"] == {(ERRORED[0], ERRORED[1])}
    assert kinds["missing"] == {NO_SUBMISSION}
    assert kinds["not-in-roster"] == {(s, "") for s in NOT_IN_ROSTER}
    assert kinds["no-record"] == {(r, "") for r in ROSTER_ONLY}
    assert "Student, Test" in " ".join(p.detail for p in result.problems if p.kind == "no-key")
    assert result.rows == N - len(ROSTER_ONLY) and result.serious  # the 28 matched students
    with open(result.problems_path, newline="") as fh:
        report = list(csv.DictReader(fh))
    assert {r["nbgrader_student"] for r in report if r["kind"] == "not-in-roster"} == set(NOT_IN_ROSTER)
    assert any(r["kind"] == "error" and r["detail"].startswith("bad-json") for r in report)


def test_the_numbers_are_those_of_nbgrader_export(course30: Path, tmp_path: Path) -> None:
    """The LMS file and the course's `nbgrader export` plugin read the same rows."""
    from autograder.results.reports import export_csv

    export_csv(course30, tmp_path / "grades.csv")
    with open(tmp_path / "grades.csv") as fh:
        stock = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(fh)}
    assert stock[(ERRORED[1], ERRORED[0])]["status"] == "error" and float(stock[(A1, "s05")]["score"]) == 3.0
    lms.export_lms(course30, "brightspace", brightspace_roster(tmp_path / "bs.csv"), tmp_path / "out.csv")
    header, rows = read_back(tmp_path / "out.csv")
    for r in rows:
        sid = r[1].lstrip("#")
        for a in CELLS:
            cell = r[header.index(f"{a} Points Grade")]
            if stock[(a, sid)]["status"] == "graded":
                assert float(cell) == float(stock[(a, sid)]["score"])
            else:
                assert cell == ""


def test_moodle_csv_maps_by_email_and_reuses_the_grade_item_columns(course30: Path, tmp_path: Path) -> None:
    roster = moodle_roster(tmp_path / "moodle-export.csv")
    result = lms.export_lms(course30, "moodle", roster, tmp_path / "moodle.csv")
    header, rows = read_back(tmp_path / "moodle.csv")
    columns = {A1: f"Assignment: {A1} (Real)", A2: f"Assignment: {A2} (Real)"}
    assert header == ["Email address", "First name", "Last name", *columns.values()]
    assert "Last downloaded from this course" not in header  # no stale-export check to trip at import
    by_student = {r[0].split("@")[0]: dict(zip(header[3:], map(as_number, r[3:]), strict=True)) for r in rows}
    check_scores(by_student, columns)
    assert not any(p.kind == "new-item" for p in result.problems)


def test_brightspace_csv_has_ids_points_grade_columns_and_end_of_line(course30: Path, tmp_path: Path) -> None:
    roster = brightspace_roster(tmp_path / "bs-export.csv")
    lms.export_lms(course30, "brightspace", roster, tmp_path / "bs.csv")
    header, rows = read_back(tmp_path / "bs.csv")
    assert header == ["OrgDefinedId", "Username", f"{A1} Points Grade", f"{A2} Points Grade", "End-of-Line Indicator"]
    assert all(r[-1] == "#" and r[0].startswith("#00") and r[1].startswith("#") for r in rows)  # leading zeros kept
    by_student = {r[1][1:]: dict(zip(header[2:4], map(as_number, r[2:4]), strict=True)) for r in rows}
    check_scores(by_student, {A1: f"{A1} Points Grade", A2: f"{A2} Points Grade"})


def test_options_zero_for_missing_omit_or_fail_on_errors(course30: Path, tmp_path: Path) -> None:
    roster = canvas_roster(tmp_path / "canvas-export.csv")
    zero = lms.export_lms(course30, "canvas", roster, tmp_path / "zero.csv", missing="zero")
    _, rows = read_back(tmp_path / "zero.csv")
    by_login = {r[3].lower(): r for r in rows[1:]}
    assert all(by_login[r][5:] == ["0", "0"] for r in ROSTER_ONLY)  # listed as no-record, 0 on request
    assert by_login[NO_SUBMISSION[0]][6] == "0" and by_login[ERRORED[0]][5] == ""  # an error never becomes 0
    assert zero.rows == N  # 28 matched + 2 roster-only rows of zeros
    lms.export_lms(course30, "canvas", roster, tmp_path / "omit.csv", errors="omit-row")
    _, rows = read_back(tmp_path / "omit.csv")
    assert ERRORED[0] not in {r[3].lower() for r in rows}
    failed = lms.export_lms(course30, "canvas", roster, tmp_path / "fail.csv", errors="fail")
    assert failed.path is None and not (tmp_path / "fail.csv").exists() and failed.problems_path.exists()


def test_unknown_item_is_a_new_column_and_listed(course30: Path, tmp_path: Path) -> None:
    roster = canvas_roster(tmp_path / "canvas-export.csv")
    result = lms.export_lms(course30, "canvas", roster, tmp_path / "c.csv", [A2])
    header, _ = read_back(tmp_path / "c.csv")
    assert header[5:] == [A2]  # no id: Canvas creates an assignment at import
    assert {p.assignment for p in result.problems if p.kind == "new-item"} == {A2}


def grade(a: str, s: str, score: float, status: str = "graded") -> lms.Grade:
    return lms.Grade(a, s, status, score, 10.0)


def test_ambiguous_matches_are_never_guessed(tmp_path: Path) -> None:
    roster = lms.read_roster(write_csv(tmp_path / "r.csv", [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "hw (1)"],
        ["A, One", "1", "", "dup", "S", ""], ["A, Two", "2", "", "DUP", "S", ""],
        ["B", "3", "", "bob", "S", ""], ["C", "4", "", "carol", "S", ""]]))
    students = ["dup", "Bob", "bob", "carol"]
    grades = {("hw", s): grade("hw", s, 7.0) for s in students}
    header, rows, problems = lms.build_rows("canvas", roster, ["hw"], students, grades, missing="zero")
    assert [r[3] for r in rows[1:]] == ["carol"]  # dup (two rows) and bob/Bob (two nbgrader ids) get nothing
    assert {p.student for p in problems if p.kind == "ambiguous"} == {"dup", "Bob", "bob"}


def test_canvas_points_possible_that_differ_are_listed(tmp_path: Path) -> None:
    roster = lms.read_roster(write_csv(tmp_path / "r.csv", [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "hw (1)", "quiz (2)"],
        ["    Points Possible", "", "", "", "", "10.00", "20.00"], ["A", "1", "", "amy", "S", "", ""]]))
    grades = {(a, "amy"): grade(a, "amy", 7.0) for a in ("hw", "quiz")}  # nbgrader: 10 points each
    header, rows, problems = lms.build_rows("canvas", roster, ["hw", "quiz"], ["amy"], grades)
    assert [p.assignment for p in problems if p.kind == "points-possible"] == ["quiz"]
    assert rows == [["    Points Possible", "", "", "", "", "10", "10"], ["A", "1", "", "amy", "S", "7", "7"]]


def test_strings_are_inert_and_numbers_stay_numbers(tmp_path: Path) -> None:
    evil = '=cmd|"/c calc"!A1'
    roster = lms.read_roster(write_csv(tmp_path / "r.csv", [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "hw (1)"],
        [evil, "1", "+SUM(A1)", "@x", "-Sec", ""]]))
    grades = {("hw", "@x"): grade("hw", "@x", 7.25)}
    _, rows, _ = lms.build_rows("canvas", roster, ["hw"], ["@x"], grades)
    assert rows[1] == ["'" + evil, "1", "'+SUM(A1)", "'@x", "'-Sec", "7.25"]
    assert lms.score_text(10.0) == "10" and lms.score_text(1e-9) == "0" and lms.score_text(2 / 3) == "0.6667"


def test_cli_writes_the_file_and_exits_1_on_problems(course30: Path, tmp_path: Path) -> None:
    roster = moodle_roster(tmp_path / "m.csv")
    out = tmp_path / "cli.csv"
    run = subprocess.run([sys.executable, "-m", "autograder.cli", "lms", "moodle", "--roster", str(roster), "-o",
                          str(out), "--course", str(course30)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"wrote {out} (28 students)" in run.stdout and "not-in-roster: s29" in run.stdout
    bad = subprocess.run([sys.executable, "-m", "autograder.cli", "lms", "moodle", "--roster", str(roster),
                          "--match-key", "Nope", "--course", str(course30)], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "no column 'Nope'" in bad.stderr
    assert json.loads((course30 / "reports" / "outcomes.json").read_text())  # untouched


# --- the push to Canvas, against a fake Canvas on 127.0.0.1 ---------------------------------------------------

CANVAS_COURSE = 77
PRE_EXISTING = {("s01", A1): None, ("s05", A1): 9.0, ("s10", A2): 0.5, ("r31", A1): 4.0}  # set before the push


@pytest.fixture
def canvas():
    from tests.fake_canvas import FakeCanvas

    users = [{"id": uid, "name": f"{first} {last}", "sortable_name": f"{last}, {first}",
              "login_id": login.upper() if uid % 4 == 0 else login, "sis_user_id": f"SIS{uid}",
              "email": f"{login}@uni.example"} for login, uid, first, last in roster_people()]
    fake = FakeCanvas(CANVAS_COURSE, users, [{"id": 501, "name": A1, "points_possible": 10.0},
                                             {"id": 502, "name": "Backprop", "points_possible": 5.0}])
    uid = {login: u for login, u, _, _ in roster_people()}
    aid = {A1: 501, A2: 502}
    fake.scores[(501, uid["s01"])] = expected_score("s01", A1)  # already right: must not be written again
    fake.excused.add((502, uid["s11"]))  # the instructor excused s11 from ps2 in Canvas
    for (login, a), score in PRE_EXISTING.items():
        if score is not None:
            fake.scores[(aid[a], uid[login])] = score
    fake.start()
    yield fake
    fake.stop()


def push(course: Path, fake, **kwargs):
    from autograder.results.canvas_push import CanvasClient, push_to_canvas
    from tests.fake_canvas import TOKEN

    client = CanvasClient(fake.url, kwargs.pop("token", TOKEN), sleep=kwargs.pop("sleep", lambda s: None))
    result = push_to_canvas(course, fake.url, "", kwargs.pop("course_id", CANVAS_COURSE), client=client,
                            items={A2: "502"}, **kwargs)
    return result, client


def test_canvas_push_writes_nbgraders_scores_and_is_idempotent(course30: Path, canvas) -> None:
    uid = {login: u for login, u, _, _ in roster_people()}
    result, _ = push(course30, canvas)
    assert result.verified and canvas.count(status=429) == 0
    for sid in IDS:
        if sid in NOT_IN_ROSTER:
            continue
        for a, aid in ((A1, 501), (A2, 502)):
            got = canvas.scores.get((aid, uid[sid]))
            if (sid, a) == ERRORED:
                assert got == 9.0  # an errored submission never overwrites what Canvas has
            elif (sid, a) in (NO_SUBMISSION, ("s11", A2)):
                assert got is None
            else:
                assert got == expected_score(sid, a), (sid, a)
    assert canvas.scores[(501, uid["r31"])] == 4.0  # a Canvas student nbgrader never saw is left alone
    puts = canvas.count("PUT")
    # every matched cell but the error, the missing one, s01's (already right) and s11's (excused)
    assert puts == len(result.changes) == 28 * 2 - 2 - 1 - 1
    kinds = {p.kind for p in result.problems}
    assert {"error", "missing", "not-in-roster", "no-record", "excused"} <= kinds and result.serious
    again, _ = push(course30, canvas)
    assert again.changes == [] and again.unchanged == len(result.changes) + 1 and again.verified
    assert canvas.count("PUT") == puts  # the second run wrote nothing


def test_canvas_push_retries_429_honouring_retry_after(course30: Path, canvas) -> None:
    slept: list[float] = []
    canvas.throttle(3, retry_after="2")
    result, client = push(course30, canvas, sleep=slept.append, dry_run=True)
    assert canvas.count(status=429) == 3 and slept == [2.0, 2.0, 2.0] and result.retries == 3
    assert len(result.changes) == 52 and canvas.count("PUT") == 0  # a dry run reads only
    canvas.throttle(2, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")  # a date in the past: retry at once
    result, _ = push(course30, canvas, sleep=slept.append)
    assert result.verified and slept[3:] == [0.0, 0.0] and canvas.count("PUT") == 52


def test_canvas_push_says_which_on_401_and_404(course30: Path, canvas) -> None:
    from autograder.results.canvas_push import CanvasPushError

    with pytest.raises(CanvasPushError, match="401 Unauthorized"):
        push(course30, canvas, token="wrong")
    with pytest.raises(CanvasPushError, match="404 Not Found") as exc:
        push(course30, canvas, course_id=12345)
    assert exc.value.exit_code == 2 and canvas.count("PUT") == 0


def test_canvas_push_cli(course30: Path, canvas, tmp_path: Path) -> None:
    import os

    from tests.fake_canvas import TOKEN

    env = {**os.environ, "MY_CANVAS_TOKEN": TOKEN}
    args = [sys.executable, "-m", "autograder.cli", "lms", "canvas-push", "--url", canvas.url, "--token-env",
            "MY_CANVAS_TOKEN", "--course-id", str(CANVAS_COURSE), "--item", f"{A2}=Backprop", "--course",
            str(course30), A1]
    run = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 1, run.stdout + run.stderr  # 1: the error and the unmatched students are listed
    assert "changed 26 scores, 1 already right" in run.stdout and "verified: yes" in run.stdout
    assert "error: s05 / ps1_operators" in run.stdout
    with open(course30 / "reports" / "canvas-push.problems.csv", newline="") as fh:
        listed = {(r["kind"], r["nbgrader_student"] or r["roster_key"].lower()) for r in csv.DictReader(fh)}
    assert {("error", "s05"), ("not-in-roster", "s29"), ("no-record", "r31")} <= listed
    no_token = subprocess.run(args, capture_output=True, text=True, timeout=120,
                              env={k: v for k, v in env.items() if k != "MY_CANVAS_TOKEN"})
    assert no_token.returncode == 2 and "$MY_CANVAS_TOKEN is empty" in no_token.stderr


def test_a_really_graded_course_into_canvas(course, tmp_path: Path) -> None:
    """`zengrad-kit grade` on real submissions, then the Canvas file: full marks, a real 0, and an error left empty."""
    from tests.course_helpers import max_points, release_nb, solution_nb

    full = sum(max_points(A1).values())
    course.submit("perfect", A1, solution_nb(A1))
    course.submit("stub", A1, release_nb(A1))
    course.submit("broken", A1, '{"cells": [ {"cell_type": "code", ')
    graded = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", A1, "--workers", "2", "--no-progress",
                             "--no-feedback", "--GuardedExecute.cell_cpu_seconds=4",
                             "--TrustedChecks.cell_cpu_seconds=4"], cwd=course.root, capture_output=True, text=True,
                            timeout=900)
    assert graded.returncode == 1, graded.stdout[-3000:] + graded.stderr[-3000:]  # 1: "broken" is an error
    roster = write_csv(tmp_path / "canvas-export.csv", [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{A1} (501)"],
        ["    Points Possible", "", "", "", "", f"{full:.2f}"],
        ["Perfect, P", "1", "", "PERFECT", "A", ""], ["Stub, S", "2", "", "stub", "A", ""],
        ["Broken, B", "3", "", "broken", "A", ""], ["Late, L", "4", "", "enrolled-late", "A", ""]])
    result = lms.export_lms(course.root, "canvas", roster, tmp_path / "canvas.csv", [A1])
    header, rows = read_back(tmp_path / "canvas.csv")
    assert header[5:] == [f"{A1} (501)"] and rows[0][5] == lms.score_text(full)
    cells = {r[3].lower(): r[5] for r in rows[1:]}
    assert cells == {"perfect": lms.score_text(full), "stub": "0"}  # broken: its only cell empty, so no row
    kinds = {(p.kind, p.student or p.roster_key) for p in result.problems}
    assert ("error", "broken") in kinds and ("no-record", "enrolled-late") in kinds
    assert next(p for p in result.problems if p.kind == "error").detail.startswith("bad-json")
    with open(course.root / "reports" / "grades.csv") as fh:
        stock = {r["student_id"]: r for r in csv.DictReader(fh) if r["assignment"] == A1}
    assert float(stock["perfect"]["score"]) == float(cells["perfect"]) and stock["broken"]["status"] == "error"
