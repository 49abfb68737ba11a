"""Gradient checks of operators: the student's backpropagation through a graph against the reference.

:func:`compare` runs one :class:`~autograder.checks.kit.graph.Graph` on the student and on the
reference, and compares the forward value, then every leaf's gradient with the reference
(tight: the same formula, rounding only) and with central differences (loose: gradcheck's
tolerance, an independent oracle). :func:`compare_batch` does the same for several graphs in
one program (one round trip to the worker). A wrong gradient gets the classic-bug hint of the
visible tests (``=`` for ``+=``, a missing ``out.grad``, a flipped sign, the right form at the
wrong point), whatever operator the graph uses: the hints read the operator table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from autograder.checks.kit.compare import FD_ATOL, FD_RTOL, close, fmt
from autograder.checks.kit.errors import CheckFailure
from autograder.checks.kit.graph import Graph
from autograder.checks.kit.operators import operator
from autograder.checks.kit.program import Engine, Program, ProgramResult, reference, student_error
from autograder.public.gradcheck import diagnose

AT_OUTPUT = " (that is the derivative at the output out.data: evaluate it at the input x)"


def hint(mine: float, ref: float, initial: float, upstream: float, *, uses: int = 1, name: str = "the input",
         values: dict[str, float] | None = None) -> str:
    """The classic-bug hint the visible tests give (:func:`autograder.public.gradcheck.diagnose`), in
    parentheses, or "": the hidden checks and the notebook's own tests name a bug in the same words."""
    found = diagnose(mine, ref, upstream, initial, uses=uses, name=name, values=values)
    return f" ({found})" if found else ""


@dataclass(frozen=True)
class GradientCase:
    """One graph to backpropagate through, and how (see :func:`compare`)."""

    graph: Graph
    upstream: float = 1.0
    mode: str = "local"
    what: str = ""
    use_fd: bool = True

    @property
    def context(self) -> str:
        """The case as a message starts: ``a * b with a = 2.0, b = -3.0 and out.grad = 1.5 (...)``."""
        g = self.graph
        names = g.names()
        text = f"{self.what or g.formula()} with {g.bindings()}"
        if self.mode == "local":
            text += f" and out.grad = {fmt(self.upstream)}"
        if g.initial:
            text += " (inputs already holding grad " + ", ".join(
                f"{names[i]}.grad = {fmt(v)}" for i, v in g.initial.items()) + ")"
        return text


def _local_view(g: Graph, leaf: int) -> tuple[int, dict[str, float] | None]:
    """For a one-operation graph: how often the operation uses ``leaf``, and the numbers its
    ``_backward`` sees by the names a student writes (``self.data``, ``other.data``, ``out.data``)."""
    args = g.inputs(g.root)
    if g.is_leaf(g.root) or not all(g.is_leaf(a) for a in args):
        return 1, None
    values = {"self.data": g.nodes[args[0]].value, "out.data": g.forward()[g.root]}
    if len(args) > 1 and args[1] != args[0]:
        values["other.data"] = g.nodes[args[1]].value
    return max(1, args.count(leaf)), values


def _composed_view(g: Graph, leaf: int, upstream: float) -> tuple[int, float] | None:
    """For a leaf of a composed graph: how often the operations reading it use it and the ``out.grad``
    their ``_backward`` saw, by the reference, so a missing chain-rule factor or a lost contribution is
    named there too. A leaf read by one operation (``a`` in ``(a * b) * c``), or by several copies of
    one operation that all see the same ``out.grad`` (``a`` in ``f(a) + f(a)``); None otherwise."""
    readers = [i for i in g.topo() if not g.is_leaf(i) and leaf in g.inputs(i)]
    if not readers or readers == [g.root]:
        return None
    if len({repr((g.nodes[r].op, g.nodes[r].args)) for r in readers}) != 1:
        return None
    try:
        seen = [float(g.local_grads(upstream)[r]) for r in readers]
    except (ArithmeticError, ValueError, TypeError):
        return None
    if not all(close(s, seen[0]) for s in seen):
        return None
    return sum(g.inputs(r).count(leaf) for r in readers), seen[0]


