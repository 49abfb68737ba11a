"""Assignment 1 checks: the local ``_backward`` of every operator.

Each check is a hypothesis property over small graphs built from the one operator under
test: in isolation, with constants on either side, with a reused input (``a * a``,
``x + x + x``), with a non-unit upstream gradient and inputs that already hold a gradient (so
``=`` instead of ``+=`` is caught), and composed with itself. The backward pass is driven node
by node with ``_backward``, so a check depends on nothing but the operator it grades. Shapes
are listed from simple to complex, so the shrunk counterexample is the simplest that fails.
Edges (relu at ±0, tanh and sigmoid at ±1000, exp at -700 and 1000) run on their own, against
the reference only (finite differences mean nothing there).
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import strategies as st

from autograder.checks import register
from autograder.checks.kit import Engine, Graph, compare, const, run_property
from autograder.checks.kit.generic import unary_check
from autograder.checks.kit.strategies import INITIAL, UPSTREAM, reals

BINARY_SHAPES = ["a op b", "a op 2", "2 op a", "a op a", "(a op b) op c", "(x op x) op x"]


def binary(op: str, shape: str, a: float, b: float, c: float, k: float) -> Graph:
    """One of the BINARY_SHAPES with ``op`` (k: the constant of ``a op 2`` and ``2 op a``)."""
    g = Graph()
    if shape == "a op b":
        g.op(op, g.leaf(a, "a"), g.leaf(b, "b"))
    elif shape == "a op 2":
        g.op(op, g.leaf(a, "a"), const(k))
    elif shape == "2 op a":
        g.op(op, const(k), g.leaf(a, "a"))
    elif shape == "a op a":
        x = g.leaf(a, "a")
        g.op(op, x, x)
    elif shape == "(a op b) op c":
        x, y, z = g.leaf(a, "a"), g.leaf(b, "b"), g.leaf(c, "c")
        g.op(op, g.op(op, x, y), z)
    else:
        x = g.leaf(a, "x")
        g.op(op, g.op(op, x, x), x)
    return g


def binary_check(op: str, values: st.SearchStrategy[float], examples: int = 60) -> Callable[[Engine], None]:
    def check(engine: Engine) -> None:
        def prop(shape: str, a: float, b: float, c: float, k: float, g: float, g0: float) -> None:
            graph = binary(op, shape, a, b, c, k)
            if g0:
                graph.initial = {0: g0}
            compare(engine, graph, upstream=g)

        run_property(f"ps1.{op}", prop, examples, shape=st.sampled_from(BINARY_SHAPES), a=values, b=values,
                     c=values, k=st.sampled_from([2.0, -1.5, 0.5, 3.0]), g=UPSTREAM, g0=INITIAL)

    return check


def pow_check(engine: Engine) -> None:
    exponents = st.sampled_from([2, 3, 1, 0, -1, 0.5, -2, 1.5, 2.5, -0.5])

    def prop(shape: str, n: float, m: float, mag: float, negative: bool, g: float, g0: float) -> None:
        integral = float(n).is_integer() and (shape == "a ** n" or float(m).is_integer())
        graph = Graph()
        inner = graph.op("pow", graph.leaf(-mag if (negative and integral) else mag, "a"), const(n))
        if shape == "(a ** n) ** m":
            graph.op("pow", inner, const(m))
        if g0:
            graph.initial = {0: g0}
        compare(engine, graph, upstream=g)

    run_property("ps1.pow", prop, 60, shape=st.sampled_from(["a ** n", "(a ** n) ** m"]), n=exponents, m=exponents,
                 mag=reals(0.2, 3.0), negative=st.booleans(), g=UPSTREAM, g0=INITIAL)


register("ps1.add", "addition a + b")(binary_check("add", reals(-10, 10)))
register("ps1.mul", "multiplication a * b")(binary_check("mul", reals(-5, 5)))
register("ps1.pow", "power a ** n")(pow_check)
register("ps1.exp", "exp(a)")(unary_check("ps1", "exp", reals(-5, 5), edges=[-700.0, 1000.0],
                                          nested=reals(-3, 1.5)))
register("ps1.log", "log(a)")(unary_check("ps1", "log", reals(0.01, 100), nested=reals(1.5, 100)))
register("ps1.tanh", "tanh(a)")(unary_check("ps1", "tanh", reals(-5, 5), edges=[1000.0, -1000.0, 20.0]))
register("ps1.relu", "relu(a)")(unary_check("ps1", "relu", st.one_of(reals(-5, -1e-3), reals(1e-3, 5)),
                                            edges=[0.0, -0.0]))
register("ps1.sigmoid", "sigmoid(a)")(unary_check("ps1", "sigmoid", reals(-10, 10), edges=[1000.0, -1000.0, 40.0]))
