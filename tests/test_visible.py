"""The visible tests catch the classic bugs and never a correct solution: the catalogue through what a student runs.

Each assignment's solution notebook, every mutant of ``autograder/mutants`` and every correct
variant (a solution written differently) runs its code cells (test cells included, hidden blocks
absent) in a subprocess with plain ``exec`` (``tests/visible.py``): a mutant is *caught* when a
visible test cell fails, which is exactly when *Validate* reports it. In every assignment at least
95 % of the catalogue must be caught, every mutant that is not must be listed below with the reason
it is left to the hidden checks, and no correct variant may fail a visible test (no false alarm).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from autograder.mutants import catalogue, variants
from autograder.release import assignments
from tests.course_helpers import REPO
from tests.visible import VARIANT

CATALOGUE = catalogue()
ASSIGNMENTS = assignments(REPO)
MIN_CATCH_RATE = 0.95  # per assignment

# mutant -> why no visible test catches it (the hidden checks do). Empty: every classic bug of the
# catalogue fails a visible test. A bug that needs many generated inputs or a CPU budget to show
# belongs here, with its reason, rather than in a visible test that would slow every student's Run All.
LEFT_TO_THE_HIDDEN_CHECKS: dict[str, dict[str, str]] = {assignment: {} for assignment in ASSIGNMENTS}
BARE = ("AssertionError", "GradientCheckError", "RequirementError")  # what a failing visible test raises


@pytest.fixture(scope="module")
def visible() -> dict[str, dict[str, dict]]:
    """assignment -> case ("" for the solution, a mutant's name, or "variant:" + a variant's name) ->
    {"failed": {grade_id: the error, on one line}, "seconds": s}."""
    procs = {a: subprocess.Popen([sys.executable, "-m", "tests.visible", a], cwd=REPO, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for a in ASSIGNMENTS}
    out = {}
    for assignment, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-3000:]
        out[assignment] = json.loads(stdout)
    return out


def mutants_of(results: dict[str, dict]) -> dict[str, dict]:
    return {name: r for name, r in results.items() if name and not name.startswith(VARIANT)}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_solution_and_every_correct_variant_pass_every_visible_test(visible, assignment: str) -> None:
    results = visible[assignment]
    assert {VARIANT + name for name in variants()[assignment]} <= set(results)
    false_alarms = {name: r["failed"] for name, r in results.items()
                    if (not name or name.startswith(VARIANT)) and r["failed"]}
    assert false_alarms == {}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_mutant_is_caught_or_documented(visible, assignment: str) -> None:
    results = mutants_of(visible[assignment])
    assert set(results) == set(CATALOGUE[assignment])
    uncaught = {name for name, r in results.items() if not r["failed"]}
    assert uncaught == set(LEFT_TO_THE_HIDDEN_CHECKS[assignment]), (
        "update LEFT_TO_THE_HIDDEN_CHECKS (with the reason) or the visible tests")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_caught_mutant_fails_its_own_cell_with_a_message_not_a_bare_error(visible, assignment: str) -> None:
    for name, r in mutants_of(visible[assignment]).items():
        if not r["failed"]:
            continue
        assert set(r["failed"]) & CATALOGUE[assignment][name].loses, (name, r["failed"])  # points at its part
        for grade_id, message in r["failed"].items():
            assert ":" in message and not message.endswith(":"), (name, grade_id, message)  # never a bare error
            assert message.startswith(BARE), (name, grade_id, message)  # the student's own error, explained


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_catch_rate_of_each_assignment(visible, assignment: str, capsys) -> None:
    results = mutants_of(visible[assignment])
    caught = sum(1 for r in results.values() if r["failed"])
    rate = caught / len(results)
    with capsys.disabled():
        print(f"\n{assignment}: visible tests catch {caught}/{len(results)} mutants ({rate:.1%}), "
              f"{len(variants()[assignment])} correct variants pass")
    assert rate >= MIN_CATCH_RATE
    slowest = max(r["seconds"] for r in visible[assignment].values())
    assert slowest < 10, slowest  # CPU seconds for one notebook's visible tests: fast enough for every Run All
