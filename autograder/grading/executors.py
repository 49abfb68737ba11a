"""Where grading jobs run: warm forked workers on this machine (:class:`LocalPool`) or a Dask cluster
(:class:`DaskCluster`), behind one small interface (:class:`Executor`).

The batch run (``grading/pool.py``, ``grading/cluster.py``) and the service (``service/executor.py``)
differ in what a job is and how its end is reported; the mechanics are here once: starting
workers, handing out jobs, the wall-clock backstop per job, killing an overrunning or dead worker
with its whole process tree (kernel and sandbox) and replacing it, cancelling an overdue task.
Every submitted job ends exactly once, as an :class:`Ended`; the caller words what it means.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Protocol

DONE, FAILED, TIMEOUT, DIED, STOPPED = "done", "failed", "timeout", "died", "stopped"  # how a job ended (Ended.how)


def killed_text(job_timeout: float) -> str:
    """What a local job past its backstop is told (the batch run and the service say the same)."""
    return f"grading took longer than {job_timeout:.0f} s; the worker, its kernel and its sandbox were killed"


class ClusterError(Exception):
    """The cluster cannot grade this run (unreachable, no workers, other grading code): nothing was graded."""


@dataclass
class Ended:
    """One job's end: its result (``how == DONE``) or why there is none."""

    key: Hashable
    how: str = DONE
    result: Any = None
    error: str = ""  # FAILED: the worker's own report (a traceback tail)
    seconds: float = 0.0  # wall-clock time since the job was handed out
    cpu: float | None = None  # CPU seconds the job used (local workers: the worker and its kernels, sandboxes)
    exitcode: int | None = None  # DIED: the local worker's exit status
    exception: BaseException | None = None  # FAILED on a cluster: the task's exception


class Executor(Protocol):
    """Runs jobs somewhere; each submitted job ends exactly once, in some :meth:`poll`."""

    job_timeout: float

    def free(self) -> int:
        """How many more jobs could start now."""

    def busy(self) -> int:
        """How many jobs (or starting workers) there is news to poll for."""

    def submit(self, key: Hashable, job: Any) -> None:
        """Start ``job``; its end is reported under ``key``."""

    def poll(self, timeout: float) -> list[Ended]:
        """Wait up to ``timeout`` seconds; the jobs that ended (overdue ones are stopped and reported)."""

    def close(self) -> None:
        """Stop every worker (or disconnect); nothing may run on afterwards."""


# ----------------------------------------------------------------------------------------- local


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent dies (Linux), so a killed coordinator leaves no worker behind.

    The worker's jails die with it in turn (bubblewrap's ``--die-with-parent``).
    """
    import ctypes

    PR_SET_PDEATHSIG = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a process and all its descendants, living and reaped.

    A living process's ``children_*`` times hold its reaped descendants (a finished kernel), so
    the sum over the living tree counts every process once. The same work gives the same number
    on a quiet machine and on a loaded one, which is what a budget must count.
    """
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


@dataclass
class Running:
    """A job being worked on now: how long it has run, and how much CPU it has used (None where unknown)."""

    key: Hashable
    seconds: float
    cpu: float | None


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every descendant (kernels and sandbox workers run in their own sessions)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.suspend()
    for p in procs:  # children found after freezing the tree
        with contextlib.suppress(psutil.Error):
            for child in p.children(recursive=True):
                if child not in procs:
                    procs.append(child)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(procs, timeout=5)


def _worker_main(conn: Connection, setup: Callable[[], Callable[[Any], Any]], log_path: str, parent: int) -> None:
    """Body of one worker process: ``handle = setup()`` once (warm), then ``handle(job)`` per job until told to stop."""
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent owns Ctrl-C
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler (the service has one)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        handle = setup()
        conn.send(("ready", os.getpid()))
        while True:
            try:
                message = conn.recv()
            except EOFError:
                break
            if message is None:
                break
            key, job = message
            try:
                conn.send(("done", key, handle(job), ""))
            except Exception:  # noqa: BLE001 - one submission never takes the worker down silently
                conn.send(("failed", key, None, traceback.format_exc()))
    except Exception:  # noqa: BLE001
        with contextlib.suppress(Exception):
            conn.send(("fatal", traceback.format_exc()))
    finally:
        sys.stdout.flush()
        os._exit(0)


