"""``nbgrader collect`` for a shared exchange: :class:`OwnerCheckedCollect` and its report.

nbgrader's ``inbound/`` is writable by every student (mode 733; nbgrader#978, #1225): anyone can
drop ``victim+ps1_operators+<time>+x`` into it, and stock ``nbgrader collect`` only logs a warning
when the folder's owner is not the student it names, then collects it, believes the time its
name claims and copies whatever is inside by path. This collector reads every submission with
:func:`autograder.exchange.intake.take` (one pass over descriptors, into a private copy) and moves
only accepted copies into ``submitted/``. Refusals go to the collect log and to
``reports/collect.json`` (read by the grading summary).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fnmatch
import json
import os
from pathlib import Path
from typing import Any

from nbgrader.exchange.default.collect import ExchangeCollect
from traitlets import Bool, Dict, Float, Integer, List, Unicode

from autograder.exchange.filetypes import FileTypes
from autograder.exchange.intake import InboundSubmission, Intake, OwnerRules, open_inbound, place, take

COLLECT_REPORT = "collect.json"


def record(course: Path, subs: list[InboundSubmission], collected: set[str]) -> None:
    """Merge what a collect saw into ``reports/collect.json`` (one entry per inbound name)."""
    path = Path(course) / "reports" / COLLECT_REPORT
    data: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text())
    entries = data.get("submissions", {})
    for sub in subs:
        entry = sub.to_json()
        entry["collected"] = sub.name in collected or entries.get(sub.name, {}).get("collected", False)
        entries[sub.name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"submissions": dict(sorted(entries.items()))}, indent=1) + "\n")
    tmp.replace(path)


def refused_submissions(course: Path) -> list[dict[str, Any]]:
    """The refused entries of ``reports/collect.json`` (for the instructor's summary)."""
    try:
        data = json.loads((Path(course) / "reports" / COLLECT_REPORT).read_text())
    except (OSError, ValueError):
        return []
    return [e for _, e in sorted(data.get("submissions", {}).items()) if e.get("refused")]


def source_types(course: Path, extra: tuple[str, ...] = ()) -> Any:
    """``types_of(assignment)`` for :func:`take`: the files each ``source/<assignment>/`` declares (cached)."""
    cache: dict[str, FileTypes | None] = {}

    def types_of(assignment: str) -> FileTypes | None:
        if assignment not in cache:
            folder = Path(course) / "source" / assignment
            known = assignment and "/" not in assignment and not assignment.startswith(".") and folder.is_dir()
            cache[assignment] = FileTypes.of_source(folder, extra) if known else None
        return cache[assignment]

    return types_of


class OwnerCheckedCollect(ExchangeCollect):
    """``nbgrader collect`` that refuses forged, back-dated and malformed submissions (see the module doc)."""

    owner_template = Unicode("{student}", help="The unix user name of a student, with {student} for the student id "
                                               "(e.g. 'jupyter-{student}' on a JupyterHub with system users).").tag(
        config=True)
    owner_names = Dict({}, help="unix user name -> student id, for students whose names do not follow "
                                "owner_template.").tag(config=True)
    local_students = Bool(True, help="A student id that names no unix user of this machine (a course run by one "
                                     "user) may submit files the collector owns. `zengrad-kit hub setup` sets it "
                                     "to False: then every file must be the student's own.").tag(config=True)
    max_clock_skew = Float(300.0, help="Seconds a submission's own time stamp may differ from its time of receipt "
                                       "before it is refused as back-dated.").tag(config=True)
    allowed_files = List(Unicode(), [], help="File name patterns (case-insensitive) collected beyond the files "
                                             "the assignment's source/ folder declares; a type a browser runs "
                                             "(HTML, SVG, scripts, ...) is never collected.").tag(config=True)
    max_files = Integer(200, help="Most files and folders one submission may hold.").tag(config=True)
    max_depth = Integer(8, help="Deepest folder nesting one submission may hold.").tag(config=True)
    max_submission_mb = Integer(50, help="Largest submission accepted, MiB.").tag(config=True)

    def rules(self) -> OwnerRules:
        return OwnerRules(owner_template=self.owner_template, owner_names=dict(self.owner_names),
                          local_students=self.local_students, max_clock_skew=self.max_clock_skew,
                          allowed_files=tuple(self.allowed_files), max_entries=self.max_files,
                          max_depth=self.max_depth, max_bytes=self.max_submission_mb << 20)

    def init_src(self) -> None:
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.inbound_path = os.path.join(self.root, self.coursedir.course_id, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        assignment = self.coursedir.assignment_id
        rules = self.rules()
        course = Path(self.coursedir.root)
        types_of = source_types(course, rules.allowed_files)
        staging = course / self.coursedir.submitted_directory  # private copies sit beside where they go
        wanted = self.coursedir.student_id
        self.inspected: list[InboundSubmission] = []
        self.intakes: dict[str, Intake] = {}
        inbound = open_inbound(Path(self.inbound_path))
        try:
            for entry in sorted(os.listdir(inbound)):
                if f"+{assignment}+" not in entry:
                    continue
                student = entry.split("+", 1)[0]
                if wanted and wanted != "*" and student != wanted and not fnmatch.fnmatch(student, wanted):
                    continue
                intake = take(inbound, entry, rules, types_of, staging, assignment)
                sub = intake.sub
                if sub.refused:
                    self.log.warning("REFUSED %s: %s", entry, sub.refused)
                elif sub.dropped:
                    self.log.warning("%s: not collected (not files of this assignment): %s", entry,
                                     ", ".join(sub.dropped))
                self.inspected.append(sub)
                if intake.staged is not None:
                    self.intakes[entry] = intake
        finally:
            os.close(inbound)
        self.src_records = self._latest()
        chosen = {s.name for s in self.src_records}
        for name in [n for n in self.intakes if n not in chosen]:
            self.intakes.pop(name).discard()

    def _latest(self) -> list[InboundSubmission]:
        """The submission of each student to collect: the latest received (before the due date, if asked)."""
        duedate = self._duedate()
        accepted = [s for s in self.inspected if not s.refused]
        latest: dict[str, InboundSubmission] = {}
        for sub in accepted:
            if self.before_duedate and duedate is not None and sub.received_at > duedate:
                continue
            best = latest.get(sub.student)
            if best is None or (sub.received, sub.name) > (best.received, best.name):
                latest[sub.student] = sub
        if self.before_duedate and duedate is not None:  # nobody before the due date: their latest, as nbgrader does
            for sub in accepted:
                if sub.student not in latest:
                    latest[sub.student] = max((s for s in accepted if s.student == sub.student),
                                              key=lambda s: (s.received, s.name))
        return [latest[s] for s in sorted(latest)]

    def _duedate(self) -> dt.datetime | None:
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                due = gb.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                return None
        return due.replace(tzinfo=dt.UTC) if due is not None and due.tzinfo is None else due

    def copy_files(self) -> None:
        collected: set[str] = set()
        if not self.src_records:
            self.log.warning("No submissions of '%s' for course '%s' to collect", self.coursedir.assignment_id,
                             self.coursedir.course_id)
        try:
            for sub in self.src_records:
                intake = self.intakes.pop(sub.name)
                dest = Path(self.coursedir.format_path(self.coursedir.submitted_directory, sub.student,
                                                       self.coursedir.assignment_id))
                if dest.is_dir():
                    existing = self.coursedir.get_existing_timestamp(str(dest))
                    if existing is not None and existing.tzinfo is None:
                        existing = existing.replace(tzinfo=dt.UTC)
                    newer = existing is None or sub.received_at > existing
                    if not ((self.update and newer) or (self.before_duedate and existing != sub.received_at)):
                        self.log.info("Submission already exists%s: %s %s",
                                      ", use --update to update" if not self.update else " (no newer one)",
                                      sub.student, self.coursedir.assignment_id)
                        intake.discard()
                        continue
                    self.log.info("Updating submission: %s %s", sub.student, self.coursedir.assignment_id)
                else:
                    self.log.info("Collecting submission: %s %s", sub.student, self.coursedir.assignment_id)
                place(intake, dest)
                collected.add(sub.name)
        finally:
            for intake in self.intakes.values():
                intake.discard()
            record(Path(self.coursedir.root), self.inspected, collected)
