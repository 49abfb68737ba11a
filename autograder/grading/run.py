"""A grading run, end to end: discover, prepare the gradebook, grade in parallel, verify, report."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.grading.discover import UsageError, discover
from autograder.grading.gradebook import (
    Mismatch,
    check_gradebook,
    ensure_students,
    gradebook_cells,
    reset_submission,
    verify,
)
from autograder.grading.pool import default_workers, run_pool
from autograder.grading.session import preload
from autograder.results import outcomes as oc
from autograder.results.outcomes import Outcome


@dataclass
class RunResult:
    """Everything one ``grade`` call produced."""

    outcomes: list[Outcome]
    seconds: float
    workers: int
    verified: bool = True
    problems: list[Mismatch] = field(default_factory=list)
    sandbox: str = "bwrap"

    @property
    def exit_code(self) -> int:
        if not self.verified:
            return oc.EXIT_INTERNAL
        return oc.EXIT_SUBMISSION_ERRORS if any(o.status == oc.ERROR for o in self.outcomes) else oc.EXIT_OK


def course_config(course: Path, overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """The course's ``nbgrader_config.py`` plus ``--Class.trait=value`` overrides, as nbgrader would load them."""
    from traitlets.config.loader import KVArgParseConfigLoader, PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    cfg.merge(KVArgParseConfigLoader(list(overrides)).load_config())
    return cfg


def default_job_timeout(course: Path, overrides: list[str]) -> float:
    """Wall-clock backstop per submission: the notebook's backstop plus room for the checks and start-up.

    It only catches a grading run that is stuck; every limit that decides a score counts CPU time.
    """
    cfg = course_config(course, overrides)
    notebook = float(cfg.GuardedExecute.get("notebook_timeout", 1800))
    checks = float(cfg.TrustedChecks.get("cpu_seconds", 600))
    return notebook + 2 * checks + 120.0


class SandboxError(Exception):
    """The sandbox cannot start: nothing was graded (exit status 4)."""


def check_sandbox(course: Path, overrides: list[str]) -> str:
    """Start one trivial sandbox before grading anything; the backend in use ('bwrap' or 'none')."""
    from autograder.jail import UNSAFE_WARNING, SandboxUnavailable, preflight

    cfg = course_config(course, overrides)
    backend = cfg.Sandbox.get("backend", "bwrap")
    if backend == "none":
        print(f"WARNING: {UNSAFE_WARNING}", file=sys.stderr)
        return backend
    try:
        preflight(cfg.Sandbox.get("bwrap", "bwrap"), cfg.Sandbox.get("setpriv", "setpriv"))
    except SandboxUnavailable as exc:
        raise SandboxError(str(exc)) from None
    return backend


def merge_overrides(overrides: list[str] | tuple[str, ...]) -> list[str]:
    """``--Class.trait=value`` arguments with later ones replacing earlier ones for the same trait.

    traitlets rejects a trait given twice on one command line; the demo's limits
    and the user's own overrides may name the same trait.
    """
    merged: dict[str, str] = {}
    for arg in overrides:
        key = arg.split("=", 1)[0]
        merged.pop(key, None)
        merged[key] = arg
    return list(merged.values())


def grade(course: Path, assignments: list[str] | None = None, students: list[str] | None = None,
          workers: int | None = None, overrides: list[str] | tuple[str, ...] = (), job_timeout: float | None = None,
          feedback: bool = True, progress: bool = True, reports: bool = True) -> RunResult:
    """Grade every submission of a course in parallel; write outcomes and (optionally) reports."""
    course = Path(course).resolve()
    if not (course / "nbgrader_config.py").exists():
        raise UsageError(f"{course} is not a course directory (no nbgrader_config.py)")
    overrides = merge_overrides(overrides)
    jobs = discover(course, assignments, students)
    start = time.perf_counter()
    workers = workers or default_workers()
    if not jobs:
        return RunResult([], 0.0, workers)
    backend = check_sandbox(course, overrides)
    preload()
    check_gradebook(course, sorted({j.assignment for j in jobs}))
    ensure_students(course, [j.student for j in jobs])
    timeout = job_timeout or default_job_timeout(course, overrides)
    outcomes = run_pool(course, jobs, workers, overrides, timeout, feedback, progress)
    for o, job in zip(outcomes, jobs, strict=True):
        if not o.cells:  # killed or crashed: zero the gradebook and describe the cells
            reset_submission(course, job)
            o.cells, o.score, o.max_score = gradebook_cells(course, job)
    problems = verify(course, outcomes)
    if problems:  # a write went missing: regrade those submissions once, one at a time
        redo = {p.key for p in problems}
        again = [j for j in jobs if (j.assignment, j.student) in redo]
        fixed = run_pool(course, again, 1, overrides, timeout, feedback, progress=False)
        by_key = {o.key: o for o in fixed}
        outcomes = [by_key.get(o.key, o) for o in outcomes]
        problems = verify(course, outcomes)
    result = RunResult(outcomes, round(time.perf_counter() - start, 3), workers, not problems, problems, backend)
    if reports:
        from autograder.results import reports as rp

        rp.write_all(course, result, overrides)
    return result