class _Worker:
    """One forked worker process and the job it has (if any)."""

    def __init__(self, ctx: Any, setup: Callable[[], Callable[[Any], Any]], log_path: Path) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, setup, str(log_path), os.getpid()), daemon=True)
        self.proc.start()
        child.close()
        self.ready = False
        self.key: Hashable | None = None
        self.deadline = 0.0
        self.started = 0.0
        self.cpu_base = 0.0  # the worker tree's CPU seconds when its job was handed out

    def job_cpu(self) -> float:
        """CPU seconds used by the current job so far."""
        return max(0.0, tree_cpu_seconds(self.proc.pid) - self.cpu_base) if self.proc.pid else 0.0

    def kill(self) -> None:
        if self.proc.pid is not None:
            kill_tree(self.proc.pid)
        self.proc.join(5)
        self.conn.close()


class LocalPool:
    """``workers`` forked, warm grading processes on this machine.

    ``setup`` runs once in each worker (after the fork: it may be a closure) and returns the
    handler each job is given to; a handler should turn its own failures into results.
    """

    def __init__(self, setup: Callable[[], Callable[[Any], Any]], workers: int, job_timeout: float,
                 log_dir: Path) -> None:
        import multiprocessing

        self.ctx = multiprocessing.get_context("fork")
        self.setup, self.job_timeout = setup, job_timeout
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.size = max(1, workers)
        self.pool = [self._spawn() for _ in range(self.size)]

    def _spawn(self) -> _Worker:
        self.count += 1
        return _Worker(self.ctx, self.setup, self.log_dir / f"worker-{self.count}.log")

    def free(self) -> int:
        """Workers ready for a job now."""
        return sum(1 for w in self.pool if w.ready and w.key is None)

    def busy(self) -> int:
        """Workers with a job, or still starting (either has news to poll for)."""
        return sum(1 for w in self.pool if w.key is not None or not w.ready)

    def submit(self, key: Hashable, job: Any) -> None:
        """Hand ``job`` to a free worker (there must be one: see :meth:`free`)."""
        worker = next(w for w in self.pool if w.ready and w.key is None)
        worker.key, worker.started = key, time.monotonic()
        worker.deadline = worker.started + self.job_timeout
        worker.cpu_base = tree_cpu_seconds(worker.proc.pid) if worker.proc.pid else 0.0
        worker.conn.send((key, job))

    def running(self, cpu: bool = True) -> list[Running]:
        """The jobs being worked on: wall seconds since each was handed out, and (``cpu``) its CPU seconds."""
        now = time.monotonic()
        return [Running(w.key, now - w.started, w.job_cpu() if cpu else None) for w in self.pool if w.key is not None]

    def stop(self, key: Hashable) -> Ended | None:
        """End job ``key`` now (its worker, kernel and sandbox killed; a fresh worker replaces them)."""
        for i, w in enumerate(self.pool):
            if w.key == key:
                seconds, cpu = round(time.monotonic() - w.started, 3), round(w.job_cpu(), 3)
                w.kill()
                self.pool[i] = self._spawn()
                return Ended(key, STOPPED, seconds=seconds, cpu=cpu)
        return None

    def poll(self, timeout: float) -> list[Ended]:
        """Wait up to ``timeout`` seconds (less if a backstop falls due); the jobs that ended.

        A worker past its job's backstop, or dead, is killed with its process tree and replaced.
        """
        done: list[Ended] = []
        now = time.monotonic()
        deadline = min((w.deadline for w in self.pool if w.key is not None), default=now + timeout)
        ready = wait([w.conn for w in self.pool] + [w.proc.sentinel for w in self.pool],
                     timeout=max(0.0, min(timeout, deadline - now)))
        for i, w in enumerate(self.pool):
            message = None
            if w.conn in ready:
                try:
                    message = w.conn.recv()
                except (EOFError, OSError):
                    message = None
            if message is not None and message[0] == "ready":
                w.ready = True
                continue
            if message is not None and message[0] in ("done", "failed"):
                seconds = round(time.monotonic() - w.started, 3)
                done.append(Ended(message[1], DONE if message[0] == "done" else FAILED, message[2], message[3],
                                  seconds, round(w.job_cpu(), 3)))
                w.key = None
                continue
            if message is not None and message[0] == "fatal":
                raise RuntimeError("a grading worker could not start:\n" + message[1])
            died = (w.proc.sentinel in ready and not w.proc.is_alive()) or (w.conn in ready and message is None)
            overran = w.key is not None and time.monotonic() > w.deadline
            if died or overran:
                key, seconds = w.key, round(time.monotonic() - w.started, 3)
                w.kill()
                if key is not None:
                    done.append(Ended(key, TIMEOUT if overran else DIED, seconds=seconds, exitcode=w.proc.exitcode))
                elif not w.ready:
                    raise RuntimeError(f"a grading worker died while starting; see {self.log_dir}")
                self.pool[i] = self._spawn()
        return done

    def close(self) -> None:
        """Ask every worker to stop; kill those that do not."""
        for w in self.pool:
            with contextlib.suppress(OSError, BrokenPipeError):
                w.conn.send(None)
        for w in self.pool:
            w.proc.join(10)
            if w.proc.is_alive():
                w.kill()
            w.conn.close()


