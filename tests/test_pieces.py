"""The known-good pieces (autograder/checks/pieces) agree with zengrad_ref: known-good because tested here.

Each piece runs where the checks run it: defined by an adapter program (``Program.define``)
over a ``Value`` (here ``zengrad_ref.Value``) through ``ReferenceEngine``; its numbers are
compared with ``zengrad_ref.nn``/``zengrad_ref.losses`` on the same weights and inputs.
Then the hidden checks themselves are run on a namespace made of the pieces: they pass.

Problem set 4's pieces build on the notebook's given ``Value`` (its ``_backward`` handles the
fused ``linear`` node the network is made of), so they run over that class, executed from the
source notebook's read-only cell, and are compared with ``zengrad_ref``.
"""

from __future__ import annotations

import ast
import random

from hypothesis import given, settings
from hypothesis import strategies as st

import zengrad_ref
from autograder.checks import (
    ps3,  # noqa: F401 - registers the checks
    run_check,
)
from autograder.checks.kit import REF_ATOL, REF_RTOL, SETTINGS, close
from autograder.checks.kit.compare import KINK
from autograder.checks.kit.nets import hidden_kink, mlp_param_count
from autograder.checks.kit.program import Program, ReferenceEngine, const
from autograder.checks.pieces import source
from tests.course_helpers import cell, solution_nb

ENGINE = ReferenceEngine({"Value": zengrad_ref.Value})
NUMBERS = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _close_all(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(close(x, y, REF_ATOL, REF_RTOL) for x, y in zip(a, b, strict=True))


def test_pieces_are_plain_python_that_imports_nothing() -> None:
    """They run in the sandbox over the student's names: no import, nothing of the grader's."""
    for assignment in ("ps2", "ps3", "ps4"):
        text = source(assignment)
        tree = ast.parse(text)
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)], assignment
        assert "zengrad_ref" not in text and "check(" not in text


@st.composite
def networks(draw: st.DrawFn) -> tuple[int, list[int], list[float], list[list[float]]]:
    nin = draw(st.integers(1, 3))
    nouts = [*draw(st.lists(st.integers(2, 4), max_size=2)), draw(st.integers(1, 3))]  # hidden: lists
    weights = [round(random.Random(draw(st.integers(0, 999))).uniform(-1, 1), 6)
               for _ in range(mlp_param_count(nin, nouts))]
    xs = draw(st.lists(st.lists(NUMBERS, min_size=nin, max_size=nin), min_size=1, max_size=3))
    return nin, nouts, weights, xs


@settings(SETTINGS, max_examples=40)
@given(net=networks())
def test_mlp_layer_and_neuron_pieces_match_zengrad_ref(net: tuple) -> None:
    """Forward values and every parameter's gradient (from the sum of all outputs), same weights."""
    from zengrad_ref.nn import MLP

    nin, nouts, weights, xs = net
    p = Program()
    p.override("MLP", p.define(source("ps3"), "MLP"))
    m = p.call("MLP", const(nin), const(nouts))
    params = p.method(m, "parameters")
    p.set_data_list(params, weights)
    outs = []
    for x in xs:
        out = p.method(m, "__call__", const(x))
        outs += [out] if nouts[-1] == 1 else [p.item(out, j) for j in range(nouts[-1])]
    total = outs[0]
    for h in outs[1:]:
        total = p.op("add", total, h)
    r_total = p.read(total)
    p.backward(total)
    r_params = p.read_list(params)
    got = ENGINE.run(p)
    assert got.ok, got.error

    ref = MLP(nin, nouts, seed=0)
    ref.set_weights(weights)
    routs = []
    for x in xs:
        out = ref(x)
        routs += [out] if nouts[-1] == 1 else list(out)
    rtotal = routs[0]
    for v in routs[1:]:
        rtotal = rtotal + v
    rtotal.backward()
    if any(hidden_kink(nin, nouts, weights, x) for x in xs):
        return  # the gradient hinges on rounding
    assert close(got.reads[r_total][0], rtotal.data, REF_ATOL, REF_RTOL)
    assert _close_all([g for _, g in got.reads[r_params]], [q.grad for q in ref.parameters()])


@settings(SETTINGS, max_examples=40)
@given(scores=st.lists(st.tuples(NUMBERS, st.sampled_from([1, -1])), min_size=1, max_size=5),
       params=st.lists(NUMBERS, max_size=4), alpha=st.one_of(st.none(), st.floats(0.0, 1.0)))
