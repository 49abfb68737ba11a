"""Parallel, fault-tolerant class grading with nbgrader's own Autograde converter.

nbgrader grades one submission at a time and reports a submission that breaks
it as an ordinary 0. Here a pool of long-lived worker processes (forked after
nbgrader and the trusted checks are imported once) each runs nbgrader's
``Autograde`` converter in-process, with the course's ``nbgrader_config.py``
loaded exactly as ``nbgrader autograde`` loads it, so grades are identical to
stock. The parent enforces a wall-clock limit per submission (killing the
worker's whole process tree: kernel and sandbox included), retries on SQLite
lock errors, verifies afterwards that every graded submission's rows are in
the gradebook, and records exactly one :class:`~autograder.outcomes.Outcome`
per submission.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from autograder import outcomes as oc
from autograder.outcomes import CellResult, Outcome

SQLITE_BUSY_MS = 60_000
DB_RETRIES = 6


@dataclass(frozen=True)
class Job:
    """One submission: ``submitted/<student>/<assignment>/``."""

    assignment: str
    student: str
    notebooks: tuple[str, ...]  # the assignment's notebook names, without .ipynb


@dataclass
class RunResult:
    """Everything one ``grade`` call produced."""

    outcomes: list[Outcome]
    seconds: float
    workers: int
    verified: bool = True
    problems: list[str] = field(default_factory=list)
    sandbox: str = "bwrap"

    @property
    def exit_code(self) -> int:
        if not self.verified:
            return oc.EXIT_INTERNAL
        return oc.EXIT_SUBMISSION_ERRORS if any(o.status == oc.ERROR for o in self.outcomes) else oc.EXIT_OK


class UsageError(Exception):
    """A problem with the arguments or the course (exit status 2)."""


# --------------------------------------------------------------------------------------- discovery


def assignment_notebooks(course: Path, assignment: str) -> tuple[str, ...]:
    """Notebook names of an assignment, from ``source/`` (what ``generate_assignment`` put in the gradebook)."""
    return tuple(sorted(p.stem for p in (course / "source" / assignment).glob("*.ipynb")))


def discover(course: Path, assignments: list[str] | None = None, students: list[str] | None = None) -> list[Job]:
    """Every submission under ``submitted/`` for the given (default: all ``source/``) assignments."""
    source = course / "source"
    known = sorted(p.name for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if source.is_dir() else []
    if assignments:
        unknown = [a for a in assignments if a not in known]
        if unknown:
            raise UsageError(f"unknown assignment(s): {', '.join(unknown)} (known: {', '.join(known) or 'none'})")
    chosen = assignments or known
    jobs: list[Job] = []
    submitted = course / "submitted"
    if not submitted.is_dir():
        return jobs
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if students and student_dir.name not in students:
            continue
        for assignment in chosen:
            if (student_dir / assignment).is_dir():
                jobs.append(Job(assignment, student_dir.name, assignment_notebooks(course, assignment)))
    return jobs


def check_gradebook(course: Path, assignments: list[str]) -> None:
    """Fail early (usage error) when an assignment was never generated into the gradebook."""
    from nbgrader.api import MissingEntry

    db = course / "gradebook.db"
    if not db.exists():
        raise UsageError(f"no gradebook at {db}: run `nbgrader generate_assignment ASSIGNMENT` first")
    missing = []
    with _gradebook(course) as gb:
        for assignment in assignments:
            try:
                gb.find_assignment(assignment)
            except MissingEntry:
                missing.append(assignment)
    if missing:
        raise UsageError(f"assignment(s) {', '.join(missing)} not in the gradebook: "
                         "run `nbgrader generate_assignment` for them first")


def ensure_students(course: Path, students: list[str]) -> None:
    """Create missing students up front, one writer: two workers creating one student race (UNIQUE constraint).

    nbgrader's Autograde then only updates them (``update_or_create_student`` with no fields), as stock does.
    """
    from nbgrader.api import MissingEntry

    with _gradebook(course) as gb:
        for student in sorted(set(students)):
            try:
                gb.find_student(student)
            except MissingEntry:
                gb.add_student(student)


@contextlib.contextmanager
def _gradebook(course: Path) -> Iterator[Any]:
    """A short-lived gradebook whose engine is disposed on exit (safe to fork afterwards)."""
    from nbgrader.api import Gradebook

    gb = Gradebook(f"sqlite:///{course / 'gradebook.db'}")
    try:
        yield gb
    finally:
        gb.close()
        gb.engine.dispose()


# --------------------------------------------------------------------------------------- worker side


def install_sqlite_busy_timeout(ms: int = SQLITE_BUSY_MS) -> None:
    """Make every SQLite connection of this process wait for the write lock instead of failing at once."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(ms)}")
            cursor.close()

    if not getattr(install_sqlite_busy_timeout, "installed", False):
        event.listen(Engine, "connect", on_connect)
        install_sqlite_busy_timeout.installed = True  # type: ignore[attr-defined]