def _at_output(g: Graph, mine: float, initial: float, upstream: float) -> str:
    """For a one-input operator alone (``softplus(a)``): the hint when yours is its derivative taken at the
    output instead of the input, from the operator table's derivative."""
    if g.is_leaf(g.root) or not all(g.is_leaf(a) for a in g.inputs(g.root)):
        return ""
    derivative = operator(g.nodes[g.root].op).derivative
    if derivative is None:
        return ""
    try:
        wrong = initial + upstream * derivative(g.forward()[g.root])
    except (ArithmeticError, ValueError):
        return ""
    return AT_OUTPUT if close(mine, wrong) else ""


def _leaf_hint(case: GradientCase, leaf: int, mine: float, ref: float) -> str:
    g, initial = case.graph, case.graph.initial.get(leaf, 0.0)
    up = case.upstream if case.mode == "local" else 1.0
    uses, values = _local_view(g, leaf) if case.mode == "local" else (1, None)
    composed = _composed_view(g, leaf, case.upstream) if case.mode == "local" and values is None else None
    if composed is not None:
        uses, up = composed
    found = hint(mine, ref, initial, up, uses=uses, name=g.names()[leaf], values=values)
    if not found and case.mode == "local":
        found = _at_output(g, mine, initial, case.upstream)
    return found


def _judge(case: GradientCase, got: ProgramResult, expected: ProgramResult, reads: dict[int, int]) -> None:
    """Raise CheckFailure on the first difference between the student's reads and the reference's."""
    g, context = case.graph, case.context
    mine_out, ref_out = got.reads[reads[g.root]][0], expected.reads[reads[g.root]][0]
    if not close(mine_out, ref_out):
        raise CheckFailure(f"{context}: the forward value is {fmt(mine_out)}, expected {fmt(ref_out)}. "
                           "Did you change the given forward pass?")
    seed = case.upstream if case.mode == "local" else 1.0
    names = g.names()
    for leaf in g.leaves():
        mine, ref = got.reads[reads[leaf]][1], expected.reads[reads[leaf]][1]
        if not close(mine, ref):
            raise CheckFailure(f"{context}: your {names[leaf]}.grad = {fmt(mine)}, expected {fmt(ref)}"
                               f"{_leaf_hint(case, leaf, mine, ref)}")
        if case.use_fd:
            numeric = g.initial.get(leaf, 0.0) + seed * g.central_difference(leaf)
            if not close(mine, numeric, FD_ATOL, FD_RTOL):
                raise CheckFailure(f"{context}: your {names[leaf]}.grad = {fmt(mine)}, but finite differences "
                                   f"give {fmt(numeric)}")


def compare_batch(engine: Engine, cases: Sequence[GradientCase]) -> None:
    """Backpropagate through every case's graph in one program, on the student and the reference; raise on
    the first case (in order) that differs or where the student's code stopped."""
    program = Program()
    plan = [(case, case.graph.gradients(case.upstream, case.mode, program=program)[2]) for case in cases]
    expected = reference(program)
    got = engine.run(program)
    for case, reads in plan:
        if not got.ok and max(reads.values()) >= len(got.reads):
            raise student_error(program, got, case.context)
        _judge(case, got, expected, reads)
    if not got.ok:
        raise student_error(program, got)


def compare(engine: Engine, g: Graph, upstream: float = 1.0, mode: str = "local", what: str = "",
            use_fd: bool = True) -> None:
    """Backpropagate through ``g`` on the student and the reference; raise CheckFailure on any difference.

    mode ``"local"`` calls each operation's ``_backward`` after ``out.grad = upstream``;
    ``"backward"`` calls the student's ``out.backward()``.
    """
    compare_batch(engine, [GradientCase(g, upstream, mode, what, use_fd)])
