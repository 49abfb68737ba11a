"""The reference scalar autograd engine.

Read it like micrograd's ``engine.py``: every operator builds its output node
and, right next to the forward formula, a short ``_backward`` closure that
applies the local derivative (chain rule) and *accumulates* (``+=``) into its
inputs, so a node used twice receives both contributions.

Numerics (documented because hidden checks rely on them):

* overflow follows IEEE 754 like PyTorch: ``exp(1000)`` and ``1e200 ** 2`` give
  ``inf`` instead of raising ``OverflowError`` from inside a formula;
* ``tanh`` and ``sigmoid`` saturate cleanly at +-1000 (no overflow, no NaN);
* ``log(x)`` for ``x <= 0``, ``0 ** negative`` and ``negative ** fractional``
  raise a ``ValueError``/``ZeroDivisionError`` that names the offending input;
* ``a ** b`` with a ``Value`` exponent (or ``2 ** b``) is defined for a base
  ``> 0`` only (its gradient in ``b`` is ``a ** b * log(a)``); any other base
  raises a ``ValueError`` that names it, when the node is made;
* ``softplus`` and ``gelu`` (the tanh approximation) are finite, with finite
  gradients, at +-1000;
* ``relu'(0) = 0`` (PyTorch's convention).
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

_EXP_MAX = 709.782712893384  # math.log(sys.float_info.max)
_GELU_K = math.sqrt(2.0 / math.pi)  # GELU, tanh approximation (Hendrycks & Gimpel)
_GELU_C = 0.044715


def _exp(x: float) -> float:
    """exp that saturates to inf instead of raising OverflowError."""
    return math.inf if x > _EXP_MAX else math.exp(x)


def _power(x: float, n: float) -> float:
    """x ** n for floats, with clear errors and IEEE overflow."""
    if x == 0.0 and n < 0:
        raise ZeroDivisionError(f"0.0 ** {n!r} is undefined (division by zero)")
    if x < 0 and not float(n).is_integer():
        raise ValueError(f"{x!r} ** {n!r} is not a real number (negative base, fractional exponent)")
    try:
        return x**n
    except OverflowError:
        odd = float(n).is_integer() and int(n) % 2 == 1
        return -math.inf if (x < 0 and odd) else math.inf


def _pow_derivative(x: float, n: float) -> float:
    """d/dx x**n = n * x**(n-1); infinite (not an error) where x**n has a vertical tangent."""
    if n == 0:
        return 0.0
    if x == 0.0 and n - 1 < 0:
        return math.inf
    return n * _power(x, n - 1)


class Value:
    """A scalar node of the computation graph: its value, its gradient and how it was made."""

    __slots__ = ("data", "grad", "_prev", "_op", "_backward", "label")

    def __init__(self, data: float, _children: Iterable[Value] = (), _op: str = "", label: str = ""):
        self.data = float(data)
        self.grad = 0.0
        self._prev = tuple(_children)  # the inputs this node was computed from
        self._op = _op  # the operator that produced it, for draw_dot and debugging
        self._backward = _noop
        self.label = label

    def __repr__(self) -> str:
        name = f"{self.label}=" if self.label else ""
        op = f", op={self._op!r}" if self._op else ""
        return f"Value({name}{self.data:.6g}, grad={self.grad:.6g}{op})"

    # --- binary operators ---------------------------------------------------
    def __add__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, n: Value | float) -> Value:
        if isinstance(n, Value):
            return self._pow_value(n)
        if isinstance(n, bool) or not isinstance(n, (int, float)):
            raise TypeError(f"Value ** {type(n).__name__}: the exponent must be a Value, an int or a float")
        out = Value(_power(self.data, n), (self,), f"**{n}")

        def _backward() -> None:
            self.grad += _pow_derivative(self.data, n) * out.grad

        out._backward = _backward
        return out

    def _pow_value(self, other: Value) -> Value:
        """``self ** other`` with a Value exponent: a function of both, defined for ``self.data > 0``."""
        if not self.data > 0:
            raise ValueError(f"a ** b with a Value exponent needs a base > 0, got a = {self.data!r}")
        out = Value(_power(self.data, other.data), (self, other), "**")

        def _backward() -> None:
            self.grad += _pow_derivative(self.data, other.data) * out.grad
            other.grad += out.data * math.log(self.data) * out.grad

        out._backward = _backward
        return out

    def __rpow__(self, other: float) -> Value:
        """``2 ** b``: a constant base, a Value exponent."""
        if isinstance(other, bool) or not isinstance(other, (int, float)):
            return NotImplemented
        return Value(other)._pow_value(self)

    # --- unary functions ----------------------------------------------------
    def exp(self) -> Value:
        out = Value(_exp(self.data), (self,), "exp")

        def _backward() -> None:
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"log is only defined for positive numbers, got log({self.data!r})")
        out = Value(math.log(self.data), (self,), "log")

        def _backward() -> None:
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward() -> None:
            self.grad += (1.0 - t * t) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward() -> None:
            self.grad += (self.data > 0) * out.grad

        out._backward = _backward
        return out

    def sigmoid(self) -> Value:
        x = self.data
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:  # exp(-x) would overflow for very negative x
            e = math.exp(x)
            s = e / (1.0 + e)
        out = Value(s, (self,), "sigmoid")

        def _backward() -> None:
            self.grad += s * (1.0 - s) * out.grad

        out._backward = _backward
        return out

    def softplus(self) -> Value:
        """``log(1 + exp(x))``, written so that nothing overflows: ``max(x, 0) + log1p(exp(-|x|))``."""
        x = self.data
        out = Value(max(x, 0.0) + math.log1p(math.exp(-abs(x))), (self,), "softplus")

        def _backward() -> None:  # softplus'(x) = sigmoid(x), in its overflow-free form
            s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
            self.grad += s * out.grad

        out._backward = _backward
        return out

    def gelu(self) -> Value:
        """GELU, tanh approximation: ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x**3)))``."""
        x = self.data
        t = math.tanh(_GELU_K * (x + _GELU_C * x * x * x))
        out = Value(0.5 * x * (1.0 + t), (self,), "gelu")

        def _backward() -> None:
            du = _GELU_K * (1.0 + 3.0 * _GELU_C * x * x)
            self.grad += (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du) * out.grad

        out._backward = _backward
        return out

    # --- operators built from the ones above --------------------------------
    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Value | float) -> Value:
        return self + (-other)

    def __truediv__(self, other: Value | float) -> Value:
        return self * other**-1

    def __radd__(self, other: float) -> Value:
        return self + other

    def __rmul__(self, other: float) -> Value:
        return self * other

    def __rsub__(self, other: float) -> Value:
        return Value(other) + (-self)

    def __rtruediv__(self, other: float) -> Value:
        return Value(other) * self**-1

    # --- backpropagation ----------------------------------------------------
    def backward(self) -> None:
        """Fill ``grad`` of every node this one depends on with d(self)/d(node).

        The topological order is built with an explicit stack, so graph depth is
        not limited by Python's recursion limit. The root is seeded with 1.0.
        Python's cycle collector is paused meanwhile: the pass creates no garbage
        cycles, and on a graph of millions of nodes the collections it would
        trigger (each walking the whole graph) cost more than the pass itself.

        A second ``backward()`` (without zeroing) adds the same gradient to the
        leaves again, as PyTorch does: interior nodes are reset to 0.0 before
        each pass, so only leaves accumulate across calls.
        """
        with _cycle_collector_paused():
            topo = topological_order(self)
            for node in topo:
                if node._prev:
                    node.grad = 0.0
            self.grad = 1.0
            for node in reversed(topo):
                node._backward()


# --- n-ary operators (one node instead of a chain of + and *) ----------------
def linear(weights: Sequence[Value], inputs: Sequence[Value | float], bias: Value) -> Value:
    """``bias + w0*x0 + w1*x1 + ...`` as a single node: a neuron's pre-activation.

    Same floats, same summation order as micrograd's
    ``sum((wi*xi for wi, xi in zip(w, x)), b)``, but one node and one closure per
    neuron instead of ``2*nin``, which is what makes training several times faster.
    Plain numbers in ``inputs`` become leaf constants, as in ``w * 2.0``.
    """
    xs = [x if isinstance(x, Value) else Value(x) for x in inputs]
    data = bias.data
    for w, x in zip(weights, xs, strict=True):
        data += w.data * x.data
    out = Value(data, (*weights, *xs, bias), "linear")

    def _backward() -> None:
        g = out.grad
        for w, x in zip(weights, xs, strict=True):
            w.grad += x.data * g
            x.grad += w.data * g
        bias.grad += g

    out._backward = _backward
    return out


def sum_values(values: Iterable[Value | float]) -> Value:
    """``v0 + v1 + ...`` as a single node (Python's ``sum`` order, starting from 0).

    Use it for losses over a data set: ``sum(losses)`` would build a chain of
    ``len(losses)`` addition nodes.
    """
    vs = [v if isinstance(v, Value) else Value(v) for v in values]
    data = 0.0
    for v in vs:
        data += v.data
    out = Value(data, vs, "sum")

    def _backward() -> None:
        g = out.grad
        for v in vs:
            v.grad += g

    out._backward = _backward
    return out


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Disable the cyclic garbage collector inside the block (restored even on error)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _noop() -> None:
    """The backward of a leaf: nothing to propagate."""


def topological_order(root: Value) -> list[Value]:
    """Every node reachable from ``root`` once, inputs before outputs, ``root`` last.

    Iterative depth-first post-order (no recursion, so a million-node chain is
    fine): each stack entry is a node and an iterator over its remaining inputs;
    a node is emitted once that iterator is exhausted. Leaves are emitted as soon
    as they are seen, which saves a stack entry for half the nodes of a chain.
    """
    order: list[Value] = []
    visited: set[Value] = {root}  # Value has no __eq__, so this is identity-based
    stack: list[tuple[Value, Iterator[Value]]] = [(root, iter(root._prev))]
    while stack:
        node, inputs = stack[-1]
        for child in inputs:
            if child not in visited:
                visited.add(child)
                if child._prev:
                    stack.append((child, iter(child._prev)))
                    break  # finish the child's inputs first
                order.append(child)  # a leaf: nothing to wait for
        else:  # all inputs emitted
            stack.pop()
            order.append(node)
    return order