def reuse_gradebook_engines() -> None:
    """One SQLAlchemy engine per database URL in this process, instead of one per ``Gradebook(...)``.

    nbgrader and the course's preprocessors open the gradebook about ten times per
    submission, each time with a fresh engine whose SQL must be compiled again.
    Reusing the engine (its pool and compiled-statement cache) changes no query and
    no result; sessions are still opened and closed exactly as before.
    """
    from nbgrader import api as nbapi

    if getattr(nbapi.create_engine, "zengrad_cached", False):
        return
    original = nbapi.create_engine
    engines: dict[tuple, Any] = {}

    def create_engine(url: Any, *args: Any, **kwargs: Any) -> Any:
        key = (str(url), args, tuple(sorted(kwargs.items())))
        if key not in engines:
            engines[key] = original(url, *args, **kwargs)
        return engines[key]

    create_engine.zengrad_cached = True  # type: ignore[attr-defined]
    nbapi.create_engine = create_engine


class _Timers:
    """Where a worker's time goes: kernel start, execution, trusted checks, database (wall seconds)."""

    def __init__(self) -> None:
        self.t: dict[str, float] = {}

    def add(self, key: str, seconds: float) -> None:
        self.t[key] = self.t.get(key, 0.0) + seconds

    def reset(self) -> dict[str, float]:
        out, self.t = self.t, {}
        return {k: round(v, 4) for k, v in out.items()}


TIMERS = _Timers()


def _instrument() -> None:
    """Wrap (not change) the pipeline's phases with timers, once per process."""
    if getattr(_instrument, "done", False):
        return
    _instrument.done = True  # type: ignore[attr-defined]
    from nbclient.client import NotebookClient
    from nbgrader import api as nbapi
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from autograder.preprocessors import GuardedExecute, TrustedChecks

    def timed(cls: type, name: str, key: str) -> None:
        original = getattr(cls, name)

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                TIMERS.add(key, time.perf_counter() - start)

        setattr(cls, name, wrapper)

    timed(NotebookClient, "start_new_kernel", "kernel_start")  # the sync wrappers setup_kernel calls
    timed(NotebookClient, "start_new_kernel_client", "kernel_start")
    timed(GuardedExecute, "preprocess", "execute_total")
    timed(TrustedChecks, "preprocess", "checks")
    timed(nbapi.Gradebook, "__init__", "database")

    @event.listens_for(Engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: Any) -> None:
        conn.info.setdefault("zengrad_t0", []).append(time.perf_counter())

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: Any) -> None:
        stack = conn.info.get("zengrad_t0")
        if stack:
            TIMERS.add("database", time.perf_counter() - stack.pop())


def preload() -> None:
    """Import nbgrader, the pipeline and the checks once, so forked workers start warm."""
    import nbgrader.apps  # noqa: F401 - the expensive import (jsonschema grammar)
    import nbgrader.apps.autogradeapp  # noqa: F401
    import nbgrader.converters  # noqa: F401

    import autograder.preprocessors  # noqa: F401
    from autograder.checks import load_all

    load_all()
    import hypothesis  # noqa: F401


