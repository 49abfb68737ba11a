"""Assignment 3: its checks on the reference engine, and through real nbgrader what is particular to it
(the contract every assignment keeps is tests/test_assignments.py)."""

from __future__ import annotations

import math

import pytest
from hypothesis import strategies as st

from autograder.checks import load_all, run_check
from autograder.checks import ps3 as checks
from autograder.checks.kit import CheckFailure, batched
from autograder.checks.kit.program import ReferenceEngine
from autograder.checks.kit.training import reference_training, train_accuracy
from autograder.mutants.ps3 import MUTANTS
from tests.course_helpers import cell, max_points, mutate, solution_nb

PS3 = "ps3_mlp"
POINTS = max_points(PS3)


def given_namespace() -> dict:
    """The read-only setup cells of the notebook (engine, data), executed like the worker does."""
    ns: dict = {"__name__": "__main__", "math": math, "random": __import__("random")}
    for grade_id in ("engine", "data"):
        exec(cell(solution_nb(PS3), grade_id).source, ns)
    return ns


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
        losses, weights, kink = reference_training(case)
        assert not kink and len(losses) == case.steps, case
    _, weights, _ = reference_training(checks.ACCURACY_CASE)
    assert train_accuracy(checks.ACCURACY_CASE, weights) >= checks.TRAIN_TARGET + 0.025


@pytest.mark.slow  # a class graded through nbgrader: the contract tier (tests/graded.py)
def test_the_solutions_demo_trains_in_the_kernel_as_shipped(graded) -> None:
    nb = graded(PS3).autograded("perfect")
    demo = "".join(o.get("text", "") for o in cell(nb, "training_demo").outputs)
    assert "training accuracy 100%" in demo, demo
    meta = nb.metadata["zengrad"]
    timings = {v["check_id"]: v["seconds"] for v in meta["verdicts"]}
    print(f"\nps3 trusted seconds {meta['trusted_seconds']}: {timings}")


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
    with pytest.raises(CheckFailure):  # the gradients do differ on the kink ...
        checks.neuron_batch(ReferenceEngine(ns), [kink])
    kinked = batched("test.neuron.kink", checks.neuron_batch, st.just(kink), 2, [kink], skip=checks.NeuronCase.on_kink)
    kinked(ReferenceEngine(ns))  # ... so the check skips the case: not failed


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
