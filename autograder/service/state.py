"""The service's memory: one SQLite file, so a ``kill -9`` at any moment loses nothing.

Every inbound submission is one row, keyed by its ``inbound/`` name, that moves through

    seen -> queued -> grading -> graded -> (released)
         \\-> refused            (inspect said no; released if the student may see why)
    queued -> superseded         (a newer submission of the same student and assignment arrived)
    grading -> deferred          (over the submit-time CPU budget: set aside for the batch grading)

Each step is one transaction. After a crash, :meth:`State.recover` puts rows that were being
graded back in the queue (grading is deterministic: the regrade gives the same result) and every
row in a final state whose pages were not released yet is released again; releasing writes the
same file names atomically, so a student ends with exactly one feedback per notebook.

Fairness lives here too: :meth:`State.next_job` serves students round-robin (the student served
least recently first), so one student's twenty submissions never delay another's first.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    name TEXT PRIMARY KEY,          -- the inbound directory name
    student TEXT NOT NULL DEFAULT '',
    assignment TEXT NOT NULL DEFAULT '',
    received TEXT NOT NULL DEFAULT '', -- time of receipt, ISO UTC, by the kernel's clock
    seen REAL NOT NULL,             -- when the service first saw it (unix time)
    state TEXT NOT NULL,            -- seen | queued | grading | graded | refused | superseded | deferred
    reason TEXT NOT NULL DEFAULT '',
    page INTEGER NOT NULL DEFAULT 1, -- 0: release nothing (a submission in someone else's name)
    counted INTEGER,                -- NULL: not decided; 1: hidden-check feedback; 0: over the rate limit
    next_feedback TEXT NOT NULL DEFAULT '', -- ISO time the next feedback is available (over the limit)
    outcome TEXT NOT NULL DEFAULT '', -- JSON summary of the graded outcome
    grade_runs INTEGER NOT NULL DEFAULT 0,
    started REAL, finished REAL, released REAL
);
CREATE INDEX IF NOT EXISTS by_state ON submissions (state);
CREATE TABLE IF NOT EXISTS pages (  -- which submission a feedback file of the exchange belongs to
    hash TEXT PRIMARY KEY, name TEXT NOT NULL, notebook TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (student TEXT PRIMARY KEY, turn INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

FINAL = ("graded", "refused", "superseded", "deferred")


@dataclass
class Row:
    """One submission as the state file holds it."""

    name: str
    student: str
    assignment: str
    received: str
    seen: float
    state: str
    reason: str
    page: int
    counted: int | None
    next_feedback: str
    outcome: str
    grade_runs: int
    started: float | None
    finished: float | None
    released: float | None

    @property
    def outcome_data(self) -> dict[str, Any]:
        return json.loads(self.outcome) if self.outcome else {}


class State:
    """The SQLite state file of one service (``<state_dir>/state.db``)."""

    def __init__(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a row said done is on disk before anything depends on it
        self.db.executescript(SCHEMA)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    # ---------------------------------------------------------------------------------------------- rows
    def rows(self, where: str = "1", args: tuple = ()) -> list[Row]:
        cur = self.db.execute(f"SELECT * FROM submissions WHERE {where} ORDER BY received, name", args)
        return [Row(*r) for r in cur.fetchall()]

    def row(self, name: str) -> Row | None:
        found = self.rows("name = ?", (name,))
        return found[0] if found else None

    def add_seen(self, names: list[str]) -> list[str]:
        """Record inbound names not seen before; the new ones."""
        new = []
        now = time.time()
        with self.transaction() as db:
            for name in names:
                if db.execute("INSERT OR IGNORE INTO submissions (name, seen, state) VALUES (?, ?, 'seen')",
                              (name, now)).rowcount:
                    new.append(name)
        return new

    def refuse(self, name: str, student: str, assignment: str, reason: str, page: bool) -> None:
        with self.transaction() as db:
            db.execute("UPDATE submissions SET state='refused', student=?, assignment=?, reason=?, page=?, "
                       "finished=? WHERE name=? AND state='seen'", (student, assignment, reason, int(page),
                                                                     time.time(), name))

    def enqueue(self, name: str, student: str, assignment: str, received: str) -> None:
        """Queue a collected submission: of one student's waiting submissions of an assignment, only the newest stays.

        Newer means a later time of receipt (then the later name); a submission that is already
        being graded is never superseded.
        """
        now = time.time()
        with self.transaction() as db:
            db.execute("UPDATE submissions SET state='queued', student=?, assignment=?, received=? "
                       "WHERE name=? AND state='seen'", (student, assignment, received, name))
            waiting = db.execute("SELECT name, received FROM submissions WHERE state='queued' AND student=? "
                                 "AND assignment=?", (student, assignment)).fetchall()
            newest = max(waiting, key=lambda r: (r[1], r[0]))
            for other, _when in waiting:
                if other != newest[0]:
                    db.execute("UPDATE submissions SET state='superseded', reason=?, finished=? WHERE name=?",
                               (f"superseded by your newer submission (received {newest[1]}) before it was "
                                "graded", now, other))

    # ------------------------------------------------------------------------------------------ fairness
    def queue_order(self) -> list[Row]:
        """Queued rows in the order they will be served: round-robin over students, oldest first within one."""
        queued = self.rows("state='queued'")
        turns = dict(self.db.execute("SELECT student, turn FROM turns").fetchall())
        by_student: dict[str, list[Row]] = {}
        for r in queued:
            by_student.setdefault(r.student, []).append(r)
        students = sorted(by_student, key=lambda s: (turns.get(s, -1), by_student[s][0].received, s))
        order: list[Row] = []
        depth = 0
        while len(order) < len(queued):
            for s in students:
                if depth < len(by_student[s]):
                    order.append(by_student[s][depth])
            depth += 1
        return order

    def next_job(self) -> Row | None:
        """The next submission to grade (marked ``grading``), or None."""
        order = self.queue_order()
        if not order:
            return None
        row = order[0]
        with self.transaction() as db:
            turn = db.execute("SELECT COALESCE(MAX(turn), 0) + 1 FROM turns").fetchone()[0]
            db.execute("INSERT OR REPLACE INTO turns (student, turn) VALUES (?, ?)", (row.student, turn))
            db.execute("UPDATE submissions SET state='grading', started=? WHERE name=?", (time.time(), row.name))
        return self.row(row.name)

    def count_run(self, name: str) -> None:
        """One more grading of this submission handed to a worker (more than one only after a crash)."""
        self.db.execute("UPDATE submissions SET grade_runs=grade_runs+1 WHERE name=?", (name,))

    def decide(self, name: str, counted: bool, next_feedback: str = "") -> None:
        """Record, once, whether this submission gets hidden-check feedback (a restart keeps the decision)."""
        with self.transaction() as db:
            db.execute("UPDATE submissions SET counted=?, next_feedback=? WHERE name=? AND counted IS NULL",
                       (int(counted), next_feedback, name))

    def counted_received(self, student: str, assignment: str, before: str) -> list[str]:
        """Receipt times of this student's submissions that got hidden-check feedback, up to ``before``."""
        cur = self.db.execute("SELECT received FROM submissions WHERE student=? AND assignment=? AND counted=1 "
                              "AND received <= ? ORDER BY received", (student, assignment, before))
        return [r[0] for r in cur.fetchall()]

    def graded(self, name: str, outcome: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute("UPDATE submissions SET state='graded', outcome=?, finished=? WHERE name=? AND state='grading'",
                       (json.dumps(outcome, sort_keys=True), time.time(), name))

    def defer(self, name: str, reason: str) -> None:
        """Set a submission being graded aside for the batch grading (it used more than the submit-time budget)."""
        with self.transaction() as db:
            db.execute("UPDATE submissions SET state='deferred', reason=?, finished=? WHERE name=? AND state='grading'",
                       (reason, time.time(), name))

    def released(self, name: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE submissions SET released=? WHERE name=?", (time.time(), name))

    def to_release(self) -> list[Row]:
        return self.rows("state IN ('graded', 'refused', 'superseded', 'deferred') AND released IS NULL")

    def recover(self) -> int:
        """After a crash: submissions that were being graded go back to the queue; how many."""
        with self.transaction() as db:
            return db.execute("UPDATE submissions SET state='queued', started=NULL WHERE state='grading'").rowcount

    # --------------------------------------------------------------------------------------------- pages
    def claim_page(self, digest: str, name: str, notebook: str) -> bool:
        """Claim a feedback file name for a submission; False if another submission already owns it.

        The file name is derived from the submission's secret, which its sender chose: a forged
        submission that copies someone's secret must never overwrite their feedback.
        """
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO pages (hash, name, notebook) VALUES (?, ?, ?)", (digest, name, notebook))
            owner = db.execute("SELECT name, notebook FROM pages WHERE hash=?", (digest,)).fetchone()
        return tuple(owner) == (name, notebook)

    # ---------------------------------------------------------------------------------------------- meta
    def get_meta(self, key: str, default: str = "") -> str:
        found = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return found[0] if found else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, COUNT(*) FROM submissions GROUP BY state").fetchall())
