"""Step 4: hand every submission to an executor's workers and record each result, in this process only.

Whether the workers are forked processes on this machine (:mod:`autograder.grading.pool`) or a
Dask cluster (:mod:`autograder.grading.cluster`), a job is the same call,
:func:`~autograder.grading.private.grade_submission`, and its result is recorded the same way,
by the one :class:`~autograder.grading.recorder.RecordingSession` that writes the gradebook.
Each job ends exactly once: recorded, or an explicit error the executor words.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.grading.discover import Job
from autograder.grading.executors import DONE, Ended, Executor
from autograder.grading.pool import Progress
from autograder.grading.private import Grading, submission_files
from autograder.results import outcomes as oc
from autograder.results.outcomes import Outcome

if TYPE_CHECKING:
    from autograder.grading.recorder import RecordingSession


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
