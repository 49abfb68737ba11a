"""Step 1 of a grading run: find the submissions (``submitted/<student>/<assignment>/``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class UsageError(Exception):
    """A problem with the arguments or the course (exit status 2)."""


@dataclass(frozen=True)
class Job:
    """One submission: ``submitted/<student>/<assignment>/``."""

    assignment: str
    student: str
    notebooks: tuple[str, ...]  # the assignment's notebook names, without .ipynb
    problem: str | None = None  # why it cannot be graded at all (a folder name that is no student id)


def assignment_notebooks(course: Path, assignment: str) -> tuple[str, ...]:
    """Notebook names of an assignment, from ``source/`` (what ``generate_assignment`` put in the gradebook)."""
    return tuple(sorted(p.stem for p in (course / "source" / assignment).glob("*.ipynb")))


def discover(course: Path, assignments: list[str] | None = None, students: list[str] | None = None) -> list[Job]:
    """Every submission under ``submitted/`` for the given (default: all ``source/``) assignments.

    A folder whose name is no valid student id (a glob, a bidirectional override, ...: see
    :mod:`autograder.exchange.ids`) is a job with a ``problem``: it never reaches nbgrader and
    becomes an error row that names it.
    """
    from autograder.exchange.ids import id_problem

    source = course / "source"
    known = sorted(p.name for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if source.is_dir() else []
    if assignments:
        unknown = [a for a in assignments if a not in known]
        if unknown:
            raise UsageError(f"unknown assignment(s): {', '.join(unknown)} (known: {', '.join(known) or 'none'})")
    chosen = assignments or known
    jobs: list[Job] = []
    submitted = course / "submitted"
    if not submitted.is_dir():
        return jobs
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if students and student_dir.name not in students:
            continue
        for assignment in chosen:
            if (student_dir / assignment).is_dir():
                jobs.append(Job(assignment, student_dir.name, assignment_notebooks(course, assignment),
                                id_problem(student_dir.name)))
    return jobs
