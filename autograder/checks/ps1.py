"""Assignment 1 checks: the local ``_backward`` of every operator.

Each check is a hypothesis property over small expressions built from the one
operator under test: in isolation, with constants on either side, with node
reuse (``a*a``, ``x+x+x``), with non-unit upstream gradients and inputs that
already hold a gradient (so ``=`` instead of ``+=`` is caught), and composed
with itself. The backward pass is driven node by node with ``_backward``, so
a check depends on nothing but the operator it grades. Shapes are listed from
simple to complex so the shrunk counterexample is the simplest one that fails.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.checks import register
from autograder.checks.gradients import SETTINGS, Expr, compare, const


def reals(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


UPSTREAM = st.one_of(st.just(1.0), reals(-4, 4))
INITIAL = st.one_of(st.just(0.0), reals(-2, 2))


def _run(prop: object, examples: int) -> None:
    settings(SETTINGS, max_examples=examples)(prop)()  # type: ignore[operator]


# --- binary operators --------------------------------------------------------
BINARY_SHAPES = ["a op b", "a op 2", "2 op a", "a op a", "(a op b) op c", "(x op x) op x"]


def binary_check(op: str, values: st.SearchStrategy[float], examples: int = 60):
    def check(engine) -> None:
        @given(
            shape=st.sampled_from(BINARY_SHAPES),
            a=values, b=values, c=values,
            k=st.sampled_from([2.0, -1.5, 0.5, 3.0]),
            g=UPSTREAM, g0=INITIAL,
        )
        def prop(shape, a, b, c, k, g, g0):
            e = Expr()
            if shape == "a op b":
                x, y = e.leaf("a", a), e.leaf("b", b)
                e.op(op, x, y)
            elif shape == "a op 2":
                x = e.leaf("a", a)
                e.op(op, x, const(k))
            elif shape == "2 op a":
                x = e.leaf("a", a)
                e.op(op, const(k), x)
            elif shape == "a op a":
                x = e.leaf("a", a)
                e.op(op, x, x)
            elif shape == "(a op b) op c":
                x, y, z = e.leaf("a", a), e.leaf("b", b), e.leaf("c", c)
                e.op(op, e.op(op, x, y), z)
            else:
                x = e.leaf("x", a)
                e.op(op, e.op(op, x, x), x)
            compare(engine, e, upstream=g, initial_grads={0: g0} if g0 else None)

        _run(prop, examples)

    return check


# --- unary operators ---------------------------------------------------------
UNARY_SHAPES = ["f(a)", "f(f(a))"]


def unary_check(op: str, values: st.SearchStrategy[float], edges: list[float] = (), examples: int = 50,
                nested: st.SearchStrategy[float] | None = None):
    """``nested`` is the domain for f(f(a)) where f's range leaves the domain (log)."""

    def check(engine) -> None:
        @given(shape=st.sampled_from(UNARY_SHAPES), a=values, aa=values if nested is None else nested,
               g=UPSTREAM, g0=INITIAL)
        def prop(shape, a, aa, g, g0):
            e = Expr()
            if shape == "f(a)":
                e.op(op, e.leaf("a", a))
            else:
                e.op(op, e.op(op, e.leaf("a", aa)))
            compare(engine, e, upstream=g, initial_grads={0: g0} if g0 else None)

        _run(prop, examples)
        for x in edges:  # the edges, on their own, against the reference only
            e = Expr()
            e.op(op, e.leaf("a", x))
            compare(engine, e, upstream=1.5, use_fd=False, what=f"{op}(a) at the edge")

    return check


def pow_check(engine) -> None:
    exponents = st.sampled_from([2, 3, 1, 0, -1, 0.5, -2, 1.5, 2.5, -0.5])

    @given(shape=st.sampled_from(["a ** n", "(a ** n) ** m"]), n=exponents, m=exponents,
           mag=reals(0.2, 3.0), negative=st.booleans(), g=UPSTREAM, g0=INITIAL)
    def prop(shape, n, m, mag, negative, g, g0):
        integral = float(n).is_integer() and (shape == "a ** n" or float(m).is_integer())
        a = -mag if (negative and integral) else mag
        e = Expr()
        inner = e.op("pow", e.leaf("a", a), const(n))
        if shape == "(a ** n) ** m":
            e.op("pow", inner, const(m))
        compare(engine, e, upstream=g, initial_grads={0: g0} if g0 else None)

    _run(prop, 60)


register("ps1.add", "addition a + b")(binary_check("add", reals(-10, 10)))
register("ps1.mul", "multiplication a * b")(binary_check("mul", reals(-5, 5)))
register("ps1.pow", "power a ** n")(pow_check)
register("ps1.exp", "exp(a)")(unary_check("exp", reals(-5, 5), edges=[-700.0, 1000.0], nested=reals(-3, 1.5)))
register("ps1.log", "log(a)")(unary_check("log", reals(0.01, 100), nested=reals(1.5, 100)))
register("ps1.tanh", "tanh(a)")(unary_check("tanh", reals(-5, 5), edges=[1000.0, -1000.0, 20.0]))
register("ps1.relu", "relu(a)")(
    unary_check("relu", st.one_of(reals(-5, -1e-3), reals(1e-3, 5)), edges=[0.0, -0.0])
)
register("ps1.sigmoid", "sigmoid(a)")(unary_check("sigmoid", reals(-10, 10), edges=[1000.0, -1000.0, 40.0]))
