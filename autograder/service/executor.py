"""Where the service's grading runs: forked worker processes here, or a Dask cluster (``--scheduler``).

Both take a task (one submission's material, files and visibility) and give back a
:class:`~autograder.service.worker.FeedbackResult` or an error text, one per task, never more.
The local workers are warm: each builds its private course for every assignment once, at start,
so a submission pays only for its own grading. A worker that dies or overruns its backstop is
killed with its whole process tree (kernel and sandbox) and replaced; its task ends in an error.
The mechanics are the grading run's (``autograder/grading/executors.py``); this module says
what a task is and words how it ended. It also tells the service what runs now (wall seconds and,
for local workers, CPU seconds of each task), for the submit-time CPU budget and the wait a
waiting page shows, and stops a task the service sets aside.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from autograder.grading.config import Overrides
from autograder.grading.executors import DONE, FAILED, TIMEOUT, DaskCluster, Ended, LocalPool, Running, killed_text
from autograder.grading.private import PrivateCourses, scratch_dir
from autograder.sandbox.backends import Backend
from autograder.service.worker import FeedbackResult, grade_for_feedback, warm


@dataclass
class Task:
    """One submission to grade for feedback."""

    name: str  # the inbound name: the task's identity
    material: Any  # autograder.grading.private.Material
    student: str
    files: dict[str, bytes]
    overrides: Overrides
    levels: dict[str, str]


class Finished(NamedTuple):
    """One task's end: its result, or the error text; the CPU seconds it used where known."""

    name: str
    result: FeedbackResult | None
    error: str
    cpu: float | None = None


class LocalExecutor:
    """``workers`` forked, warm grading processes on this machine (a LocalPool whose jobs are tasks).

    Each worker grades in private courses of its own, in a directory this executor removes on close.
    """

    def __init__(self, materials: list[Any], overrides: Overrides, workers: int, job_timeout: float,
                 log_dir: Path) -> None:
        scratch = self.scratch = scratch_dir("serve")

        def setup() -> Callable[[Task], FeedbackResult]:  # in each worker, once: every assignment's private course
            courses = PrivateCourses(scratch)
            for material in materials:
                warm(material, overrides, courses)

            def grade(task: Task) -> FeedbackResult:  # a failure is reported by the pool, as an internal error
                return grade_for_feedback(task.material, task.student, task.files, task.overrides, task.levels,
                                          courses)

            return grade

        self.job_timeout = job_timeout
        try:
            self.pool = LocalPool(setup, workers, job_timeout, log_dir)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        self.size = self.pool.size

    def free(self) -> int:
        """Workers ready for a task now."""
        return self.pool.free()

    def busy(self) -> int:
        """Workers with a task, or still starting (either has news to poll for)."""
        return self.pool.busy()

    def submit(self, task: Task) -> None:
        self.pool.submit(task.name, task)

    def running(self, cpu: bool = True) -> list[Running]:
        """The tasks being graded now, with their wall and (``cpu``) CPU seconds so far."""
        return self.pool.running(cpu)

    def stop(self, name: str) -> float | None:
        """Stop task ``name`` (worker, kernel and sandbox killed and replaced); the CPU seconds it had used."""
        ended = self.pool.stop(name)
        return ended.cpu if ended is not None else None

    def poll(self, timeout: float) -> list[Finished]:
        """Wait up to ``timeout`` seconds for workers; the tasks that ended."""
        return [self._finished(e) for e in self.pool.poll(timeout)]

    def _finished(self, ended: Ended) -> Finished:
        name = str(ended.key)
        if ended.how == DONE:
            return Finished(name, ended.result, "", ended.cpu)
        if ended.how == FAILED:
            return Finished(name, None, "internal error while grading: " + ended.error[-800:], ended.cpu)
        if ended.how == TIMEOUT:
            return Finished(name, None, killed_text(self.job_timeout), ended.cpu)
        return Finished(name, None, f"the grading worker died (exit {ended.exitcode})", ended.cpu)

    def close(self) -> None:
        self.pool.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


class DaskExecutor:
    """Tasks on a Dask cluster; the workers need zengrad-kit (the same fingerprint) and the sandbox."""

    def __init__(self, scheduler: str, materials: list[Any], job_timeout: float,
                 backend: Backend | None = None) -> None:
        from autograder.grading.cluster import check_workers
        from autograder.grading.private import fingerprint

        self.job_timeout = job_timeout
        self.cluster = DaskCluster(scheduler, grade_for_feedback, job_timeout, prefix="zengrad-serve")
        self.size = self.cluster.size = check_workers(self.cluster.client, fingerprint(), backend)
        self.materials = {m.assignment: self.cluster.client.scatter(m, broadcast=True) for m in materials}

    def free(self) -> int:
        return self.cluster.free()

    def busy(self) -> int:
        return self.cluster.busy()

    def submit(self, task: Task) -> None:
        self.cluster.submit(task.name, (self.materials[task.material.assignment], task.student, task.files,
                                        task.overrides, task.levels))

    def running(self, cpu: bool = True) -> list[Running]:
        """The tasks on the cluster now, with their wall seconds (their CPU is not known here)."""
        return self.cluster.running(cpu)

    def stop(self, name: str) -> float | None:
        """Cluster tasks are not stopped by the service (the wall-clock backstop is the cluster's)."""
        return None

    def poll(self, timeout: float) -> list[Finished]:
        return [self._finished(e) for e in self.cluster.poll(timeout)]

    def _finished(self, ended: Ended) -> Finished:
        name = str(ended.key)
        if ended.how == DONE:
            return Finished(name, ended.result, "")
        if ended.how == TIMEOUT:
            return Finished(name, None, f"grading on the cluster took longer than {self.job_timeout:.0f} s")
        return Finished(name, None, f"grading on the cluster failed: {ended.error}"[:400])

    def close(self) -> None:
        self.cluster.close()
