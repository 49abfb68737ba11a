"""Assignment 4: its checks on the reference engine, and through real nbgrader what is particular to it
(the contract every assignment keeps is tests/test_assignments.py)."""

from __future__ import annotations

import math
import random
import time

import pytest

from autograder.checks import load_all, run_check
from autograder.checks import ps4 as checks
from autograder.checks.kit.program import ReferenceEngine
from autograder.checks.kit.training import TrainCase, reference_training, train_accuracy
from autograder.mutants.ps4 import MUTANTS
from tests.course_helpers import cell, max_points, mutate, release_nb, solution_nb

PS4 = "ps4_extend"
POINTS = max_points(PS4)


def given_namespace(*solution_cells: str) -> dict:
    """The read-only cells of the notebook (engine, nn, data), and some solution cells, executed like the worker."""
    ns: dict = {"__name__": "__main__", "math": math, "random": random}
    nb = solution_nb(PS4)
    for grade_id in ("engine", "nn", "data", *solution_cells):
        exec(cell(nb, grade_id).source, ns)
    return ns


def test_points_and_checks() -> None:
    assert POINTS == {"pow_test": 2, "softplus_test": 1, "gelu_test": 1, "cross_entropy_test": 3, "zero_grad_test": 1,
                      "sgd_test": 2, "adam_test": 2, "adamw_test": 1, "train_test": 3}
    registry = load_all()
    assert {f"ps4.{g.removesuffix('_test')}" for g in POINTS} <= set(registry)
    assert {cell for m in MUTANTS.values() for cell in m.loses} == set(POINTS)  # every cell has a classic bug


def test_the_intro_says_what_run_all_does_and_the_one_rule_for_modules() -> None:
    text = " ".join(release_nb(PS4).cells[0].source.split())
    assert "*Run → Run All Cells* runs every cell until the first test cell" in text
    assert "not implemented yet" in text and "Use the Python standard library only" in text
    assert "plain Python process" in text and "You never need to differentiate numerically" in text


def test_given_engine_passes_every_operator_check_of_assignment_1() -> None:
    """The provided Value is correct, and the student's ** of section 2 leaves a constant exponent to it."""
    for ns in (given_namespace(), given_namespace("pow_solution")):
        engine = ReferenceEngine({"Value": ns["Value"]})
        for check_id in ("ps1.add", "ps1.mul", "ps1.pow", "ps1.exp", "ps1.log", "ps1.tanh", "ps1.relu",
                         "ps1.sigmoid"):
            verdict = run_check(check_id, engine)
            assert verdict.passed, verdict.message


def test_given_make_spirals_is_the_reference_data() -> None:
    from zengrad_ref.data import make_spirals

    ns = given_namespace()
    for n, classes, seed in ((9, 3, 0), (checks.TRAIN_POINTS, 3, checks.TRAIN_SEED), (90, 3, 0), (101, 4, 3),
                             (1, 1, 0), (0, 3, 0)):
        assert ns["make_spirals"](n, classes, noise=0.1, seed=seed) == make_spirals(n, classes, noise=0.1, seed=seed)


def test_given_network_is_the_reference_network() -> None:
    """MLP (tanh hidden layers, a list of logits) and the fused linear node: zengrad_ref's numbers and gradients."""
    from zengrad_ref.nn import MLP

    ns = given_namespace()
    random.seed(5)
    model = ns["MLP"](2, [4, 4, 3])
    ref = MLP(2, [4, 4, 3], seed=5, activation="tanh")  # the same draws, in the same order
    assert [p.data for p in model.parameters()] == ref.get_weights()
    out, rout = model([0.3, -1.2]), ref([0.3, -1.2])
    assert isinstance(out, list) and [o.data for o in out] == [o.data for o in rout]
    total, rtotal = out[0] + out[1] * out[2], rout[0] + rout[1] * rout[2]
    total.backward()
    rtotal.backward()
    assert all(math.isclose(p.grad, q.grad, rel_tol=1e-12, abs_tol=1e-15)
               for p, q in zip(model.parameters(), ref.parameters(), strict=True))


def test_reference_reaches_the_training_target_with_margin() -> None:
    losses, weights, _ = reference_training(checks.ACCURACY_CASE)
    assert losses[-1] < losses[0] and len(losses) == checks.TRAIN_STEPS
    assert train_accuracy(checks.ACCURACY_CASE, weights) >= checks.TRAIN_TARGET + 0.05  # 3 points of slack


