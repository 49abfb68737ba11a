"""The one operator table of the checks: every operator a check can put in a graph, registered once.

An :class:`Operator` says how the operator is written (``a + b``, ``-a``, ``a.tanh()``), whether
it has a ``_backward`` of its own in the notebooks (*primitive*) or is built from primitives,
its value on plain floats, where that value is safe to generate (finite, well-conditioned),
and, for a one-input operator, its local derivative. From these the kit derives everything
else: the words of messages (:class:`~autograder.checks.kit.graph.Graph`), the random graphs of
``strategies.dags``, the domain filter, the "derivative at the wrong point" hint and the
forward operations the source scan looks for.

The engine's operators (every assignment's ``Value`` has them) are registered here; an
assignment that adds operators registers each in one line, in its own module, e.g. in
``checks/ps4/operators.py``::

    register_operator(reference_operator("softplus"))

(the ``Value`` method of that name is what the student writes; :func:`reference_operator` takes
its value and derivative from ``zengrad_ref.Value``'s method of that name, so nothing is retyped).

Applying an operator to Values is the interpreter's business (``interpreter.apply``): Python's
operator syntax there is a closed table; every other operator is a method of the same name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Operator:
    """One operator of a zengrad graph."""

    name: str  # the instruction's name: "add", ..., or the method's name ("tanh")
    value: Callable[..., float]  # its value on plain floats
    symbol: str | None = None  # "+", "-", ...: written ``a + b`` (``-a`` for neg); None: a method, ``a.name()``
    primitive: bool = True  # has a _backward of its own in the notebooks (else built from primitives)
    domain: Callable[..., bool] = lambda *xs: True  # where its value and derivative are safe to generate
    derivative: Callable[[float], float] | None = None  # a one-input operator's local derivative

    @property
    def form(self) -> str:
        """How it is written: "binary" (``a + b``), "prefix" (``-a``, the one prefix operator) or "method"."""
        if self.symbol is None:
            return "method"
        return "prefix" if self.name == "neg" else "binary"

    def safe_value(self, xs: list[float]) -> float | None:
        """The value on ``xs``, or None where it (or its derivative) leaves the safe domain: a value that
        is not finite or over 1e3 in size, or inputs outside :attr:`domain`."""
        try:
            if not self.domain(*xs):
                return None
            v = self.value(*xs)
        except (OverflowError, ZeroDivisionError, ValueError):
            return None
        return v if math.isfinite(v) and abs(v) <= 1e3 else None


OPERATORS: dict[str, Operator] = {}


def register(op: Operator) -> Operator:
    """Add ``op`` to the table; a name is registered once (the same definition again is a no-op)."""
    known = OPERATORS.get(op.name)
    if known is not None and known != op:
        raise ValueError(f"operator {op.name!r} is registered already, differently")
    OPERATORS[op.name] = op
    return op


def operator(name: str) -> Operator:
    """The registered operator ``name``."""
    try:
        return OPERATORS[name]
    except KeyError:
        raise ValueError(f"unknown operator {name}") from None


def sigmoid(x: float) -> float:
    """The logistic function, in its overflow-free form."""
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def _pow_domain(x: float, n: float) -> bool:
    return not ((n < 0 and abs(x) < 0.05) or (not float(n).is_integer() and x < 0.05))


# The engine's operators (assignment 1), in the order random graphs draw them: primitives first.
ENGINE: tuple[Operator, ...] = tuple(register(op) for op in (
    Operator("add", lambda x, y: x + y, "+"),
    Operator("mul", lambda x, y: x * y, "*"),
    Operator("pow", lambda x, n: x ** n, "**", domain=_pow_domain),
    Operator("exp", math.exp, domain=lambda x: x < 5, derivative=math.exp),
    Operator("log", math.log, domain=lambda x: x >= 0.05, derivative=lambda x: 1 / x),
    Operator("tanh", math.tanh, derivative=lambda x: 1 - math.tanh(x) ** 2),
    Operator("relu", lambda x: max(0.0, x), derivative=lambda x: float(x > 0)),
    Operator("sigmoid", sigmoid, derivative=lambda x: sigmoid(x) * (1 - sigmoid(x))),
    Operator("sub", lambda x, y: x - y, "-", primitive=False),
    Operator("truediv", lambda x, y: x / y, "/", primitive=False, domain=lambda x, y: abs(y) >= 0.05),
    Operator("neg", lambda x: -x, "-", primitive=False),
))


def reference_operator(name: str, **facts: Any) -> Operator:
    """A one-input method operator whose value and local derivative are ``zengrad_ref.Value``'s own
    (its forward pass and its ``_backward`` with ``out.grad = 1``); ``facts``: the other fields."""
    import zengrad_ref

    def value(x: float) -> float:
        return getattr(zengrad_ref.Value(x), name)().data

    def derivative(x: float) -> float:
        a = zengrad_ref.Value(x)
        out = getattr(a, name)()
        out.grad = 1.0
        out._backward()
        return a.grad

    return Operator(name, value, derivative=derivative, **facts)


def formula_operator(name: str, value: Callable[[float], float], derivative: Callable[[float], float],
                     **facts: Any) -> Operator:
    """A one-input method operator given by its formulas, for an operator ``zengrad_ref`` does not have.

    The reference engine of the checks must know every operator a graph uses. When
    ``zengrad_ref.Value`` has no method ``name``, it gets one, in the grader's process only, built
    from these formulas the way every ``zengrad_ref`` operator is (the forward value, and a
    ``_backward`` that adds ``derivative(x) * out.grad`` to the input's gradient). The checks still
    compare with central differences of ``value``, an independent oracle of ``derivative``. A method
    ``zengrad_ref`` already has is left alone; for a lasting operator, add it to ``zengrad_ref`` with
    its tests, and use :func:`reference_operator`.
    """
    import zengrad_ref

    if not hasattr(zengrad_ref.Value, name):
        def method(self: Any) -> Any:
            out = zengrad_ref.Value(value(self.data), (self,), name)

            def _backward() -> None:
                self.grad += derivative(self.data) * out.grad

            out._backward = _backward
            return out

        method.__name__ = name
        setattr(zengrad_ref.Value, name, method)
    return Operator(name, value, derivative=derivative, **facts)


def engine_names() -> tuple[str, ...]:
    """The names of the engine's operators, in table order."""
    return tuple(op.name for op in ENGINE)


def forward_calls() -> set[str]:
    """What a ``_backward`` calls when it recomputes the engine's forward pass: ``.tanh()``, ``.__add__()``, ..."""
    return {op.name if op.form == "method" else f"__{op.name}__" for op in ENGINE if op.form != "prefix"}
