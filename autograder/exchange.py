"""Collecting from a shared nbgrader exchange without trusting what students put there.

nbgrader's ``inbound/`` directory is writable by every student (mode 733; nbgrader#978, #1225):
anyone can drop ``victim+ps1_operators+<time>+x`` into it, and stock ``nbgrader collect`` only
logs a warning when the directory's owner is not the student it names, then collects it,
possibly over the victim's real work. It also believes the time in the directory's name, which
the student's own clock wrote, and copies whatever is inside (a symlink to a file of the
instructor's, a FIFO that hangs the copy, an HTML page that ends up in ``feedback/``).

:class:`OwnerCheckedCollect` (``c.ExchangeFactory.collect`` in ``nbgrader_config.py``) replaces
stock collect with one rule, :func:`inspect_submission`, that the submit-time grading service
uses as well:

* **whose is it**: every entry must be owned by the unix user of the student the name claims
  (``owner_template`` / ``owner_names`` map hub or system user names to student ids), or by the
  user who collects (the instructor placed it there); anything else is refused and reported;
* **when was it received**: the time of receipt is the kernel's, not the student's: the latest
  status-change time (``ctime``, which no unprivileged process can set back) of the submission's
  entries. A name or ``timestamp.txt`` that claims a time more than ``max_clock_skew`` seconds away
  from it is refused as back- (or forward-) dated. The collected ``timestamp.txt`` holds the time of
  receipt, so nbgrader's late penalties use the grader's clock;
* **what is in it**: only directories and regular files with one link (no symlinks, hard links,
  FIFOs or devices), within ``max_files`` and ``max_submission_mb``; only files that match
  ``allowed_files`` are copied (the others are listed as dropped). Files are opened with
  ``O_NOFOLLOW`` and checked again on the open descriptor, so nothing can be swapped in between
  the check and the copy.

Refusals go to the collect log and to ``reports/collect.json`` (read by the grading summary).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fnmatch
import json
import os
import pwd
import re
import shutil
import stat
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.utils import parse_utc
from traitlets import Dict, Float, Integer, List, Unicode

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
BOOKKEEPING = ("timestamp.txt", "submission_secret.txt")  # written by nbgrader submit
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"  # nbgrader's default Exchange.timestamp_format
COLLECT_REPORT = "collect.json"


@dataclass
class OwnerRules:
    """Who may have written a student's submission, and what one may hold."""

    collector_uid: int = field(default_factory=os.getuid)
    owner_template: str = "{student}"  # the unix user name of a student
    owner_names: dict[str, str] = field(default_factory=dict)  # unix user name -> student id, where they differ
    max_clock_skew: float = 300.0
    allowed_files: tuple[str, ...] = ("*.ipynb", "*.py", "*.txt", "*.csv", "*.json", "*.png", "*.jpg", "*.jpeg")
    max_files: int = 200
    max_bytes: int = 50 << 20

    def student_of_uid(self, uid: int) -> str | None:
        """The student id the owner of ``uid`` is, or None (unknown uid, or nobody's)."""
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            return None
        if name in self.owner_names:
            return self.owner_names[name]
        prefix, _, suffix = self.owner_template.partition("{student}")
        if name.startswith(prefix) and name.endswith(suffix) and len(name) > len(prefix) + len(suffix):
            return name[len(prefix): len(name) - len(suffix)]
        return None

    def may_write(self, uid: int, student: str) -> bool:
        return uid == self.collector_uid or self.student_of_uid(uid) == student

    def allowed(self, relpath: str) -> bool:
        name = relpath.rsplit("/", 1)[-1]
        return name in BOOKKEEPING or any(fnmatch.fnmatch(name, p) for p in self.allowed_files)


@dataclass
class InboundSubmission:
    """One directory of ``inbound/``, as inspected: refused (with the reason) or fit to collect."""

    name: str
    student: str = ""
    assignment: str = ""
    claimed: str = ""  # the time the student's side wrote into the name (ISO)
    received: str = ""  # the time of receipt by the kernel's clock (ISO, UTC)
    owner: str = ""  # the unix user who owns the directory
    refused: str | None = None
    files: list[str] = field(default_factory=list)  # relative paths to copy
    dropped: list[str] = field(default_factory=list)  # files left behind (not allowed types)

    @property
    def received_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.received)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def parse_name(name: str) -> tuple[str, str, dt.datetime]:
    """(student, assignment, claimed time) of ``student+assignment+timestamp[+random]``; ValueError if malformed."""
    parts = name.rsplit("+", 3) if name.count("+") >= 3 else name.rsplit("+", 2)
    if len(parts) < 3:
        raise ValueError("not a submission name (student+assignment+timestamp)")
    student, assignment, stamp = parts[0], parts[1], parts[2]
    if not STUDENT_ID.match(student):
        raise ValueError(f"{student!r} is not a valid student id")
    claimed = parse_utc(stamp)
    if claimed.tzinfo is None:
        claimed = claimed.replace(tzinfo=dt.UTC)
    return student, assignment, claimed


