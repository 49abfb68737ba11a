"""The reference engine against independent oracles.

Every operator's value and gradient is compared with (a) mpmath at 50 digits
(``mpmath.diff``) and (b) float central differences with a gradcheck tolerance
``|a - n| <= atol + rtol * |n|``. The oracles use mpmath's own functions, never
the engine's formulas. Inputs stay inside each operator's domain and away from
kinks (relu at 0).
"""

from __future__ import annotations

import gc
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import mpmath
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from zengrad_ref import Value, linear, sum_values, topological_order

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=60)
mpmath.mp.dps = 50

# gradcheck tolerances: against mpmath (exact to ~1e-40) only float rounding remains;
# central differences with step h ~ 1e-6 carry truncation and cancellation error.
MP_ATOL, MP_RTOL = 1e-10, 1e-8
FD_ATOL, FD_RTOL = 1e-5, 1e-4


def close(a: float, n: float, atol: float, rtol: float) -> bool:
    return abs(a - n) <= atol + rtol * abs(n)


def central_difference(f: Callable[[float], float], x: float) -> float:
    h = 1e-6 * max(1.0, abs(x))
    return (f(x + h) - f(x - h)) / (2 * h)


def mp_relu(x: Any) -> Any:
    return x if x > 0 else mpmath.mpf(0)


def mp_sigmoid(x: Any) -> Any:
    return 1 / (1 + mpmath.exp(-x))


def floats(lo: float, hi: float, away_from_zero: float = 0.0) -> st.SearchStrategy[float]:
    s = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return s.filter(lambda x: abs(x) >= away_from_zero) if away_from_zero else s


# --- unary operators (including the reflected ones, with a constant c) ---------------
# name -> (engine function of a Value, mpmath function, strategy for x)
UNARY: dict[str, tuple[Callable[[Value], Value], Callable[[Any], Any], st.SearchStrategy[float]]] = {
    "neg": (lambda v: -v, lambda x: -x, floats(-1e3, 1e3)),
    "exp": (lambda v: v.exp(), mpmath.exp, floats(-50, 50)),
    "log": (lambda v: v.log(), mpmath.log, floats(1e-3, 1e6)),
    "tanh": (lambda v: v.tanh(), mpmath.tanh, floats(-20, 20)),
    "relu": (lambda v: v.relu(), mp_relu, floats(-100, 100, away_from_zero=1e-3)),
    "sigmoid": (lambda v: v.sigmoid(), mp_sigmoid, floats(-40, 40)),
    "radd 2+v": (lambda v: 2 + v, lambda x: 2 + x, floats(-1e3, 1e3)),
    "rsub 2-v": (lambda v: 2 - v, lambda x: 2 - x, floats(-1e3, 1e3)),
    "rmul 2*v": (lambda v: 2 * v, lambda x: 2 * x, floats(-1e3, 1e3)),
    "rdiv 2/v": (lambda v: 2 / v, lambda x: 2 / x, floats(-100, 100, away_from_zero=0.1)),
    "radd 0.3+v": (lambda v: 0.3 + v, lambda x: mpmath.mpf(0.3) + x, floats(-1e3, 1e3)),
    "rdiv -1.5/v": (
        lambda v: -1.5 / v,
        lambda x: mpmath.mpf(-1.5) / x,
        floats(-100, 100, away_from_zero=0.1),
    ),
    "add const v+1.5": (lambda v: v + 1.5, lambda x: x + mpmath.mpf(1.5), floats(-1e3, 1e3)),
    "sub const v-1.5": (lambda v: v - 1.5, lambda x: x - mpmath.mpf(1.5), floats(-1e3, 1e3)),
    "mul const v*-3": (lambda v: v * -3, lambda x: x * -3, floats(-1e3, 1e3)),
    "div const v/7": (lambda v: v / 7, lambda x: x / 7, floats(-1e3, 1e3)),
}


