"""The visible tests catch the classic bugs: the mutant catalogue through what a student runs before submitting.

Each assignment's solution notebook, and every mutant of ``autograder/mutants``, runs its code
cells (test cells included, hidden blocks absent) in a subprocess with plain ``exec``
(``tests/visible.py``): a mutant is *caught* when a visible test cell fails, which is exactly
when *Validate* reports it. At least 90 % of the catalogue must be caught; every mutant that is
not must be listed below with the reason it is left to the hidden checks.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from autograder.mutants import catalogue
from tests.course_helpers import REPO

CATALOGUE = catalogue()
ASSIGNMENTS = sorted(CATALOGUE)
MIN_CATCH_RATE = 0.90

# mutant -> why no visible test catches it (the hidden checks do). Empty: every classic bug of the
# catalogue fails a visible test. A bug that needs many generated inputs or a CPU budget to show
# belongs here, with its reason, rather than in a visible test that would slow every student's Run All.
LEFT_TO_THE_HIDDEN_CHECKS: dict[str, dict[str, str]] = {assignment: {} for assignment in ASSIGNMENTS}


@pytest.fixture(scope="module")
def visible() -> dict[str, dict[str, dict]]:
    """assignment -> case ("" for the solution, else the mutant's name) -> {"failed": {...}, "seconds": s}."""
    procs = {a: subprocess.Popen([sys.executable, "-m", "tests.visible", a], cwd=REPO, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for a in ASSIGNMENTS}
    out = {}
    for assignment, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-3000:]
        out[assignment] = json.loads(stdout)
    return out


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_solution_passes_every_visible_test(visible, assignment: str) -> None:
    assert visible[assignment][""]["failed"] == {}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_mutant_is_caught_or_documented(visible, assignment: str) -> None:
    results = visible[assignment]
    assert set(results) == {"", *CATALOGUE[assignment]}
    uncaught = {name for name, r in results.items() if name and not r["failed"]}
    assert uncaught == set(LEFT_TO_THE_HIDDEN_CHECKS[assignment]), (
        "update LEFT_TO_THE_HIDDEN_CHECKS (with the reason) or the visible tests")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_caught_mutant_fails_its_own_cell_with_a_message(visible, assignment: str) -> None:
    for name, r in visible[assignment].items():
        if not name or not r["failed"]:
            continue
        assert set(r["failed"]) & CATALOGUE[assignment][name].loses, (name, r["failed"])  # points at its part
        for grade_id, message in r["failed"].items():
            assert ":" in message and not message.endswith(":"), (name, grade_id, message)  # never a bare error


def test_catch_rate_of_the_whole_catalogue(visible, capsys) -> None:
    total = sum(len(CATALOGUE[a]) for a in ASSIGNMENTS)
    caught = sum(1 for a in ASSIGNMENTS for name, r in visible[a].items() if name and r["failed"])
    rate = caught / total
    with capsys.disabled():
        per = ", ".join(f"{a} {sum(1 for n, r in visible[a].items() if n and r['failed'])}/{len(CATALOGUE[a])}"
                        for a in ASSIGNMENTS)
        print(f"\nvisible tests catch {caught}/{total} mutants ({rate:.0%}): {per}")
    assert rate >= MIN_CATCH_RATE
    slowest = max(r["seconds"] for a in ASSIGNMENTS for r in visible[a].values())
    assert slowest < 10, slowest  # CPU seconds for one notebook's visible tests: fast enough for every Run All
