"""Every mutant of every assignment through every hidden check, fast: ReferenceEngine, no nbgrader.

A mutant states exactly which cells lose their points; here the hidden checks of those
cells must fail and every other check must pass (a bug costs only its own cells), and
the solution must pass them all. The checks run in notebook order, each seeing the state
its test cell would see (``tests/fast_grading.py``). The same catalogue is graded through
real nbgrader by tests/test_assignments.py (a sample of it).
"""

from __future__ import annotations

import pytest

from autograder.mutants import catalogue, variants
from autograder.release import assignments
from tests.course_helpers import REPO, apply_edits, cell, max_points, solution_nb
from tests.fast_grading import grade_fast, hidden_checks
from tests.graded import sample

CATALOGUE = catalogue()
# the unit tier runs one mutant per graded cell (tests/graded.py's sample) of every assignment; the slow tier the rest
CASES = [pytest.param(assignment, name, id=f"{assignment.split('_')[0]}-{name}",
                      marks=[] if name in sample(assignment) else [pytest.mark.slow])
         for assignment in sorted(CATALOGUE) for name in CATALOGUE[assignment]]
VARIANTS = variants()
CORRECT = [(assignment, name) for assignment in sorted(VARIANTS) for name in VARIANTS[assignment]]


def test_every_assignment_of_the_course_has_a_catalogue_and_correct_variants() -> None:
    assert sorted(CATALOGUE) == sorted(VARIANTS) == assignments(REPO)
    assert all(len(VARIANTS[a]) >= 2 for a in VARIANTS)  # several correct solutions, written differently


@pytest.mark.parametrize("assignment", sorted(CATALOGUE))
def test_the_catalogue_covers_every_cell_and_each_edit_applies_once(assignment: str) -> None:
    cells = set(max_points(assignment))
    nb = solution_nb(assignment)
    for name, mutant in CATALOGUE[assignment].items():
        assert mutant.loses and mutant.loses <= cells, name
        assert cell(nb, mutant.cell).source.count(mutant.old) == 1, name
        assert mutant.old != mutant.new, name
    assert {c for m in CATALOGUE[assignment].values() for c in m.loses} == cells  # every cell has a bug
    assert set(hidden_checks(assignment)) == cells


@pytest.mark.parametrize("assignment", sorted(CATALOGUE))
def test_the_solution_passes_every_hidden_check(assignment: str) -> None:
    verdicts = grade_fast(assignment)
    assert set(verdicts) == {c for ids in hidden_checks(assignment).values() for c in ids}
    assert {c: v.message for c, v in verdicts.items() if not v.passed} == {}


@pytest.mark.parametrize(("assignment", "name"), CASES)
def test_a_mutant_fails_exactly_the_checks_of_the_cells_it_loses(assignment: str, name: str) -> None:
    mutant = CATALOGUE[assignment][name]
    verdicts = grade_fast(assignment, mutant)
    checks = hidden_checks(assignment)
    must_fail = {c for grade_id in mutant.loses for c in checks[grade_id]}
    failed = {c: v.message for c, v in verdicts.items() if not v.passed}
    assert set(failed) == must_fail, failed
    assert set(verdicts) == {c for ids in checks.values() for c in ids}
    for message in failed.values():  # what the student reads: short, about their code only
        assert len(message) < 400, message
        assert "zengrad_ref" not in message and "Traceback" not in message and "grader piece" not in message
        assert "grader-fault" not in message and "a fault in the grader" not in message, message


@pytest.mark.parametrize(("assignment", "name"), CORRECT, ids=[f"{a.split('_')[0]}-{n}" for a, n in CORRECT])
def test_a_correct_solution_written_differently_passes_every_hidden_check(assignment: str, name: str) -> None:
    edits = VARIANTS[assignment][name]
    apply_edits(solution_nb(assignment), edits)  # each edit applies exactly once
    verdicts = grade_fast(assignment, edits=edits)
    assert set(verdicts) == {c for ids in hidden_checks(assignment).values() for c in ids}
    assert {c: v.message for c, v in verdicts.items() if not v.passed} == {}
