"""Assignment 3 end to end through real nbgrader: release, solutions, stubs, classic bugs, timings."""

from __future__ import annotations

import math
import re
import shutil

import pytest

from autograder.checks import load_all, run_check
from autograder.checks import ps3 as checks
from autograder.checks.kit.program import ReferenceEngine
from autograder.mutants.ps3 import MUTANTS
from autograder.release import STUB, release
from tests.course_helpers import REPO, cell, max_points, mutate, read_nb, release_nb, solution_nb

PS3 = "ps3_mlp"
POINTS = max_points(PS3)
STUB_RAISE = STUB.split("\n")[1]  # the stub's raise line (the given Value of ps1 raises too)
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
    stubs = [c for c in release_nb(PS3).cells if c.cell_type == "code" and STUB_RAISE in c.source]
    assert len(stubs) == 8  # module, neuron, layer, mlp, loss, sgd, train, grid
    solutions = solution_nb(PS3)
    assert not [c for c in solutions.cells if c.cell_type == "code" and STUB_RAISE in c.source]
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
    assert {cell for m in MUTANTS.values() for cell in m.loses} == set(POINTS)  # every cell has a classic bug


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


def test_train_cases_are_off_every_kink_and_the_reference_trains_them_to_the_target() -> None:
    """The fixed training cases never put a ReLU input or a margin on 0: their numbers do not hinge on rounding."""
    for case in [*checks.TRAIN_CASES, checks.ACCURACY_CASE]:
        losses, weights, kink = checks.reference_training(case)
        assert not kink and len(losses) == case.steps, case
    _, weights, _ = checks.reference_training(checks.ACCURACY_CASE)
    assert checks.train_accuracy(checks.ACCURACY_CASE, weights) >= checks.TRAIN_TARGET + 0.025


@pytest.fixture(scope="module")
def graded_class(course_template, tmp_path_factory):
    """Perfect, stub and every mutant, graded twice by one stock `nbgrader autograde` run each."""
    course = course_template.copy_to(tmp_path_factory.mktemp("ps3") / "course")
    course.submit("perfect", PS3, solution_nb(PS3))
    course.submit("stub", PS3, release_nb(PS3))
    for name, (grade_id, old, new, _) in MUTANTS.items():
        course.submit(STUDENTS[name], PS3, mutate(solution_nb(PS3), grade_id, old, new))
    first = course.autograde(PS3, timeout=5400)  # about 75 notebooks that each train a network
    assert first.returncode == 0, first.stdout + first.stderr
    grades_first = course.grades(PS3)
    # The second run regrades a representative subset only (ps3 notebooks train a network:
    # every submission costs ~10 s); the others keep their first-run grades in the gradebook.
    again = ["perfect", "stub", STUDENTS["loss_no_regularisation"], STUDENTS["grid_axes_swapped"],
             STUDENTS["train_no_zero_grad"]]
    for student in set(["perfect", "stub", *STUDENTS.values()]) - set(again):
        shutil.rmtree(course.root / "submitted" / student)
    notebooks_first = {s: course.autograded(s, PS3) for s in again}
    second = course.autograde(PS3)
    assert second.returncode == 0, second.stdout + second.stderr
    grades_second = course.grades(PS3)
    return course, grades_first, {s: grades_second[s] for s in again}, notebooks_first


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
def test_each_classic_bug_loses_exactly_its_cells(graded_class, name: str) -> None:
    course, grades, _, _ = graded_class
    lost = MUTANTS[name].loses
    assert grades[STUDENTS[name]] == dict(POINTS, **dict.fromkeys(lost, 0.0))
    for grade_id in lost:
        (error,) = _errors(course.autograded(STUDENTS[name], PS3), grade_id)
        message = error.evalue
        assert "expected" in message or "raised" in message or "Define it" in message, message
        assert "zengrad_ref" not in message and "def " not in message and "Traceback" not in message
        assert len(message) < 400, message


def test_grading_twice_gives_identical_scores_and_messages(graded_class) -> None:
    course, first, second, notebooks_first = graded_class
    assert {s: first[s] for s in second} == second
    for student, nb in notebooks_first.items():
        again = course.autograded(student, PS3)
        for grade_id in POINTS:
            assert [o.get("evalue") for o in _errors(nb, grade_id)] == \
                [o.get("evalue") for o in _errors(again, grade_id)], (student, grade_id)


# --- the property checks themselves, on the reference engine (no nbgrader, no worker) ---------------
PIECES = ("ps3.zero_grad", "ps3.neuron", "ps3.layer", "ps3.mlp", "ps3.loss", "ps3.sgd", "ps3.grid")


def solution_namespace(*edits: tuple[str, str, str]) -> dict:
    """The given cells plus every solution cell, with (grade_id, old, new) edits, executed like the worker does."""
    ns = given_namespace()
    nb = solution_nb(PS3)
    for edit in edits:
        nb = mutate(nb, *edit)
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id", "").endswith("_solution"):
            exec(c.source, ns)
    return ns


def verdicts_on(ns: dict, check_ids=PIECES) -> dict:
    engine = ReferenceEngine(ns)
    return {check_id: run_check(check_id, engine) for check_id in check_ids}


