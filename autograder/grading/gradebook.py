"""Step 2: the gradebook, nbgrader's SQLite database, from the grading run's side.

nbgrader's own converter writes the grades, in the coordinator only (one writer: the workers
grade in private courses). This module checks the gradebook before a run, takes the snapshot
of its definitions a private course starts from (:func:`definitions_snapshot`), zeroes a
submission whose grading was killed, and reads every outcome back afterwards (:func:`verify`),
so a lost write is found, not assumed away.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.grading.discover import Job, UsageError
from autograder.results import outcomes as oc
from autograder.results.outcomes import CellResult, Outcome


def check_gradebook(course: Path, assignments: list[str]) -> None:
    """Fail early (usage error) when an assignment was never generated into the gradebook."""
    from nbgrader.api import MissingEntry

    db = course / "gradebook.db"
    if not db.exists():
        raise UsageError(f"no gradebook at {db}: run `nbgrader generate_assignment ASSIGNMENT` first")
    missing = []
    with open_gradebook(course) as gb:
        for assignment in assignments:
            try:
                gb.find_assignment(assignment)
            except MissingEntry:
                missing.append(assignment)
    if missing:
        raise UsageError(f"assignment(s) {', '.join(missing)} not in the gradebook: "
                         "run `nbgrader generate_assignment` for them first")


def ensure_students(course: Path, students: list[str]) -> None:
    """Create missing students up front, in id order: the gradebook lists its students (and so its CSV export
    lists rows) in the order they were created, which must not be the order in which workers happened to finish.

    nbgrader's Autograde then only updates them (``update_or_create_student`` with no fields), as stock does.
    """
    from nbgrader.api import MissingEntry

    with open_gradebook(course) as gb:
        for student in sorted(set(students)):
            try:
                gb.find_student(student)
            except MissingEntry:
                gb.add_student(student)


@contextlib.contextmanager
def open_gradebook(course: Path) -> Iterator[Any]:
    """A short-lived gradebook whose engine is disposed on exit (safe to fork afterwards)."""
    from nbgrader.api import Gradebook

    gb = Gradebook(f"sqlite:///{course / 'gradebook.db'}")
    try:
        yield gb
    finally:
        gb.close()
        gb.engine.dispose()


@dataclass(frozen=True)
class Definitions:
    """A copy of a gradebook without students (:func:`definitions_snapshot`) and the assignments it defines."""

    data: bytes
    assignments: frozenset[str]


def definitions_snapshot(course: Path) -> Definitions:
    """The course's gradebook without a single student (so without any submission, grade or comment).

    What a private course grades against: the very assignments, notebooks, grade and source cells
    (hidden tests included) and due dates this course's gradebook holds, so a submission graded
    there scores what it scores here, and no one else's work travels to a worker. Copied with
    SQLite's online backup, so a reader elsewhere (formgrader, the service) is no problem.
    """
    from nbgrader.api import Assignment, Comment, Grade, Student, SubmittedAssignment, SubmittedNotebook
    from sqlalchemy import create_engine, delete, select
    from sqlalchemy.orm import Session

    with tempfile.TemporaryDirectory(prefix="zengrad-gradebook-") as tmp:
        copy = Path(tmp) / "gradebook.db"
        with contextlib.closing(sqlite3.connect(f"file:{course / 'gradebook.db'}?mode=ro", uri=True)) as src, \
                contextlib.closing(sqlite3.connect(copy)) as dst:
            src.backup(dst)
        engine = create_engine(f"sqlite:///{copy}")
        try:
            with Session(engine) as session:
                for table in (Comment, Grade, SubmittedNotebook, SubmittedAssignment, Student):
                    session.execute(delete(table))
                session.commit()
                assignments = frozenset(session.scalars(select(Assignment.name)))
        finally:
            engine.dispose()
        with contextlib.closing(sqlite3.connect(copy)) as db:
            db.execute("VACUUM")
        return Definitions(copy.read_bytes(), assignments)


def reuse_gradebook_engines() -> None:
    """One SQLAlchemy engine per database URL in this process, instead of one per ``Gradebook(...)``.

    nbgrader and the course's preprocessors open the gradebook about a dozen times per
    submission (in a worker's private course, and again in the recorder), each time with a fresh
    engine whose SQL must be compiled again: about a fifth of recording a result. Reusing the
    engine (its pool and compiled-statement cache) changes no query and no result; sessions are
    still opened and closed exactly as before, and ``Gradebook.close`` still disposes the
    engine's connections, so none crosses a fork.
    """
    from nbgrader import api as nbapi

    if getattr(nbapi.create_engine, "zengrad_cached", False):
        return
    original = nbapi.create_engine
    engines: dict[tuple, Any] = {}

    def create_engine(url: Any, *args: Any, **kwargs: Any) -> Any:
        key = (str(url), args, tuple(sorted(kwargs.items())))
        if key not in engines:
            engines[key] = original(url, *args, **kwargs)
        return engines[key]

    create_engine.zengrad_cached = True  # type: ignore[attr-defined]
    nbapi.create_engine = create_engine


def gradebook_cells(course: Path, job: Job, nbs: dict[str, Any] | None = None,
                    gb: Any = None) -> tuple[list[CellResult], float, float]:
    """The submission's grade cells as the gradebook holds them (0 where no score), with outputs from ``nbs``."""
    from nbgrader.api import Gradebook

    if gb is None:
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as own:
            return gradebook_cells(course, job, nbs, own)
    return _cells(gb, job, nbs)


def _cells(gb: Any, job: Job, nbs: dict[str, Any] | None) -> tuple[list[CellResult], float, float]:
    from nbgrader.api import MissingEntry

    cells: list[CellResult] = []
    outputs: dict[tuple[str, str], str] = {}
    for name, nb in (nbs or {}).items():
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id and cell.metadata.get("nbgrader", {}).get("grade"):
                outputs[(name, grade_id)] = oc.cell_output_text(cell)
    try:
        assignment = gb.find_assignment(job.assignment)
    except MissingEntry:
        return cells, 0.0, 0.0
    max_total = float(assignment.max_score or 0.0)
    try:
        submission = gb.find_submission(job.assignment, job.student)
    except MissingEntry:
        submission = None
    for notebook in sorted(assignment.notebooks, key=lambda n: n.name):
        scores: dict[str, float] = {}
        if submission is not None:
            try:
                snb = gb.find_submission_notebook(notebook.name, job.assignment, job.student)
                scores = {g.name: float(g.score or 0.0) for g in snb.grades}
            except MissingEntry:
                pass
        for gc in sorted(notebook.grade_cells, key=lambda g: g.name):
            cells.append(CellResult(gc.name, notebook.name, scores.get(gc.name, 0.0), float(gc.max_score),
                                    outputs.get((notebook.name, gc.name), "")))
    total = float(submission.score or 0.0) if submission is not None else 0.0
    return cells, total, max_total


def reset_submission(course: Path, job: Job) -> None:
    """After a killed job: no autograded copy, and zero auto scores (as nbgrader does for a missing notebook)."""
    import shutil

    from nbgrader.api import MissingEntry

    shutil.rmtree(course / "autograded" / job.student / job.assignment, ignore_errors=True)
    with open_gradebook(course) as gb:
        gb.update_or_create_student(job.student)
        try:
            gb.find_submission(job.assignment, job.student)
        except MissingEntry:
            gb.add_submission(job.assignment, job.student)
        for name in job.notebooks:
            with contextlib.suppress(MissingEntry):
                for grade in gb.find_submission_notebook(name, job.assignment, job.student).grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
        gb.db.commit()


@dataclass(frozen=True)
class Mismatch:
    """A submission whose scores in the gradebook are not the ones its grading recorded (a lost write)."""

    assignment: str
    student: str
    stored: dict[tuple[str, str], float]
    recorded: dict[tuple[str, str], float]

    @property
    def key(self) -> tuple[str, str]:
        return (self.assignment, self.student)

    def __str__(self) -> str:
        return (f"{self.assignment}/{self.student}: the gradebook has {self.stored}, "
                f"the grader recorded {self.recorded}")


def verify(course: Path, outcomes: list[Outcome]) -> list[Mismatch]:
    """Read every autograded outcome's scores back from the gradebook; the mismatches (empty: nothing lost)."""
    found: list[Mismatch] = []
    with open_gradebook(course) as gb:
        for o in outcomes:
            if not o.autograded:
                continue
            job = Job(o.assignment, o.student, tuple(sorted({c.notebook for c in o.cells})))
            cells, total, _ = _cells(gb, job, None)
            recorded = {(c.notebook, c.grade_id): c.score for c in o.cells}
            stored = {(c.notebook, c.grade_id): c.score for c in cells}
            if recorded != stored or abs(total - o.score) > 1e-9:
                found.append(Mismatch(o.assignment, o.student, {**stored, ("", "total"): total},
                                      {**recorded, ("", "total"): o.score}))
    return found