class GradingSession:
    """nbgrader's autograde (and feedback) for one submission at a time, in this process.

    The configuration comes from the course's ``nbgrader_config.py`` plus
    ``overrides`` (``--Class.trait=value``), through nbgrader's own app
    initialisation, so it is the configuration stock ``nbgrader autograde`` uses.
    """

    def __init__(self, course: Path, overrides: list[str] | tuple[str, ...] = (), feedback: bool = True) -> None:
        from nbgrader.apps.autogradeapp import AutogradeApp

        self.course = Path(course).resolve()
        self.feedback = feedback
        os.chdir(self.course)
        install_sqlite_busy_timeout()
        reuse_gradebook_engines()
        _instrument()
        self.app = AutogradeApp()
        self.app.initialize(["--force", *overrides])
        self.app.log.setLevel("INFO")
        self.coursedir = self.app.coursedir

    def autograde(self, job: Job) -> dict[str, Any]:
        """nbgrader's ``Autograde`` converter for one student: {success, log, error}, as NbGraderAPI returns."""
        from nbgrader.converters import Autograde
        from nbgrader.utils import capture_log, temp_attrs

        with temp_attrs(self.coursedir, assignment_id=job.assignment, student_id=job.student):
            converter = Autograde(coursedir=self.coursedir, parent=self.app)
            converter.force = True
            converter.create_student = True
            return capture_log(converter)

    def generate_feedback(self, job: Job) -> dict[str, Any]:
        from nbgrader.converters import GenerateFeedback
        from nbgrader.utils import capture_log, temp_attrs
        from traitlets.config import Config

        cfg = Config()
        cfg.HTMLExporter.template_name = "feedback"
        with temp_attrs(self.coursedir, assignment_id=job.assignment, student_id=job.student):
            converter = GenerateFeedback(coursedir=self.coursedir, parent=self.app)
            converter.update_config(cfg)
            converter.force = True
            return capture_log(converter)

    def grade(self, job: Job) -> Outcome:
        """Autograde, classify and (if anything was autograded) generate feedback for one submission."""
        start = time.perf_counter()
        TIMERS.reset()
        outcome = Outcome(job.assignment, job.student)
        folder = self.course / "submitted" / job.student / job.assignment
        pre = oc.precheck(folder, list(job.notebooks))
        logs: list[str] = []
        result: dict[str, Any] = {}
        for attempt in range(1, DB_RETRIES + 1):
            outcome.attempts = attempt
            result = self.autograde(job)
            logs.append(result.get("log", "") + (result.get("error") or ""))
            text = (result.get("error") or "") + result.get("log", "")
            if result.get("success") or not _is_db_lock(text):
                break
            time.sleep(random.uniform(0.2, 1.0) * attempt)
        if pre is not None:
            outcome.fail(*pre)
        if not result.get("success"):
            text = (result.get("error") or "") + result.get("log", "")
            if _is_db_lock(text):
                outcome.fail(oc.DATABASE, f"the gradebook stayed locked through {DB_RETRIES} attempts")
            else:
                outcome.fail(oc.AUTOGRADE_FAILED, "nbgrader autograde failed: " + _last_error_line(text))
        self._read_results(job, outcome)
        if self.feedback and outcome.autograded:
            fb = self.generate_feedback(job)
            if not fb.get("success"):
                logs.append("feedback failed:\n" + (fb.get("error") or "") + fb.get("log", ""))
        outcome.log = "\n".join(logs)
        outcome.timings = TIMERS.reset()
        outcome.seconds = round(time.perf_counter() - start, 3)
        return outcome

    def _read_results(self, job: Job, outcome: Outcome) -> None:
        import nbformat

        autograded = self.course / "autograded" / job.student / job.assignment
        nbs = {}
        for name in job.notebooks:
            path = autograded / f"{name}.ipynb"
            if path.exists():
                nbs[name] = nbformat.read(path, as_version=4)
        outcome.autograded = bool(nbs)
        for name, nb in nbs.items():
            oc.classify_notebook(outcome, nb, name)
        outcome.cells, outcome.score, outcome.max_score = gradebook_cells(self.course, job, nbs)


def gradebook_cells(course: Path, job: Job, nbs: dict[str, Any] | None = None,
                    gb: Any = None) -> tuple[list[CellResult], float, float]:
    """The submission's grade cells as the gradebook holds them (0 where no score), with outputs from ``nbs``."""
    from nbgrader.api import Gradebook

    if gb is None:
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as own:
            return gradebook_cells(course, job, nbs, own)
    return _cells(gb, job, nbs)


