"""Catalogues of classic student bugs, per assignment, as edits of the solution notebook; and the requirements
they break.

Each mutant states exactly which graded cells lose their points (normally one: a
bug costs only the cell of the part that has it). The fast mutant tests run every
mutant's hidden checks through ``ReferenceEngine``, the nbgrader tests grade them
through real ``nbgrader autograde``; ``zengrad-kit demo`` uses them to synthesize a
realistic class.

Next to its mutants, each assignment keeps the **audit of its requirements**
(``REQUIREMENTS``): every requirement the notebook's text states, quoted from it, with the
visible assert that checks it before submission, the hidden property that checks it after,
and the mutants that break it (which prove both: ``tests/test_mutants.py`` shows each one
loses its cell, ``tests/test_visible.py`` that a visible test fails). ``VARIANTS`` are correct
solutions written differently: no visible test and no hidden check may call them wrong.
``docs/requirements.md`` is this audit as a table (``python -m autograder.mutants``).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from types import ModuleType
from typing import NamedTuple


class Mutant(NamedTuple):
    """Replace ``old`` by ``new`` in the solution cell ``cell``: the test cells ``loses`` lose their points."""

    cell: str  # grade_id of the solution cell to edit
    old: str  # text that occurs in that cell
    new: str
    loses: frozenset[str]  # grade_ids of the test cells that must lose their points, and only those


class Requirement(NamedTuple):
    """One requirement of the notebook's text, and what holds the student to it before and after submitting."""

    cell: str  # grade_id of the test cell that grades it
    text: str  # the requirement, quoted from the notebook (whitespace aside)
    visible: str  # a line (or part of one) of that test cell's visible part that checks it
    hidden: str  # where the hidden check holds it: a phrase of its check module's source (a case, a shape, a name)
    mutants: tuple[str, ...]  # mutants of the catalogue that break it


class Edit(NamedTuple):
    """Replace ``old`` (which occurs once) by ``new`` in the solution cell ``cell``."""

    cell: str
    old: str
    new: str


def bug(cell: str, old: str, new: str, *loses: str) -> Mutant:
    """A mutant that loses the test cells ``loses`` (at least one)."""
    if not loses:
        raise ValueError("a mutant must lose at least one cell")
    return Mutant(cell, old, new, frozenset(loses))


def req(cell: str, text: str, visible: str, hidden: str, *mutants: str) -> Requirement:
    """A requirement graded by ``cell``, broken by ``mutants`` (at least one)."""
    if not mutants:
        raise ValueError(f"a requirement needs a mutant that breaks it: {text!r}")
    return Requirement(cell, text, visible, hidden, mutants)


def modules() -> list[ModuleType]:
    """Every assignment's module of this package (``ASSIGNMENT``, ``MUTANTS``, ``REQUIREMENTS``, ``VARIANTS``)."""
    return [importlib.import_module(f"{__name__}.{mod.name}") for mod in pkgutil.iter_modules(__path__)
            if not mod.name.startswith("_")]


def catalogue() -> dict[str, dict[str, Mutant]]:
    """assignment name -> mutant name -> mutant, for every assignment module in this package."""
    return {module.ASSIGNMENT: module.MUTANTS for module in modules()}


def requirements() -> dict[str, list[Requirement]]:
    """assignment name -> its requirements, in notebook order."""
    return {module.ASSIGNMENT: list(getattr(module, "REQUIREMENTS", [])) for module in modules()}


def variants() -> dict[str, dict[str, tuple[Edit, ...]]]:
    """assignment name -> variant name -> the edits that make the solution a correct one written differently."""
    return {module.ASSIGNMENT: dict(getattr(module, "VARIANTS", {})) for module in modules()}


def _cell_text(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("|", "\\|").replace("\n", " ")).strip()


def requirements_markdown() -> str:
    """The audit as a Markdown document: per assignment, per graded cell, each requirement both ways."""
    lines = ["# Requirements of the notebooks, and what checks them", "",
             "Generated from `REQUIREMENTS` in `autograder/mutants/<assignment>.py` by `python -m autograder.mutants "
             "> docs/requirements.md`; `tests/test_requirements.py` fails when it is stale, when a requirement's "
             "quote is not in its notebook, when its visible assert is not in its test cell, when its hidden "
             "property is not in its check's source, or when no mutant breaks it. Each mutant is graded by "
             "`tests/test_mutants.py` (it loses its cell: the hidden check holds) and `tests/test_visible.py` (a "
             "visible test fails: *Validate* tells the student before submitting).", ""]
    for assignment, reqs in sorted(requirements().items()):
        lines += [f"## {assignment}", "", "| cell | requirement (the notebook's words) | visible assert | "
                  "hidden property | mutants |", "|---|---|---|---|---|"]
        lines += [f"| `{r.cell}` | {_cell_text(r.text)} | `{_cell_text(r.visible)}` | `{_cell_text(r.hidden)}` | "
                  f"{', '.join(r.mutants)} |" for r in reqs]
        lines.append("")
    return "\n".join(lines)
