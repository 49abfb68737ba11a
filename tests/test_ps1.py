"""Assignment 1 end to end through real nbgrader: release, solutions, stubs, classic bugs."""

from __future__ import annotations

import re
import shutil

import pytest

from autograder.mutants.ps1 import MUTANTS
from autograder.release import STUB, release
from tests.course_helpers import REPO, cell, max_points, mutate, release_nb, solution_nb

PS1 = "ps1_operators"
POINTS = max_points(PS1)
STUB_RAISE = STUB.split("\n")[1]  # the stub's raise line (the given Value of ps1 raises too)

def test_release_and_solutions_are_regenerated_exactly() -> None:
    assert release(check_only=True, only=[PS1]) == []


def test_release_has_no_hidden_tests_or_solutions() -> None:
    text = (REPO / "release" / PS1 / f"{PS1}.ipynb").read_text()
    assert "HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
    assert "ps1.mul" not in text and "self.grad += other.data * out.grad" not in text
    stubs = [c for c in release_nb(PS1).cells if c.cell_type == "code" and STUB_RAISE in c.source]
    assert len(stubs) == 8
    solutions = solution_nb(PS1)
    assert not [c for c in solutions.cells if c.cell_type == "code" and STUB_RAISE in c.source]
    assert "HIDDEN TESTS" not in str(solutions) and "BEGIN SOLUTION" not in str(solutions)


def test_student_notebooks_never_import_the_grader_or_reference() -> None:
    for folder in ("release", "solutions"):
        for nb in (REPO / folder).rglob("*.ipynb"):
            assert not re.search(r"\b(zengrad_ref|autograder)\b", nb.read_text()), nb


@pytest.fixture(scope="module")
def graded_class(course_template, tmp_path_factory):
    """Perfect, stub and every mutant, graded twice by one stock `nbgrader autograde` run each."""
    course = course_template.copy_to(tmp_path_factory.mktemp("ps1") / "course")
    course.submit("perfect", PS1, solution_nb(PS1))
    course.submit("stub", PS1, release_nb(PS1))
    # warnings on the kernel's stderr while the test cells run must not zero a cell
    course.submit("noisy", PS1, mutate(solution_nb(PS1), "mul_solution", "        self.grad += other.data * out.grad",
                                       "        import warnings; warnings.warn('a student warning')\n"
                                       "        import sys; print('to stderr', file=sys.stderr)\n"
                                       "        self.grad += other.data * out.grad"))
    for name, (grade_id, old, new, _) in MUTANTS.items():
        course.submit(name.replace("_", "-"), PS1, mutate(solution_nb(PS1), grade_id, old, new))
    first = course.autograde(PS1)
    assert first.returncode == 0, first.stdout + first.stderr
    grades_first = course.grades(PS1)
    # the second run regrades a representative subset; the others keep their first-run grades
    again = {"perfect", "stub", "noisy", "mul-swapped", "tanh-one-minus-t", "relu-at-zero"}
    for folder in (course.root / "submitted").iterdir():
        if folder.name not in again:
            shutil.rmtree(folder)
    second = course.autograde(PS1)
    assert second.returncode == 0, second.stdout + second.stderr
    grades_second = course.grades(PS1)
    return course, grades_first, {s: grades_second[s] for s in again}


def test_solutions_get_full_marks(graded_class) -> None:
    course, grades, _ = graded_class
    assert grades["perfect"] == POINTS


def test_warnings_on_stderr_do_not_zero_a_cell(graded_class) -> None:
    course, grades, _ = graded_class
    assert grades["noisy"] == POINTS
    kernel_saw = cell(course.autograded("noisy", PS1), "mul_test").metadata["zengrad"]["kernel_output_types"]
    assert "stream:stderr" in kernel_saw  # the warning really reached the kernel's stderr


def test_stub_gets_zero_with_not_implemented_message(graded_class) -> None:
    course, grades, _ = graded_class
    assert set(grades["stub"].values()) == {0.0}
    nb = course.autograded("stub", PS1)
    for grade_id in POINTS:
        outputs = cell(nb, grade_id).outputs
        errors = [o for o in outputs if o.output_type == "error"]
        assert len(errors) == 1 and "not implemented yet" in errors[0].evalue, (grade_id, outputs)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_each_classic_bug_loses_exactly_its_operator(graded_class, name: str) -> None:
    course, grades, _ = graded_class
    lost = MUTANTS[name].loses
    expected = dict(POINTS, **dict.fromkeys(lost, 0.0))
    assert grades[name.replace("_", "-")] == expected
    for grade_id in lost:
        message = next(o.evalue for o in cell(course.autograded(name.replace("_", "-"), PS1), grade_id).outputs
                       if o.output_type == "error")
        assert "expected" in message or "raised" in message, message
        assert "zengrad_ref" not in message and "def " not in message


def test_grading_twice_gives_identical_scores_and_messages(graded_class) -> None:
    course, first, second = graded_class
    assert {s: first[s] for s in second} == second
