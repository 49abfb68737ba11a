"""Catalogues of classic student bugs, per assignment, as edits of the solution notebook.

The mutant tests assert that each one loses exactly the points of the cell it
targets; ``zengrad-kit demo`` uses them to synthesize a realistic class.
A mutant is ``(solution grade_id, old text, new text, grade_id of the test cell that must lose its points)``.
"""

from __future__ import annotations

import importlib
import pkgutil

Mutant = tuple[str, str, str, str]


def catalogue() -> dict[str, dict[str, Mutant]]:
    """assignment name -> mutant name -> mutant, for every assignment module in this package."""
    out: dict[str, dict[str, Mutant]] = {}
    for mod in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{mod.name}")
        out[module.ASSIGNMENT] = module.MUTANTS
    return out
