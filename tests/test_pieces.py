"""The known-good pieces (autograder/checks/pieces) agree with zengrad_ref: known-good because tested here.

Each piece runs where the checks run it: defined by an adapter program (``Program.define``)
over a ``Value`` (here ``zengrad_ref.Value``) through ``ReferenceEngine``; its numbers are
compared with ``zengrad_ref.nn``/``zengrad_ref.losses`` on the same weights and inputs.
Then the hidden checks themselves are run on a namespace made of the pieces: they pass.
"""

from __future__ import annotations

import ast
import random

from hypothesis import given, settings
from hypothesis import strategies as st

import zengrad_ref
from autograder.checks import ps3 as checks3
from autograder.checks import run_check
from autograder.checks.kit import REF_ATOL, REF_RTOL, SETTINGS, close
from autograder.checks.kit.program import Program, ReferenceEngine, const
from autograder.checks.pieces import source
from tests.course_helpers import cell, solution_nb

ENGINE = ReferenceEngine({"Value": zengrad_ref.Value})
NUMBERS = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _close_all(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(close(x, y, REF_ATOL, REF_RTOL) for x, y in zip(a, b, strict=True))


def test_pieces_are_plain_python_that_imports_nothing() -> None:
    """They run in the sandbox over the student's names: no import, nothing of the grader's."""
    for assignment in ("ps2", "ps3"):
        text = source(assignment)
        tree = ast.parse(text)
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)], assignment
        assert "zengrad_ref" not in text and "check(" not in text


@st.composite
def networks(draw: st.DrawFn) -> tuple[int, list[int], list[float], list[list[float]]]:
    nin = draw(st.integers(1, 3))
    nouts = [*draw(st.lists(st.integers(2, 4), max_size=2)), draw(st.integers(1, 3))]  # hidden: lists
    weights = [round(random.Random(draw(st.integers(0, 999))).uniform(-1, 1), 6)
               for _ in range(checks3.mlp_param_count(nin, nouts))]
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
    if any(checks3.hidden_kink(nin, nouts, weights, x) for x in xs):
        return  # the gradient hinges on rounding
    assert close(got.reads[r_total][0], rtotal.data, REF_ATOL, REF_RTOL)
    assert _close_all([g for _, g in got.reads[r_params]], [q.grad for q in ref.parameters()])


@settings(SETTINGS, max_examples=40)
@given(scores=st.lists(st.tuples(NUMBERS, st.sampled_from([1, -1])), min_size=1, max_size=5),
       params=st.lists(NUMBERS, max_size=4), alpha=st.one_of(st.none(), st.floats(0.0, 1.0)))
def test_svm_loss_piece_matches_zengrad_ref(scores: list, params: list[float], alpha: float | None) -> None:
    from zengrad_ref.losses import svm_hinge_l2

    if any(abs(1 - y * s) < checks3.KINK for s, y in scores):
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
