"""Assignment 3 end to end through real nbgrader: release, solutions, stubs, classic bugs, timings."""

from __future__ import annotations

import math
import re

import pytest

from autograder.adapter import ReferenceEngine
from autograder.checks import load_all, run_check
from autograder.checks import ps3 as checks
from autograder.mutants.ps3 import MUTANTS
from autograder.release import release
from tests.course_helpers import REPO, cell, max_points, mutate, read_nb, release_nb, solution_nb

PS3 = "ps3_mlp"
POINTS = max_points(PS3)
STUDENTS = {name: name.replace("_", "-") for name in MUTANTS}


def given_namespace() -> dict:
    """The read-only setup cells of the notebook (engine, data), executed like the worker does."""
    ns: dict = {"__name__": "__main__", "math": math, "random": __import__("random")}
    for grade_id in ("engine", "data"):
        exec(cell(solution_nb(PS3), grade_id).source, ns)
    return ns


def test_release_and_solutions_are_regenerated_exactly() -> None:
    assert release(check_only=True, only=[PS3]) == []


def test_release_has_no_hidden_tests_or_solutions() -> None:
    text = (REPO / "release" / PS3 / f"{PS3}.ipynb").read_text()
    assert "HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
    assert "ps3.train" not in text and "check(" not in text.replace("from gradcheck import check", "")
    source = "\n".join(c.source for c in read_nb(REPO / "source" / PS3 / f"{PS3}.ipynb").cells)
    released = "\n".join(c.source for c in release_nb(PS3).cells)
    blocks = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", source, re.S)
    assert len(blocks) == 12 and not [b for b in blocks if b.strip() in released]
    stubs = [c for c in release_nb(PS3).cells if c.cell_type == "code" and "raise NotImplementedError()" in c.source]
    assert len(stubs) == 8  # module, neuron, layer, mlp, loss, sgd, train, grid
    solutions = solution_nb(PS3)
    assert not [c for c in solutions.cells if c.cell_type == "code" and "raise NotImplementedError()" in c.source]
    assert "HIDDEN TESTS" not in str(solutions) and "BEGIN SOLUTION" not in str(solutions)


def test_student_notebooks_never_import_the_grader_or_reference() -> None:
    for folder in ("release", "solutions"):
        nb = REPO / folder / PS3 / f"{PS3}.ipynb"
        assert not re.search(r"\b(zengrad_ref|autograder)\b", nb.read_text()), nb


def test_points_and_checks() -> None:
    assert POINTS == {"zero_grad_test": 1, "neuron_test": 2, "layer_test": 2, "mlp_test": 3, "loss_test": 2,
                      "sgd_test": 1, "train_test": 3, "grid_test": 1}
    registry = load_all()
    assert {f"ps3.{g.removesuffix('_test')}" for g in POINTS} <= set(registry)
    assert {lost for *_, lost in MUTANTS.values()} == set(POINTS)  # every cell has a classic bug


def test_given_engine_passes_every_operator_check_of_assignment_1() -> None:
    """The provided Value is correct: assignment 1's hidden checks, run against it."""
    engine = ReferenceEngine({"Value": given_namespace()["Value"]})
    for check_id in ("ps1.add", "ps1.mul", "ps1.pow", "ps1.exp", "ps1.log", "ps1.tanh", "ps1.relu", "ps1.sigmoid"):
        verdict = run_check(check_id, engine)
        assert verdict.passed, verdict.message


def test_given_make_moons_is_the_reference_data() -> None:
    from zengrad_ref.data import make_moons

    ns = given_namespace()
    for n, seed in ((8, 0), (checks.TRAIN_POINTS, checks.TRAIN_SEED), (101, 3)):
        assert ns["make_moons"](n, noise=0.1, seed=seed) == make_moons(n, noise=0.1, seed=seed)


def test_reference_reaches_the_training_target_with_margin() -> None:
    from zengrad_ref.train import train_moons

    _, acc, _ = train_moons(seed=checks.TRAIN_SEED, steps=checks.TRAIN_STEPS, n_samples=checks.TRAIN_POINTS,
                            hidden=checks.TRAIN_HIDDEN)
    assert acc >= checks.TRAIN_TARGET + 0.025  # at least one point of slack on 40 points


@pytest.fixture(scope="module")
def graded_class(course_template, tmp_path_factory):
    """Perfect, stub and every mutant, graded twice by one stock `nbgrader autograde` run each."""
    course = course_template.copy_to(tmp_path_factory.mktemp("ps3") / "course")
    course.submit("perfect", PS3, solution_nb(PS3))
    course.submit("stub", PS3, release_nb(PS3))
    for name, (grade_id, old, new, _) in MUTANTS.items():
        course.submit(STUDENTS[name], PS3, mutate(solution_nb(PS3), grade_id, old, new))
    first = course.autograde(PS3)
    assert first.returncode == 0, first.stdout + first.stderr
    grades_first = course.grades(PS3)
    notebooks_first = {s: course.autograded(s, PS3) for s in ["perfect", "stub", *STUDENTS.values()]}
    second = course.autograde(PS3)
    assert second.returncode == 0, second.stdout + second.stderr
    return course, grades_first, course.grades(PS3), notebooks_first


def _errors(nb, grade_id: str) -> list:
    return [o for o in cell(nb, grade_id).outputs if o.output_type == "error"]


def test_solutions_get_full_marks(graded_class) -> None:
    course, grades, _, _ = graded_class
    assert grades["perfect"] == POINTS
    nb = course.autograded("perfect", PS3)
    meta = nb.metadata["zengrad"]
    assert meta["kernel_fault"] is None and meta["integrity"] == []
    assert [v["check_id"] for v in meta["verdicts"] if not v["passed"]] == []
    # the demo trains in the kernel and prints its accuracy: the given cells run as shipped
    demo = "".join(o.get("text", "") for o in cell(nb, "training_demo").outputs)
    assert "training accuracy 100%" in demo, demo
    timings = {v["check_id"]: v["seconds"] for v in meta["verdicts"]}
    print(f"\nps3 trusted seconds {meta['trusted_seconds']}: {timings}")


def test_stub_gets_zero_with_not_implemented_message(graded_class) -> None:
    course, grades, _, _ = graded_class
    assert set(grades["stub"].values()) == {0.0}
    nb = course.autograded("stub", PS3)
    for grade_id in POINTS:
        errors = _errors(nb, grade_id)
        assert len(errors) == 1 and "not implemented yet" in errors[0].evalue, (grade_id, errors)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_each_classic_bug_loses_exactly_its_cell(graded_class, name: str) -> None:
    course, grades, _, _ = graded_class
    _, _, _, lost = MUTANTS[name]
    assert grades[STUDENTS[name]] == dict(POINTS, **{lost: 0.0})
    (error,) = _errors(course.autograded(STUDENTS[name], PS3), lost)
    message = error.evalue
    assert "expected" in message or "raised" in message, message
    assert "zengrad_ref" not in message and "def " not in message and "Traceback" not in message
    assert len(message) < 400, message


def test_grading_twice_gives_identical_scores_and_messages(graded_class) -> None:
    course, first, second, notebooks_first = graded_class
    assert first == second
    for student, nb in notebooks_first.items():
        again = course.autograded(student, PS3)
        for grade_id in POINTS:
            assert [o.get("evalue") for o in _errors(nb, grade_id)] == \
                [o.get("evalue") for o in _errors(again, grade_id)], (student, grade_id)
