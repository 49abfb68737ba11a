"""Each assignment's contract class graded through real nbgrader (``zengrad-kit grade``), once per test session.

A class is the solution (``perfect``), the release as handed out (``stub``), the few extra
submissions of :data:`EXTRAS` and a sample of the assignment's mutant catalogue
(``autograder/mutants``) that still covers every graded cell: one mutant per cell, and the ones a
test reads by name (:data:`NAMED`). Every mutant of the catalogue is proved in process, through
every hidden check, by ``tests/test_mutants.py``; here the sample shows the same facts hold
through nbgrader, the kernel, the sandbox and the gradebook. The class is graded twice: the
whole class, then a regrade of a representative subset (perfect, stub, three mutants), so the
determinism tests compare two real runs. ``tests/test_assignments.py`` holds the contract every
assignment keeps; ``tests/test_psN.py`` read the same graded classes for what is particular to
theirs. All of it is the contract tier (``slow``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode

from autograder.mutants import Mutant, catalogue
from autograder.release import assignments
from tests.course_helpers import REPO, Course, CourseTemplate, cell, mutate, release_nb, solution_nb

CATALOGUE: dict[str, dict[str, Mutant]] = catalogue()
ASSIGNMENTS = assignments(REPO)  # every assignment of the course, from source/
GRADE_SECONDS = 3600  # wall seconds for one grading run of a class (ps3/ps4 notebooks each train a network)

# Submissions besides the catalogue: (solution cell, old, new) edits that keep full marks.
EXTRAS: dict[str, dict[str, tuple[str, str, str]]] = {
    "ps1_operators": {  # warnings on the kernel's stderr while the test cells run must not zero a cell
        "noisy": ("mul_solution", "        self.grad += other.data * out.grad",
                  "        import warnings; warnings.warn('a student warning')\n"
                  "        import sys; print('to stderr', file=sys.stderr)\n"
                  "        self.grad += other.data * out.grad"),
    },
}


# mutants a test of tests/test_psN.py reads by name in a graded class
NAMED: dict[str, tuple[str, ...]] = {"ps2_backprop": ("dedup_without_visited", "recursive_sort")}


def sample(assignment: str) -> list[str]:
    """The mutants graded through nbgrader: one per graded cell (the first by name that loses it) and :data:`NAMED`."""
    mutants = CATALOGUE[assignment]
    chosen = set(NAMED.get(assignment, ()))
    for grade_id in sorted({c for m in mutants.values() for c in m.loses}):
        if not any(grade_id in mutants[name].loses for name in chosen):
            chosen.add(min(name for name, m in mutants.items() if grade_id in m.loses))
    return sorted(chosen)


# assignment -> the mutants whose contract tests a session selected, when it selected only some and nothing else
# grades that class (``pytest tests/test_assignments.py -k "ps4 and zero_grad"``): the class is then those
# students (and the solution, the stub, the extras) instead of the whole sample. Filled by tests/conftest.py.
SELECTED: dict[str, set[str]] = {}


def class_mutants(assignment: str) -> dict[str, Mutant]:
    """The mutants of the class graded for ``assignment``: the session's selection, else the :func:`sample`."""
    chosen = SELECTED.get(assignment) or set(sample(assignment))
    return {n: m for n, m in CATALOGUE[assignment].items() if n in chosen}


def student(mutant: str) -> str:
    """The student id of a mutant's submission."""
    return mutant.replace("_", "-")


def regraded(assignment: str) -> list[str]:
    """The students the second run grades again: perfect, stub and three mutants spread over the class."""
    names = sorted(class_mutants(assignment))
    spread = sorted({names[i * len(names) // 3] for i in range(3)}) if names else []
    return ["perfect", "stub", *map(student, spread)]


@dataclass
class GradedClass:
    """One assignment's class after two real grading runs."""

    assignment: str
    course: Course
    first: dict[str, dict[str, float]]  # student -> grade_id -> score, after the first run
    second: dict[str, dict[str, float]]  # the same for the regraded students, after the second run
    notebooks_first: dict[str, NotebookNode] = field(default_factory=dict)  # the regraded ones, first run

    def autograded(self, who: str) -> NotebookNode:
        return self.course.autograded(who, self.assignment)

    def errors(self, who: str, grade_id: str, nb: NotebookNode | None = None) -> list[NotebookNode]:
        """The error outputs of a graded cell in a student's autograded notebook."""
        return [o for o in cell(nb or self.autograded(who), grade_id).outputs if o.output_type == "error"]


def grade_class(template: CourseTemplate, root: Path, assignment: str) -> GradedClass:
    """Submit the class, grade it, regrade :func:`regraded`; a failed run fails the tests that use it."""
    course = template.copy_to(root / "course")
    course.submit("perfect", assignment, solution_nb(assignment))
    course.submit("stub", assignment, release_nb(assignment))
    for name, (grade_id, old, new) in EXTRAS.get(assignment, {}).items():
        course.submit(name, assignment, mutate(solution_nb(assignment), grade_id, old, new))
    for name, m in class_mutants(assignment).items():
        course.submit(student(name), assignment, mutate(solution_nb(assignment), m.cell, m.old, m.new))
    first = course.grade(assignment, timeout=GRADE_SECONDS)
    assert first.returncode == 0, first.stdout + first.stderr
    grades_first = course.grades(assignment)
    again = regraded(assignment)
    for folder in (course.root / "submitted").iterdir():
        if folder.name not in again:
            shutil.rmtree(folder)  # the others keep their first-run grades and notebooks
    notebooks_first = {s: course.autograded(s, assignment) for s in again}
    second = course.grade(assignment, timeout=GRADE_SECONDS)
    assert second.returncode == 0, second.stdout + second.stderr
    grades_second = course.grades(assignment)
    return GradedClass(assignment, course, grades_first, {s: grades_second[s] for s in again}, notebooks_first)
