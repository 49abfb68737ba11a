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
import sys
import time
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


class Progress:
    """A progress bar on a terminal; a few plain lines in a log or a pipe (no carriage-return frames)."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total, self.done, self.errors = total, 0, 0
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self.started = self.last = time.monotonic()
        self.bar = None
        if self.tty:
            from tqdm import tqdm

            tqdm.monitor_interval = 0  # no monitor thread: workers are forked from this process
            self.bar = tqdm(total=total, desc="grading", unit="sub", file=sys.stderr, dynamic_ncols=True)
        elif enabled:
            print(f"grading {total} submissions", file=sys.stderr, flush=True)

    def update(self, error: bool) -> None:
        self.done += 1
        self.errors += error
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(errors=self.errors)
            return
        if not self.enabled:
            return
        now = time.monotonic()
        step = max(1, self.total // 10)
        if self.done == self.total or self.done % step == 0 or now - self.last > 30:
            self.last = now
            print(f"graded {self.done}/{self.total} ({self.errors} errors, {now - self.started:.0f} s)",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


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


__all__ = ["Progress", "default_workers", "ended_without_result", "local_pool"]