def test_property_checks_pass_the_solution_in_well_under_a_second_or_two() -> None:
    import time

    ns = solution_namespace()
    verdicts_on(ns, ("ps3.sgd",))  # hypothesis' one-off start-up cost
    started = time.perf_counter()
    verdicts = verdicts_on(ns)
    seconds = time.perf_counter() - started
    assert [v.message for v in verdicts.values() if not v.passed] == []
    assert seconds < 3.0, seconds  # about 0.5 s on an idle 2-core runner


def test_equivalent_solutions_pass_despite_relu_kinks_and_rounding() -> None:
    """Summing in another order, or dividing instead of multiplying by 1/n, moves the last bit of a
    ReLU input or margin: cases on a kink are skipped, so a correct student never loses points there."""
    ns = solution_namespace(
        ("neuron_solution", "act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)",
         "act = sum(xi * wi for wi, xi in reversed(list(zip(self.w, x)))) + self.b"),
        ("loss_solution", "sum(margins) * (1.0 / len(margins))", "sum(margins) / len(margins)"),
        ("grid_solution", "model([xv, yv]).data > 0", "model([xv, yv]).data >= 0"),
    )
    assert [v.message for v in verdicts_on(ns).values() if not v.passed] == []
    # here the reference's act is +2.8e-17 and this student's -2.8e-17: relu passes the gradient or not
    kink = checks.NeuronCase(3, True, [0.1, -0.1, -0.2], 0.2, [1.0, 1.0, 1.0])
    assert kink.on_kink()
    checks.neuron_batch(ReferenceEngine(ns), [kink])  # skipped, not failed


SHRUNK = {  # the smallest failing case, as the student reads it
    "zero_grad_missing": "zero_grad() on a module whose parameters have data [0.0] and grad [1.0]: the grads are "
                         "[1.0] afterwards, expected [0.0]",
    "neuron_bias_first": "Neuron(1).parameters() returned [b, w[0]], expected [w[0], b]",
    "layer_params_duplicated": "Layer(1, 1, nonlin=False).parameters() returned 4 Values, expected 2",
    "layer_params_cache_grows": "Layer(1, 1, nonlin=False).parameters() returned 4 Values the second time, "
                                "expected 2",
    "neuron_params_appends_bias": "Neuron(1).parameters() returned 3 Values the second time, expected 2",
    "neuron_returns_float": "Neuron(1, nonlin=False) with w=[0.0], b=0.0, x=[0.0]: the call returned a float, "
                            "expected one Value",
    "mlp_sizes_not_chained": "MLP(1, [2, 1]): the neurons of layer 1 have 1 inputs, expected 2",
    "mlp_params_fresh_copies": "MLP(1, [1]).parameters() returned new Values",
    "mlp_last_layer_nonlinear": "MLP(1, [1]): the last layer (layer 0) applies ReLU",
    "mlp_params_reversed": "MLP(1, [2, 1]).parameters()[0] is layer 1 neuron 0.w[0], expected layer 0 neuron 0.w[0]",
    "loss_no_regularisation": "svm_loss(scores=[0.0], y=[1], params=[1.0]): your loss is 1.0, expected 1.0001 "
                              "(the L2 term",
    "loss_sum_not_mean": "svm_loss(scores=[0.0, 0.0], y=[1, 1], params=[]): your loss is 2.0, expected 1.0",
    "sgd_wrong_sign": "sgd_step(model, lr=1.0) with parameters data [0.0] and grad [1.0]: data afterwards [1.0], "
                      "expected [-1.0]",
    "sgd_zeroes_grads": "sgd_step(model, lr=1.0) with parameters data [0.0] and grad [1.0]: grad afterwards [0.0], "
                        "expected [1.0] (sgd_step leaves the gradients alone)",
    "loss_default_alpha": "svm_loss(scores=[0.0], y=[1], params=[1.0]): your loss is 1.001, expected 1.0001",
    "train_returns_values": "train(model, X, y, steps=2) with model = MLP(2, [3, 1]) on make_moons(6, noise=0.1, "
                            "seed=2) returned a list of Value, expected plain floats (loss.data)",
    "train_ignores_alpha": "train(model, X, y, steps=3, alpha=0.01) with model = MLP(2, [4, 4, 1]) on make_moons(8, "
                           "noise=0.1, seed=1): your loss of step 0 is 1.0466875891262832, expected 1.1680173249317691",
    "grid_axes_swapped": "decision_grid(model, xs=[0.0], ys=[1.0]) with model = Neuron(2, nonlin=False), "
                         "w=[0.0, 1.0], b=0.0: Z[0][0] is 0, expected 1",
    "grid_bools": "Z[0][0] is a bool (False), expected the int 1 or 0",
}


@pytest.mark.parametrize("name", sorted(SHRUNK))
def test_a_classic_bug_is_reported_on_its_smallest_case(name: str) -> None:
    grade_id, old, new, lost = MUTANTS[name]
    (cell,) = lost
    check_id = f"ps3.{cell.removesuffix('_test')}"
    verdict = verdicts_on(solution_namespace((grade_id, old, new)), (check_id,))[check_id]
    assert not verdict.passed and SHRUNK[name] in verdict.message, verdict.message
