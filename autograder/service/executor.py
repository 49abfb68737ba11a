"""Where the service's grading runs: forked worker processes here, or a Dask cluster (``--scheduler``).

Both take a task (one submission's material, files and visibility) and give back a
:class:`~autograder.service.worker.FeedbackResult` or an error text, one per task, never more.
The local workers are warm: each builds its private course for every assignment once, at start,
so a submission pays only for its own grading. A worker that dies or overruns its backstop is
killed with its whole process tree (kernel and sandbox) and replaced; its task ends in an error.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import traceback
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from autograder.grading.pool import die_with_parent, kill_tree
from autograder.sandbox.backends import Backend
from autograder.service.worker import FeedbackResult, grade_for_feedback, warm


@dataclass
class Task:
    """One submission to grade for feedback."""

    name: str  # the inbound name: the task's identity
    material: Any  # autograder.grading.private.Material
    student: str
    files: dict[str, bytes]
    overrides: tuple[str, ...]
    levels: dict[str, str]


Finished = tuple[str, FeedbackResult | None, str]  # (task name, result, error text if no result)


def _worker_main(conn: Connection, materials: list[Any], overrides: tuple[str, ...], log_path: str,
                 parent: int) -> None:
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        for material in materials:
            warm(material, overrides)
        conn.send(("ready", os.getpid()))
        while True:
            try:
                task = conn.recv()
            except EOFError:
                break
            if task is None:
                break
            try:
                result = grade_for_feedback(task.material, task.student, task.files, task.overrides, task.levels)
                conn.send(("done", task.name, result, ""))
            except Exception:  # noqa: BLE001 - one submission never takes the worker down silently
                conn.send(("done", task.name, None, "internal error while grading: " + traceback.format_exc()[-800:]))
    except Exception:  # noqa: BLE001
        with contextlib.suppress(Exception):
            conn.send(("fatal", traceback.format_exc()))
    finally:
        sys.stdout.flush()
        os._exit(0)


class _Worker:
    def __init__(self, ctx: Any, materials: list[Any], overrides: tuple[str, ...], log_path: Path) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, materials, overrides, str(log_path), os.getpid()),
                                daemon=True)
        self.proc.start()
        child.close()
        self.ready = False
        self.task: Task | None = None
        self.deadline = 0.0

    def kill(self) -> None:
        if self.proc.pid is not None:
            kill_tree(self.proc.pid)
        self.proc.join(5)
        self.conn.close()


class LocalExecutor:
    """``workers`` forked, warm grading processes on this machine."""

    def __init__(self, materials: list[Any], overrides: tuple[str, ...], workers: int, job_timeout: float,
                 log_dir: Path) -> None:
        import multiprocessing

        self.ctx = multiprocessing.get_context("fork")
        self.materials, self.overrides, self.job_timeout = materials, overrides, job_timeout
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.size = max(1, workers)
        self.pool = [self._spawn() for _ in range(self.size)]

    def _spawn(self) -> _Worker:
        self.count += 1
        return _Worker(self.ctx, self.materials, self.overrides, self.log_dir / f"worker-{self.count}.log")

    def free(self) -> int:
        """Workers ready for a task now."""
        return sum(1 for w in self.pool if w.ready and w.task is None)

    def busy(self) -> int:
        """Workers with a task, or still starting (either has news to poll for)."""
        return sum(1 for w in self.pool if w.task is not None or not w.ready)

    def submit(self, task: Task) -> None:
        worker = next(w for w in self.pool if w.ready and w.task is None)
        worker.task, worker.deadline = task, time.monotonic() + self.job_timeout
        worker.conn.send(task)

    def poll(self, timeout: float) -> list[Finished]:
        """Wait up to ``timeout`` seconds for workers; the tasks that ended."""
        done: list[Finished] = []
        now = time.monotonic()
        deadline = min((w.deadline for w in self.pool if w.task is not None), default=now + timeout)
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
            if message is not None and message[0] == "done":
                done.append((message[1], message[2], message[3]))
                w.task = None
                continue
            if message is not None and message[0] == "fatal":
                raise RuntimeError("a grading worker could not start:\n" + message[1])
            died = (w.proc.sentinel in ready and not w.proc.is_alive()) or (w.conn in ready and message is None)
            overran = w.task is not None and time.monotonic() > w.deadline
            if died or overran:
                task = w.task
                w.kill()
                if task is not None:
                    why = (f"grading took longer than {self.job_timeout:.0f} s; the worker, its kernel and its "
                           "sandbox were killed") if overran else f"the grading worker died (exit {w.proc.exitcode})"
                    done.append((task.name, None, why))
                elif not w.ready:
                    raise RuntimeError(f"a grading worker died while starting; see {self.log_dir}")
                self.pool[i] = self._spawn()
        return done

    def close(self) -> None:
        for w in self.pool:
            with contextlib.suppress(OSError, BrokenPipeError):
                w.conn.send(None)
        for w in self.pool:
            w.proc.join(5)
            if w.proc.is_alive():
                w.kill()


class DaskExecutor:
    """Tasks on a Dask cluster; the workers need zengrad-kit (the same fingerprint) and the sandbox."""

    def __init__(self, scheduler: str, materials: list[Any], job_timeout: float,
                 backend: Backend | None = None) -> None:
        from distributed import Client

        from autograder.grading.cluster import ClusterError, check_workers
        from autograder.grading.private import fingerprint

        try:
            self.client = Client(scheduler, timeout="30s", set_as_default=False)
        except OSError as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        self.size = check_workers(self.client, fingerprint(), backend)
        self.materials = {m.assignment: self.client.scatter(m, broadcast=True) for m in materials}
        self.job_timeout = job_timeout
        self.pending: dict[Any, tuple[str, float]] = {}
        self.run = uuid.uuid4().hex[:8]

    def free(self) -> int:
        return max(0, self.size - len(self.pending))

    def busy(self) -> int:
        return len(self.pending)

    def submit(self, task: Task) -> None:
        future = self.client.submit(grade_for_feedback, self.materials[task.material.assignment], task.student,
                                    task.files, task.overrides, task.levels,
                                    key=f"zengrad-serve-{self.run}-{task.name}", pure=False)
        self.pending[future] = (task.name, time.monotonic())

    def poll(self, timeout: float) -> list[Finished]:
        end = time.monotonic() + timeout
        while True:
            done: list[Finished] = []
            for future, (name, started) in list(self.pending.items()):
                if future.done():
                    try:
                        done.append((name, future.result(), ""))
                    except Exception as exc:  # noqa: BLE001 - the task's failure is this submission's error
                        done.append((name, None, f"grading on the cluster failed: {type(exc).__name__}: {exc}"[:400]))
                elif time.monotonic() - started > self.job_timeout:
                    future.cancel()
                    done.append((name, None, f"grading on the cluster took longer than {self.job_timeout:.0f} s"))
                else:
                    continue
                del self.pending[future]
            if done or time.monotonic() >= end:
                return done
            time.sleep(min(0.2, max(0.0, end - time.monotonic())))

    def close(self) -> None:
        self.client.close()