def check_unary(fn: Callable[[Value], Value], mp_fn: Callable[[Any], Any], x: float) -> None:
    v = Value(x)
    out = fn(v)
    out.backward()
    exact_value = float(mp_fn(mpmath.mpf(x)))
    exact_grad = float(mpmath.diff(mp_fn, mpmath.mpf(x)))
    assert close(out.data, exact_value, 1e-300, 1e-14), (out.data, exact_value)
    assert close(v.grad, exact_grad, MP_ATOL, MP_RTOL), ("mpmath", x, v.grad, exact_grad)
    numeric = central_difference(lambda t: fn(Value(t)).data, x)
    assert close(v.grad, numeric, FD_ATOL, FD_RTOL), ("central difference", x, v.grad, numeric)


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_operator_against_oracles(name: str) -> None:
    fn, mp_fn, xs = UNARY[name]

    @SETTINGS
    @given(x=xs)
    def run(x: float) -> None:
        check_unary(fn, mp_fn, x)

    run()


# --- binary operators ---------------------------------------------------------------
BINARY: dict[str, tuple[Callable[[Any, Any], Any], st.SearchStrategy[float], st.SearchStrategy[float]]] = {
    "add": (lambda a, b: a + b, floats(-1e3, 1e3), floats(-1e3, 1e3)),
    "sub": (lambda a, b: a - b, floats(-1e3, 1e3), floats(-1e3, 1e3)),
    "mul": (lambda a, b: a * b, floats(-1e3, 1e3), floats(-1e3, 1e3)),
    "truediv": (lambda a, b: a / b, floats(-1e3, 1e3), floats(-100, 100, away_from_zero=0.1)),
}


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_operator_against_oracles(name: str) -> None:
    op, xs, ys = BINARY[name]

    @SETTINGS
    @given(x=xs, y=ys)
    def run(x: float, y: float) -> None:
        a, b = Value(x), Value(y)
        out = op(a, b)
        out.backward()
        mx, my = mpmath.mpf(x), mpmath.mpf(y)
        assert close(out.data, float(op(mx, my)), 1e-300, 1e-15)
        ga = float(mpmath.diff(op, (mx, my), (1, 0)))
        gb = float(mpmath.diff(op, (mx, my), (0, 1)))
        assert close(a.grad, ga, MP_ATOL, MP_RTOL), (x, y, a.grad, ga)
        assert close(b.grad, gb, MP_ATOL, MP_RTOL), (x, y, b.grad, gb)
        na = central_difference(lambda t: op(Value(t), Value(y)).data, x)
        nb = central_difference(lambda t: op(Value(x), Value(t)).data, y)
        assert close(a.grad, na, FD_ATOL, FD_RTOL), (x, y, a.grad, na)
        assert close(b.grad, nb, FD_ATOL, FD_RTOL), (x, y, b.grad, nb)

    run()


@SETTINGS
@given(x=floats(-10, 10), n=st.integers(-4, 5))
def test_pow_int_exponent(x: float, n: int) -> None:
    assume(n >= 0 or abs(x) >= 0.1)
    check_unary(lambda v: v**n, lambda t: t**n, x)


@SETTINGS
@given(x=floats(0.05, 20), n=floats(-3, 3).filter(lambda n: not float(n).is_integer()))
def test_pow_float_exponent(x: float, n: float) -> None:
    check_unary(lambda v: v**n, lambda t: mpmath.power(t, mpmath.mpf(n)), x)


@SETTINGS
@given(x=floats(-10, 10, away_from_zero=0.1), n=st.sampled_from([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]))
def test_pow_integral_float_exponent_allows_negative_base(x: float, n: float) -> None:
    check_unary(lambda v: v**n, lambda t: t ** int(n), x)


def test_pow_rejects_exponents_that_are_not_numbers_or_values() -> None:
    """A Value exponent is an operator of its own (tests/test_ref_extend.py); anything else is an error."""
    with pytest.raises(TypeError):
        Value(2.0) ** "2"  # type: ignore[operator]
    with pytest.raises(TypeError):
        Value(2.0) ** True


