"""The one graph type of the checks: a small DAG of zengrad operations, and what a check derives from it.

A :class:`Graph` is a list of nodes, leaves first or interleaved, each operation over earlier
nodes or constants (the operators of ``kit/operators.py``). From it a check gets:

* a program that builds it in an engine (:meth:`Graph.build`), and one that backpropagates
  through it, node by node with ``_backward`` or with ``backward()`` (:meth:`Graph.gradients`);
* the words to show it: a formula (``tanh(a * b)``) or statements
  (``a = Value(1.0); n1 = a + a; out = n1 + n1``) with the names the student reads;
* its values and central-difference derivatives, computed here by ``zengrad_ref``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autograder.checks.kit.compare import fmt
from autograder.checks.kit.interpreter import apply
from autograder.checks.kit.operators import operator
from autograder.checks.kit.program import Operand, Program


@dataclass(frozen=True)
class Node:
    op: str  # "leaf" or a registered operator (kit/operators.py)
    args: tuple[Operand, ...] = ()  # node indices or {"const": x}
    value: float = 0.0  # a leaf's value
    name: str | None = None  # a leaf's name, if the check chose one


@dataclass
class Graph:
    """A DAG of zengrad operations; ``initial`` are gradients some nodes hold before backpropagation."""

    nodes: list[Node] = field(default_factory=list)
    initial: dict[int, float] = field(default_factory=dict)

    # -- building ----------------------------------------------------------------------------
    def leaf(self, value: float, name: str | None = None) -> int:
        self.nodes.append(Node("leaf", value=float(value), name=name))
        return len(self.nodes) - 1

    def op(self, name: str, *args: Operand) -> int:
        operator(name)  # raises for an operator nobody registered
        self.nodes.append(Node(name, tuple(args)))
        return len(self.nodes) - 1

    # -- structure ---------------------------------------------------------------------------
    @property
    def root(self) -> int:
        return len(self.nodes) - 1

    def is_leaf(self, i: int) -> bool:
        return self.nodes[i].op == "leaf"

    def inputs(self, i: int) -> list[int]:
        return [a for a in self.nodes[i].args if not isinstance(a, dict)]

    def leaves(self) -> list[int]:
        return [i for i in range(len(self.nodes)) if self.is_leaf(i)]

    def reachable(self) -> set[int]:
        """The nodes the root depends on (itself included)."""
        seen, stack = {self.root}, [self.root]
        while stack:
            for j in self.inputs(stack.pop()):
                if j not in seen:
                    seen.add(j)
                    stack.append(j)
        return seen

    def topo(self) -> list[int]:
        """The reachable nodes, inputs first (indices are already topological)."""
        return sorted(self.reachable())

    def primitive_only(self) -> bool:
        return all(operator(n.op).primitive for n in self.nodes if n.op != "leaf")

    # -- words ---------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Leaves by their names (a, b, c, ... unless chosen), operations n1, n2, ..., the root ``out``."""
        taken = {n.name for n in self.nodes if n.name}
        letters = (chr(c) for c in range(ord("a"), ord("z") + 1) if chr(c) not in taken)
        out, ops = [], 0
        for i, node in enumerate(self.nodes):
            if node.op == "leaf":
                out.append(node.name or next(letters, f"x{i}"))
            else:
                ops += 1
                out.append("out" if i == self.root else f"n{ops}")
        return out

    def _operand(self, a: Operand, names: list[str], nested: bool) -> str:
        if isinstance(a, dict):
            return fmt(a["const"])
        if nested and not self.is_leaf(a):
            inner = self.formula(a)
            return inner if operator(self.nodes[a].op).form == "method" else f"({inner})"
        return names[a]

    def formula(self, i: int | None = None) -> str:
        """Node ``i`` (default: the root) as one expression over the leaves: ``tanh(a * b)``."""
        i = self.root if i is None else i
        names, node = self.names(), self.nodes[i]
        if node.op == "leaf":
            return names[i]
        op, args = operator(node.op), [self._operand(a, names, True) for a in node.args]
        if op.form == "binary":
            return f"{args[0]} {op.symbol} {args[1]}"
        if op.form == "prefix":
            return f"-{args[0]}"
        return f"{node.op}({args[0]})"

    def statement(self, i: int, names: list[str] | None = None) -> str:
        """Node ``i`` as the line a student would write: ``n1 = a + a``, ``a = Value(1.0)``."""
        names = names or self.names()
        node = self.nodes[i]
        if node.op == "leaf":
            return f"{names[i]} = Value({fmt(node.value)})"
        op, args = operator(node.op), [self._operand(a, names, False) for a in node.args]
        if op.form == "binary":
            expr = f"{args[0]} {op.symbol} {args[1]}"
        elif op.form == "prefix":
            expr = f"-{args[0]}"
        else:
            expr = f"{args[0]}.{node.op}()"
        return f"{names[i]} = {expr}"

    def statements(self) -> str:
        """The graph as the Python a student would write: ``a = Value(1.0); n1 = a + a; out = n1 + n1``."""
        names = self.names()
        return "; ".join(self.statement(i, names) for i in range(len(self.nodes)))

    def describe(self, i: int, names: list[str] | None = None) -> str:
        """Node ``i`` for a message: its formula in a small graph, its statement in a big one (a formula can
        grow exponentially with shared nodes)."""
        return self.formula(i) if len(self.nodes) <= 12 else self.statement(i, names)

    def bindings(self) -> str:
        """``a = 2.0, b = -3.0``: the leaves' values."""
        names = self.names()
        return ", ".join(f"{names[i]} = {fmt(self.nodes[i].value)}" for i in self.leaves())

    # -- programs ----------------------------------------------------------------------------------
    def build(self, p: Program) -> list[int]:
        """Make every node in the program (the student's forward passes); the handles, by node."""
        handles: list[int] = []
        names = self.names()
        for i, node in enumerate(self.nodes):
            if node.op == "leaf":
                handles.append(p.leaf(node.value))
            else:
                args = [a if isinstance(a, dict) else handles[a] for a in node.args]
                handles.append(p.op(node.op, *args, what=f"building {self.describe(i, names)}"))
        return handles

    def gradients(self, upstream: float = 1.0, mode: str = "local",
                  program: Program | None = None) -> tuple[Program, list[int], dict[int, int]]:
        """A program that backpropagates through the graph and reads every leaf and the root.

        mode ``"local"``: set ``out.grad = upstream`` and call each operation's ``_backward`` in
        reverse topological order (only the operators are under test); ``"backward"``: call the
        student's ``out.backward()``. ``initial`` gradients are set first. The steps go at the end
        of ``program`` if given (several graphs, one round trip). Returns the program, the handles,
        and node -> index of its read (``[data, grad]``).
        """
        p = program if program is not None else Program()
        handles = self.build(p)
        for i, g in self.initial.items():
            p.set_grad(handles[i], g)
        if mode == "local":
            p.set_grad(handles[self.root], upstream)
            for i in reversed(self.topo()):
                if not self.is_leaf(i):
                    p.local_backward(handles[i], what=f"the _backward of {self.describe(i)}")
        else:
            p.backward(handles[self.root], what=f"{self.names()[self.root]}.backward()")
        reads = {i: p.read(handles[i], self.names()[i]) for i in [*self.leaves(), self.root]}
        return p, handles, reads

    # -- numbers, computed here ----------------------------------------------------------------------
    def reference_values(self, values: dict[int, float] | None = None) -> list[Any]:
        """Every node built in ``zengrad_ref`` (one ``Value`` each), with some leaf values overridden."""
        from zengrad_ref import Value

        vals: list[Value] = []
        for i, node in enumerate(self.nodes):
            if node.op == "leaf":
                vals.append(Value((values or {}).get(i, node.value)))
            else:
                vals.append(apply(node.op, [a["const"] if isinstance(a, dict) else vals[a] for a in node.args]))
        return vals

    def forward(self, values: dict[int, float] | None = None) -> list[float]:
        """Every node's value by ``zengrad_ref``, with some leaf values overridden."""
        return [v.data for v in self.reference_values(values)]

    def local_grads(self, upstream: float = 1.0) -> list[float]:
        """Every node's gradient by ``zengrad_ref`` after ``out.grad = upstream`` and each ``_backward``
        in reverse topological order (mode ``"local"``), ``initial`` gradients first."""
        vals = self.reference_values()
        for i, g in self.initial.items():
            vals[i].grad = g
        vals[self.root].grad = upstream
        for i in reversed(self.topo()):
            if not self.is_leaf(i):
                vals[i]._backward()
        return [v.grad for v in vals]

    def central_difference(self, leaf: int) -> float:
        """d root / d leaf, estimated by central differences of the reference's forward pass."""
        x = self.nodes[leaf].value
        h = 1e-6 * max(1.0, abs(x))
        return (self.forward({leaf: x + h})[-1] - self.forward({leaf: x - h})[-1]) / (2 * h)
