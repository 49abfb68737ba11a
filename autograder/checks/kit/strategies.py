"""The hypothesis strategies every check draws from: bounded reals, gradients, and small graphs."""

from __future__ import annotations

from hypothesis import strategies as st

from autograder.checks.kit.graph import Graph
from autograder.checks.kit.operators import engine_names, operator
from autograder.checks.kit.program import const

__all__ = ["INITIAL", "LABELS", "NUMBERS", "SCORES", "SEEDS", "UPSTREAM", "dags", "numbers", "reals"]


def reals(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Finite floats in [lo, hi], without NaN, infinities or subnormals."""
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


NUMBERS = reals(-2.0, 2.0)  # weights, biases, inputs, parameter data and grads
SCORES = reals(-3.0, 3.0)
LABELS = st.sampled_from([1, -1])
SEEDS = st.integers(0, 2**16)  # seeded weights where a message need not show them
UPSTREAM = st.one_of(st.just(1.0), reals(-4, 4))  # out.grad before a local _backward
INITIAL = st.one_of(st.just(0.0), reals(-2, 2))  # the grad an input already holds


def numbers(n: int, values: st.SearchStrategy[float] = NUMBERS) -> st.SearchStrategy[list[float]]:
    return st.lists(values, min_size=n, max_size=n)


LEAF_VALUES = st.sampled_from([1.0, 2.0, -1.5, 0.5, -0.75, 3.0])
DAG_CONSTANTS = st.sampled_from([2.0, -1.0, 0.5, 3.0])
DAG_EXPONENTS = st.sampled_from([2, 3, -1, 0.5])
DAG_INITIAL = st.sampled_from([0.0, 1.5, -2.0])


@st.composite
def dags(draw: st.DrawFn, max_leaves: int = 3, max_ops: int = 8, grads: bool = False) -> Graph:
    """Small DAGs with shared nodes: every operation picks its inputs among all the nodes made so far.

    Every operator appears, constants on either side, ``a + a`` included. Shrinking goes
    towards ``+``, the most recent node and the first leaf value, so a failing graph shrinks to
    something like ``a = Value(1.0); n1 = a + a; out = n1 + n1``. An operation that would leave
    its domain (``log`` of a negative, a huge ``exp``) becomes ``tanh``, defined everywhere.
    With ``grads`` some leaves already hold a gradient (``Graph.initial``).
    """
    g, values = Graph(), []
    for _ in range(draw(st.integers(1, max_leaves))):
        values.append(draw(LEAF_VALUES))
        leaf = g.leaf(values[-1])
        if grads and (g0 := draw(DAG_INITIAL)):
            g.initial[leaf] = g0

    def pick() -> int:  # shrinks towards the most recent node
        return len(g.nodes) - 1 - draw(st.integers(0, len(g.nodes) - 1))

    for _ in range(draw(st.integers(1, max_ops))):
        name = draw(st.sampled_from(engine_names()))
        x = pick()
        if name in ("add", "sub", "mul", "truediv"):
            form = draw(st.sampled_from(["node op node", "node op const", "const op node"]))
            if form == "node op node":
                args: tuple = (x, pick())
            elif form == "node op const":
                args = (x, const(draw(DAG_CONSTANTS)))
            else:
                args = (const(draw(DAG_CONSTANTS)), x)
        elif name == "pow":
            args = (x, const(draw(DAG_EXPONENTS)))
        else:
            args = (x,)
        value = operator(name).safe_value([a["const"] if isinstance(a, dict) else values[a] for a in args])
        if value is None:
            name, args, value = "tanh", (x,), operator("tanh").safe_value([values[x]])
        g.op(name, *args)
        values.append(value)
    return g
