"""The contract every assignment keeps, end to end through real nbgrader, for every assignment of the course.

The assignments are the course's own (``source/<name>/<name>.ipynb``), and the classic bugs are
the mutant catalogue (``autograder/mutants``): a new assignment is held to all of this without
a line here. What is particular to one assignment is in ``tests/test_psN.py``, on the same
graded classes (``tests/graded.py``, graded once per session).

* ``release/`` and ``solutions/`` are regenerated exactly; the release holds no hidden test,
  no check id and no solution; a stub for every solution cell; nothing imports the grader;
* the solution gets full marks (no kernel fault, no integrity finding, no failed check); the
  stub gets 0 on every cell, each with one "not implemented yet";
* every mutant of the sample (one per graded cell; the whole catalogue is proved in process by
  ``tests/test_mutants.py``) loses exactly the cells it states, each with a short message about
  the student's code;
* a regrade gives the same scores and the same messages.
"""

from __future__ import annotations

import re

import pytest

from autograder.release import STUB, release
from tests.course_helpers import REPO, max_points, read_nb, release_nb, solution_nb
from tests.fast_grading import hidden_checks
from tests.graded import ASSIGNMENTS, CATALOGUE, sample, student

STUB_RAISE = STUB.split("\n")[1]  # the stub's raise line
SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
WORDS_OF_A_VERDICT = ("expected", "raised", "Define it", "made a node", "RecursionError", "visited")


def _classes() -> list:
    return [pytest.param(a, marks=pytest.mark.slow) for a in ASSIGNMENTS]  # the contract tier


def _mutants() -> list:
    return [pytest.param(a, name, marks=pytest.mark.slow, id=f"{a.split('_')[0]}-{name}")
            for a in ASSIGNMENTS for name in sample(a)]


def test_the_course_and_the_mutant_catalogue_name_the_same_assignments() -> None:
    assert ASSIGNMENTS and sorted(CATALOGUE) == ASSIGNMENTS


# --- what is handed out ---------------------------------------------------------------------------
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_and_solutions_are_regenerated_exactly(assignment: str) -> None:
    assert release(check_only=True, only=[assignment]) == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_no_hidden_tests_check_ids_or_solutions(assignment: str) -> None:
    text = (REPO / "release" / assignment / f"{assignment}.ipynb").read_text()
    assert "HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
    assert [c for ids in hidden_checks(assignment).values() for c in ids if c in text] == []
    released = "\n".join(c.source for c in release_nb(assignment).cells)
    source = read_nb(REPO / "source" / assignment / f"{assignment}.ipynb")
    answers = [m.group(1).strip() for c in source.cells for m in SOLUTION.finditer(c.source)]
    assert answers and [a for a in answers if a in released] == []
    stubs = [c for c in release_nb(assignment).cells if c.cell_type == "code" and STUB_RAISE in c.source]
    assert len(stubs) == sum("### BEGIN SOLUTION" in c.source for c in source.cells if c.cell_type == "code")
    solutions = solution_nb(assignment)
    assert not [c for c in solutions.cells if c.cell_type == "code" and STUB_RAISE in c.source]
    assert "HIDDEN TESTS" not in str(solutions) and "BEGIN SOLUTION" not in str(solutions)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_notebooks_never_import_the_grader_or_reference(assignment: str) -> None:
    for folder in ("release", "solutions"):
        for nb in (REPO / folder / assignment).rglob("*.ipynb"):
            assert not re.search(r"\b(zengrad_ref|autograder)\b", nb.read_text()), nb


# --- graded by nbgrader ---------------------------------------------------------------------------
@pytest.mark.parametrize("assignment", _classes())
def test_the_solution_gets_full_marks(graded, assignment: str) -> None:
    g = graded(assignment)
    assert g.first["perfect"] == max_points(assignment)
    meta = g.autograded("perfect").metadata["zengrad"]
    assert meta["kernel_fault"] is None and meta["integrity"] == []
    assert [v["check_id"] for v in meta["verdicts"] if not v["passed"]] == []


@pytest.mark.parametrize("assignment", _classes())
def test_the_stub_gets_zero_with_not_implemented_messages(graded, assignment: str) -> None:
    g = graded(assignment)
    assert set(g.first["stub"].values()) == {0.0}
    for grade_id in max_points(assignment):
        errors = g.errors("stub", grade_id)
        assert len(errors) == 1 and "not implemented yet" in errors[0].evalue, (grade_id, errors)


@pytest.mark.parametrize(("assignment", "name"), _mutants())
def test_each_classic_bug_loses_exactly_its_cells(graded, assignment: str, name: str) -> None:
    g = graded(assignment)
    lost = CATALOGUE[assignment][name].loses
    assert g.first[student(name)] == dict(max_points(assignment), **dict.fromkeys(lost, 0.0))
    for grade_id in lost:
        errors = g.errors(student(name), grade_id)
        assert errors, grade_id
        message = errors[-1].evalue
        assert any(w in message for w in WORDS_OF_A_VERDICT), message
        assert "zengrad_ref" not in message and "def " not in message and "Traceback" not in message
        assert "autograder" not in message and len(message) < 400, message


@pytest.mark.parametrize("assignment", _classes())
def test_grading_twice_gives_identical_scores_and_messages(graded, assignment: str) -> None:
    g = graded(assignment)
    assert {s: g.first[s] for s in g.second} == g.second
    for who, nb in g.notebooks_first.items():
        for grade_id in max_points(assignment):
            assert [o.get("evalue") for o in g.errors(who, grade_id, nb)] == \
                [o.get("evalue") for o in g.errors(who, grade_id)], (who, grade_id)