# --- fused n-ary nodes ----------------------------------------------------------------
@SETTINGS
@given(
    ws=st.lists(floats(-10, 10), min_size=1, max_size=8),
    data=st.data(),
)
def test_linear_matches_plain_ops(ws: list[float], data: st.DataObject) -> None:
    xs = data.draw(st.lists(floats(-10, 10), min_size=len(ws), max_size=len(ws)))
    b = data.draw(floats(-10, 10))
    w1, x1, b1 = [Value(w) for w in ws], [Value(x) for x in xs], Value(b)
    w2, x2, b2 = [Value(w) for w in ws], [Value(x) for x in xs], Value(b)
    fused = linear(w1, x1, b1)
    plain = sum((wi * xi for wi, xi in zip(w2, x2, strict=True)), b2)
    assert fused.data == plain.data  # same floats, same order
    (fused * fused).backward()
    (plain * plain).backward()
    for p, q in zip([*w1, *x1, b1], [*w2, *x2, b2], strict=True):
        assert close(p.grad, q.grad, 1e-12, 1e-12)


def test_linear_accepts_plain_numbers_and_repeated_values() -> None:
    w = Value(3.0)
    out = linear([w, w], [2.0, w], Value(1.0))  # 1 + 3*2 + 3*3
    assert out.data == 16.0
    out.backward()
    assert w.grad == 2.0 + 2 * 3.0
    with pytest.raises(ValueError):
        linear([w], [1.0, 2.0], Value(0.0))


def test_sum_values() -> None:
    a, b = Value(1.5), Value(-2.0)
    s = sum_values([a, b, a, 4])
    assert s.data == 5.0
    (s * s).backward()
    assert a.grad == 2 * 2 * 5.0 and b.grad == 2 * 5.0


# --- random expression DAGs with shared nodes ----------------------------------------
class Prims:
    """The primitives, for Values and for mpmath numbers, so one program runs on both."""

    def __init__(self, mp: bool):
        self.mp = mp

    def exp(self, x: Any) -> Any:
        return mpmath.exp(x) if self.mp else x.exp()

    def log(self, x: Any) -> Any:
        return mpmath.log(x) if self.mp else x.log()

    def tanh(self, x: Any) -> Any:
        return mpmath.tanh(x) if self.mp else x.tanh()

    def sigmoid(self, x: Any) -> Any:
        return mp_sigmoid(x) if self.mp else x.sigmoid()

    def relu(self, x: Any) -> Any:
        return mp_relu(x) if self.mp else x.relu()


# op name -> (arity, f(P, a, b)); every op is defined for all real inputs.
DAG_OPS: dict[str, tuple[int, Callable[[Prims, Any, Any], Any]]] = {
    "add": (2, lambda P, a, b: a + b),
    "sub": (2, lambda P, a, b: a - b),
    "mul": (2, lambda P, a, b: a * b),
    "div": (2, lambda P, a, b: a / (b * b + 1)),
    "neg": (1, lambda P, a, b: -a),
    "rsub": (1, lambda P, a, b: 1.5 - a),
    "rdiv": (1, lambda P, a, b: 2 / (1 + a * a)),
    "radd_rmul": (1, lambda P, a, b: 0.5 + 3 * a),
    "powi": (1, lambda P, a, b: a**3),
    "powf": (1, lambda P, a, b: (a * a + 1) ** 0.75),
    "exp": (1, lambda P, a, b: P.exp(P.tanh(a) * 2)),
    "log": (1, lambda P, a, b: P.log(a * a + 0.5)),
    "tanh": (1, lambda P, a, b: P.tanh(a)),
    "sigmoid": (1, lambda P, a, b: P.sigmoid(a)),
    "relu": (1, lambda P, a, b: P.relu(a)),
}


