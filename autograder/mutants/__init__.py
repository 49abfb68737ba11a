"""Catalogues of classic student bugs, per assignment, as edits of the solution notebook.

Each mutant states exactly which graded cells lose their points (normally one: a
bug costs only the cell of the part that has it). The fast mutant tests run every
mutant's hidden checks through ``ReferenceEngine``, the nbgrader tests grade them
through real ``nbgrader autograde``; ``zengrad-kit demo`` uses them to synthesize a
realistic class.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import NamedTuple


class Mutant(NamedTuple):
    """Replace ``old`` by ``new`` in the solution cell ``cell``: the test cells ``loses`` lose their points."""

    cell: str  # grade_id of the solution cell to edit
    old: str  # text that occurs in that cell
    new: str
    loses: frozenset[str]  # grade_ids of the test cells that must lose their points, and only those


def bug(cell: str, old: str, new: str, *loses: str) -> Mutant:
    """A mutant that loses the test cells ``loses`` (at least one)."""
    if not loses:
        raise ValueError("a mutant must lose at least one cell")
    return Mutant(cell, old, new, frozenset(loses))


def catalogue() -> dict[str, dict[str, Mutant]]:
    """assignment name -> mutant name -> mutant, for every assignment module in this package."""
    out: dict[str, dict[str, Mutant]] = {}
    for mod in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{mod.name}")
        out[module.ASSIGNMENT] = module.MUTANTS
    return out
