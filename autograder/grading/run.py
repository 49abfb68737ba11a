"""A grading run, end to end: discover, check the gradebook, grade in parallel, record, verify, report."""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.grading.config import NO_OVERRIDES, Overrides, course_config, default_job_timeout, sandbox_backend
from autograder.grading.coordinator import Batch, grade_jobs
from autograder.grading.discover import Job, UsageError, discover
from autograder.grading.gradebook import (
    Mismatch,
    check_gradebook,
    ensure_students,
    gradebook_cells,
    reset_submission,
    verify,
)
from autograder.grading.pool import default_workers
from autograder.grading.private import Grading, course_materials, files_digest, scratch_dir, submission_files
from autograder.grading.session import preload
from autograder.results import outcomes as oc
from autograder.results.outcomes import Outcome
from autograder.sandbox.backends import DEFAULT_BACKEND, Backend, SandboxUnavailable


@dataclass(frozen=True)
class GradeOptions:
    """What one ``zengrad-kit grade`` run grades, and how (every field has the command line's default)."""

    assignments: tuple[str, ...] = ()  # none: every assignment in source/
    students: tuple[str, ...] = ()  # none: every student with a submission
    workers: int | None = None  # local worker processes (default: one per core)
    overrides: Overrides = NO_OVERRIDES  # --Class.trait=value
    job_timeout: float | None = None  # wall-clock backstop per submission (default: from the limits)
    feedback: bool = True  # feedback pages under feedback/
    progress: bool = True
    reports: bool = True  # reports/ (summary, outcomes, CSV, results.json per submission)
    scheduler: str | None = None  # tcp://host:port: grade on that Dask cluster instead of local workers
    resume: bool = False  # keep outcomes of an earlier run whose submissions did not change and verify


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
    return files_digest(submission_files(course, job))


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


def grade(course: Path, options: GradeOptions = GradeOptions()) -> RunResult:
    """Grade every submission of a course in parallel; write outcomes and (optionally) reports.

    Workers grade in private courses (local processes, or the Dask cluster at ``options.scheduler``);
    this process alone records every result in the gradebook, then reads every row back
    (a mismatch makes the run's exit status 3). ``options.resume`` keeps the outcomes of an earlier run
    whose submissions did not change and whose gradebook rows verify, and grades only the rest.
    """
    course = Path(course).resolve()
    if not (course / "nbgrader_config.py").exists():
        raise UsageError(f"{course} is not a course directory (no nbgrader_config.py)")
    found = discover(course, list(options.assignments) or None, list(options.students) or None)
    rejected = [_invalid(j) for j in found if j.problem]
    jobs = [j for j in found if not j.problem]
    start = time.perf_counter()
    workers = options.workers or default_workers()
    if not jobs:
        result = RunResult(rejected, 0.0, workers)
        if rejected and options.reports:
            from autograder.results import reports as rp

            rp.write_all(course, result, list(options.overrides.args))
        return result
    cfg = course_config(course, options.overrides)  # read once for the whole run
    backend = sandbox_backend(cfg)
    if options.scheduler is None:
        backend = check_sandbox(cfg)
    preload()
    check_gradebook(course, sorted({j.assignment for j in jobs}))
    ensure_students(course, [j.student for j in jobs])
    digests = {(j.assignment, j.student): submission_digest(course, j) for j in jobs}
    kept = already_graded(course, digests) if options.resume else {}
    todo = [j for j in jobs if (j.assignment, j.student) not in kept]
    if kept and options.progress:
        print(f"resuming: {len(kept)} submissions already graded and verified, {len(todo)} to grade",
              file=sys.stderr)
    timeout = options.job_timeout or default_job_timeout(cfg)
    fresh = {o.key: o for o in _grade_jobs(course, todo, options, workers, timeout, backend)} if todo else {}
    outcomes = [kept.get((j.assignment, j.student)) or fresh[(j.assignment, j.student)] for j in jobs]
    for o, job in zip(outcomes, jobs, strict=True):
        o.digest = digests[(job.assignment, job.student)]
        if not o.cells:  # killed or crashed: zero the gradebook and describe the cells
            reset_submission(course, job)
            o.cells, o.score, o.max_score = gradebook_cells(course, job)
    problems = verify(course, outcomes)
    result = RunResult(outcomes + rejected, round(time.perf_counter() - start, 3), workers, not problems, problems,
                       backend.name, resumed=len(kept), scheduler=options.scheduler)
    if options.reports:
        from autograder.results import reports as rp

        rp.write_all(course, result, list(options.overrides.args))
    return result


def _grade_jobs(course: Path, jobs: list[Job], options: GradeOptions, workers: int, job_timeout: float,
                backend: Backend) -> list[Outcome]:
    """Grade ``jobs`` on local workers or the cluster, every result recorded by this process."""
    from autograder.grading.recorder import RecordingSession

    materials = course_materials(course, sorted({j.assignment for j in jobs}))
    how = Grading(options.overrides)
    recorder = RecordingSession(course, options.overrides, options.feedback)
    if options.scheduler is not None:
        from autograder.grading import cluster

        executor, scattered = cluster.dask_cluster(options.scheduler, materials, len(jobs), job_timeout, backend)
        try:
            return grade_jobs(executor, Batch(course, scattered, how, options.progress), jobs, recorder,
                              lambda job, ended: cluster.ended_without_result(job, ended, job_timeout))
        finally:
            executor.close()
    from autograder.grading import pool

    scratch = scratch_dir("run")
    try:
        executor = pool.local_pool(min(workers, len(jobs)), job_timeout, course / "reports" / "logs", scratch)
        try:
            return grade_jobs(executor, Batch(course, materials, how, options.progress), jobs, recorder,
                              lambda job, ended: pool.ended_without_result(job, ended, job_timeout))
        finally:
            executor.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
