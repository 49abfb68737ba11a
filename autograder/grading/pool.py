"""Step 4 (local): grade submissions in parallel on this machine, in forked worker processes.

Each worker builds one :class:`~autograder.grading.session.GradingSession` (nbgrader and the
checks imported once, before forking) and grades jobs until told to stop. The workers are a
:class:`~autograder.grading.executors.LocalPool`, which enforces a wall-clock backstop per
submission (it kills the worker's whole process tree: kernel and sandbox included) and replaces
dead workers; this module turns each job's end into exactly one ``Outcome``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from autograder.grading.discover import Job
from autograder.grading.executors import (
    DONE,
    FAILED,
    TIMEOUT,
    Ended,
    LocalPool,
    die_with_parent,
    kill_tree,
    killed_text,
)
from autograder.grading.session import GradingSession
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


def run_pool(course: Path, jobs: list[Job], workers: int, overrides: list[str], job_timeout: float,
             feedback: bool = True, progress: bool = True, log_dir: Path | None = None) -> list[Outcome]:
    """Grade ``jobs`` on ``workers`` forked worker processes; one Outcome per job, in job order."""
    log_dir = log_dir or (course / "reports" / "logs")

    def setup() -> Callable[[Job], Outcome]:  # in each worker: nbgrader and the checks set up once
        return GradingSession(course, overrides, feedback).grade

    by_key = {(j.assignment, j.student): j for j in jobs}
    pending = list(reversed(jobs))
    results: dict[tuple[str, str], Outcome] = {}
    pool = LocalPool(setup, min(workers, len(jobs)), job_timeout, log_dir)
    bar = Progress(len(jobs), progress)
    try:
        while len(results) < len(jobs):
            while pending and pool.free():
                job = pending.pop()
                pool.submit((job.assignment, job.student), job)
            if not pool.busy():
                break
            for ended in pool.poll(5.0):
                outcome = _outcome(by_key[ended.key], ended, job_timeout)
                results[outcome.key] = outcome
                bar.update(outcome.status == oc.ERROR)
    finally:
        bar.close()
        pool.close()
    return [results[(j.assignment, j.student)] for j in jobs]


def _outcome(job: Job, ended: Ended, job_timeout: float) -> Outcome:
    """The Outcome of a job that ended: the grade, or the explicit error its end means."""
    if ended.how == DONE:
        return ended.result
    if ended.how == FAILED:  # the session itself raised: never let that pass silently
        outcome = Outcome(job.assignment, job.student)
        outcome.fail(oc.WORKER_CRASHED, "internal error while grading: " + ended.error[-500:])
        return outcome
    outcome = Outcome(job.assignment, job.student, seconds=ended.seconds)
    if ended.how == TIMEOUT:
        outcome.fail(oc.TIMEOUT, killed_text(job_timeout))
    else:
        outcome.fail(oc.WORKER_CRASHED, f"the grading worker died (exit code {ended.exitcode})")
    return outcome


__all__ = ["Progress", "default_workers", "die_with_parent", "kill_tree", "run_pool"]