def test_svm_loss_piece_matches_zengrad_ref(scores: list, params: list[float], alpha: float | None) -> None:
    from zengrad_ref.losses import svm_hinge_l2

    if any(abs(1 - y * s) < KINK for s, y in scores):
        return
    p = Program()
    loss = p.define(source("ps3"), "svm_loss")
    sh = [p.leaf(s) for s, _ in scores]
    ph = [p.leaf(v) for v in params]
    args = [p.new_list(*sh), const([y for _, y in scores]), p.new_list(*ph)] + ([] if alpha is None else [const(alpha)])
    out = p.method(loss, "__call__", *args)
    r_out = p.read_kind(out)
    r_loss = p.read(out)
    p.backward(out)
    r_grads = [p.read(h) for h in sh + ph]
    got = ENGINE.run(p)
    assert got.ok, got.error

    rs = [zengrad_ref.Value(s) for s, _ in scores]
    rp = [zengrad_ref.Value(v) for v in params]
    ref = svm_hinge_l2(rs, [y for _, y in scores], rp, alpha=1e-4 if alpha is None else alpha)
    ref.backward()
    assert got.reads[r_out] == "Value"
    assert close(got.reads[r_loss][0], ref.data, REF_ATOL, REF_RTOL)
    assert _close_all([got.reads[r][1] for r in r_grads], [v.grad for v in rs + rp])


@settings(SETTINGS, max_examples=20)
@given(params=st.lists(st.tuples(NUMBERS, NUMBERS), min_size=1, max_size=4), lr=st.floats(0.01, 1.0))
def test_sgd_step_and_zero_grad_pieces_do_what_the_text_says(params: list, lr: float) -> None:
    p = Program()
    p.override("Params", p.define(source("ps3"), "Params"))
    sgd = p.define(source("ps3"), "sgd_step")
    vals = []
    for d, g in params:
        vals.append(p.leaf(d))
        p.set_grad(vals[-1], g)
    model = p.call("Params", p.new_list(*vals))
    p.method(sgd, "__call__", model, const(lr), result=False)
    r_after = [p.read(v) for v in vals]
    p.method(model, "zero_grad", result=False)
    r_zeroed = [p.read(v) for v in vals]
    got = ENGINE.run(p)
    assert got.ok, got.error
    assert _close_all([got.reads[r][0] for r in r_after], [d - lr * g for d, g in params])
    assert [got.reads[r][1] for r in r_after] == [g for _, g in params]  # the gradients left alone
    assert [got.reads[r] for r in r_zeroed] == [[got.reads[r][0], 0.0] for r in r_after]


def _pieces_namespace(*solution_cells: str) -> dict:
    """The ps3 pieces over zengrad_ref.Value, plus some of the notebook's solution cells (train, grid)."""
    ns: dict = {"Value": zengrad_ref.Value, "__name__": "__main__"}
    exec(source("ps3"), ns)
    for grade_id in solution_cells:
        exec(cell(solution_nb("ps3_mlp"), grade_id).source, ns)
    return ns


def test_the_ps3_checks_pass_the_pieces_on_the_reference_engine() -> None:
    """Pieces + zengrad_ref give the reference's numbers: every hidden check passes them, training included."""
    engine = ReferenceEngine(_pieces_namespace("train_solution", "grid_solution"))
    verdicts = {c: run_check(c, engine) for c in ("ps3.zero_grad", "ps3.neuron", "ps3.layer", "ps3.mlp",
                                                  "ps3.loss", "ps3.sgd", "ps3.grid", "ps3.train")}
    assert {c: v.message for c, v in verdicts.items() if not v.passed} == {}


def test_the_ps2_checks_pass_the_sort_piece_on_the_reference_engine() -> None:
    ns: dict = {"Value": zengrad_ref.Value}
    exec(source("ps2"), ns)
    engine = ReferenceEngine({"Value": zengrad_ref.Value, "topological_sort": ns["topological_sort"]})
    verdicts = {c: run_check(c, engine) for c in ("ps2.topo", "ps2.deep")}
    assert {c: v.message for c, v in verdicts.items() if not v.passed} == {}


# --- problem set 4 ------------------------------------------------------------------------------
def _ps4_given() -> dict:
    """The read-only engine cell of ps4, executed like the worker does (the Value the pieces run over)."""
    import math

    ns: dict = {"__name__": "__main__", "math": math, "random": random}
    exec(cell(solution_nb("ps4_extend"), "engine").source, ns)
    return ns


PS4 = _ps4_given()
PS4_ENGINE = ReferenceEngine({"Value": PS4["Value"], "math": PS4["math"]})


@settings(SETTINGS, max_examples=25)
@given(seed=st.integers(0, 999), nouts=st.sampled_from([[3], [2, 3], [4, 3, 2]]),
       xs=st.lists(st.lists(NUMBERS, min_size=2, max_size=2), min_size=1, max_size=3), data=st.data())
