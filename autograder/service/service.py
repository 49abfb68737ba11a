"""``zengrad-kit serve``: every ``nbgrader submit`` becomes feedback the student fetches from the Assignment List.

One loop, one process (plus its grading workers), all state in ``<course>/service/state.db``:

1. **watch** the exchange's ``inbound/`` (inotify through ``watchdog``; a full rescan every
   ``rescan_seconds`` is the safety net) and record every new name; a service started before the
   first release watches the nearest folder that exists and moves down as soon as ``inbound/`` does;
2. **collect** a submission once nothing in it changed for ``settle_seconds``: the rules of the
   course's collect (:func:`autograder.exchange.inspect_submission`: whose is it, when was it
   received, what is in it) and its copy (``copy_submission``) into ``service/store/<name>/``;
   refusals go to ``reports/collect.json`` as a batch collect's do;
3. **queue** it: per student, round-robin; a newer submission of the same student and assignment
   supersedes one still waiting;
4. **grade** it with the batch pipeline in a private course (:mod:`autograder.service.worker`),
   unless the assignment's rate limit says no (:mod:`autograder.service.policy`); a grading past
   its CPU budget (or the wall-clock backstop) is stopped and the submission set aside for the
   batch grading, and while every worker holds a slow grading a spare worker takes the next
   submission: slow submissions never hold the queue;
5. **release** one page per notebook through nbgrader's own ``ExchangeReleaseFeedback``, to the
   file name nbgrader's ``fetch_feedback`` looks for (the submission secret's hash). While a
   submission waits, that page shows its queue position, the wait expected from the gradings
   running now, and when to fetch again.

The instructor's gradebook, ``submitted/``, ``autograded/`` and ``feedback/`` are never written:
final grades stay batch (``nbgrader collect`` + ``zengrad-kit grade`` after the due date).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import heapq
import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import nbformat

from autograder.exchange import FORGED, last_change, open_inbound, place, read_small, record, take
from autograder.exchange.filetypes import FileTypes
from autograder.grading.config import Overrides
from autograder.grading.discover import assignment_notebooks
from autograder.sandbox.backends import SandboxUnavailable
from autograder.service import pages
from autograder.service.executor import DaskExecutor, Finished, LocalExecutor, Task
from autograder.service.policy import GradingService, due_date
from autograder.service.state import Row, State

RELEASE_SECONDS = 1.0  # from a grading's end to its page in the exchange (the waiting page's estimate adds it)
PAUSE_ENV = "ZENGRAD_SERVICE_PAUSE_AT"  # tests: stop at a named step so a kill -9 lands exactly there


class ServiceError(Exception):
    """The service cannot start (another one runs, no exchange, no sandbox)."""


class ServiceSandboxError(ServiceError, SandboxUnavailable):
    """The service cannot start because the sandbox cannot (the command exits with the sandbox's status)."""


def _pause(step: str, folder: Path) -> None:
    """Test hook: at ``step``, say so in a file and wait (to be killed)."""
    if os.environ.get(PAUSE_ENV) == step:
        (folder / f"paused-at-{step}").write_text(str(os.getpid()))
        time.sleep(600)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _notebook_names(inbound: int, name: str, limit: int = 200) -> list[str]:
    """The top-level notebook names of an inbound submission (listed by descriptor, never followed)."""
    from autograder.exchange.intake import O_DIR

    fd = os.open(name, O_DIR, dir_fd=inbound)
    try:
        with os.scandir(fd) as it:
            names = [e.name for _, e in zip(range(limit), it, strict=False)]
    finally:
        os.close(fd)
    return sorted(n[:-6] for n in names if n.endswith(".ipynb"))


class Service:
    """The grading service of one course (see the module docstring)."""

    def __init__(self, course: Path, overrides: Overrides | list[str] | tuple[str, ...] = (),
                 scheduler: str | None = None, workers: int | None = None, log: Any = None) -> None:
        from nbgrader.coursedir import CourseDirectory
        from nbgrader.exchange.default.exchange import Exchange

        from autograder.grading.config import course_config, default_job_timeout
        from autograder.grading.private import course_materials
        from autograder.release import assignments

        self.course = Path(course).resolve()
        self.overrides = Overrides.of(overrides)
        cfg = course_config(self.course, self.overrides)
        self.cfg = cfg
        self.settings = GradingService(config=cfg)
        self.log = log or (lambda msg: print(f"[serve {dt.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr,
                                             flush=True))
        coursedir = CourseDirectory(config=cfg, root=str(self.course))
        self.course_id = coursedir.course_id or "course"
        root = Path(Exchange(config=cfg).root)
        self.exchange_root = root
        self.inbound = root / self.course_id / "inbound"
        self.dir = self.course / self.settings.state_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.dir / "lock", "w")  # noqa: SIM115 - held for the service's lifetime
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ServiceError(f"another zengrad-kit serve runs on this course ({self.dir / 'lock'})") from None
        self.state = State(self.dir / "state.db")
        self.store = self.dir / "store"
        self.out = self.dir / "pages"
        for leftover in self.store.glob(".collect-*") if self.store.is_dir() else []:
            shutil.rmtree(leftover, ignore_errors=True)
        from autograder.exchange import OwnerCheckedCollect

        self.rules = OwnerCheckedCollect(config=cfg).rules()  # the course's collect rules, read by its class
        self.assignments = [a for a in assignments(self.course)]
        self.notebooks = {a: list(assignment_notebooks(self.course, a)) for a in self.assignments}
        self.grade_ids = {a: self._grade_ids(a) for a in self.assignments}
        self.materials = course_materials(self.course, self.assignments)
        self.types = {a: FileTypes.of_names((name for name, _ in m.source), self.rules.allowed_files)
                      for a, m in self.materials.items()}
        self.db_url = coursedir.db_url
        self.job_timeout = default_job_timeout(cfg)
        self.scheduler = scheduler
        self.workers = workers or self.settings.workers or (len(os.sched_getaffinity(0)) or 1)
        self.spare = 0 if scheduler else max(0, self.settings.spare_workers)  # see _may_start
        self.executor: Any = None
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.observer: Any = None
        self._watch_at: tuple[Path, Any] | None = None  # (folder watched, its watchdog handle)
        self._due: dict[str, tuple[float, dt.datetime | None]] = {}
        self._written: dict[str, str] = {}  # page slot -> what the waiting page said last (position, state, time)
        self._last_status = ""
        self._secrets: dict[tuple[str, str], tuple[str | None, list[str]]] = {}

    # ------------------------------------------------------------------------------------------- set-up
    def _grade_ids(self, assignment: str) -> list[str]:
        ids = []
        for path in sorted((self.course / "source" / assignment).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            ids += [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                    if c.metadata.get("nbgrader", {}).get("grade")]
        return ids

    def start(self) -> None:
        """Check the sandbox, start the workers and the watcher; put interrupted work back in the queue."""
        from autograder.grading.config import sandbox_backend
        from autograder.grading.run import SandboxError, check_sandbox
        from autograder.grading.session import preload

        backend = sandbox_backend(self.cfg)
        if self.scheduler is None:
            try:
                check_sandbox(self.cfg)
            except SandboxError as exc:
                raise ServiceSandboxError(str(exc)) from None
        requeued = self.state.recover()
        if requeued:
            self.log(f"restarted: {requeued} submission(s) that were being graded are queued again")
        preload()
        # warm what students can submit: the assignments released to the exchange (others build on first use)
        outbound = self.exchange_root / self.course_id / "outbound"
        released = [a for a in self.assignments if (outbound / a).is_dir()] or self.assignments
        materials = [self.materials[a] for a in released]
        if self.scheduler:
            self.executor = DaskExecutor(self.scheduler, list(self.materials.values()), self.job_timeout, backend)
            self.workers = self.executor.size
        else:
            self.executor = LocalExecutor(materials, self.overrides, self.workers + self.spare, self.job_timeout,
                                          self.dir / "logs")
        self._watch()
        self.log(f"serving {self.course_id} ({', '.join(self.assignments)}): watching {self.inbound}, "
                 f"{self.workers} worker(s){' on ' + self.scheduler if self.scheduler else ''}"
                 f"{f' and {self.spare} spare' if self.spare else ''}")

    def _watch(self) -> None:
        """Watch ``inbound/`` (recursively); until it exists, the nearest folder above it that does.

        Called every turn: when the first ``release_assignment`` makes ``exchange/<course>/inbound``,
        the watch on the folder above wakes the loop and moves down, so the service never waits for
        a rescan (nor a restart) to see submissions.
        """
        if self._watch_at is not None and self._watch_at[0] == self.inbound:
            return
        if self.observer is None:
            try:
                from watchdog.events import FileSystemEventHandler
                from watchdog.observers import Observer
            except ImportError:
                self.log("watchdog is not installed: rescanning only")
                self._watch_at = (self.inbound, None)
                return
            wake = self.wake

            class Handler(FileSystemEventHandler):
                def on_any_event(self, event: Any) -> None:
                    wake.set()

            self._handler = Handler()
            self.observer = Observer()
            self.observer.daemon = True
            self.observer.start()
        while True:  # down to the deepest folder that exists (one may appear while the watch moves)
            target = next(p for p in (self.inbound, *self.inbound.parents) if p.is_dir())
            if self._watch_at is not None and self._watch_at[0] == target:
                return
            if self._watch_at is not None:
                self.observer.unschedule(self._watch_at[1])
            try:
                handle = self.observer.schedule(self._handler, str(target), recursive=target == self.inbound)
            except OSError as exc:
                self.log(f"cannot watch {target} ({exc}): rescanning every {self.settings.rescan_seconds:g} s")
                self._watch_at = (self.inbound, None)
                return
            self._watch_at = (target, handle)
            if target == self.inbound:
                self.log(f"watching {self.inbound}")
                self.wake.set()  # anything submitted before the watch is picked up by this turn's scan
            else:
                self.log(f"{self.inbound} does not exist yet: watching {target} for it")

    def close(self) -> None:
        if self.observer is not None:
            self.observer.stop()
        if self.executor is not None:
            self.executor.close()
        self.state.close()
        self._lock.close()

    # -------------------------------------------------------------------------------------------- steps
    def scan(self) -> int:
        """Record inbound names not seen before."""
        try:
            names = sorted(os.listdir(self.inbound))
        except OSError:
            return 0
        names = [n for n in names if not n.startswith(".")]
        return len(self.state.add_seen(names))

    def _settled(self, row: Row, inbound: int) -> bool:
        newest = last_change(inbound, row.name)
        if newest is None:
            return time.time() - row.seen > self.settings.settle_seconds
        quiet = time.time() - newest >= self.settings.settle_seconds
        complete = read_small(inbound, row.name, "submission_secret.txt", self.rules, row.name.split("+", 1)[0]) \
            is not None or time.time() - row.seen > 60  # a submission without a secret (hand-made, older nbgrader)
        return quiet and complete

    def collect(self) -> int:
        """Collect every settled new submission (or refuse it, with the reason); how many were handled."""
        rows = self.state.rows("state='seen'")
        if not rows:
            return 0
        try:
            inbound = open_inbound(self.inbound)
        except OSError:
            return 0
        handled = 0
        try:
            for row in rows:
                if self._settled(row, inbound):
                    handled += 1
                    self._collect_one(row, inbound)
        finally:
            os.close(inbound)
        return handled

    def _collect_one(self, row: Row, inbound: int) -> None:
        intake = take(inbound, row.name, self.rules, self.types.get, self.store)
        sub = intake.sub
        if sub.refused:
            forged = FORGED in sub.refused or not sub.student
            self.log(f"REFUSED {row.name}: {sub.refused}")
            record(self.course, [sub], set())
            self.state.refuse(row.name, sub.student, sub.assignment, sub.refused, page=not forged)
            return
        if sub.dropped:
            self.log(f"{row.name}: not collected (not files of this assignment): {', '.join(sub.dropped)}")
        place(intake, self.store / row.name)
        _pause("collect", self.dir)
        self.state.enqueue(row.name, sub.student, sub.assignment, sub.received)
        self.log(f"collected {row.name}")

    def _before_due(self, assignment: str, received: str) -> bool:
        cached = self._due.get(assignment)
        if cached is None or time.monotonic() - cached[0] > 60:
            try:
                due = due_date(self.db_url, self.course_id, assignment)
            except Exception:  # noqa: BLE001 - no gradebook yet: no due date
                due = None
            cached = self._due[assignment] = (time.monotonic(), due)
        due = cached[1]
        return due is None or dt.datetime.fromisoformat(received) <= due

    def _slow_after(self) -> float:
        """Wall seconds after which a running grading counts as slow (for the spare workers)."""
        avg = float(self.state.get_meta("avg_seconds", "0") or 0)
        return max(self.settings.slow_seconds, 2 * avg)

    def _may_start(self) -> bool:
        """Whether another grading may start now: up to ``workers`` at once, and a spare worker's only while every
        grading running is slow (wall-clock decides only where work runs, never a result)."""
        running = self.executor.running(cpu=False)
        if len(running) < self.workers:
            return True
        slow = self._slow_after()
        return len(running) < self.workers + self.spare and all(r.seconds >= slow for r in running)

    def dispatch(self) -> int:
        """Hand queued submissions to free workers, round-robin over students; how many."""
        sent = 0
        while self.executor.free() > 0 and self._may_start():
            row = self.state.next_job()
            if row is None:
                break
            rules = self.settings.rules(row.assignment)
            before = self._before_due(row.assignment, row.received)
            if row.counted is None:
                earlier = self.state.counted_received(row.student, row.assignment, row.received)
                ok, next_at = rules.allowance(row.received, earlier, before)
                self.state.decide(row.name, ok, next_at)
                row = self.state.row(row.name)
            if not row.counted:
                self.state.graded(row.name, {"over_limit": True})
                self.log(f"{row.name}: over the rate limit; next feedback after {row.next_feedback or 'the due date'}")
                continue
            files = self._files(row)
            self.state.count_run(row.name)
            levels = rules.visibility(self.grade_ids[row.assignment], before)
            self.executor.submit(Task(row.name, self.materials[row.assignment], row.student, files, self.overrides,
                                      levels))
            sent += 1
        return sent

    def _files(self, row: Row) -> dict[str, bytes]:
        folder = self.store / row.name
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
                if p.is_file() and p.name != "submission_secret.txt"}

    def finish(self, finished: list[Finished]) -> None:
        """Store each ended task's pages, then mark it graded (in that order: a crash between regrades it).

        A task that ended over its CPU budget is set aside like one stopped there, so whether a
        submission gets feedback does not depend on when the loop looked.
        """
        for name, result, error, cpu in finished:
            row = self.state.row(name)
            if row is None or row.state != "grading":
                continue
            if self.settings.rules(row.assignment).over_budget(cpu):
                self._defer(row, cpu)
                continue
            if result is None:
                outcome = {"status": "error", "error_kind": "worker-crashed", "message": error, "cells": []}
            else:
                outcome = result.outcome
                for nb, html in result.pages.items():
                    _atomic_write(self.out / name / f"{nb}.html", html)
                avg = float(self.state.get_meta("avg_seconds", "0") or 0) or result.seconds
                self.state.set_meta("avg_seconds", f"{0.7 * avg + 0.3 * result.seconds:.3f}")
            outcome.pop("log", None)
            self.state.graded(name, outcome)
            used = f" ({result.seconds:.1f} s, {cpu:.1f} CPU s)" if result is not None and cpu is not None else ""
            self.log(f"graded {name}: {outcome.get('status')} {outcome.get('score', 0):g}/"
                     f"{outcome.get('max_score', 0):g}{used}")

    def enforce_budgets(self) -> int:
        """Stop every grading past its CPU budget or the wall-clock backstop; set it aside. How many."""
        wall = self.settings.submit_wall_seconds
        done = 0
        for run in self.executor.running():
            row = self.state.row(str(run.key))
            if row is None or row.state != "grading":
                continue
            over_cpu = self.settings.rules(row.assignment).over_budget(run.cpu)
            if not over_cpu and not (wall and run.seconds > wall):
                continue
            cpu = self.executor.stop(row.name)
            if cpu is None:
                continue  # not stoppable from here (a cluster task): the cluster's backstop ends it
            self._defer(row, cpu if over_cpu else None, run.seconds)
            done += 1
        return done

    def _defer(self, row: Row, cpu: float | None, seconds: float = 0.0) -> None:
        """Set a submission aside for the batch grading; its page says why."""
        if cpu is not None:
            budget = self.settings.rules(row.assignment).cpu_seconds
            reason = f"Grading it used more than the {budget:g} CPU seconds a submission gets at submit time"
            self.log(f"SET ASIDE {row.name}: {cpu:.1f} CPU seconds, over the budget of {budget:g}")
        else:
            wall = self.settings.submit_wall_seconds
            reason = f"Grading it took longer than {wall:g} seconds, the longest a submission may take at submit time"
            self.log(f"SET ASIDE {row.name}: {seconds:.0f} s of wall-clock time, over the backstop of {wall:g}")
        self.state.defer(row.name, reason)

    # ------------------------------------------------------------------------------------------ release
    def _secret_and_notebooks(self, row: Row) -> tuple[str | None, list[str]]:
        key = (row.name, row.state)
        if key not in self._secrets:
            self._secrets[key] = self._read_secret_and_notebooks(row)
        return self._secrets[key]

    def _read_secret_and_notebooks(self, row: Row) -> tuple[str | None, list[str]]:
        folder = self.store / row.name
        if folder.is_dir():
            secret_path = folder / "submission_secret.txt"
            secret = secret_path.read_text() if secret_path.is_file() else None
            return secret, sorted(p.stem for p in folder.glob("*.ipynb"))
        secret, names = None, []  # refused or not yet copied: read by descriptor, never follow
        with contextlib.suppress(OSError):
            inbound = open_inbound(self.inbound)
            try:
                secret = read_small(inbound, row.name, "submission_secret.txt", self.rules, row.student)
                names = _notebook_names(inbound, row.name)
            finally:
                os.close(inbound)
        return secret, names or list(self.notebooks.get(row.assignment, []))

    def page_for(self, row: Row, notebook: str) -> str | None:
        """The final page of one notebook of a submission in a final state (None: nothing to release)."""
        expected = self.notebooks.get(row.assignment, [])
        if row.state == "refused":
            return pages.refused_page(row.assignment, row.reason) if row.page else None
        if row.state == "superseded":
            return pages.superseded_page(row.assignment, row.received, row.reason)
        if row.state == "deferred":
            return pages.deferred_page(row.assignment, row.received, row.reason)
        if not row.counted:
            rules = self.settings.rules(row.assignment)
            return pages.over_limit_page(row.assignment, row.received, rules.per_window, rules.window_minutes,
                                         row.next_feedback)
        if notebook not in expected:
            return pages.stray_page(row.assignment, notebook, expected)
        outcome = row.outcome_data
        graded = self.out / row.name / f"{notebook}.html"
        if not graded.is_file():
            reason = outcome.get("message") or "no feedback could be rendered"
            return pages.error_page(row.assignment, row.received, f"{outcome.get('error_kind', 'error')}: {reason}")
        rules = self.settings.rules(row.assignment)
        before = self._before_due(row.assignment, row.received)
        left = None
        if before:
            start = dt.datetime.fromisoformat(row.received) - dt.timedelta(minutes=rules.window_minutes)
            used = [t for t in self.state.counted_received(row.student, row.assignment, row.received)
                    if dt.datetime.fromisoformat(t) > start]
            left = max(0, rules.per_window - len(used))
        levels = set(rules.visibility(self.grade_ids[row.assignment], before).values()) - {"full"}
        finished = dt.datetime.fromtimestamp(row.finished or time.time(), dt.UTC).isoformat()
        box = pages.graded_notice(row.assignment, row.received, finished, left, rules.window_minutes, levels)
        text = pages.with_notice(graded.read_text(), box)
        if outcome.get("status") == "error":
            text = pages.with_notice(text, pages.notice(
                [f"Part of it could not be graded ({pages.html_text(outcome.get('error_kind', ''))}): "
                 f"{pages.html_text(outcome.get('message', ''))}"], "error"))
        return text

    def _publish(self, row: Row, secret: str, notebook: str, html: str) -> bool:
        """One page to the exchange, through nbgrader's release_feedback; False if the file is someone else's."""
        from nbgrader.utils import notebook_hash

        digest = notebook_hash(secret=secret, notebook_id=notebook)
        if not self.state.claim_page(digest, row.name, notebook):
            self.log(f"NOT RELEASED {row.name}/{notebook}: its feedback file belongs to another submission "
                     "(a copied submission secret)")
            return False
        self._release_feedback(row, secret, notebook, html)
        return True

    def _release_feedback(self, row: Row, secret: str, notebook: str, html: str) -> None:
        from nbgrader.auth import Authenticator
        from nbgrader.coursedir import CourseDirectory
        from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback

        root = self.dir / "release"
        folder = root / "feedback" / row.student / row.assignment
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / f"{notebook}.html").write_text(html)
        (folder / "timestamp.txt").write_text(row.received)
        (folder / "submission_secret.txt").write_text(secret)
        coursedir = CourseDirectory(root=str(root), course_id=self.course_id, assignment_id=row.assignment,
                                    student_id=row.student)
        release = ExchangeReleaseFeedback(coursedir=coursedir, authenticator=Authenticator(),
                                          root=str(self.exchange_root))
        release.log.setLevel("WARNING")
        release.start()

    def release(self) -> int:
        """Release every final page not released yet; how many submissions."""
        done = 0
        for row in self.state.to_release():
            secret, notebooks = self._secret_and_notebooks(row)
            if secret and (row.state != "refused" or row.page):
                for i, nb in enumerate(notebooks):
                    html = self.page_for(row, nb)
                    if html is not None and self._publish(row, secret, nb, html) and i == 0:
                        _pause("release", self.dir)
            elif row.state != "refused" or row.page:
                self.log(f"{row.name}: no submission_secret.txt, so no feedback file nbgrader could find")
            self.state.released(row.name)
            done += 1
        return done

    def _remaining(self, row: Row, seconds: float, cpu: float | None, avg: float) -> float:
        """Seconds a grading that has run ``seconds`` (and used ``cpu``) is expected to go on.

        Up to the average, the rest of the average. Past it, about as long again as it has run
        (a long job tends to stay long), never beyond where its CPU budget (at the CPU rate it has
        had) or the wall-clock backstop stops it.
        """
        if seconds < avg:
            return avg - seconds
        bounds = [seconds]
        budget = self.settings.rules(row.assignment).cpu_seconds
        if budget and cpu is not None and cpu > 0:
            bounds.append(max(0.0, budget - cpu) / max(cpu / max(seconds, 1e-3), 0.05))
        if self.settings.submit_wall_seconds:
            bounds.append(max(0.0, self.settings.submit_wall_seconds - seconds))
        return min(bounds)

    def expected_waits(self) -> dict[str, float]:
        """Seconds until each grading or queued submission's page is final, from the gradings running now.

        Each worker is free when its grading is expected to end (:meth:`_remaining`), a spare one
        when every grading running is slow; the queue is laid onto the workers in the order it will
        be served, each grading taking the average.
        """
        avg = float(self.state.get_meta("avg_seconds", "0") or 0) or 15.0
        now = time.time()
        running = {str(r.key): r for r in self.executor.running()}
        waits: dict[str, float] = {}
        for row in self.state.rows("state='grading'"):
            run = running.get(row.name)
            seconds = run.seconds if run else max(0.0, now - (row.started or now))
            waits[row.name] = self._remaining(row, seconds, run.cpu if run else None, avg)
        free = sorted(waits.values())[: self.workers]
        free += [0.0] * max(0, self.workers - len(free))
        if self.spare and len(waits) >= self.workers:
            slow = self._slow_after()
            spare_at = max(0.0, *(slow - r.seconds for r in running.values()))
            free += [spare_at] * max(0, self.workers + self.spare - len(waits))
        heapq.heapify(free)
        for row in self.state.queue_order():
            start = heapq.heappop(free)
            waits[row.name] = start + avg
            heapq.heappush(free, start + avg)
        return {name: wait + RELEASE_SECONDS for name, wait in waits.items()}

    def refresh_waiting(self) -> None:
        """The page of every submission still waiting: its queue position, expected wait, when to fetch again."""
        order = self.state.queue_order()
        waits = self.expected_waits()
        grading = self.state.rows("state='grading'")
        now = time.time()
        for row in [*grading, *order]:
            being_graded = row.state == "grading"
            position = 0 if being_graded else sum(1 for r in order[: order.index(row)] if r.student != row.student)
            wait = waits.get(row.name, 0.0)
            fetch_at = now + wait
            secret, notebooks = self._secret_and_notebooks(row)
            if not secret:
                continue
            # the page is written again when what it says changes, its time to fetch by more than a few seconds
            key = f"{position}/{being_graded}/{len(grading)}/{round(fetch_at / 10)}"
            if all(self._written.get(f"{row.name}/{nb}") == key for nb in notebooks):
                continue
            text = pages.waiting_page(row.assignment, row.received, position, wait, being_graded,
                                      dt.datetime.fromtimestamp(fetch_at, dt.UTC).isoformat(),
                                      min(len(grading), self.workers), self.workers)
            for nb in notebooks:
                slot = f"{row.name}/{nb}"
                if self._written.get(slot) == key:
                    continue
                from nbgrader.utils import notebook_hash

                if self.state.claim_page(notebook_hash(secret=secret, notebook_id=nb), row.name, nb):
                    self._release_feedback(row, secret, nb, text)
                    self._written[slot] = key

    def write_status(self) -> None:
        """``service/status.json``: what the instructor (or a monitor) sees of the queue."""
        order = self.state.queue_order()
        data = {"course": self.course_id, "workers": self.workers, "counts": self.state.counts(),
                "queue": [{"name": r.name, "student": r.student, "assignment": r.assignment, "received": r.received}
                          for r in order],
                "grading": [r.name for r in self.state.rows("state='grading'")],
                "running": [{"name": str(r.key), "seconds": round(r.seconds), "cpu": None if r.cpu is None
                             else round(r.cpu)} for r in self.executor.running()],
                "avg_seconds": float(self.state.get_meta("avg_seconds", "0") or 0)}
        text = json.dumps(data, indent=1, sort_keys=True)
        if text != self._last_status:
            _atomic_write(self.dir / "status.json", text.encode())
            self._last_status = text

    # --------------------------------------------------------------------------------------------- loop
    def step(self, wait: float) -> None:
        """One turn of the loop: scan, collect, dispatch, release, pages, status; then wait for news."""
        self._watch()
        self.scan()
        self.collect()
        self.dispatch()
        self.enforce_budgets()
        self.release()
        self.refresh_waiting()
        self.write_status()
        unsettled = bool(self.state.rows("state='seen'"))
        timeout = min(wait, 0.25) if unsettled else wait
        if self.executor.busy():
            finished = self.executor.poll(min(timeout, 0.5))
            if finished:
                self.finish(finished)
                return
        elif self.wake.wait(timeout):
            self.wake.clear()

    def run(self, until_idle: bool = False) -> None:
        """Serve until stopped (SIGTERM/SIGINT), or with ``until_idle`` until nothing is left to do."""
        while not self.stop.is_set():
            self.step(self.settings.rescan_seconds if not until_idle else 0.2)
            if until_idle and self.idle():
                self.scan()
                if self.idle():
                    return

    def idle(self) -> bool:
        counts = self.state.counts()
        return not any(counts.get(s) for s in ("seen", "queued", "grading")) and not self.state.to_release()


def serve(course: Path, overrides: Overrides | list[str] | tuple[str, ...] = (), scheduler: str | None = None,
          workers: int | None = None, until_idle: bool = False) -> Service:
    """Start the service and run it (see :class:`Service`); returns it, closed, when it stops."""
    service = Service(course, overrides, scheduler, workers)
    previous = {}
    try:
        service.start()

        def stop(signum: int, _frame: Any) -> None:
            service.log(f"signal {signum}: stopping after this turn")
            service.stop.set()
            service.wake.set()

        if threading.current_thread() is threading.main_thread():
            previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        service.run(until_idle)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        with contextlib.suppress(Exception):
            service.close()
    return service