def test_the_notebooks_demo_reaches_its_stated_accuracy() -> None:
    """The demo's numbers (90 points, 80 steps, the default lr) by zengrad_ref: the notebook says 90% or more.

    How long it takes is not asserted: CPU time on a shared 2-core machine varies by a third."""
    from zengrad_ref.data import make_spirals
    from zengrad_ref.losses import argmax_accuracy
    from zengrad_ref.nn import MLP

    case = TrainCase(checks.TRAINING, (16, 16, 3), 90, 0, 80)
    _, weights, _ = reference_training(case)
    model = MLP(2, [16, 16, 3], seed=0, activation="tanh")
    model.set_weights(weights)
    X, y = make_spirals(90, noise=0.1, seed=0)
    assert argmax_accuracy([model(x) for x in X], y) >= 0.95


@pytest.mark.slow
def test_the_solutions_demo_trains_in_the_kernel_and_the_hidden_training_is_quick(graded) -> None:
    nb = graded(PS4).autograded("perfect")
    demo = "".join(o.get("text", "") for o in cell(nb, "training_demo").outputs)
    assert "training accuracy 100%" in demo, demo
    meta = nb.metadata["zengrad"]
    timings = {v["check_id"]: v["seconds"] for v in meta["verdicts"]}
    print(f"\nps4 trusted seconds {meta['trusted_seconds']}: {timings}")
    assert timings["ps4.train"] < 30, timings


# --- the property checks themselves, on the reference engine (no nbgrader, no worker) ---------------
PROPERTY_CHECKS = ("ps4.pow", "ps4.softplus", "ps4.gelu", "ps4.cross_entropy", "ps4.zero_grad", "ps4.sgd",
                   "ps4.adam", "ps4.adamw")


def solution_namespace(*edits: tuple[str, str, str]) -> dict:
    """The given cells plus every solution cell, with (grade_id, old, new) edits, executed like the worker does."""
    ns = given_namespace()
    nb = solution_nb(PS4)
    for edit in edits:
        nb = mutate(nb, *edit)
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id", "").endswith("_solution"):
            exec(c.source, ns)
    return ns


def verdicts_on(ns: dict, check_ids=PROPERTY_CHECKS) -> dict:
    engine = ReferenceEngine(ns)
    return {check_id: run_check(check_id, engine) for check_id in check_ids}


def test_property_checks_pass_the_solution_quickly_and_training_within_its_budget() -> None:
    ns = solution_namespace()
    started = time.process_time()
    verdicts = verdicts_on(ns)
    seconds = time.process_time() - started
    assert [v.message for v in verdicts.values() if not v.passed] == []
    assert seconds < 6.0, seconds  # about 1.5 s on an idle 2-core runner (the first run of every property)
    started = time.process_time()
    train = verdicts_on(ns, ("ps4.train",))["ps4.train"]
    seconds = time.process_time() - started
    assert train.passed, train.message
    assert seconds < 10.0, seconds  # about 3 CPU s: the hidden training stays far inside TRAIN_CPU


def test_equivalent_solutions_pass() -> None:
    """Other ways to write the same formulas move the last bit only: the checks accept them."""
    ns = solution_namespace(
        ("pow_solution", "        other.grad += out.data * math.log(self.data) * out.grad\n",
         "        other.grad += math.log(self.data) * self.data ** other.data * out.grad\n"),
        ("softplus_solution",
         "        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))\n",
         "        s = 0.5 * (1.0 + math.tanh(0.5 * x))\n"),
        ("gelu_solution", "(1.0 - t * t)", "(1.0 - t) * (1.0 + t)"),
        ("cross_entropy_solution", "math.log(total) - (zs[target] - m)", "m + math.log(total) - zs[target]"),
        ("sgd_solution", "                p.data -= self.lr * (p.grad + self.momentum * self.velocity[i])",
         "                p.data = p.data - self.lr * p.grad - self.lr * self.momentum * self.velocity[i]"),
        ("adam_solution", "p.data -= self.lr * m_hat / (math.sqrt(v_hat) + self.eps)",
         "p.data -= (self.lr / (1 - b1 ** self.t)) * self.m[i] / (math.sqrt(self.v[i]) / math.sqrt(1 - b2 ** self.t)"
         " + self.eps)"),
        ("adamw_solution", "            p.data -= self.lr * self.weight_decay * p.data\n",
         "            p.data *= 1 - self.lr * self.weight_decay\n"),
        ("train_solution", "sum(cross_entropy(model(x), label) for x, label in zip(X, y)) * (1.0 / len(X))",
         "sum([cross_entropy(model(x), label) for x, label in zip(X, y)]) / len(X)"),
    )
    assert {c: v.message for c, v in verdicts_on(ns, (*PROPERTY_CHECKS, "ps4.train")).items() if not v.passed} == {}


