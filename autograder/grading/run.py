"""A grading run, end to end: discover, prepare the gradebook, grade in parallel, verify, report."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.grading.config import course_config, default_job_timeout, merge_overrides, sandbox_backend
from autograder.grading.discover import Job, UsageError, discover
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
from autograder.sandbox.backends import DEFAULT_BACKEND, Backend, SandboxUnavailable


@dataclass
class RunResult:
    """Everything one ``grade`` call produced."""

    outcomes: list[Outcome]
    seconds: float
    workers: int
    verified: bool = True
    problems: list[Mismatch] = field(default_factory=list)
    sandbox: str = DEFAULT_BACKEND  # the backend's name, as reports and results.json record it
    resumed: int = 0  # outcomes kept from an earlier run (--resume)
    scheduler: str | None = None  # the Dask scheduler, when the run was on a cluster

    @property
    def exit_code(self) -> int:
        if not self.verified:
            return oc.EXIT_INTERNAL
        return oc.EXIT_SUBMISSION_ERRORS if any(o.status == oc.ERROR for o in self.outcomes) else oc.EXIT_OK


class SandboxError(SandboxUnavailable):
    """The sandbox cannot start: nothing was graded (exit status 4)."""


def check_sandbox(cfg: Any) -> Backend:
    """Start one trivial sandbox before grading anything (or say loudly there is none); the backend in use."""
    backend = sandbox_backend(cfg)
    if backend.warning:
        print(f"WARNING: {backend.warning}", file=sys.stderr)
    try:
        backend.preflight()
    except SandboxUnavailable as exc:
        raise SandboxError(str(exc)) from None
    return backend


def submission_digest(course: Path, job: Job) -> str:
    """A digest of the submitted files: a resumed run regrades a submission whose files changed."""
    import hashlib

    folder = course / "submitted" / job.student / job.assignment
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def already_graded(course: Path, digests: dict[tuple[str, str], str]) -> dict[tuple[str, str], Outcome]:
    """Outcomes of an earlier run that still hold: same submitted files, and the gradebook verifies them."""
    previous = oc.load_outcomes(course / "reports")
    kept = {key: o for key, o in previous.items()
            if key in digests and o.digest == digests[key] and o.status == oc.GRADED and o.autograded
            and (course / "autograded" / o.student / o.assignment).is_dir()}
    bad = {m.key for m in verify(course, list(kept.values()))}
    return {key: o for key, o in kept.items() if key not in bad}


def _invalid(job: Job) -> Outcome:
    """The error row of a submission whose folder name is no student id: named, never graded."""
    outcome = Outcome(job.assignment, job.student)
    outcome.fail(oc.INVALID_ID, f"submitted/{ascii(job.student)[1:-1]}/{job.assignment} was not graded: "
                                f"{job.problem}; rename the folder to the student's id and grade again")
    return outcome


def grade(course: Path, assignments: list[str] | None = None, students: list[str] | None = None,
          workers: int | None = None, overrides: list[str] | tuple[str, ...] = (), job_timeout: float | None = None,
          feedback: bool = True, progress: bool = True, reports: bool = True, scheduler: str | None = None,
          resume: bool = False) -> RunResult:
    """Grade every submission of a course in parallel; write outcomes and (optionally) reports.

    ``scheduler`` (``tcp://host:port``) grades on a Dask cluster instead of local worker processes.
    ``resume`` keeps the outcomes of an earlier run whose submissions did not change and whose
    gradebook rows verify, and grades only the rest.
    """
    course = Path(course).resolve()
    if not (course / "nbgrader_config.py").exists():
        raise UsageError(f"{course} is not a course directory (no nbgrader_config.py)")
    overrides = merge_overrides(overrides)
    found = discover(course, assignments, students)
    rejected = [_invalid(j) for j in found if j.problem]
    jobs = [j for j in found if not j.problem]
    start = time.perf_counter()
    workers = workers or default_workers()
    if not jobs:
        result = RunResult(rejected, 0.0, workers)
        if rejected and reports:
            from autograder.results import reports as rp

            rp.write_all(course, result, overrides)
        return result
    cfg = course_config(course, overrides)  # read once for the whole run
    backend = sandbox_backend(cfg)
    if scheduler is None:
        backend = check_sandbox(cfg)
    preload()
    check_gradebook(course, sorted({j.assignment for j in jobs}))
    ensure_students(course, [j.student for j in jobs])
    digests = {(j.assignment, j.student): submission_digest(course, j) for j in jobs}
    kept = already_graded(course, digests) if resume else {}
    todo = [j for j in jobs if (j.assignment, j.student) not in kept]
    if kept and progress:
        print(f"resuming: {len(kept)} submissions already graded and verified, {len(todo)} to grade",
              file=sys.stderr)
    timeout = job_timeout or default_job_timeout(cfg)

    def execute(batch: list[Job], parallel: int, show: bool) -> list[Outcome]:
        if not batch:
            return []
        if scheduler is not None:
            from autograder.grading.cluster import run_cluster

            return run_cluster(course, batch, scheduler, overrides, timeout, feedback, show, backend=backend)
        return run_pool(course, batch, parallel, overrides, timeout, feedback, show)

    fresh = {o.key: o for o in execute(todo, workers, progress)}
    outcomes = [kept.get((j.assignment, j.student)) or fresh[(j.assignment, j.student)] for j in jobs]
    for o, job in zip(outcomes, jobs, strict=True):
        o.digest = digests[(job.assignment, job.student)]
        if not o.cells:  # killed or crashed: zero the gradebook and describe the cells
            reset_submission(course, job)
            o.cells, o.score, o.max_score = gradebook_cells(course, job)
    problems = verify(course, outcomes)
    if problems:  # a write went missing: regrade those submissions once, one at a time
        redo = {p.key for p in problems}
        again = [j for j in jobs if (j.assignment, j.student) in redo]
        by_key = {o.key: o for o in execute(again, 1, False)}
        for o in by_key.values():
            o.digest = digests[o.key]
        outcomes = [by_key.get(o.key, o) for o in outcomes]
        problems = verify(course, outcomes)
    result = RunResult(outcomes + rejected, round(time.perf_counter() - start, 3), workers, not problems, problems,
                       backend.name,
                       resumed=len(kept), scheduler=scheduler)
    if reports:
        from autograder.results import reports as rp

        rp.write_all(course, result, overrides)
    return result
