"""gradcheck: check your gradients numerically, in the notebook, on any expression.

This helper ships with the assignment. It holds no reference solution: it only
compares the gradients your ``Value`` computes with central differences of your
own forward pass, and explains what went wrong in words you can act on.

    check_gradients(lambda a, b: a * b, [2.0, -3.0])            # one operator, its _backward only
    check_gradients(lambda a, b: (a * b).tanh(), [1.0, 2.0], full=True)   # a whole expression, backward()

The graded (hidden) checks run the same idea much harder, with hypothesis,
against a reference engine, in the grader, not in your notebook.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

__all__ = ["GradientCheckError", "check_gradients", "numerical_derivative", "check"]


class GradientCheckError(AssertionError):
    """A gradient differs from its numerical estimate (or is not implemented yet)."""


def _value_class(value_cls):
    if value_cls is not None:
        return value_cls
    import __main__

    try:
        return __main__.Value
    except AttributeError:
        raise GradientCheckError("no class named Value is defined yet: run the cells above first") from None


def numerical_derivative(f: Callable[..., float], xs: Sequence[float], i: int, h: float | None = None) -> float:
    """Central difference (f(x+h) - f(x-h)) / 2h of a float function along input ``i``."""
    h = h if h is not None else 1e-6 * max(1.0, abs(xs[i]))
    up, down = list(xs), list(xs)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


def check_gradients(
    f: Callable,
    inputs: Sequence[float],
    *,
    upstream: float = 1.5,
    full: bool = False,
    names: str = "abcdefgh",
    atol: float = 1e-5,
    rtol: float = 1e-3,
    value_cls: type | None = None,
) -> None:
    """Compare the gradients of ``f(*Values)`` with central differences; raise if they differ.

    By default only the last operation's ``_backward`` runs (``full=False``), with
    ``out.grad = upstream``: that tests one operator on its own, so ``f`` should be
    a single operation on its inputs (``a * b``, ``a ** 3``, ``a.tanh()``, ``a * a``).
    With ``full=True`` the whole expression is backpropagated with ``out.backward()``.
    """
    Value = _value_class(value_cls)
    values = [Value(x) for x in inputs]
    for v, name in zip(values, names, strict=False):
        v.label = name
    out = f(*values)
    where = ", ".join(f"{n} = {x!r}" for n, x in zip(names, inputs, strict=False))
    try:
        if full:
            out.backward()
            seed = 1.0
        else:
            out.grad = upstream
            out._backward()
            seed = upstream
    except NotImplementedError:
        raise GradientCheckError(
            f"not implemented yet: the _backward of {out._op or 'this operation'!r} raises "
            "NotImplementedError. Replace `raise NotImplementedError()` with your code."
        ) from None

    def forward(*xs: float) -> float:
        return f(*[Value(x) for x in xs]).data

    for i, (v, name) in enumerate(zip(values, names, strict=False)):
        expected = seed * numerical_derivative(forward, inputs, i)
        got = v.grad
        ok = math.isfinite(got) and abs(got - expected) <= atol + rtol * abs(expected)
        if not ok:
            how = "backward()" if full else f"out._backward() with out.grad = {upstream!r}"
            raise GradientCheckError(
                f"wrong gradient at {where} after {how}: your {name}.grad = {got!r}, "
                f"but the numerical estimate is {expected:.6g}"
            )
    print(f"ok: gradients match at {where}")


def check(check_id: str) -> None:
    """Stands for a hidden check; the real one runs in the trusted grader, never in this kernel.

    If you see this error, the notebook was graded without zengrad-kit's
    trusted grader; ask your instructor.
    """
    raise RuntimeError(
        f"hidden check {check_id!r} is scored by the trusted grader (zengrad-kit), not in the notebook"
    )
