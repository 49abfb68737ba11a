"""Gradient checks of operators: the student's backpropagation through a graph against the reference.

:func:`compare` runs one :class:`~autograder.checks.kit.graph.Graph` on the student and on the
reference, and compares the forward value, then every leaf's gradient with the reference
(tight: the same formula, rounding only) and with central differences (loose: gradcheck's
tolerance, an independent oracle). A wrong gradient gets the classic-bug hint of the visible
tests (``=`` for ``+=``, a missing ``out.grad``, a flipped sign, the right form at the wrong point).
"""

from __future__ import annotations

from autograder.checks.kit.compare import FD_ATOL, FD_RTOL, close, fmt
from autograder.checks.kit.errors import CheckFailure
from autograder.checks.kit.graph import Graph
from autograder.checks.kit.program import Engine, reference, student_error
from autograder.public.gradcheck import diagnose


def hint(mine: float, ref: float, initial: float, upstream: float, *, uses: int = 1, name: str = "the input",
         values: dict[str, float] | None = None) -> str:
    """The classic-bug hint the visible tests give (:func:`autograder.public.gradcheck.diagnose`), in
    parentheses, or "": the hidden checks and the notebook's own tests name a bug in the same words."""
    found = diagnose(mine, ref, upstream, initial, uses=uses, name=name, values=values)
    return f" ({found})" if found else ""


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
    """For a leaf of a composed graph read by exactly one operation (``a`` in ``(a * b) * c``): how
    often that operation uses it and the ``out.grad`` its ``_backward`` saw, by the reference, so a
    missing chain-rule factor is named there too. None for a leaf read by several operations."""
    readers = [i for i in g.topo() if not g.is_leaf(i) and leaf in g.inputs(i)]
    if len(readers) != 1 or readers[0] == g.root:
        return None
    try:
        return g.inputs(readers[0]).count(leaf), float(g.local_grads(upstream)[readers[0]])
    except (ArithmeticError, ValueError, TypeError):
        return None


def compare(engine: Engine, g: Graph, upstream: float = 1.0, mode: str = "local", what: str = "",
            use_fd: bool = True) -> None:
    """Backpropagate through ``g`` on the student and the reference; raise CheckFailure on any difference.

    mode ``"local"`` calls each operation's ``_backward`` after ``out.grad = upstream``;
    ``"backward"`` calls the student's ``out.backward()``.
    """
    program, _, reads = g.gradients(upstream, mode)
    expected = reference(program)
    names = g.names()
    context = f"{what or g.formula()} with {g.bindings()}"
    if mode == "local":
        context += f" and out.grad = {fmt(upstream)}"
    if g.initial:
        context += " (inputs already holding grad " + ", ".join(
            f"{names[i]}.grad = {fmt(v)}" for i, v in g.initial.items()) + ")"
    got = engine.run(program)
    if not got.ok:
        raise student_error(program, got, context)
    mine_out, ref_out = got.reads[reads[g.root]][0], expected.reads[reads[g.root]][0]
    if not close(mine_out, ref_out):
        raise CheckFailure(f"{context}: the forward value is {fmt(mine_out)}, expected {fmt(ref_out)}. "
                           "Did you change the given forward pass?")
    seed = upstream if mode == "local" else 1.0
    for leaf in g.leaves():
        mine, ref = got.reads[reads[leaf]][1], expected.reads[reads[leaf]][1]
        initial = g.initial.get(leaf, 0.0)
        if not close(mine, ref):
            uses, values = _local_view(g, leaf) if mode == "local" else (1, None)
            up = seed
            composed = _composed_view(g, leaf, upstream) if mode == "local" and values is None else None
            if composed is not None:
                uses, up = composed
            raise CheckFailure(f"{context}: your {names[leaf]}.grad = {fmt(mine)}, expected {fmt(ref)}"
                               f"{hint(mine, ref, initial, up, uses=uses, name=names[leaf], values=values)}")
        if use_fd:
            numeric = initial + seed * g.central_difference(leaf)
            if not close(mine, numeric, FD_ATOL, FD_RTOL):
                raise CheckFailure(f"{context}: your {names[leaf]}.grad = {fmt(mine)}, but finite differences "
                                   f"give {fmt(numeric)}")
