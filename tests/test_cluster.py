"""Grading beyond one machine's pool: a real Dask scheduler and workers on 127.0.0.1, and a killed coordinator.

The scheduler and two workers are separate processes started with Dask's own command line, as an
instructor would start them on other machines. The same class is graded by the local pool and
on the cluster, and the gradebooks are compared. Killing a worker mid-run, or the coordinator
itself, must still end with exactly one outcome per submission, and nothing left running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from autograder.mutants import catalogue
from autograder.results import outcomes as oc
from tests.course_helpers import Course, mutate, release_nb, solution_nb

pytestmark = pytest.mark.slow

PS1, PS2 = "ps1_operators", "ps2_backprop"


def submit_class(course: Course, size: int = 1) -> None:
    bug = catalogue()[PS1]["mul_swapped"]
    for i in range(size):
        course.submit(f"perfect{i}", PS1, solution_nb(PS1))
        course.submit(f"bug{i}", PS1, mutate(solution_nb(PS1), bug.cell, bug.old, bug.new))
    course.submit("stub", PS1, release_nb(PS1))
    course.submit("bad-json", PS1, '{"cells": [')
    course.submit("perfect0", PS2, solution_nb(PS2))


def zengrad(course: Course, *args: str, wait: bool = True) -> subprocess.CompletedProcess | subprocess.Popen:
    cmd = [sys.executable, "-m", "autograder.cli", "grade", "--no-progress", "--no-feedback", *args]
    if not wait:
        return subprocess.Popen(cmd, cwd=course.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    return subprocess.run(cmd, cwd=course.root, text=True, capture_output=True, timeout=900)


def grades(course: Course) -> dict:
    return {a: course.grades(a) for a in (PS1, PS2)}


def outcomes(course: Course) -> dict:
    data = json.loads((course.root / "reports" / "outcomes.json").read_text())["outcomes"]
    return {(o["assignment"], o["student"]): o for o in data}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-threaded workers, each a separate process, on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("dask")
    env = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1")
    scheduler_file = folder / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--dashboard-address", ":0", "--scheduler-file", str(scheduler_file)],
                              cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for _ in range(300):
        if scheduler_file.exists():
            break
        time.sleep(0.1)
    address = json.loads(scheduler_file.read_text())["address"]
    workers = []
    for i in range(2):
        workers.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads",
                                         "1", "--no-nanny", "--name", f"w{i}", "--local-directory",
                                         str(folder / f"w{i}")], cwd=folder, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL))
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(2, timeout=120)
    yield address, workers
    for proc in [*workers, *procs]:
        proc.kill()
        proc.wait()


def test_the_cluster_grades_like_the_local_pool(cluster, course_template, tmp_path: Path) -> None:
    address, _ = cluster
    local, remote = course_template.copy_to(tmp_path / "local"), course_template.copy_to(tmp_path / "remote")
    for course in (local, remote):
        submit_class(course)
    first = zengrad(local, "--workers", "2")
    second = zengrad(remote, "--scheduler", address)
    assert first.returncode == second.returncode == oc.EXIT_SUBMISSION_ERRORS, second.stdout + second.stderr
    assert grades(remote) == grades(local)
    a, b = outcomes(local), outcomes(remote)
    assert {k: (o["status"], o["error_kind"], o["score"]) for k, o in b.items()} == \
        {k: (o["status"], o["error_kind"], o["score"]) for k, o in a.items()}
    assert "Dask cluster" in (remote.root / "reports" / "summary.md").read_text()
    for student in ("perfect0", "bug0"):  # the coordinator wrote the autograded notebooks, as a local run does
        assert remote.autograded(student, PS1).metadata["zengrad"]["verdicts"]


def test_a_worker_that_dies_mid_run_still_leaves_one_outcome_per_submission(cluster, course_template,
                                                                              tmp_path: Path) -> None:
    address, workers = cluster
    course = course_template.copy_to(tmp_path / "course")
    submit_class(course, size=3)
    run = zengrad(course, "--scheduler", address, wait=False)
    time.sleep(8)
    workers[0].kill()  # one of the two workers, while tasks are running
    assert run.wait(timeout=900) in (oc.EXIT_OK, oc.EXIT_SUBMISSION_ERRORS)
    got = outcomes(course)
    expected = {(PS1, s) for s in ("perfect0", "perfect1", "perfect2", "bug0", "bug1", "bug2", "stub", "bad-json")}
    assert set(got) == expected | {(PS2, "perfect0")}
    for key, o in got.items():
        if key[1] == "bad-json":
            assert o["error_kind"] == oc.BAD_JSON
        elif o["status"] == oc.ERROR:  # a task whose retry died too: explicit, never silent
            assert o["error_kind"] == oc.WORKER_CRASHED, o
        else:
            assert o["score"] == {"perfect": 11, "bug": 10, "stub": 0}[key[1].rstrip("012")] or key[0] == PS2


def jailed_or_run_processes(course: Course) -> list[dict]:
    out = []
    for p in psutil.process_iter(["pid", "cmdline", "uids", "cwd"]):
        try:
            cmd = " ".join(p.info["cmdline"] or [])
            jailed = p.info["uids"] is not None and p.info["uids"].real >= 2_100_000_000
            if jailed or "zengrad-jail-" in cmd or str(course.root) in (p.info["cwd"] or ""):
                out.append(p.info)
        except psutil.Error:
            pass
    return out


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_a_killed_coordinator_leaves_nothing_and_a_rerun_completes(executor: str, cluster, course_template,
                                                                    tmp_path: Path) -> None:
    address, _ = cluster
    args = ["--scheduler", address] if executor == "dask" else ["--workers", "2"]
    reference = course_template.copy_to(tmp_path / "reference")
    submit_class(reference, size=2)
    assert zengrad(reference, *args).returncode == oc.EXIT_SUBMISSION_ERRORS
    for resume in ("--resume", None):
        course = course_template.copy_to(tmp_path / f"killed{resume or ''}")
        submit_class(course, size=2)
        run = zengrad(course, *args, wait=False)
        time.sleep(12)
        os.kill(run.pid, signal.SIGKILL)  # the coordinator only: its workers must notice on their own
        run.wait()
        deadline = time.monotonic() + 20
        while jailed_or_run_processes(course) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert jailed_or_run_processes(course) == []
        again = zengrad(course, *args, *([resume] if resume else []))
        assert again.returncode == oc.EXIT_SUBMISSION_ERRORS, again.stdout + again.stderr
        assert grades(course) == grades(reference)
        assert {k: o["score"] for k, o in outcomes(course).items()} == \
            {k: o["score"] for k, o in outcomes(reference).items()}
