"""The audit of every notebook's requirements (``REQUIREMENTS`` next to each mutant catalogue) is true and complete.

Each requirement quotes the notebook's text, names the visible assert of its test cell that checks it
before submission and the hidden property of its check that checks it after, and the mutants that
break it. Those mutants are the proof: ``tests/test_mutants.py`` shows each loses its cell (the hidden
check holds) and ``tests/test_visible.py`` that a visible test fails (Validate tells the student). A
requirement with no visible assert, no hidden property or no mutant fails here, and so does a graded
cell without requirements or a mutant that belongs to no requirement.
"""

from __future__ import annotations

import re

import pytest

from autograder.mutants import catalogue, requirements, requirements_markdown
from autograder.release import assignments
from tests.course_helpers import REPO, cell, max_points, read_nb, release_nb
from tests.fast_grading import hidden_checks

ASSIGNMENTS = assignments(REPO)
REQUIREMENTS = requirements()
CATALOGUE = catalogue()


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def notebook_text(assignment: str) -> str:
    nb = read_nb(REPO / "source" / assignment / f"{assignment}.ipynb")
    return norm(" ".join(c.source for c in nb.cells))


def check_sources(assignment: str, grade_id: str) -> str:
    """The source of the check modules of a test cell's hidden checks (``checks/ps4.py`` or ``checks/ps4/*.py``),
    and of the kit's generic checks they call (``kit/generic.py``)."""
    prefixes = {check_id.split(".")[0] for check_id in hidden_checks(assignment)[grade_id]}
    files = [REPO / "autograder" / "checks" / "kit" / "generic.py"]
    for prefix in sorted(prefixes):
        root = REPO / "autograder" / "checks"
        files += [root / f"{prefix}.py"] if (root / f"{prefix}.py").is_file() else sorted((root / prefix).glob("*.py"))
    return norm("\n".join(f.read_text() for f in files))


def test_every_assignment_of_the_course_has_its_audit() -> None:
    assert ASSIGNMENTS and sorted(REQUIREMENTS) == ASSIGNMENTS
    assert all(REQUIREMENTS[a] for a in ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_requirement_is_quoted_from_its_notebook(assignment: str) -> None:
    text = notebook_text(assignment)
    assert [r.text for r in REQUIREMENTS[assignment] if norm(r.text) not in text] == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_requirement_has_a_visible_assert_in_its_test_cell(assignment: str) -> None:
    cells = set(max_points(assignment))
    missing = [(r.cell, r.visible) for r in REQUIREMENTS[assignment]
               if r.cell not in cells or not r.visible.strip()
               or norm(r.visible) not in norm(cell(release_nb(assignment), r.cell).source)]
    assert missing == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_requirement_has_a_hidden_property_in_its_check(assignment: str) -> None:
    missing = [(r.cell, r.hidden) for r in REQUIREMENTS[assignment]
               if not hidden_checks(assignment).get(r.cell) or not r.hidden.strip()
               or norm(r.hidden) not in check_sources(assignment, r.cell)]
    assert missing == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_requirement_is_broken_by_mutants_that_lose_its_cell(assignment: str) -> None:
    mutants = CATALOGUE[assignment]
    wrong = [(r.text[:60], name) for r in REQUIREMENTS[assignment] for name in r.mutants
             if name not in mutants or r.cell not in mutants[name].loses]
    assert wrong == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_graded_cell_has_requirements_and_every_mutant_breaks_one(assignment: str) -> None:
    reqs = REQUIREMENTS[assignment]
    assert set(max_points(assignment)) - {r.cell for r in reqs} == set()
    assert set(CATALOGUE[assignment]) - {name for r in reqs for name in r.mutants} == set()


def test_the_table_in_docs_is_the_audit() -> None:
    assert (REPO / "docs" / "requirements.md").read_text() == requirements_markdown(), (
        "regenerate it: python -m autograder.mutants > docs/requirements.md")
