"""Step 4: hand every submission to an executor's workers and record each result, in this process only.

Whether the workers are forked processes on this machine (:mod:`autograder.grading.pool`) or a
Dask cluster (:mod:`autograder.grading.cluster`), a job is the same call,
:func:`~autograder.grading.private.grade_submission`, and its result is recorded the same way,
by the one :class:`~autograder.grading.recorder.RecordingSession` that writes the gradebook.
Each job ends exactly once: recorded, or an explicit error the executor words.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.grading.discover import Job
from autograder.grading.executors import DONE, Ended, Executor
from autograder.grading.private import Grading, submission_files
from autograder.results import outcomes as oc
from autograder.results.outcomes import Outcome

if TYPE_CHECKING:
    from autograder.grading.recorder import RecordingSession


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


@dataclass(frozen=True)
class Batch:
    """What every job of a run shares: the course, each assignment's material (or a Dask future of it),
    how the workers grade, and whether to show progress."""

    course: Path
    materials: dict[str, Any]
    how: Grading
    progress: bool = True


def grade_jobs(executor: Executor, batch: Batch, jobs: list[Job], recorder: RecordingSession,
               ended_without_result: Callable[[Job, Ended], Outcome], poll: float = 5.0) -> list[Outcome]:
    """Grade ``jobs`` on ``executor`` and record every result; one Outcome per job, in job order.

    ``ended_without_result`` words a job that ended without a result (killed, crashed, cancelled).
    """
    by_key = {(j.assignment, j.student): j for j in jobs}
    pending = list(reversed(jobs))
    results: dict[tuple[str, str], Outcome] = {}
    bar = Progress(len(jobs), batch.progress)

    def refill() -> None:
        while pending and executor.free():
            job = pending.pop()
            executor.submit((job.assignment, job.student), (batch.materials[job.assignment], job.student,
                                                            submission_files(batch.course, job), batch.how))

    try:
        while len(results) < len(jobs):
            refill()
            if not executor.busy():
                break
            ended = executor.poll(poll)
            refill()  # the workers go on while this process records
            for end in ended:
                job = by_key[end.key]
                outcome = _record(recorder, job, end.result) if end.how == DONE else ended_without_result(job, end)
                results[outcome.key] = outcome
                bar.update(outcome.status == oc.ERROR)
    finally:
        bar.close()
    return [results[(j.assignment, j.student)] for j in jobs]


def _record(recorder: RecordingSession, job: Job, graded: Any) -> Outcome:
    """The recorded outcome of a worker's result; an explicit error if recording it failed."""
    try:
        return recorder.record(job, graded)
    except Exception:  # noqa: BLE001 - one submission never ends the run silently
        outcome = Outcome(job.assignment, job.student)
        outcome.fail(oc.WORKER_CRASHED, "internal error while recording the result: " + traceback.format_exc()[-500:])
        return outcome
