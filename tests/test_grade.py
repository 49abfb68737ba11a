"""``zengrad-kit grade`` with real nbgrader and real kernels: faults, reports, idempotence, parity with stock."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from autograder.demo import KERNEL_EXIT, MEMORY_HOG, SIGINT_LOOP, TRANSFORMER_CHEAT
from autograder.mutants.ps1 import MUTANTS
from autograder.results import outcomes as oc
from tests.course_helpers import Course, append_code, max_points, mutate, release_nb, solution_nb

PS1 = "ps1_operators"
POINTS = max_points(PS1)
FAST_LIMITS = ["--GuardedExecute.cell_cpu_seconds=4", "--GuardedExecute.memory_limit_mb=1024",
               "--TrustedChecks.cell_cpu_seconds=4"]
EXPECTED = {  # student -> (status, error kind)
    "perfect": (oc.GRADED, None), "stub": (oc.GRADED, None), "bug": (oc.GRADED, None),
    "cheat": (oc.GRADED, None), "bad-json": (oc.ERROR, oc.BAD_JSON), "renamed": (oc.ERROR, oc.MISSING_NOTEBOOK),
    "kernel-exit": (oc.ERROR, oc.KERNEL_DIED), "sigint-loop": (oc.ERROR, oc.TIMEOUT),
    "memory-hog": (oc.ERROR, oc.MEMORY),
}
INVALID = ("a_vict*", "evil\u202eid")  # folder names that are no student id: never given to nbgrader
EXTRA = {"notes.HTML": "<script>x</script>", "page.xht": "<script>x</script>", "mylib.py": "X = 1"}


def zengrad(course: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], cwd=course, text=True,
                          capture_output=True, timeout=timeout)


def outcomes_of(course: Path) -> dict[str, dict]:
    data = json.loads((course / "reports" / "outcomes.json").read_text())
    return {o["student"]: o for o in data["outcomes"]}


def before_test(nb, source: str, test: str = "mul_test"):
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == test)
    return append_code(nb, source, at=index)


def submit_faulty_class(course: Course) -> None:
    grade_id, old, new, _ = MUTANTS["mul_swapped"]
    course.submit("perfect", PS1, solution_nb(PS1), extra=EXTRA)
    for student in INVALID:
        course.submit(student, PS1, solution_nb(PS1))
    course.submit("stub", PS1, release_nb(PS1))
    course.submit("bug", PS1, mutate(solution_nb(PS1), grade_id, old, new))
    course.submit("cheat", PS1, before_test(release_nb(PS1), TRANSFORMER_CHEAT, "add_test"))
    course.submit("bad-json", PS1, '{"cells": [ {"cell_type": "code", ')
    course.submit("renamed", PS1, solution_nb(PS1), name=f"{PS1}-final.ipynb")
    course.submit("kernel-exit", PS1, before_test(solution_nb(PS1), KERNEL_EXIT))
    course.submit("sigint-loop", PS1, before_test(solution_nb(PS1), SIGINT_LOOP))
    course.submit("memory-hog", PS1, before_test(solution_nb(PS1), MEMORY_HOG))


@pytest.fixture(scope="module")
def faulty(course_template, tmp_path_factory):
    """One class with every fault, graded twice by `zengrad-kit grade` (the second run checks idempotence)."""
    course = course_template.copy_to(tmp_path_factory.mktemp("faulty") / "course")
    submit_faulty_class(course)
    first = zengrad(course.root, "grade", PS1, "--workers", "2", "--no-progress", *FAST_LIMITS)
    first_outcomes, first_grades = outcomes_of(course.root), course.grades(PS1)
    csv_first = (course.root / "reports" / "grades.csv").read_text()
    second = zengrad(course.root, "grade", PS1, "--workers", "2", "--no-progress", *FAST_LIMITS)
    return course, first, first_outcomes, first_grades, csv_first, second


def test_every_submission_gets_exactly_one_outcome_with_its_reason(faulty) -> None:
    course, first, outcomes, _, _, _ = faulty
    assert first.returncode == oc.EXIT_SUBMISSION_ERRORS, first.stdout + first.stderr
    assert sorted(outcomes) == sorted([*EXPECTED, *INVALID])
    got = {s: (o["status"], o["error_kind"]) for s, o in outcomes.items() if s not in INVALID}
    assert got == EXPECTED, {s: outcomes[s]["message"] for s in outcomes}
    assert "renamed?" in outcomes["renamed"]["message"] and f"{PS1}-final.ipynb" in outcomes["renamed"]["message"]
    assert "kernel" in outcomes["kernel-exit"]["message"]


def test_a_folder_that_is_no_student_id_is_an_error_row_and_never_reaches_nbgrader(faulty) -> None:
    course, first, outcomes, _, _, _ = faulty
    for student in INVALID:
        o = outcomes[student]
        assert (o["status"], o["error_kind"]) == (oc.ERROR, oc.INVALID_ID) and not o["cells"], o
        assert "not graded" in o["message"] and "rename the folder" in o["message"]
        for folder in ("autograded", "feedback", f"reports/{PS1}"):
            assert not (course.root / folder / student).exists(), folder
    assert "'*' (a glob character)" in outcomes["a_vict*"]["message"]
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in outcomes["evil\u202eid"]["message"]
    assert "\u202e" not in outcomes["evil\u202eid"]["message"]  # shown escaped, never reversed
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        assert not {s.id for s in gb.students} & set(INVALID)
    summary = (course.root / "reports" / "summary.md").read_text()
    assert "invalid-student-id" in summary


def test_only_the_assignment_s_files_travel_on_to_autograded_and_feedback(faulty) -> None:
    course, _, outcomes, _, _, _ = faulty
    for folder in ("autograded", "feedback"):
        names = {p.name for p in (course.root / folder / "perfect" / PS1).iterdir()}
        assert not names & set(EXTRA), (folder, names)
    assert outcomes["perfect"]["notes"] == [f"left out, not files of {PS1}: mylib.py, notes.HTML, page.xht"]


def test_faults_do_not_change_anyone_elses_grade(faulty) -> None:
    _, _, outcomes, grades, _, _ = faulty
    (grade_id,) = MUTANTS["mul_swapped"].loses
    assert grades["perfect"] == POINTS
    assert set(grades["stub"].values()) == {0.0}
    assert grades["bug"] == dict(POINTS, **{grade_id: 0.0})
    assert outcomes["perfect"]["score"] == sum(POINTS.values()) == outcomes["perfect"]["max_score"]
    # the cells before the fault were graded; the ones after it were not run
    assert grades["kernel-exit"]["add_test"] == POINTS["add_test"] and grades["kernel-exit"]["mul_test"] == 0
    assert grades["sigint-loop"]["add_test"] == POINTS["add_test"] and grades["sigint-loop"]["mul_test"] == 0


def test_cheat_is_flagged_not_rewarded(faulty) -> None:
    _, _, outcomes, grades, _, _ = faulty
    assert set(grades["cheat"].values()) == {0.0}
    assert {f["kind"] for f in outcomes["cheat"]["flags"]} >= {"monkeypatching"}
    assert not outcomes["perfect"]["flags"]


def test_rerun_is_idempotent(faulty) -> None:
    course, _, first, first_grades, csv_first, second = faulty
    assert second.returncode == oc.EXIT_SUBMISSION_ERRORS, second.stdout + second.stderr
    again = outcomes_of(course.root)

    def essence(o: dict) -> tuple:
        return (o["status"], o["error_kind"], o["score"], [(c["grade_id"], c["score"]) for c in o["cells"]])

    assert {s: essence(o) for s, o in again.items()} == {s: essence(o) for s, o in first.items()}
    assert course.grades(PS1) == first_grades
    assert (course.root / "reports" / "grades.csv").read_text() == csv_first
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        assert len(gb.find_assignment(PS1).submissions) == len(EXPECTED)
        assert len(gb.students) == len(EXPECTED)


def test_csv_has_status_and_error_columns(faulty) -> None:
    course = faulty[0]
    with open(course.root / "reports" / "grades.csv") as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh) if r["assignment"] == PS1}
    assert rows["perfect"]["status"] == "graded" and rows["perfect"]["error"] == ""
    assert float(rows["perfect"]["score"]) == sum(POINTS.values())
    assert rows["bad-json"]["status"] == "error" and rows["bad-json"]["error"].startswith(oc.BAD_JSON)
    assert rows["memory-hog"]["status"] == "error" and "memory" in rows["memory-hog"]["error"]
    # the same plugin through stock `nbgrader export`
    out = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", "stock.csv"], cwd=course.root,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    with open(course.root / "stock.csv") as fh:
        stock_rows = {r["student_id"]: r for r in csv.DictReader(fh) if r["assignment"] == PS1}
    assert stock_rows == rows


def test_students_and_csv_rows_are_in_id_order_whichever_worker_finished_first(faulty) -> None:
    """The gradebook lists students in creation order (and nbgrader's CSV export follows it): never completion order."""
    course = faulty[0]
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        ids = [s.id for s in gb.students]
    assert ids == sorted(EXPECTED)
    with open(course.root / "reports" / "grades.csv") as fh:
        rows = [r["student_id"] for r in csv.DictReader(fh) if r["assignment"] == PS1]
    assert rows == sorted(EXPECTED)


def test_gradescope_results_json(faulty) -> None:
    course = faulty[0]
    for student in EXPECTED:
        data = json.loads((course.root / "reports" / PS1 / student / "results.json").read_text())
        assert [t["name"] for t in data["tests"]] == sorted(POINTS)
        assert {t["name"]: t["max_score"] for t in data["tests"]} == POINTS
        assert all(isinstance(t["output"], str) and 0 <= t["score"] <= t["max_score"] for t in data["tests"])
        assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))
        assert ("output" in data) == (EXPECTED[student][0] == oc.ERROR)
    bug = json.loads((course.root / "reports" / PS1 / "bug" / "results.json").read_text())
    mul = next(t for t in bug["tests"] if t["name"] == "mul_test")
    assert mul["score"] == 0 and "HiddenCheckFailed" in mul["output"]


