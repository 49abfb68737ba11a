"""The one writer of the course's gradebook: a worker's result recorded by nbgrader's own converter.

Workers grade in private courses (:func:`autograder.grading.private.grade_submission`); the
coordinator records each result with :class:`RecordingSession`, which runs nbgrader's
``Autograde`` on the real course with the worker's notebook in place of sanitizing, execution
and checks (:class:`ApplyGraded`): the submission and student rows, the declared-files copy into
``autograded/``, the scores (``SaveAutoGrades``), late penalties and the feedback pages are
written exactly as a local ``nbgrader autograde`` writes them, by one process, so the gradebook
has a single writer. The sanitize steps are not run again: they only transform the notebook the
worker already transformed, so the recorder instead checks that the worker graded exactly the
files the course holds (:attr:`~autograder.grading.private.Graded.digest`).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.grading.config import NO_OVERRIDES, Overrides
from autograder.grading.discover import Job
from autograder.grading.private import Graded, files_digest, submission_files
from autograder.grading.resources import GRADED, run_data
from autograder.grading.session import GradingSession
from autograder.results import outcomes as oc
from autograder.results.outcomes import Outcome

RECORDED_FROM = "SaveAutoGrades"  # the course's autograde chain from this step on runs on the worker's notebook


class ApplyGraded(NbGraderPreprocessor):
    """In place of sanitizing, execution and checks: the notebook a worker autograded, given in ``resources``."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        name = resources.get("nbgrader", {}).get("notebook")
        content = run_data(resources).get(GRADED, {}).get(name)
        if content is None:
            raise RuntimeError(f"no worker's result for notebook {name!r}")
        return nbformat.reads(content.decode(), as_version=4), resources


class RecordingSession(GradingSession):
    """nbgrader's converter on the coordinator, with sanitizing, execution and checks replaced by a worker's result.

    The autograde chain is the course's own from ``SaveAutoGrades`` on (nbgrader's default tail
    if the course configures none), after :class:`ApplyGraded`.
    """

    def __init__(self, course: Path, overrides: Overrides = NO_OVERRIDES, feedback: bool = True) -> None:
        super().__init__(course, overrides, feedback)
        from nbgrader.converters import Autograde
        from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, SaveAutoGrades

        chain = list(Autograde(coursedir=self.coursedir, parent=self.app).autograde_preprocessors)
        names = [p if isinstance(p, str) else p.__name__ for p in chain]
        tail = next((chain[i:] for i, n in enumerate(names) if n.rsplit(".", 1)[-1] == RECORDED_FROM),
                    [SaveAutoGrades, AssignLatePenalties, CheckCellMetadata])
        self.app.config.Autograde.sanitize_preprocessors = []
        self.app.config.Autograde.autograde_preprocessors = [ApplyGraded, *tail]
        for handler in self.app.log.handlers:  # nbgrader's log is kept in each outcome; the console shows progress
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                handler.setLevel(logging.CRITICAL)

    def record(self, job: Job, graded: Graded) -> Outcome:
        """Write one worker's result into the real gradebook (and autograded/, feedback/); its outcome.

        Everything is read back from what was written here; where the worker failed, its reason
        (the first-hand one) is the outcome's, as a local run would have said it. A result for other
        files than the course holds now is refused, and nothing is written for it.
        """
        if graded.digest != files_digest(submission_files(self.course, job)):
            outcome = Outcome(job.assignment, job.student)
            outcome.fail(oc.AUTOGRADE_FAILED, "the worker's result is not this submission's: it graded other "
                                              "files than submitted/ holds (changed during the run?); grade again")
            return outcome
        with warnings.catch_warnings():  # nbgrader's api.py warns of its own session autoflush on every new row
            warnings.filterwarnings("ignore", message=".* not in session, add operation along")
            outcome = self.grade(job, {GRADED: dict(graded.notebooks)})
        remote = graded.outcome
        outcome.log = remote.log + ("\n" + outcome.log if outcome.log else "")
        outcome.seconds, outcome.attempts, outcome.timings = remote.seconds, remote.attempts, remote.timings
        if remote.status == oc.ERROR:
            outcome.status, outcome.error_kind, outcome.message = remote.status, remote.error_kind, remote.message
        return outcome