def test_ps4_mlp_and_cross_entropy_pieces_match_zengrad_ref(seed: int, nouts: list[int], xs: list, data) -> None:
    """The mean cross-entropy of the piece MLP (tanh, linear last layer), and every parameter's gradient."""
    from autograder.checks.kit.nets import mlp_param_count
    from zengrad_ref.losses import cross_entropy
    from zengrad_ref.nn import MLP

    labels = [data.draw(st.integers(0, nouts[-1] - 1)) for _ in xs]
    weights = [round(random.Random(seed).uniform(-1, 1), 6) for _ in range(mlp_param_count(2, nouts))]
    p = Program()
    p.override("MLP", p.define(source("ps4"), "MLP"))
    ce = p.define(source("ps4"), "cross_entropy")
    m = p.call("MLP", const(2), const(nouts))
    params = p.method(m, "parameters")
    p.set_data_list(params, weights)
    losses = [p.method(ce, "__call__", p.method(m, "__call__", const(x)), const(y)) for x, y in zip(xs, labels,
                                                                                                      strict=True)]
    total = p.sum(losses)
    r_total = p.read(total)
    p.backward(total)
    r_params = p.read_list(params)
    got = PS4_ENGINE.run(p)
    assert got.ok, got.error

    ref = MLP(2, nouts, seed=0, activation="tanh")
    ref.set_weights(weights)
    rtotal = sum((cross_entropy(ref(x), y) for x, y in zip(xs, labels, strict=True)), zengrad_ref.Value(0.0))
    rtotal.backward()
    assert close(got.reads[r_total][0], rtotal.data, REF_ATOL, REF_RTOL)
    assert _close_all([g for _, g in got.reads[r_params]], [q.grad for q in ref.parameters()])


@settings(SETTINGS, max_examples=25)
@given(kind=st.sampled_from(["SGD", "SGD-momentum", "SGD-nesterov", "Adam", "AdamW"]),
       params=st.lists(NUMBERS, min_size=1, max_size=3), data=st.data())
def test_ps4_optimizer_pieces_follow_zengrad_ref(kind: str, params: list[float], data) -> None:
    """The pieces' trajectories (data after every step, grads left alone), and zero_grad."""
    from zengrad_ref import optim

    steps = data.draw(st.lists(st.lists(NUMBERS, min_size=len(params), max_size=len(params)), min_size=1,
                               max_size=4))
    name, kwargs = {"SGD": ("SGD", {"lr": 0.3}), "SGD-momentum": ("SGD", {"lr": 0.3, "momentum": 0.9}),
                    "SGD-nesterov": ("SGD", {"lr": 0.3, "momentum": 0.8, "nesterov": True}),
                    "Adam": ("Adam", {"lr": 0.1, "betas": (0.8, 0.99), "eps": 0.01}),
                    "AdamW": ("AdamW", {"lr": 0.1, "weight_decay": 0.3})}[kind]
    p = Program()
    p.override(name, p.define(source("ps4"), name))
    leaves = [p.leaf(x) for x in params]
    opt = p.call(name, p.new_list(*leaves), kwargs={key: const(value) for key, value in kwargs.items()})
    reads = []
    for grads in steps:
        for h, g in zip(leaves, grads, strict=True):
            p.set_grad(h, g)
        p.method(opt, "step", result=False)
        reads.append([p.read(h) for h in leaves])
    p.method(opt, "zero_grad", result=False)
    r_zeroed = [p.read(h) for h in leaves]
    got = PS4_ENGINE.run(p)
    assert got.ok, got.error

    ref_params = [zengrad_ref.Value(x) for x in params]
    ref = getattr(optim, name)(ref_params, **kwargs)
    for grads, row in zip(steps, reads, strict=True):
        for q, g in zip(ref_params, grads, strict=True):
            q.grad = g
        ref.step()
        assert _close_all([got.reads[r][0] for r in row], [q.data for q in ref_params])
        assert [got.reads[r][1] for r in row] == grads
    assert [got.reads[r][1] for r in r_zeroed] == [0.0] * len(params)


def test_ps4_adam_piece_runs_on_an_instance_of_another_class() -> None:
    """The adamw check calls the piece's Adam.__init__/Adam.step on the student's AdamW: no super() in them."""
    ns: dict = dict(PS4)
    exec(source("ps4"), ns)

    class StudentAdamW:  # not a subclass of the piece's Adam, like the student's AdamW
        def __init__(self, params: list, lr: float) -> None:
            ns["Adam"].__init__(self, params, lr)

        def step(self) -> None:
            ns["Adam"].step(self)

    p = ns["Value"](1.0)
    opt = StudentAdamW([p], 0.1)
    p.grad = 2.0
    opt.step()
    assert abs(p.data - 0.9) < 1e-7 and opt.t == 1


def test_the_ps4_checks_pass_the_pieces() -> None:
    """Pieces + the notebook's given Value (zengrad_ref's operators for pow, softplus, gelu): every check passes."""
    from autograder.checks import ps4 as checks4  # noqa: F401 - registers the checks

    ns: dict = dict(PS4)
    exec(source("ps4"), ns)
    exec(cell(solution_nb("ps4_extend"), "train_solution").source, ns)
    engine = ReferenceEngine(ns)
    verdicts = {c: run_check(c, engine) for c in ("ps4.cross_entropy", "ps4.zero_grad", "ps4.sgd", "ps4.adam",
                                                  "ps4.adamw", "ps4.train")}
    operators = ReferenceEngine({"Value": zengrad_ref.Value})
    verdicts.update({c: run_check(c, operators) for c in ("ps4.pow", "ps4.softplus", "ps4.gelu")})
    assert {c: v.message for c, v in verdicts.items() if not v.passed} == {}
