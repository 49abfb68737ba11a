"""Misconception kinds: what a failed check's message says the student misunderstood, named next to its hint.

The misconception report (``autograder/results/insights.py``) groups the students who failed a cell
by the mistake their counterexample names. A *kind* is a short name ("Adam: eps inside the square
root") and the phrases of the hints that name it. The engine's classic slips (the hints of
:func:`autograder.public.gradcheck.diagnose`: ``=`` for ``+=``, a missing ``out.grad`` ...) are
registered here; an assignment registers its own where it writes the hint, with :func:`misconception`::

    BUGS = {"eps inside sqrt": misconception("Adam: eps inside the square root",
                                             "eps goes outside the square root: sqrt(v_hat) + eps")}

so a new hint is a new kind without touching the report. An assignment's kinds are tried before the
engine's (they are more specific); within each, the first registered that matches wins.
"""

from __future__ import annotations

# The engine's kinds (every assignment's _backward hints), in the order they are tried.
NOT_NUMBER = "not a number (use .data)"
OVERFLOW = "overflow"
NO_CHAIN = "chain rule: out.grad missing"
OVERWRITE = "`=` instead of `+=` (overwrites the gradient)"
TWICE = "chain rule: out.grad applied twice"
NOTHING = "nothing added to the gradient"
SIGN = "sign flipped"
EXPONENT = "exponent off by one"
AT_OUTPUT = "derivative at the output instead of the input"
FORMULA = "wrong local derivative (formula)"

_ENGINE: list[tuple[str, tuple[str, ...]]] = []
_ASSIGNMENTS: list[tuple[str, tuple[str, ...]]] = []


def _add(table: list[tuple[str, tuple[str, ...]]], kind: str, phrases: tuple[str, ...]) -> str:
    for i, (name, known) in enumerate(table):
        if name == kind:
            table[i] = (name, known + tuple(p for p in phrases if p not in known))
            return kind
    table.append((kind, tuple(phrases)))
    return kind


def register(kind: str, *phrases: str) -> str:
    """An assignment's kind: a message containing any of ``phrases`` shows it (phrases add up by kind)."""
    if not phrases or not all(phrases):
        raise ValueError(f"a misconception kind needs phrases that name it: {kind!r}")
    return _add(_ASSIGNMENTS, kind, phrases)


def misconception(kind: str, hint: str) -> str:
    """``hint``, registered as a phrase of ``kind``: write a hint and name its misconception in one place."""
    register(kind, hint)
    return hint


def classify(message: str) -> str | None:
    """The kind a failed check's message names (an assignment's first, then the engine's), or None."""
    for table in (_ASSIGNMENTS, _ENGINE):
        for kind, phrases in table:
            if any(p in message for p in phrases):
                return kind
    return None


def kinds() -> list[str]:
    """Every registered kind, in the order they are tried."""
    return [kind for kind, _ in _ASSIGNMENTS + _ENGINE]


for _kind, _phrases in (
    (NOT_NUMBER, (", not a number: in _backward use .data",)),
    (OVERFLOW, ("an overflow?", "raised OverflowError")),
    (NO_CHAIN, ("out.grad is missing", "out.grad is 0 here, so nothing may reach")),
    (OVERWRITE, ("(+=, not =)", "do not assign (=)", "use +=, not =")),
    (TWICE, ("out.grad is multiplied in twice",)),
    (NOTHING, ("your _backward adds nothing to",)),
    (SIGN, ("the sign is flipped",)),
    (EXPONENT, ("an exponent off by one?",)),
    (AT_OUTPUT, ("the derivative at the output out.data",)),
    (FORMULA, ("yours is ",)),
):
    _add(_ENGINE, _kind, _phrases)
