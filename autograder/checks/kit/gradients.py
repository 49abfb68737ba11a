"""Gradient checks of operators: the student's backpropagation through a graph against the reference.

:func:`compare` runs one :class:`~autograder.checks.kit.graph.Graph` on the student and on the
reference, and compares the forward value, then every leaf's gradient with the reference
(tight: the same formula, rounding only) and with central differences (loose: gradcheck's
tolerance, an independent oracle). A wrong gradient gets the classic-bug hint when the numbers
betray it (``=`` for ``+=``, a missing ``out.grad``, a flipped sign).
"""

from __future__ import annotations

from autograder.checks.kit.compare import FD_ATOL, FD_RTOL, close, fmt
from autograder.checks.kit.errors import CheckFailure
from autograder.checks.kit.graph import Graph
from autograder.checks.kit.program import Engine, reference, student_error


def hint(mine: float, ref: float, initial: float, upstream: float) -> str:
    """Name the classic bug when the numbers betray it (``initial``: the grad the input held before)."""
    if initial and close(mine, ref - initial):
        return " (it held grad before: accumulate with +=, do not overwrite with =)"
    if upstream not in (0.0, 1.0) and close(mine * upstream, ref - initial) and mine != ref:
        return " (multiply the local derivative by out.grad: the chain rule)"
    if upstream == 0.0 and ref == initial and mine != ref:  # nothing arrived, yet something was passed on
        return " (multiply the local derivative by out.grad: the chain rule)"
    if close(mine, -ref):
        return " (the sign is flipped)"
    return ""


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
            raise CheckFailure(f"{context}: your {names[leaf]}.grad = {fmt(mine)}, expected {fmt(ref)}"
                               f"{hint(mine, ref, initial, seed)}")
        if use_fd:
            numeric = initial + seed * g.central_difference(leaf)
            if not close(mine, numeric, FD_ATOL, FD_RTOL):
                raise CheckFailure(f"{context}: your {names[leaf]}.grad = {fmt(mine)}, but finite differences "
                                   f"give {fmt(numeric)}")
