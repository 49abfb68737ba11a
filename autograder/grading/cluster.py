"""Step 4 (scale-out): grade submissions on an existing Dask distributed cluster.

Each task grades one submission end to end on a worker, in a private course built from the
assignment's material (:func:`~autograder.grading.private.grade_submission`, the function every
other way of grading calls), with the same sandbox as a local run: a Dask worker is not a
security boundary, the jail is. Workers never touch the gradebook; this process (the
coordinator) records every result with nbgrader's own converter and verifies it afterwards,
exactly as for the local pool (:mod:`autograder.grading.coordinator`).

* Before anything is graded, every worker's grading code must have the coordinator's
  fingerprint (``private.fingerprint()``): a clear error otherwise.
* A worker that dies mid-task: the scheduler reschedules the task on another worker
  (``distributed.scheduler.allowed-failures``; 1 is a good value for grading), then the
  coordinator records an explicit ``worker-crashed`` error. Exactly one outcome per submission.
* A coordinator that goes away: its tasks are cancelled by the scheduler; a running task sees
  that and kills its own sandboxes, so nothing of the run is left on the workers.
* Workers should run one task at a time (``dask worker --nthreads 1``; more processes per
  machine with ``--nworkers``): a grading session changes the process's working directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Any

from autograder.grading.discover import Job
from autograder.grading.executors import TIMEOUT, ClusterError, DaskCluster, Ended
from autograder.grading.private import Graded, Grading, Material, fingerprint, grade_submission
from autograder.results import outcomes as oc
from autograder.results.outcomes import Outcome
from autograder.sandbox.backends import DEFAULT_BACKEND, Backend


def _kill_own_sandboxes() -> None:
    """SIGKILL every process this worker process started (its jails); each jail takes its namespace with it."""
    import psutil

    for child in psutil.Process().children(recursive=False):
        with contextlib.suppress(psutil.Error):
            os.killpg(child.pid, signal.SIGKILL)
        with contextlib.suppress(psutil.Error):
            child.kill()


def _watch_cancellation(stop: threading.Event) -> None:
    """In a running task: kill the task's sandboxes when the scheduler cancels it (its client went away)."""
    from distributed import get_worker
    from distributed.worker import thread_state

    key = thread_state.key
    worker = get_worker()

    def watch() -> None:
        while not stop.wait(0.5):
            ts = worker.state.tasks.get(key)
            if ts is None or ts.state in ("cancelled", "released", "forgotten"):
                _kill_own_sandboxes()
                return

    threading.Thread(target=watch, daemon=True, name="zengrad-cancel-watch").start()


def grade_task(material: Material, student: str, files: dict[str, bytes], how: Grading) -> Graded:
    """The Dask task: one submission, graded in this worker's private course."""
    stop = threading.Event()
    with contextlib.suppress(Exception):  # outside a Dask worker (a test): nothing to watch
        _watch_cancellation(stop)
    try:
        return grade_submission(material, student, files, how)
    finally:
        stop.set()


def sandbox_problem(backend: str) -> str | None:
    """On a worker: why the sandbox named ``backend`` cannot start there (None: it can, or it needs nothing).

    Takes the name, not the object: the worker checks its own executables, not the coordinator's paths.
    """
    from autograder.sandbox.backends import backend_named

    return backend_named(backend).problem()


def check_workers(client: Any, expected: str, backend: Backend | None = None) -> int:
    """The number of workers; ClusterError if there are none, one has other grading code, or the sandbox
    (``backend``, bubblewrap unless given) cannot start on one."""
    info = client.scheduler_info()
    if not info.get("workers"):
        raise ClusterError(f"the Dask cluster at {client.scheduler.address} has no workers")
    try:
        found = client.run(fingerprint)
    except Exception as exc:  # noqa: BLE001 - typically: zengrad-kit is not installed on a worker
        raise ClusterError(f"could not ask the workers for their grading code ({type(exc).__name__}: {exc}); "
                           "install zengrad-kit on every worker (pip install zengrad-kit[cluster])") from None
    wrong = {addr: fp for addr, fp in found.items() if fp != expected}
    if not wrong:
        name = backend.name if backend is not None else DEFAULT_BACKEND
        problems = {addr: p for addr, p in client.run(sandbox_problem, name).items() if p}
        if problems:
            listed = "; ".join(f"{addr}: {p}" for addr, p in sorted(problems.items()))
            raise ClusterError(f"the sandbox cannot start on some workers (nothing was graded): {listed}")
    if wrong:
        listed = ", ".join(f"{addr} has {fp}" for addr, fp in sorted(wrong.items()))
        raise ClusterError(f"the workers must run this coordinator's grading code ({expected}); {listed}. "
                           "Install the same zengrad-kit (and course checks) on every worker.")
    return len(found)


def dask_cluster(scheduler: str, materials: dict[str, Material], jobs: int, job_timeout: float,
                 backend: Backend | None = None) -> tuple[DaskCluster, dict[str, Any]]:
    """The cluster at ``scheduler``, its workers checked (grading code, sandbox ``backend``), taking all ``jobs``
    at once (the scheduler queues them); and each assignment's material, scattered to every worker."""
    cluster = DaskCluster(scheduler, grade_task, job_timeout)
    try:
        check_workers(cluster.client, fingerprint(), backend)
        cluster.size = jobs
        scattered = {a: cluster.client.scatter(m, broadcast=True) for a, m in sorted(materials.items())}
    except BaseException:
        cluster.close()
        raise
    return cluster, scattered


def ended_without_result(job: Job, ended: Ended, job_timeout: float) -> Outcome:
    """The explicit error of a task that brought no result back (never a silent zero)."""
    from distributed.scheduler import KilledWorker

    outcome = Outcome(job.assignment, job.student)
    if ended.how == TIMEOUT:
        outcome.fail(oc.TIMEOUT, f"grading on the cluster took longer than {job_timeout:.0f} s; "
                                 "the task was cancelled")
    elif isinstance(ended.exception, KilledWorker):
        outcome.fail(oc.WORKER_CRASHED, "the Dask workers grading this submission died (the task was retried as "
                                        "often as the scheduler allows)")
    else:
        exc = ended.exception
        outcome.fail(oc.WORKER_CRASHED, f"grading on the cluster failed: {type(exc).__name__}: {str(exc)[:300]}")
    return outcome