def test_feedback_has_no_hidden_tests(faulty) -> None:
    course = faulty[0]
    for student in ("perfect", "bug", "kernel-exit"):
        html = (course.root / "feedback" / student / PS1 / f"{PS1}.html").read_text()
        assert "BEGIN HIDDEN TESTS" not in html and 'check("ps1.' not in html and "check(&quot;ps1." not in html
    assert not (course.root / "feedback" / "bad-json").exists()


def test_summary_and_histogram(faulty) -> None:
    course, first, *_ = faulty
    summary = (course.root / "reports" / "summary.md").read_text()
    assert "| mul_test | 1 |" in summary and "## Needs a look" in summary
    for student in ("bad-json", "renamed", "kernel-exit", "sigint-loop", "memory-hog", "cheat"):
        assert f"| {student} |" in summary
    look = summary.split("## Needs a look")[1].split("## Notes")[0]
    assert "| perfect |" not in look and "| ps1_operators | perfect | left out, not files of" in summary
    assert (course.root / "reports" / "histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Needs a look" in first.stdout


def test_parallel_grades_equal_stock_autograde(course_template, tmp_path) -> None:
    """The same honest class: stock serial `nbgrader autograde` vs `zengrad-kit grade` with 4 workers."""
    stock = course_template.copy_to(tmp_path / "stock")
    ours = course_template.copy_to(tmp_path / "ours")
    names = ["add_overwrites", "pow_wrong_exponent", "relu_at_zero", "sigmoid_overflows"]
    for course in (stock, ours):
        course.submit("perfect", PS1, solution_nb(PS1), extra=EXTRA)
        course.submit("stub", PS1, release_nb(PS1))
        for name in names:
            grade_id, old, new, _ = MUTANTS[name]
            course.submit(name, PS1, mutate(solution_nb(PS1), grade_id, old, new))
    result = stock.autograde(PS1)
    assert result.returncode == 0, result.stderr[-2000:]
    run = zengrad(ours.root, "grade", "--workers", "4", "--no-progress", "--no-feedback")
    assert run.returncode == oc.EXIT_OK, run.stdout + run.stderr
    assert ours.grades(PS1) == stock.grades(PS1)
    assert len(ours.grades(PS1)) == 2 + len(names)


def test_wall_clock_limit_kills_the_whole_tree(course_template, tmp_path) -> None:
    """A job over --job-timeout: worker, kernel and sandbox killed; an explicit timeout; others still graded."""
    course = course_template.copy_to(tmp_path / "course")
    course.submit("perfect", PS1, solution_nb(PS1))
    course.submit("sleeper", PS1, before_test(solution_nb(PS1), SIGINT_LOOP, "add_test"))
    run = zengrad(course.root, "grade", "--workers", "2", "--no-progress", "--no-feedback", "--job-timeout", "30")
    assert run.returncode == oc.EXIT_SUBMISSION_ERRORS, run.stdout + run.stderr
    outcomes = outcomes_of(course.root)
    assert outcomes["perfect"]["status"] == oc.GRADED and outcomes["perfect"]["score"] == sum(POINTS.values())
    assert outcomes["sleeper"]["error_kind"] == oc.TIMEOUT and "killed" in outcomes["sleeper"]["message"]
    assert set(course.grades(PS1)["sleeper"].values()) == {0.0}
    assert not (course.root / "autograded" / "sleeper").exists() or not any(
        (course.root / "autograded" / "sleeper").iterdir())
    leftovers = []
    for p in psutil.process_iter(["pid", "cwd", "uids", "cmdline"]):
        try:
            jailed = p.info["uids"] is not None and p.info["uids"].real >= 2_100_000_000
            if jailed or (p.info["cwd"] and p.info["cwd"].startswith(str(course.root))) \
                    or "zengrad-jail-" in " ".join(p.info["cmdline"] or []):
                leftovers.append(p.info)
        except psutil.Error:
            pass
    assert not leftovers


def test_many_students_four_workers_lose_no_gradebook_write(course_template, tmp_path) -> None:
    """SQLite takes one writer at a time: 10 students on 4 workers, every row read back afterwards."""
    course = course_template.copy_to(tmp_path / "course")
    grade_id, old, new, _ = MUTANTS["exp_no_chain_rule"]
    for i in range(10):
        nb = release_nb(PS1) if i % 2 else mutate(solution_nb(PS1), grade_id, old, new)
        course.submit(f"student{i:02d}", PS1, nb)
    run = zengrad(course.root, "grade", PS1, "--workers", "4", "--no-progress", "--no-feedback")
    assert run.returncode == oc.EXIT_OK, run.stdout + run.stderr  # exit 3 if verification found a lost write
    grades = course.grades(PS1)
    assert len(grades) == 10
    for i in range(10):
        expected = {k: 0.0 for k in POINTS} if i % 2 else dict(POINTS, exp_test=0.0)
        assert grades[f"student{i:02d}"] == expected
