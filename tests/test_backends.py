"""The sandbox backend seam and the local executor seam, without grading anything (fast)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from autograder.grading.config import course_config, sandbox_backend
from autograder.grading.discover import UsageError
from autograder.grading.executors import DIED, DONE, FAILED, STOPPED, TIMEOUT, LocalPool
from autograder.sandbox.backends import (
    BACKENDS,
    DEFAULT_BACKEND,
    UNSAFE_WARNING,
    Bubblewrap,
    SandboxUnavailable,
    Unjailed,
    backend_named,
    jailed,
)
from autograder.sandbox.jail import Sandbox

REPO = Path(__file__).resolve().parents[1]


def test_backend_names_are_the_stored_values() -> None:
    assert set(BACKENDS) == {"bwrap", "none"} and DEFAULT_BACKEND == "bwrap"
    assert set(Sandbox.backend.values) == set(BACKENDS)
    assert isinstance(backend_named("bwrap"), Bubblewrap) and backend_named("bwrap").jailed
    none = backend_named("none", bwrap="/ignored")
    assert isinstance(none, Unjailed) and not none.jailed and none.warning == UNSAFE_WARNING
    none.preflight()  # nothing to check, never raises
    assert jailed("bwrap") and not jailed("none") and jailed("something-older")
    with pytest.raises(ValueError, match="unknown sandbox backend 'docker'.*bwrap, none"):
        backend_named("docker")


def test_bubblewrap_reports_a_missing_executable_as_sandbox_unavailable() -> None:
    backend = backend_named("bwrap", bwrap="/nonexistent/bwrap")
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        backend.preflight()
    assert "bubblewrap" in (backend.problem() or "")


def test_the_course_config_chooses_the_backend_and_its_options() -> None:
    assert sandbox_backend(course_config(REPO)).name == DEFAULT_BACKEND
    chosen = sandbox_backend(course_config(REPO, ["--Sandbox.bwrap=/opt/bwrap"]))
    assert isinstance(chosen, Bubblewrap) and chosen.bwrap == "/opt/bwrap" and chosen.setpriv == "setpriv"
    assert isinstance(sandbox_backend(course_config(REPO, ["--Sandbox.backend=none"])), Unjailed)
    assert Sandbox(backend="none").chosen().name == "none"
    with pytest.raises(UsageError, match="c.Sandbox.backend"):
        sandbox_backend(course_config(REPO, ["--Sandbox.backend=docker"]))


def _handler_setup():  # in each worker, after the fork
    def handle(job: str) -> str:
        if job == "raise":
            raise ValueError("boom")
        if job == "die":
            os._exit(3)
        if job == "sleep":
            time.sleep(60)
        return job * 2

    return handle


def test_local_pool_ends_every_job_exactly_once(tmp_path) -> None:
    pool = LocalPool(_handler_setup, 2, 3.0, tmp_path)
    jobs = ["a", "raise", "die", "sleep", "b"]
    pending, ended = list(jobs), {}
    try:
        while len(ended) < len(jobs):
            while pending and pool.free():
                job = pending.pop(0)
                pool.submit(job, job)
            for e in pool.poll(5.0):
                assert e.key not in ended
                ended[e.key] = e
    finally:
        pool.close()
    assert (ended["a"].how, ended["a"].result, ended["b"].result) == (DONE, "aa", "bb")
    assert ended["raise"].how == FAILED and "ValueError: boom" in ended["raise"].error
    assert ended["die"].how == DIED and ended["die"].exitcode == 3
    assert ended["sleep"].how == TIMEOUT and ended["sleep"].seconds >= 3.0
    assert all(not w.proc.is_alive() for w in pool.pool)


_BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\n"


def _cpu_setup():  # in each worker: a job that burns CPU in a child process (as a kernel does), or waits
    import subprocess
    import sys

    def handle(job: str) -> str:
        if job == "child":
            subprocess.run([sys.executable, "-c", _BURN.format(s=1.5)], check=True)
        elif job == "wait":
            time.sleep(1.5)
        elif job == "loop":
            subprocess.run([sys.executable, "-c", _BURN.format(s=600)], check=True)
        return job

    return handle


def test_local_pool_counts_a_jobs_cpu_with_its_children_and_stops_one(tmp_path) -> None:
    """CPU seconds count what the job's reaped children used, not the wall clock; stop() ends one job only."""
    pool = LocalPool(_cpu_setup, 2, 120.0, tmp_path)
    ended = {}
    try:
        while pool.free() < 2:
            pool.poll(1.0)
        pool.submit("child", "child")
        pool.submit("wait", "wait")
        while len(ended) < 2:
            ended.update({e.key: e for e in pool.poll(5.0)})
        pool.submit("loop", "loop")
        time.sleep(1.0)
        (running,) = pool.running()
        assert running.key == "loop" and running.cpu is not None and running.cpu > 0.3
        stopped = pool.stop("loop")
        assert stopped is not None and stopped.how == STOPPED and stopped.cpu > 0.3 and not pool.running()
        while pool.free() < 2:  # the stopped worker was replaced
            pool.poll(1.0)
    finally:
        pool.close()
    assert 1.3 <= ended["child"].cpu <= 3.0, ended["child"]  # the child's 1.5 s, reaped, plus a little
    assert ended["wait"].cpu < 0.5 and ended["wait"].seconds >= 1.5, ended["wait"]
