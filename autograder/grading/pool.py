"""Step 4 (local): grade submissions in parallel on this machine, in forked worker processes.

Each worker (nbgrader and the checks imported once, before forking) grades its jobs with
:func:`~autograder.grading.private.grade_submission` in private courses of its own, under a
directory the run owns; it never touches the course's gradebook. The workers are a
:class:`~autograder.grading.executors.LocalPool`, which enforces a wall-clock backstop per
submission (it kills the worker's whole process tree: kernel and sandbox included) and replaces
dead workers; this module words how a job that brought no result back ended.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from autograder.grading.discover import Job
from autograder.grading.executors import (
    FAILED,
    TIMEOUT,
    Ended,
    LocalPool,
    killed_text,
)
from autograder.grading.private import Graded, PrivateCourses, grade_submission
from autograder.results import outcomes as oc
from autograder.results.outcomes import Outcome


def default_workers() -> int:
    """One worker per core (the brief's default); ``--workers`` overrides."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def local_pool(workers: int, job_timeout: float, log_dir: Path, scratch: Path) -> LocalPool:
    """``workers`` warm forked processes, each grading ``(material, student, files, how)`` jobs in private
    courses of its own under ``scratch`` (which the caller removes)."""

    def setup() -> Callable[[tuple], Graded]:  # in each worker, after the fork
        courses = PrivateCourses(scratch)

        def handle(task: tuple) -> Graded:
            return grade_submission(*task, courses=courses)

        return handle

    return LocalPool(setup, workers, job_timeout, log_dir)


def ended_without_result(job: Job, ended: Ended, job_timeout: float) -> Outcome:
    """The explicit error of a local job that brought no result back (never a silent zero)."""
    if ended.how == FAILED:  # grading itself raised: never let that pass silently
        outcome = Outcome(job.assignment, job.student)
        outcome.fail(oc.WORKER_CRASHED, "internal error while grading: " + ended.error[-500:])
        return outcome
    outcome = Outcome(job.assignment, job.student, seconds=ended.seconds)
    if ended.how == TIMEOUT:
        outcome.fail(oc.TIMEOUT, killed_text(job_timeout))
    else:
        outcome.fail(oc.WORKER_CRASHED, f"the grading worker died (exit code {ended.exitcode})")
    return outcome


__all__ = ["default_workers", "ended_without_result", "local_pool"]
