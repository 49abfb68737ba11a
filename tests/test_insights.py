"""The misconception report (``autograder.results.insights``): the classifier on every hint ``diagnose()``
gives, clustering of synthetic verdict metadata, and one small ps1 class graded for real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.mutants.ps1 import MUTANTS
from autograder.public.gradcheck import diagnose
from autograder.results import insights as ins
from autograder.results.outcomes import Outcome
from tests.course_helpers import mutate, solution_nb

PS1 = "ps1_operators"

HINTS = [  # (diagnose's arguments, the kind its hint must be named)
    ((1.0, 2.0, 1.0, 1.0), {}, ins.OVERWRITE),  # still 1.0 ... (+=, not =)
    ((0.0, 1.0, 1.0, 1.0), {}, ins.OVERWRITE),  # held 1.0 and lost it ... do not assign (=)
    ((1.0, 2.0), {"uses": 2}, ins.OVERWRITE),  # used twice but kept only 1 contribution
    ((1.0, 0.0, 0.0), {}, ins.NO_CHAIN),  # out.grad is 0 here
    ((1.0, 3.0, 3.0), {}, ins.NO_CHAIN),  # out.grad is missing
    ((9.0, 3.0, 3.0), {}, ins.TWICE),
    ((0.0, 1.0), {}, ins.NOTHING),
    ((-2.0, 2.0), {}, ins.SIGN),
    ((2.0, 0.5), {"values": {"self.data": 2.0, "out.data": 0.693}}, ins.FORMULA),
    ((0.5, 1.0), {"values": {"self.data": 0.5, "out.data": 0.25}}, ins.EXPONENT),
    ((float("inf"), 1.0), {}, ins.OVERFLOW),
    (("x", 1.0), {}, ins.NOT_NUMBER),
]


@pytest.mark.parametrize(("args", "kwargs", "kind"), HINTS, ids=[h[2] for h in HINTS])
def test_every_hint_of_diagnose_is_named(args: tuple, kwargs: dict, kind: str) -> None:
    hint = diagnose(*args, name="a", **kwargs)
    assert hint is not None
    message = f"multiplication a * b: a * b with a = 1.0 and out.grad = 1.0: your a.grad = 1.0, expected 2.0 ({hint})"
    assert ins.classify(message) == (kind, kind), hint


def test_a_message_without_a_hint_is_clustered_by_its_first_line_without_numbers() -> None:
    one = "relu(a): relu(a) with a = -1.0 and out.grad = 1.0: your a.grad = 1.0, expected 0.0\nmore"
    two = "relu(a): relu(a) with a = -2.5 and out.grad = 1e-3: your a.grad = 2.0, expected 0.0"
    assert ins.classify(one) == ins.classify(two) == (
        ins.OTHER, "relu(a): relu(a) with a = # and out.grad = #: your a.grad = #, expected #")
    assert ins.classify("On exp(a), the _backward of exp(a): your code raised OverflowError: math range error")[0] \
        == ins.OVERFLOW
    assert ins.classify("anything", "not_implemented")[0] == ins.STUB


@pytest.mark.parametrize(("mutant", "kind"), [
    ("adam_eps_inside_sqrt", "Adam: eps inside the square root"),
    ("zero_grad_dedup_by_data", "zero_grad: parameters told apart by their data"),
])
def test_an_assignment_names_its_own_misconceptions_next_to_its_hints(mutant: str, kind: str) -> None:
    """The kinds are registered by the checks that write the hints, not kept in a table of the report."""
    from autograder.mutants import catalogue
    from tests.fast_grading import grade_fast

    (failed,) = [v for v in grade_fast("ps4_extend", catalogue()["ps4_extend"][mutant]).values() if not v.passed]
    assert ins.classify(failed.message) == (kind, kind), failed.message
    assert "Adam: eps inside the square root" not in Path(ins.__file__).read_text()


def verdict(grade_id: str, check_id: str, message: str, passed: bool = False) -> dict:
    return {"cell": 3, "grade_id": grade_id, "check_id": check_id, "passed": passed,
            "reason": "passed" if passed else "wrong", "message": message, "programs": 4, "seconds": 0.1}


OVER_LONG = ("multiplication a * b: a * b with a = 0.25, b = 0.0 and out.grad = 1.0: your a.grad = 0.0, expected "
             "1.0 (a.grad held 1.0 and lost it: add to it (+=), do not assign (=))")
OVER_SHORT = "mul: your a.grad = 0.0, expected 1.0 (a.grad held 1.0 and lost it: add to it (+=), do not assign (=))"


def test_synthetic_verdict_metadata_clusters_with_a_deterministic_representative() -> None:
    notebooks = {
        "carol": [verdict("mul_test", "ps1.mul", OVER_LONG), verdict("add_test", "ps1.add", "", passed=True)],
        "bob": [verdict("mul_test", "ps1.mul", OVER_SHORT)],
        "alice": [verdict("mul_test", "ps1.mul", OVER_SHORT)],
        "dave": [verdict("mul_test", "ps1.mul", "mul: ... (out.grad is missing: multiply your local derivative "
                         "by it (chain rule))"), {"grade_id": 3}, "junk"],
    }
    failures = []
    for student, verdicts in notebooks.items():
        nb = nbformat.v4.new_notebook(metadata={"zengrad": {"verdicts": verdicts}})
        failures += ins.failures_of(PS1, student, nb)
    assert ins.failures_of(PS1, "eve", nbformat.v4.new_notebook()) == []
    clusters = ins.cluster(failures)
    assert [(c.grade_id, c.kind, c.students) for c in clusters] == [
        ("mul_test", ins.OVERWRITE, ["alice", "bob", "carol"]), ("mul_test", ins.NO_CHAIN, ["dave"])]
    assert clusters[0].representative.student == "alice"  # the shortest message, then alphabetical
    errored = Outcome(PS1, "zed", status="error", error_kind="bad-json", message="not a readable notebook")
    text = ins.insights_markdown(clusters, [errored], [], {}, [PS1])
    assert "alice, bob, carol" in text and "| zed | bad-json |" in text


def test_attempts_to_pass_come_from_the_service_state(tmp_path: Path) -> None:
    import json
    import sqlite3

    from autograder.service.state import State

    assert ins.attempts_to_pass(tmp_path) == {}
    State(tmp_path / "service" / "state.db").close()
    rows = [("alice", "t1", 1.0), ("bob", "t1", 0.0), ("bob", "t2", 0.0), ("bob", "t3", 1.0), ("bob", "t4", 0.0),
            ("carol", "t1", 0.0)]
    with sqlite3.connect(tmp_path / "service" / "state.db") as db:
        for i, (student, received, score) in enumerate(rows):
            outcome = {"cells": [{"grade_id": "mul_test", "score": score, "max_score": 1.0}]}
            db.execute("INSERT INTO submissions (name, student, assignment, received, seen, state, outcome) "
                       "VALUES (?, ?, ?, ?, 0, 'graded', ?)", (f"n{i}", student, PS1, received, json.dumps(outcome)))
        db.execute("INSERT INTO submissions (name, student, assignment, received, seen, state) "
                   "VALUES ('q', 'dave', ?, 't1', 0, 'queued')", (PS1,))
    attempts = ins.attempts_to_pass(tmp_path)
    assert attempts == {(PS1, "mul_test"): {"alice": 1, "bob": 3, "carol": None}}
    assert ins._attempt_text(attempts[(PS1, "mul_test")]) == \
        "2 passed (1 attempt: 1, 3 attempts: 1; median 3), 1 not yet"


STUDENTS = {
    "s1-mul-over": "mul_overwrites", "s2-add-over": "add_overwrites",
    "s3-mul-chain": "mul_no_chain_rule", "s4-exp-chain": "exp_no_chain_rule",
}


def zengrad(course: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], cwd=course, text=True,
                          capture_output=True, timeout=600)


def test_a_graded_ps1_class_names_the_overwrite_and_chain_rule_clusters(course_template, tmp_path) -> None:
    course = course_template.copy_to(tmp_path / "course")
    for student, name in STUDENTS.items():
        grade_id, old, new, _ = MUTANTS[name]
        course.submit(student, PS1, mutate(solution_nb(PS1), grade_id, old, new))
    course.submit("s5-perfect", PS1, solution_nb(PS1))
    course.submit("s6-bad-json", PS1, nbformat.writes(solution_nb(PS1))[:500])
    run = zengrad(course.root, "grade", PS1, "--workers", "2", "--no-progress", "--no-feedback")
    assert run.returncode == 1, run.stdout + run.stderr  # the bad JSON is an error
    report = course.root / "reports" / "insights.md"
    text = report.read_text()
    md = ins.md_text
    # across cells: each kind with exactly its students
    assert f"| {md(ins.OVERWRITE)} | 2 | s1-mul-over, s2-add-over | add_test, mul_test |" in text, text
    assert f"| {md(ins.NO_CHAIN)} | 2 | s3-mul-chain, s4-exp-chain | exp_test, mul_test |" in text, text
    # per cell: one cluster per (cell, kind), each with its one student
    rows = [line for line in text.splitlines() if line.startswith("| ps1.")]
    assert sorted((r.split(" | ")[0], r.split(" | ")[1], r.split(" | ")[3]) for r in rows) == [
        ("| ps1.add", md(ins.OVERWRITE), "s2-add-over"), ("| ps1.exp", md(ins.NO_CHAIN), "s4-exp-chain"),
        ("| ps1.mul", md(ins.OVERWRITE), "s1-mul-over"), ("| ps1.mul", md(ins.NO_CHAIN), "s3-mul-chain")]
    clustered = "\n".join(line for line in text.splitlines() if line.startswith("| ps1."))
    assert "s5-perfect" not in text and md("s6-bad-json") not in clustered
    assert f"| {md('s6-bad-json')} | bad-json |" in text
    assert "insights.md" in (course.root / "reports" / "summary.md").read_text()
    assert (course.root / "reports" / "insights.png").stat().st_size > 1000
    run = zengrad(course.root, "grade", PS1, "--workers", "2", "--no-progress", "--no-feedback")
    assert run.returncode == 1, run.stdout + run.stderr
    assert report.read_text() == text


def test_an_unreadable_autograded_notebook_is_listed_not_fatal(tmp_path: Path) -> None:
    folder = tmp_path / "autograded" / "amy" / PS1
    folder.mkdir(parents=True)
    (folder / f"{PS1}.ipynb").write_text('{"cells": [')
    good = tmp_path / "autograded" / "ben" / PS1
    good.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(metadata={"zengrad": {"verdicts": [verdict("mul_test", "ps1.mul", OVER_SHORT)]}})
    nbformat.write(nb, good / f"{PS1}.ipynb")
    outcomes = [Outcome(PS1, "amy"), Outcome(PS1, "ben")]
    lines = ins.write_insights(tmp_path, outcomes)
    text = (tmp_path / "reports" / "insights.md").read_text()
    assert f"{PS1}/amy/{PS1}.ipynb: NotJSONError" in text and "| ps1.mul |" in text and "ben" in text
    assert any("insights.md" in line for line in lines)