def _cells(gb: Any, job: Job, nbs: dict[str, Any] | None) -> tuple[list[CellResult], float, float]:
    from nbgrader.api import MissingEntry

    cells: list[CellResult] = []
    outputs: dict[tuple[str, str], str] = {}
    for name, nb in (nbs or {}).items():
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id and cell.metadata.get("nbgrader", {}).get("grade"):
                outputs[(name, grade_id)] = oc.cell_output_text(cell)
    try:
        assignment = gb.find_assignment(job.assignment)
    except MissingEntry:
        return cells, 0.0, 0.0
    max_total = float(assignment.max_score or 0.0)
    try:
        submission = gb.find_submission(job.assignment, job.student)
    except MissingEntry:
        submission = None
    for notebook in sorted(assignment.notebooks, key=lambda n: n.name):
        scores: dict[str, float] = {}
        if submission is not None:
            try:
                snb = gb.find_submission_notebook(notebook.name, job.assignment, job.student)
                scores = {g.name: float(g.score or 0.0) for g in snb.grades}
            except MissingEntry:
                pass
        for gc in sorted(notebook.grade_cells, key=lambda g: g.name):
            cells.append(CellResult(gc.name, notebook.name, scores.get(gc.name, 0.0), float(gc.max_score),
                                    outputs.get((notebook.name, gc.name), "")))
    total = float(submission.score or 0.0) if submission is not None else 0.0
    return cells, total, max_total


def _is_db_lock(text: str) -> bool:
    """A transient gradebook conflict between workers: worth retrying the student."""
    return ("OperationalError" in text and ("locked" in text or "busy" in text)) or "UNIQUE constraint failed" in text


def _last_error_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        if "Error" in line or "Exception" in line:
            return line[:300]
    return lines[-1][:300] if lines else "no log"


def _worker_main(conn: Connection, course: str, overrides: list[str], feedback: bool, log_path: str) -> None:
    """Body of one worker process: build a session once, then grade jobs until told to stop."""
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


# --------------------------------------------------------------------------------------- parent side


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
        self.proc = ctx.Process(target=_worker_main, args=(child, str(course), overrides, feedback, str(log_path)),
                                daemon=True)
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


def reset_submission(course: Path, job: Job) -> None:
    """After a killed job: no autograded copy, and zero auto scores (as nbgrader does for a missing notebook)."""
    import shutil

    from nbgrader.api import MissingEntry

    shutil.rmtree(course / "autograded" / job.student / job.assignment, ignore_errors=True)
    for attempt in range(DB_RETRIES):
        try:
            with _gradebook(course) as gb:
                gb.update_or_create_student(job.student)
                try:
                    gb.find_submission(job.assignment, job.student)
                except MissingEntry:
                    gb.add_submission(job.assignment, job.student)
                for name in job.notebooks:
                    with contextlib.suppress(MissingEntry):
                        for grade in gb.find_submission_notebook(name, job.assignment, job.student).grades:
                            grade.auto_score = 0
                            grade.needs_manual_grade = False
                gb.db.commit()
            return
        except Exception as exc:  # noqa: BLE001 - sqlite OperationalError: retry
            if attempt == DB_RETRIES - 1 or "locked" not in str(exc):
                raise
            time.sleep(0.5 * (attempt + 1))


def verify(course: Path, outcomes: list[Outcome]) -> list[str]:
    """Problems found by reading every outcome's scores back from the gradebook (empty: nothing lost)."""
    problems: list[str] = []
    with _gradebook(course) as gb:
        for o in outcomes:
            if o.autograded:
                problems += _verify_one(gb, o)
    return problems


def _verify_one(gb: Any, o: Outcome) -> list[str]:
    problems: list[str] = []
    job = Job(o.assignment, o.student, tuple(sorted({c.notebook for c in o.cells})))
    cells, total, _ = _cells(gb, job, None)
    recorded = {(c.notebook, c.grade_id): c.score for c in o.cells}
    stored = {(c.notebook, c.grade_id): c.score for c in cells}
    if recorded != stored or abs(total - o.score) > 1e-9:
        problems.append(f"{o.assignment}/{o.student}: gradebook has {stored} (total {total}), "
                        f"the grader recorded {recorded} (total {o.score})")
    return problems


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
        redo = {p.split(":")[0] for p in problems}
        again = [j for j in jobs if f"{j.assignment}/{j.student}" in redo]
        fixed = run_pool(course, again, 1, overrides, timeout, feedback, progress=False)
        by_key = {o.key: o for o in fixed}
        outcomes = [by_key.get(o.key, o) for o in outcomes]
        problems = verify(course, outcomes)
    result = RunResult(outcomes, round(time.perf_counter() - start, 3), workers, not problems, problems, backend)
    if reports:
        from autograder import reports as rp

        rp.write_all(course, result, overrides)
    return result
