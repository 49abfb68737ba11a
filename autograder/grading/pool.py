"""Step 4 (local): grade submissions in parallel on this machine, in forked worker processes.

Each worker builds one :class:`~autograder.grading.session.GradingSession` (nbgrader and the
checks imported once, before forking) and grades jobs until told to stop. The parent enforces a
wall-clock backstop per submission (it kills the worker's whole process tree: kernel and sandbox
included), replaces dead workers, and collects exactly one ``Outcome`` per job.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import traceback
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from autograder.grading.discover import Job
from autograder.grading.session import GradingSession
from autograder.results import outcomes as oc
from autograder.results.outcomes import Outcome


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


def _worker_main(conn: Connection, course: str, overrides: list[str], feedback: bool, log_path: str,
                 parent: int) -> None:
    """Body of one worker process: build a session once, then grade jobs until told to stop."""
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent owns Ctrl-C
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        session = GradingSession(Path(course), overrides, feedback)
        conn.send(("ready", os.getpid()))
        while True:
            try:
                job = conn.recv()
            except EOFError:
                break
            if job is None:
                break
            try:
                outcome = session.grade(job)
            except Exception:  # noqa: BLE001 - never let one submission take the worker down silently
                outcome = Outcome(job.assignment, job.student)
                outcome.fail(oc.WORKER_CRASHED, "internal error while grading: " + traceback.format_exc()[-500:])
            conn.send(("done", outcome))
    except Exception:  # noqa: BLE001
        with contextlib.suppress(Exception):
            conn.send(("fatal", traceback.format_exc()))
    finally:
        sys.stdout.flush()
        os._exit(0)


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


class _Worker:
    def __init__(self, ctx: Any, course: Path, overrides: list[str], feedback: bool, log_path: Path) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, str(course), overrides, feedback, str(log_path),
                                                           os.getpid()), daemon=True)
        self.proc.start()
        child.close()
        self.job: Job | None = None
        self.deadline = 0.0
        self.ready = False
        self.started = 0.0

    def send(self, job: Job, timeout: float) -> None:
        self.job, self.started, self.deadline = job, time.monotonic(), time.monotonic() + timeout
        self.conn.send(job)

    def kill(self) -> None:
        if self.proc.pid is not None:
            kill_tree(self.proc.pid)
        self.proc.join(5)
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self.conn.send(None)
        self.proc.join(10)
        if self.proc.is_alive():
            self.kill()
        self.conn.close()


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
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    log_dir = log_dir or (course / "reports" / "logs")
    log_dir.mkdir(parents=True, exist_ok=True)
    pending = list(reversed(jobs))
    results: dict[tuple[str, str], Outcome] = {}
    n = max(1, min(workers, len(jobs)))
    counter = iter(range(1, 1 << 30))

    def spawn() -> _Worker:
        return _Worker(ctx, course, overrides, feedback, log_dir / f"worker-{next(counter)}.log")

    pool = [spawn() for _ in range(n)]
    bar = Progress(len(jobs), progress)
    try:
        while len(results) < len(jobs):
            for w in pool:
                if w.ready and w.job is None and pending:
                    w.send(pending.pop(), job_timeout)
            busy = [w for w in pool if w.job is not None or not w.ready]
            if not busy:
                break
            now = time.monotonic()
            next_deadline = min((w.deadline for w in busy if w.job is not None), default=now + 5)
            ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy],
                         timeout=max(0.05, next_deadline - now))
            replaced: list[tuple[_Worker, _Worker]] = []
            for w in busy:
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
                    outcome: Outcome = message[1]
                    results[outcome.key] = outcome
                    w.job = None
                    bar.update(outcome.status == oc.ERROR)
                    continue
                if message is not None and message[0] == "fatal":
                    raise RuntimeError("a grading worker could not start:\n" + message[1])
                died = w.proc.sentinel in ready and not w.proc.is_alive() or (w.conn in ready and message is None)
                timed_out = w.job is not None and time.monotonic() > w.deadline
                if died or timed_out:
                    job = w.job
                    seconds = time.monotonic() - w.started
                    w.kill()
                    if job is not None:
                        outcome = Outcome(job.assignment, job.student, seconds=round(seconds, 3))
                        if timed_out:
                            outcome.fail(oc.TIMEOUT, f"grading took longer than {job_timeout:.0f} s; the worker, "
                                                     "its kernel and its sandbox were killed")
                        else:
                            outcome.fail(oc.WORKER_CRASHED, f"the grading worker died (exit code "
                                                            f"{w.proc.exitcode})")
                        results[outcome.key] = outcome
                        bar.update(True)
                    elif not w.ready:
                        raise RuntimeError("a grading worker died while starting; see " + str(log_dir))
                    replaced.append((w, spawn()))
            for old, new in replaced:
                pool[pool.index(old)] = new
    finally:
        bar.close()
        for w in pool:
            w.stop()
    return [results[(j.assignment, j.student)] for j in jobs]
