"""Known-good pieces of each assignment, written against the notebook's API, sent into the sandbox.

A check of one part of a notebook runs it with these in place of the student's
other parts (``Program.define`` + ``Program.override``), so a bug costs only the
cell of the part that has it. Each ``<assignment>.py`` here is plain, stdlib-only
source that is never imported by the grader: it is executed *in the worker*, in a
snapshot of the student's globals, so it builds on the student's given ``Value``.
The source reaches the untrusted side, so it holds nothing secret (it is the
notebook's own model answer), and ``tests/test_pieces.py`` shows that it agrees
with ``zengrad_ref``: the pieces are known-good because they are tested.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

SHARED: dict[str, tuple[str, ...]] = {"ps3": ("mlp",), "ps4": ("mlp",)}  # pieces several notebooks give alike


@cache
def source(assignment: str) -> str:
    """The source of an assignment's pieces (``ps2``, ``ps3``), with the shared ones it uses, as sent to the worker."""
    here = Path(__file__).parent
    parts = [assignment, *SHARED.get(assignment, ())]
    return "\n\n".join((here / f"{name}.py").read_text() for name in parts)