@st.composite
def programs(draw: st.DrawFn) -> tuple[list[float], list[tuple[str, int, int]]]:
    leaves = draw(st.lists(floats(-2, 2), min_size=1, max_size=4))
    steps = []
    for k in range(draw(st.integers(1, 12))):
        pool = len(leaves) + k
        op = draw(st.sampled_from(sorted(DAG_OPS)))
        i = draw(st.integers(0, pool - 1))
        j = draw(st.integers(0, pool - 1))  # often i == j or reuses a node: shared subgraphs
        steps.append((op, i, j))
    return leaves, steps


def run_program(steps: list[tuple[str, int, int]], leaves: list[Any], P: Prims) -> tuple[Any, list[Any]]:
    nodes = list(leaves)
    relu_inputs = []
    for op, i, j in steps:
        if op == "relu":
            relu_inputs.append(nodes[i])
        nodes.append(DAG_OPS[op][1](P, nodes[i], nodes[j]))
    # the output uses the last node and one earlier node, so more of the DAG matters
    return nodes[-1] * 1.25 + nodes[len(nodes) // 2], [*relu_inputs, *nodes]


@settings(derandomize=True, database=None, deadline=None, max_examples=300)
@given(prog=programs())
def test_random_dags_with_shared_nodes(prog: tuple[list[float], list[tuple[str, int, int]]]) -> None:
    xs, steps = prog
    leaves = [Value(x) for x in xs]
    out, intermediates = run_program(steps, leaves, Prims(mp=False))
    # keep away from kinks and from magnitudes where central differences are meaningless
    values = [n.data for n in intermediates]
    assume(all(math.isfinite(v) and abs(v) < 1e4 for v in values))
    relu_inputs = intermediates[: sum(op == "relu" for op, _, _ in steps)]
    assume(all(abs(r.data) > 1e-3 for r in relu_inputs))
    out.backward()

    def f_mp(*args: Any) -> Any:
        return run_program(steps, list(args), Prims(mp=True))[0]

    mx = [mpmath.mpf(x) for x in xs]
    assert close(out.data, float(f_mp(*mx)), 1e-9, 1e-9)
    for k, leaf in enumerate(leaves):
        order = tuple(int(i == k) for i in range(len(xs)))
        exact = float(mpmath.diff(f_mp, tuple(mx), order))
        assert close(leaf.grad, exact, 1e-8, 1e-7), ("mpmath", k, leaf.grad, exact)

        def f_float(t: float, k: int = k) -> float:
            args = [Value(x) for x in xs]
            args[k] = Value(t)
            return run_program(steps, args, Prims(mp=False))[0].data

        numeric = central_difference(f_float, xs[k])
        assert close(leaf.grad, numeric, 1e-4, 1e-3), ("central difference", k, leaf.grad, numeric)


# --- reuse: a node used several times accumulates every contribution ------------------
def test_reuse_accumulates() -> None:
    a = Value(3.0)
    (a * a).backward()
    assert a.grad == 6.0
    b = Value(3.0)
    (b + b).backward()
    assert b.grad == 2.0
    x = Value(-1.25)
    (x + x + x).backward()
    assert x.grad == 3.0
    y = Value(2.0)
    z = y * y  # shared interior node
    (z * z + z).backward()  # y**4 + y**2 -> 4y^3 + 2y
    assert y.grad == 4 * 8.0 + 2 * 2.0


def test_second_backward_accumulates_on_leaves_only() -> None:
    """As documented in Value.backward: leaves accumulate across calls, interior nodes are reset."""
    a = Value(2.0)
    b = a * a
    c = b + 1.0
    c.backward()
    assert (a.grad, b.grad, c.grad) == (4.0, 1.0, 1.0)
    c.backward()
    assert (a.grad, b.grad, c.grad) == (8.0, 1.0, 1.0)
    a.grad = 0.0
    c.backward()
    assert a.grad == 4.0


def test_backward_on_a_leaf_seeds_one() -> None:
    a = Value(5.0)
    a.backward()
    assert a.grad == 1.0


# --- deep graphs ----------------------------------------------------------------------
@contextmanager
def gc_paused() -> Iterator[None]:
    """Building millions of nodes triggers full cycle collections; the test is about backward."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_million_node_chain_backward_at_default_recursion_limit() -> None:
    limit = sys.getrecursionlimit()
    assert limit <= 10_000  # nobody raised it for us
    start = time.perf_counter()
    with gc_paused():
        x = Value(0.5)
        out = x
        for _ in range(500_000):  # each step adds the constant leaf and the sum: 1,000,001 nodes
            out = out + 1.0
        out.backward()
        assert x.grad == 1.0
        assert out.data == 500_000.5
        assert len(topological_order(out)) == 1_000_001
        del out
    assert sys.getrecursionlimit() == limit
    assert time.perf_counter() - start < 30


def test_topological_order_inputs_first_root_last() -> None:
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = topological_order(e)
    assert order[-1] is e
    assert len(order) == len({id(n) for n in order}) == 5
    pos = {id(n): i for i, n in enumerate(order)}
    assert all(pos[id(ch)] < pos[id(n)] for n in order for ch in n._prev)


# --- edge cases (the numerics documented in engine.py) --------------------------------
@pytest.mark.parametrize("x", [1000.0, -1000.0])
def test_tanh_and_sigmoid_saturate_cleanly(x: float) -> None:
    for fn, expected in ((Value.tanh, math.copysign(1.0, x)), (Value.sigmoid, 1.0 if x > 0 else 0.0)):
        v = Value(x)
        out = fn(v)
        out.backward()
        assert out.data == expected
        assert math.isfinite(v.grad) and v.grad == 0.0


def test_exp_overflows_to_inf() -> None:
    v = Value(1000.0)
    out = v.exp()
    assert out.data == math.inf
    out.backward()
    assert v.grad == math.inf
    assert Value(-1000.0).exp().data == 0.0


def test_pow_overflows_to_inf() -> None:
    assert (Value(1e200) ** 2).data == math.inf
    assert (Value(-1e200) ** 3).data == -math.inf
    assert (Value(-1e200) ** 2).data == math.inf


@pytest.mark.parametrize("x", [0.0, -1.0])
def test_log_outside_domain_raises_clear_error(x: float) -> None:
    with pytest.raises(ValueError, match=r"log .*positive.*log\(" + str(x).replace(".", r"\.") + r"\)"):
        Value(x).log()


def test_zero_to_negative_power_raises() -> None:
    with pytest.raises(ZeroDivisionError, match="0.0"):
        Value(0) ** -1
    with pytest.raises(ZeroDivisionError):
        1 / Value(0.0)
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / Value(0.0)


def test_negative_base_fractional_power_raises() -> None:
    with pytest.raises(ValueError, match=r"-8\.0 \*\* 0\.333"):
        Value(-8) ** (1 / 3)


def test_relu_derivative_at_zero_is_zero() -> None:
    v = Value(0.0)
    out = v.relu()
    out.backward()
    assert out.data == 0.0 and v.grad == 0.0


def test_pow_derivative_at_zero() -> None:
    v = Value(0.0)
    (v**2).backward()
    assert v.grad == 0.0
    w = Value(0.0)
    (w**0.5).backward()
    assert w.grad == math.inf  # vertical tangent, not an exception
    u = Value(0.0)
    (u**0).backward()
    assert u.grad == 0.0


def test_repr_and_attributes() -> None:
    a = Value(2, label="a")
    assert isinstance(a.data, float) and a.grad == 0.0 and a._prev == () and a._op == ""
    assert repr(a) == "Value(a=2, grad=0)"
    b = a * 1.5
    assert repr(b) == "Value(3, grad=0, op='*')"
    b.backward()
    assert repr(a) == "Value(a=2, grad=1.5)"
    c = Value(1.0, (a, b), "+", label="c")
    assert c._prev == (a, b) and c._op == "+" and c.label == "c"
