"""``nbgrader export`` plugin: nbgrader's CSV plus ``status`` and ``error`` columns.

A submission that broke the autograder shows in stock nbgrader's CSV as an
ordinary 0. Here every row says what happened: ``graded``, ``error`` (with the
reason ``zengrad-kit grade`` recorded in ``reports/outcomes.json``), or
``missing`` (nothing submitted). Without a recorded outcome (e.g. after stock
``nbgrader autograde``) a submission with no autograded notebook is reported as
an error too, so no failure is ever a silent 0.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import CsvExportPlugin

from autograder.results.outcomes import load_outcomes
from autograder.screen.text import csv_cell

KEYS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
        "raw_score", "late_submission_penalty", "score", "max_score", "status", "error"]


def submission_status(root: Path, assignment: str, student: str, submitted: bool,
                      outcomes: dict) -> tuple[str, str]:
    """(status, error) of one submission: graded | error (with the reason) | missing."""
    if not submitted:
        return "missing", ""
    outcome = outcomes.get((assignment, student))
    if outcome is not None:
        if outcome.status == "error":
            return "error", f"{outcome.error_kind}: {outcome.message}"
        if outcome.autograded and (root / "autograded" / student / assignment).is_dir():
            return "graded", ""
    if (root / "autograded" / student / assignment).is_dir():
        return "graded", ""
    return "error", "not autograded (nbgrader autograde failed for this submission or was not run)"


def export_rows(gradebook: Gradebook, root: Path, assignments: Iterable[str] = (),
                students: Iterable[str] = ()) -> Iterator[dict[str, Any]]:
    """One row (the ``KEYS``, raw values) per (assignment, student) of the gradebook, with its status.

    The single source of exported grades: ``nbgrader export`` (below) and the LMS files
    (``autograder.results.lms``) both read it, so a score means the same everywhere:
    ``score = max(0, raw_score - late_submission_penalty)``. Empty filters mean everything.
    """
    outcomes = load_outcomes(root / "reports")
    wanted_students = {str(s) for s in students}
    wanted_assignments = {str(a) for a in assignments}
    for assignment in gradebook.assignments:
        if wanted_assignments and assignment.name not in wanted_assignments:
            continue
        for student in gradebook.students:
            if wanted_students and student.id not in wanted_students:
                continue
            row = {"assignment": assignment.name, "duedate": assignment.duedate, "student_id": student.id,
                   "last_name": student.last_name, "first_name": student.first_name,
                   "email": student.email, "max_score": assignment.max_score}
            try:
                submission = gradebook.find_submission(assignment.name, student.id)
            except MissingEntry:
                row.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0, score=0.0)
                submitted = (root / "submitted" / student.id / assignment.name).is_dir()
            else:
                penalty = submission.late_submission_penalty
                row.update(timestamp=submission.timestamp, raw_score=submission.score,
                           late_submission_penalty=penalty, score=max(0.0, submission.score - penalty))
                submitted = True
            row["status"], row["error"] = submission_status(root, assignment.name, student.id, submitted, outcomes)
            yield row


class StatusCsvExportPlugin(CsvExportPlugin):
    """CsvExportPlugin with a status (graded | error | missing) and an error column per row."""

    def _course_root(self) -> Path:
        coursedir = getattr(self.parent, "coursedir", None)
        return Path(coursedir.root if coursedir is not None else os.getcwd())

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or "grades.csv"
        root = self._course_root()
        self.log.info("Exporting grades (with status) to %s", dest)
        with open(dest, "w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(KEYS)
            for row in export_rows(gradebook, root, self.assignment, self.student):
                # a student's name or a quoted message that starts like a formula stays text
                writer.writerow([csv_cell(row[k] if row[k] is None or isinstance(row[k], int | float)
                                          else str(row[k])) for k in KEYS])