# ----------------------------------------------------------------------------------------- Dask


class DaskCluster:
    """Tasks on the Dask cluster at ``scheduler``: ``job`` is the argument tuple of ``task``.

    ``size`` (how many tasks to keep running) is what the caller learnt from the workers; the
    backstop counts from submission, and an overdue task is cancelled.
    """

    def __init__(self, scheduler: str, task: Callable[..., Any], job_timeout: float, prefix: str = "zengrad") -> None:
        from distributed import Client

        try:
            self.client = Client(scheduler, timeout="30s", set_as_default=False)
        except OSError as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        self.task, self.job_timeout = task, job_timeout
        self.prefix = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.size = 0
        self.pending: dict[Any, tuple[Hashable, float]] = {}

    def free(self) -> int:
        return max(0, self.size - len(self.pending))

    def busy(self) -> int:
        return len(self.pending)

    def running(self, cpu: bool = True) -> list[Running]:
        """The tasks submitted and not ended: wall seconds since submission (their CPU is not known here)."""
        now = time.monotonic()
        return [Running(key, now - started, None) for key, started in self.pending.values()]

    def submit(self, key: Hashable, job: Any) -> None:
        """Submit ``task(*job)``; the Dask key names the run and ``key`` (a tuple is joined with '-')."""
        name = "-".join(map(str, key)) if isinstance(key, tuple) else str(key)
        future = self.client.submit(self.task, *job, key=f"{self.prefix}-{name}", pure=False)
        self.pending[future] = (key, time.monotonic())

    def poll(self, timeout: float) -> list[Ended]:
        """Check every ``interval`` until something ended or ``timeout`` passed; overdue tasks are cancelled."""
        end = time.monotonic() + timeout
        while True:
            done: list[Ended] = []
            for future, (key, started) in list(self.pending.items()):
                seconds = round(time.monotonic() - started, 3)
                if future.done():
                    try:
                        done.append(Ended(key, DONE, future.result(), seconds=seconds))
                    except Exception as exc:  # noqa: BLE001 - the task's failure is this job's end
                        done.append(Ended(key, FAILED, error=f"{type(exc).__name__}: {exc}", seconds=seconds,
                                          exception=exc))
                elif seconds > self.job_timeout:
                    future.cancel()
                    done.append(Ended(key, TIMEOUT, seconds=seconds))
                else:
                    continue
                del self.pending[future]
            if done or time.monotonic() >= end:
                return done
            time.sleep(min(0.2, max(0.0, end - time.monotonic())))

    def close(self) -> None:
        self.client.close()


__all__ = ["DIED", "DONE", "FAILED", "STOPPED", "TIMEOUT", "ClusterError", "DaskCluster", "Ended", "Executor",
           "LocalPool", "Running", "die_with_parent", "kill_tree", "killed_text", "tree_cpu_seconds"]