SHRUNK = {  # the smallest failing case, as the student reads it
    "pow_zero_base_allowed": "a ** b with a = Value(0.0), b = Value(2.0) made a node: a ** b with a Value exponent "
                             "needs a base > 0",
    "pow_error_hides_the_base": "raised ValueError('math domain error'): its message should show the base -2.5",
    "pow_base_overwrites": "(a.grad held 1.0 and lost it: add to it (+=), do not assign (=))",
    "softplus_wrong_point": "softplus(a) with a = 0.0 and out.grad = 1.0: your a.grad = 0.6666666666666666, expected "
                            "0.5 (that is the derivative at the output out.data: evaluate it at the input x)",
    "softplus_naive_sigmoid_overflows": "On softplus(a) with a = -1000.0 and out.grad = 1.5 (inputs already holding "
                                        "grad a.grad = 0.25), the _backward of softplus(a): your code raised "
                                        "OverflowError",
    "softplus_overwrites": "softplus(a) + softplus(a) with a = 0.0 and out.grad = 1.0: your a.grad = 0.5, expected "
                           "1.0 (a is used twice but kept only 1 contribution: use +=, not =)",
    "ce_max_not_subtracted": "cross_entropy([a], 0) with a = 1000.0 and out.grad = 1.0: your code raised "
                             "OverflowError: math range error (subtract the largest logit",
    "ce_gradient_missing_onehot": "cross_entropy([a], 0) with a = 0.0 and out.grad = 1.0: your a.grad = 1.0, "
                                  "expected 0.0 (that is softmax alone",
    "ce_overwrites": "cross_entropy([a, a], 0) with a = 0.0 and out.grad = 1.0: your a.grad = 0.5, expected 0.0 "
                     "(a appears 2 times in the logits",
    "ce_onehot_by_value_breaks_ties": "cross_entropy([a, a], 0) with a = 0.0 and out.grad = 1.0: your a.grad = -1.0, "
                                      "expected 0.0",
    "ce_not_one_node": "(loss._backward() alone must pass the gradient to every logit",
    "zero_grad_to_none": "a grad is None afterwards, expected 0.0",
    "sgd_velocity_not_kept": "SGD(params, lr=1.0, momentum=0.9) from data [0.0], with the grads [[1.0], [0.0]] "
                             "before steps 1..2: after step 2 the data is [-1.0], expected [-1.9] (the velocity is "
                             "not kept from one step to the next)",
    "sgd_nesterov_ignored": "(nesterov=True steps by lr * (grad + momentum * v))",
    "adam_no_bias_correction": "Adam(params) from data [0.0], with the grads [[1.0]] before steps 1..1: after step 1 "
                               "the data is [-0.0031622766601686935], expected [-0.0009999999900000003] (the bias "
                               "correction m / (1 - b1**t), v / (1 - b2**t) is missing)",
    "adam_eps_inside_sqrt": "(eps goes outside the square root: sqrt(v_hat) + eps)",
    "adam_moments_swapped": "(betas = (b1, b2): b1 for the gradient's average m, b2 for the square's v)",
    "adamw_decay_in_the_gradient": "AdamW(params) from data [1.0], with the grads [[0.0]] before steps 1..1: after "
                                   "step 1 the data is [0.999000000999999], expected [0.99999] (decoupled",
    "train_new_optimizer_every_step": "(make one Adam before the loop: its moments carry over from step to step)",
    "train_sum_not_mean": "your loss of step 0 is 7.98042766395667, expected 1.3300712773261116 (the loss is the "
                          "mean: the sum times 1.0 / len(X))",
    "train_returns_values": "returned a list of Value, expected plain floats (loss.data)",
}


@pytest.mark.parametrize("name", sorted(SHRUNK))
def test_a_classic_bug_is_reported_on_its_smallest_case(name: str) -> None:
    grade_id, old, new, lost = MUTANTS[name]
    (cell_id,) = lost
    check_id = f"ps4.{cell_id.removesuffix('_test')}"
    verdict = verdicts_on(solution_namespace((grade_id, old, new)), (check_id,))[check_id]
    assert not verdict.passed and SHRUNK[name] in verdict.message, verdict.message