def _walk(root: Path, rules: OwnerRules, sub: InboundSubmission) -> tuple[float, int] | None:
    """Check every entry under ``root`` (never following links); (latest ctime, total bytes), or None if refused."""
    latest, total, count = 0.0, 0, 0
    stack = [""]
    while stack:
        rel = stack.pop()
        st = os.lstat(root / rel) if rel else os.lstat(root)
        latest = max(latest, st.st_ctime)
        if not rules.may_write(st.st_uid, sub.student):
            sub.refused = (f"{rel or 'the submission'} is owned by {_owner_name(st.st_uid)}, not by {sub.student}: "
                           "a submission in someone else's name")
            return None
        if stat.S_ISDIR(st.st_mode):
            with os.scandir(root / rel if rel else root) as entries:
                names = sorted(e.name for e in entries)
            stack.extend(f"{rel}/{n}" if rel else n for n in reversed(names))
            continue
        if not stat.S_ISREG(st.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
            sub.refused = f"{rel} is {kind}"
            return None
        if st.st_nlink != 1:
            sub.refused = f"{rel} is a hard link ({st.st_nlink} names)"
            return None
        count += 1
        total += st.st_size
        if count > rules.max_files or total > rules.max_bytes:
            sub.refused = (f"the submission is larger than the course accepts ({rules.max_files} files, "
                           f"{rules.max_bytes >> 20} MiB)")
            return None
        (sub.files if rules.allowed(rel) else sub.dropped).append(rel)
    return latest, total


def inspect_submission(path: Path, rules: OwnerRules, assignment: str | None = None) -> InboundSubmission:
    """Everything :class:`OwnerCheckedCollect` decides about one ``inbound/`` entry, without copying it."""
    path = Path(path)
    sub = InboundSubmission(path.name)
    try:
        sub.student, sub.assignment, claimed = parse_name(path.name)
    except (ValueError, OverflowError) as exc:
        sub.refused = f"malformed submission name: {exc}"
        return sub
    sub.claimed = claimed.isoformat()
    if assignment is not None and sub.assignment != assignment:
        sub.refused = f"the name is for assignment {sub.assignment!r}, not {assignment!r}"
        return sub
    try:
        st = os.lstat(path)
        sub.owner = _owner_name(st.st_uid)
        if not stat.S_ISDIR(st.st_mode):
            sub.refused = "not a directory (a symbolic link or a file)"
            return sub
        walked = _walk(path, rules, sub)
    except OSError as exc:
        sub.refused = f"unreadable: {exc.strerror or exc}"
        return sub
    if walked is None:
        return sub
    received = dt.datetime.fromtimestamp(walked[0], dt.UTC)
    sub.received = received.isoformat()
    claims = [("its name", claimed)]
    if "timestamp.txt" in sub.files:
        try:
            text = (path / "timestamp.txt").read_text(errors="replace").strip()[:100]
            stamped = parse_utc(text)
            claims.append(("timestamp.txt", stamped if stamped.tzinfo else stamped.replace(tzinfo=dt.UTC)))
        except (OSError, ValueError, OverflowError):
            sub.refused = "timestamp.txt does not hold a time"
            return sub
    for where, when in claims:
        skew = (received - when).total_seconds()
        if abs(skew) > rules.max_clock_skew:
            direction = "back-dated" if skew > 0 else "dated in the future"
            sub.refused = (f"{direction}: {where} says {when.isoformat()}, but it was received at "
                           f"{received.isoformat()} ({abs(skew):.0f} s apart; at most {rules.max_clock_skew:g} s)")
            return sub
    if not any(f.endswith(".ipynb") and "/" not in f for f in sub.files):
        sub.refused = "it holds no notebook"
    return sub


def copy_submission(src: Path, dest: Path, sub: InboundSubmission, rules: OwnerRules) -> None:
    """Copy the allowed files of an accepted submission to ``dest`` (replaced atomically), time of receipt included.

    Each file is opened with ``O_NOFOLLOW`` and checked again on the descriptor (regular, one link,
    an allowed owner), so a file swapped for a link after :func:`inspect_submission` is refused
    (``PermissionError``) instead of followed.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".collect-", dir=dest.parent))
    try:
        budget = rules.max_bytes
        for rel in sub.files:
            if rel == "timestamp.txt":
                continue
            fd = os.open(src / rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as fh:
                st = os.fstat(fh.fileno())
                if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or not rules.may_write(st.st_uid, sub.student):
                    raise PermissionError(f"{rel} changed while it was being collected")
                data = fh.read(budget + 1)
            budget -= len(data)
            if budget < 0:
                raise PermissionError("the submission grew while it was being collected")
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (tmp / "timestamp.txt").write_text(sub.received_at.strftime(TIMESTAMP_FORMAT))
        old = None
        if dest.exists():
            old = dest.parent / f".replaced-{dest.name}-{os.getpid()}"
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


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


class OwnerCheckedCollect(ExchangeCollect):
    """``nbgrader collect`` that refuses forged, back-dated and malformed submissions (see the module doc)."""

    owner_template = Unicode("{student}", help="The unix user name of a student, with {student} for the student id "
                                               "(e.g. 'jupyter-{student}' on a JupyterHub with system users).").tag(
        config=True)
    owner_names = Dict({}, help="unix user name -> student id, for students whose names do not follow "
                                "owner_template.").tag(config=True)
    max_clock_skew = Float(300.0, help="Seconds a submission's own time stamp may differ from its time of receipt "
                                       "before it is refused as back-dated.").tag(config=True)
    allowed_files = List(Unicode(), list(OwnerRules.allowed_files),
                         help="File name patterns collected from a submission; other files are left behind and "
                              "reported (an HTML or SVG file of a student's never reaches feedback/).").tag(config=True)
    max_files = Integer(200, help="Most files one submission may hold.").tag(config=True)
    max_submission_mb = Integer(50, help="Largest submission accepted, MiB.").tag(config=True)

    def rules(self) -> OwnerRules:
        return OwnerRules(owner_template=self.owner_template, owner_names=dict(self.owner_names),
                          max_clock_skew=self.max_clock_skew, allowed_files=tuple(self.allowed_files),
                          max_files=self.max_files, max_bytes=self.max_submission_mb << 20)

    def init_src(self) -> None:
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.inbound_path = os.path.join(self.root, self.coursedir.course_id, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        assignment = self.coursedir.assignment_id
        rules = self.rules()
        self.inspected = []
        for entry in sorted(os.listdir(self.inbound_path)):
            if f"+{assignment}+" not in entry:
                continue
            sub = inspect_submission(Path(self.inbound_path) / entry, rules, assignment)
            wanted = self.coursedir.student_id
            if wanted and wanted != "*" and sub.student != wanted and not fnmatch.fnmatch(sub.student, wanted):
                continue
            if sub.refused:
                self.log.warning("REFUSED %s: %s", entry, sub.refused)
            elif sub.dropped:
                self.log.warning("%s: not collected (file types the course does not accept): %s", entry,
                                 ", ".join(sub.dropped))
            self.inspected.append(sub)
        duedate = self._duedate()
        latest: dict[str, InboundSubmission] = {}
        for sub in self.inspected:
            if sub.refused:
                continue
            if self.before_duedate and duedate is not None and sub.received_at > duedate:
                continue
            best = latest.get(sub.student)
            if best is None or (sub.received, sub.name) > (best.received, best.name):
                latest[sub.student] = sub
        if self.before_duedate and duedate is not None:  # nobody before the due date: their latest, as nbgrader does
            for sub in self.inspected:
                if not sub.refused and sub.student not in latest:
                    others = [s for s in self.inspected if s.student == sub.student and not s.refused]
                    latest[sub.student] = max(others, key=lambda s: (s.received, s.name))
        self.src_records = [latest[s] for s in sorted(latest)]

    def _duedate(self) -> dt.datetime | None:
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                due = gb.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                return None
        return due.replace(tzinfo=dt.UTC) if due is not None and due.tzinfo is None else due

    def copy_files(self) -> None:
        rules = self.rules()
        collected: set[str] = set()
        if not self.src_records:
            self.log.warning("No submissions of '%s' for course '%s' to collect", self.coursedir.assignment_id,
                             self.coursedir.course_id)
        for sub in self.src_records:
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
                    continue
                self.log.info("Updating submission: %s %s", sub.student, self.coursedir.assignment_id)
            else:
                self.log.info("Collecting submission: %s %s", sub.student, self.coursedir.assignment_id)
            try:
                copy_submission(Path(self.inbound_path) / sub.name, dest, sub, rules)
            except OSError as exc:
                sub.refused = f"could not be collected: {exc}"
                self.log.warning("REFUSED %s: %s", sub.name, sub.refused)
                continue
            collected.add(sub.name)
        record(Path(self.coursedir.root), self.inspected, collected)
