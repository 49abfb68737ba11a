"""One inbound submission, read in one pass over file descriptors and copied into a private staging folder.

The submission's folder is opened once, relative to a descriptor of ``inbound/`` that the caller
opened once; everything under it is reached with ``openat``-style calls relative to the
descriptor of its parent (``dir_fd=``), with ``O_NOFOLLOW | O_NONBLOCK`` on every component.
Each entry is looked at (``fstatat``, never following a link) before it is opened and its
descriptor checked after: the same inode, a regular file or a folder, on the same file system as
``inbound/``, owned by the student the name claims, one link for a file. A file that travels on
is copied from that descriptor, with a byte bound, into a staging folder only the collector can
read; ``timestamp.txt`` and ``submission_secret.txt`` are read from theirs with a small bound.
Every later step (the time checks, the notebook check, grading) sees only that copy.

So nothing can be swapped in between the check and the copy: a link at any depth, a folder
swapped for a link, a FIFO or a device, a file replaced after it was looked at, a mount point, or
a lease that would make ``open`` wait, each refuses that one submission with its reason; no call
blocks, and no read is unbounded (entries, depth and bytes are all counted).

``ZENGRAD_COLLECT_PAUSE`` (a folder) and ``ZENGRAD_COLLECT_PAUSE_AT`` (``opened``,
``listed:<rel>``, ``checked:<rel>``, ``read:<rel>``) stop the walk once at that step until
``<folder>/resume`` appears: the tests replay each race deterministically with it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import pwd
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autograder.exchange.filetypes import FileTypes
from autograder.exchange.ids import id_problem

O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
O_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"  # nbgrader's default Exchange.timestamp_format
SMALL = {"timestamp.txt": 256, "submission_secret.txt": 1024}  # byte bounds of the bookkeeping files
FORGED = "in someone else's name"
PAUSE_DIR_ENV, PAUSE_AT_ENV = "ZENGRAD_COLLECT_PAUSE", "ZENGRAD_COLLECT_PAUSE_AT"
CHUNK = 1 << 16


class Refused(Exception):
    """This submission is not collected; the message says why, in a sentence for the instructor and student."""


@dataclass
class OwnerRules:
    """Who may have written a student's submission, and how much one may hold."""

    collector_uid: int = field(default_factory=os.getuid)
    owner_template: str = "{student}"  # the unix user name of a student
    owner_names: dict[str, str] = field(default_factory=dict)  # unix user name -> student id, where they differ
    # a student id that names no unix user here (a course run by one user: the demo, a local course) may submit
    # files the collector owns; `zengrad-kit hub setup` turns this off, so only students' own files are taken
    local_students: bool = True
    max_clock_skew: float = 300.0
    allowed_files: tuple[str, ...] = ()  # patterns admitted beyond what the assignment declares
    max_entries: int = 200  # files and folders
    max_depth: int = 8
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

    def is_unix_user(self, student: str) -> bool:
        """True when ``student`` is the id of a unix user of this machine (so only that user may submit as them)."""
        if student in self.owner_names.values():
            return True
        try:
            pwd.getpwnam(self.owner_template.replace("{student}", student))
        except KeyError:
            return False
        return True

    def may_write(self, uid: int, student: str) -> bool:
        """May a file owned by ``uid`` be part of ``student``'s submission?"""
        if self.student_of_uid(uid) == student:
            return True
        return self.local_students and uid == self.collector_uid and not self.is_unix_user(student)


@dataclass
class InboundSubmission:
    """One entry of ``inbound/``, as read: refused (with the reason) or fit to collect."""

    name: str
    student: str = ""
    assignment: str = ""
    claimed: str = ""  # the time the student's side wrote into the name (ISO)
    received: str = ""  # the time of receipt by the kernel's clock (ISO, UTC)
    owner: str = ""  # the unix user who owns the folder
    refused: str | None = None
    files: list[str] = field(default_factory=list)  # relative paths copied (what travels on)
    dropped: list[str] = field(default_factory=list)  # files left behind: not files of the assignment

    @property
    def received_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.received)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Intake:
    """A submission read from ``inbound/``: what was decided, and (if accepted) its private copy."""

    sub: InboundSubmission
    staged: Path | None = None  # the private copy (time of receipt in its timestamp.txt); None if refused
    secret: str | None = None  # submission_secret.txt, if it was read

    def discard(self) -> None:
        if self.staged is not None:
            shutil.rmtree(self.staged, ignore_errors=True)
            self.staged = None


def owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def parse_name(name: str) -> tuple[str, str, dt.datetime]:
    """(student, assignment, claimed time) of ``student+assignment+timestamp[+random]``; ValueError if malformed."""
    from nbgrader.utils import parse_utc

    parts = name.rsplit("+", 3) if name.count("+") >= 3 else name.rsplit("+", 2)
    if len(parts) < 3:
        raise ValueError("not a submission name (student+assignment+timestamp)")
    student, assignment, stamp = parts[0], parts[1], parts[2]
    problem = id_problem(student)
    if problem:
        raise ValueError(problem)
    claimed = parse_utc(stamp)
    if claimed.tzinfo is None:
        claimed = claimed.replace(tzinfo=dt.UTC)
    return student, assignment, claimed


_paused: set[tuple[str, str]] = set()


def _pause(step: str) -> None:
    """Test hook (see the module doc): wait once per folder at ``step`` until the test says resume."""
    folder, at = os.environ.get(PAUSE_DIR_ENV), os.environ.get(PAUSE_AT_ENV)
    if not folder or at != step or (folder, step) in _paused:
        return
    _paused.add((folder, step))
    Path(folder, "paused").write_text(step)
    deadline = time.monotonic() + 120
    while not Path(folder, "resume").exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (a named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


class _Walk:
    """The one pass over one submission's descriptors; fills ``sub`` and the staging folder, or raises Refused."""

    def __init__(self, rules: OwnerRules, sub: InboundSubmission, types: FileTypes, device: int, staged: Path):
        self.rules, self.sub, self.types, self.device, self.staged = rules, sub, types, device, staged
        self.entries = 0
        self.bytes = 0
        self.latest = 0.0
        self.small: dict[str, str] = {}

    def look(self, st: os.stat_result, rel: str) -> None:
        """What every entry must be, whatever its type."""
        shown = rel or "the submission's folder"
        if st.st_dev != self.device:
            raise Refused(f"{shown} is on another file system (a mount point)")
        if not self.rules.may_write(st.st_uid, self.sub.student):
            raise Refused(f"{shown} is owned by {owner_name(st.st_uid)}, not by {self.sub.student}: "
                          f"a submission {FORGED}")
        self.latest = max(self.latest, st.st_ctime)

    def folder(self, fd: int, rel: str, depth: int) -> None:
        names: list[str] = []
        with os.scandir(fd) as it:
            for entry in it:
                names.append(entry.name)
                if self.entries + len(names) > self.rules.max_entries:
                    raise Refused(f"the submission holds more than {self.rules.max_entries} files and folders")
        _pause(f"listed:{rel}")
        for name in sorted(names):
            self.entry(fd, name, f"{rel}/{name}" if rel else name, depth)

    def entry(self, parent: int, name: str, rel: str, depth: int) -> None:
        self.entries += 1
        seen = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if not (stat.S_ISDIR(seen.st_mode) or stat.S_ISREG(seen.st_mode)):
            raise Refused(f"{rel} is {_kind(seen.st_mode)}: a submission holds only regular files and folders")
        self.look(seen, rel)
        if stat.S_ISREG(seen.st_mode) and seen.st_nlink != 1:
            raise Refused(f"{rel} is a hard link ({seen.st_nlink} names)")
        self.bytes += seen.st_size
        if self.bytes > self.rules.max_bytes:
            raise Refused(f"the submission is larger than the course accepts ({self.rules.max_bytes >> 20} MiB)")
        _pause(f"checked:{rel}")
        if stat.S_ISDIR(seen.st_mode):
            if depth + 1 > self.rules.max_depth:
                raise Refused(f"{rel} is nested deeper than {self.rules.max_depth} folders")
            fd = _open(name, O_DIR, parent, rel)
            try:
                self.same(seen, os.fstat(fd), rel)
                self.folder(fd, rel, depth + 1)
            finally:
                os.close(fd)
            return
        small = rel in SMALL
        if not small and not self.types.travels(rel):
            self.sub.dropped.append(rel)
            return
        fd = _open(name, O_FILE, parent, rel)
        try:
            st = os.fstat(fd)
            self.same(seen, st, rel)
            _pause(f"read:{rel}")
            if small:
                data = _read(fd, SMALL[rel], rel)
                self.small[rel] = data.decode("utf-8", "replace")
                if rel == "timestamp.txt":
                    return
                (self.staged / rel).write_bytes(data)
            else:
                target = self.staged / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "xb") as out:
                    _copy(fd, out, st.st_size, rel)
            after = os.fstat(fd)
            if (after.st_size, after.st_mtime_ns, after.st_ctime_ns) != (st.st_size, st.st_mtime_ns, st.st_ctime_ns):
                raise Refused(f"{rel} changed while it was being collected: submit again")
        finally:
            os.close(fd)
        self.sub.files.append(rel)

    def same(self, seen: os.stat_result, opened: os.stat_result, rel: str) -> None:
        """The descriptor is the entry that was looked at, and still a file or folder of the student's."""
        if (seen.st_dev, seen.st_ino) != (opened.st_dev, opened.st_ino) or \
                stat.S_IFMT(seen.st_mode) != stat.S_IFMT(opened.st_mode):
            raise Refused(f"{rel} was replaced while it was being collected")
        self.look(opened, rel)
        if stat.S_ISREG(opened.st_mode) and opened.st_nlink != 1:
            raise Refused(f"{rel} is a hard link ({opened.st_nlink} names)")


def _open(name: str, flags: int, parent: int, rel: str) -> int:
    try:
        return os.open(name, flags, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT, errno.ENXIO):
            raise Refused(f"{rel} was replaced while it was being collected") from None
        if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
            raise Refused(f"{rel} could not be opened without waiting (a lease holds it)") from None
        raise Refused(f"{rel} cannot be read: {exc.strerror}") from None


def _read(fd: int, limit: int, rel: str) -> bytes:
    data = b""
    while len(data) <= limit:
        chunk = os.read(fd, limit + 1 - len(data))
        if not chunk:
            return data
        data += chunk
    raise Refused(f"{rel} is larger than {limit} bytes")


def _copy(fd: int, out: Any, size: int, rel: str) -> None:
    """Exactly ``size`` bytes from ``fd`` (the size fstat gave); a file that grows is refused."""
    left = size
    while True:
        chunk = os.read(fd, min(CHUNK, left + 1))
        if not chunk:
            break
        left -= len(chunk)
        if left < 0:
            raise Refused(f"{rel} changed while it was being collected: submit again")
        out.write(chunk)
    if left:
        raise Refused(f"{rel} changed while it was being collected: submit again")


def take(inbound: int, name: str, rules: OwnerRules, types_of: Callable[[str], FileTypes | None],
         staging: Path, assignment: str | None = None) -> Intake:
    """Read ``inbound/<name>`` (``inbound`` is a descriptor of the folder) into a private copy under ``staging``.

    ``types_of(assignment)`` says which files travel on (None: the course has no such assignment).
    Returns the decision; an accepted submission's copy holds the files that travel and a
    ``timestamp.txt`` with the time of receipt.
    """
    sub = InboundSubmission(name)
    intake = Intake(sub)
    try:
        try:
            sub.student, sub.assignment, claimed = parse_name(name)
        except (ValueError, OverflowError) as exc:
            raise Refused(f"malformed submission name: {exc}") from None
        sub.claimed = claimed.isoformat()
        if assignment is not None and sub.assignment != assignment:
            raise Refused(f"the name is for assignment {sub.assignment!r}, not {assignment!r}")
        types = types_of(sub.assignment)
        if types is None:
            raise Refused(f"there is no assignment {sub.assignment!r} in this course")
        staging.mkdir(parents=True, exist_ok=True)
        intake.staged = Path(tempfile.mkdtemp(prefix=".collect-", dir=staging))
        _read_folder(inbound, name, rules, sub, types, intake)
    except Refused as exc:
        sub.refused = str(exc)
        sub.files.clear()
        intake.discard()
    except OSError as exc:
        sub.refused = f"unreadable: {exc.strerror or exc}"
        sub.files.clear()
        intake.discard()
    return intake


def _read_folder(inbound: int, name: str, rules: OwnerRules, sub: InboundSubmission, types: FileTypes,
                 intake: Intake) -> None:
    try:
        fd = os.open(name, O_DIR, dir_fd=inbound)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise Refused("not a folder (a symbolic link or a file)") from None
        raise
    try:
        st = os.fstat(fd)
        sub.owner = owner_name(st.st_uid)
        walk = _Walk(rules, sub, types, os.fstat(inbound).st_dev, intake.staged)
        walk.look(st, "")
        _pause("opened")
        walk.folder(fd, "", 0)
    finally:
        os.close(fd)
    received = dt.datetime.fromtimestamp(walk.latest, dt.UTC)
    sub.received = received.isoformat()
    claims = [("its name", dt.datetime.fromisoformat(sub.claimed))]
    if "timestamp.txt" in walk.small:
        from nbgrader.utils import parse_utc

        try:
            stamped = parse_utc(walk.small["timestamp.txt"].strip()[:100])
        except (ValueError, OverflowError):
            raise Refused("timestamp.txt does not hold a time") from None
        claims.append(("timestamp.txt", stamped if stamped.tzinfo else stamped.replace(tzinfo=dt.UTC)))
    for where, when in claims:
        skew = (received - when).total_seconds()
        if abs(skew) > rules.max_clock_skew:
            direction = "back-dated" if skew > 0 else "dated in the future"
            raise Refused(f"{direction}: {where} says {when.isoformat()}, but it was received at "
                          f"{received.isoformat()} ({abs(skew):.0f} s apart; at most {rules.max_clock_skew:g} s)")
    if not any(f.endswith(".ipynb") and "/" not in f for f in sub.files):
        raise Refused("it holds no notebook")
    intake.secret = walk.small.get("submission_secret.txt")
    (intake.staged / "timestamp.txt").write_text(received.strftime(TIMESTAMP_FORMAT))
    sub.files.sort()
    sub.dropped.sort()


def place(intake: Intake, dest: Path) -> None:
    """Move an accepted submission's private copy to ``dest``, replacing what was there atomically."""
    if intake.staged is None:
        raise ValueError(f"{intake.sub.name} was refused: nothing to place")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if dest.exists():
        old = dest.parent / f".replaced-{dest.name}-{os.getpid()}"
        os.replace(dest, old)
    os.replace(intake.staged, dest)
    intake.staged = None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_small(inbound: int, name: str, file: str, rules: OwnerRules, student: str) -> str | None:
    """One bookkeeping file at the top of an inbound submission (read, never followed), or None."""
    if file not in SMALL:
        raise ValueError(file)
    try:
        folder = os.open(name, O_DIR, dir_fd=inbound)
    except OSError:
        return None
    try:
        st = os.fstat(folder)
        if not rules.may_write(st.st_uid, student):
            return None
        fd = os.open(file, O_FILE, dir_fd=folder)
    except OSError:
        os.close(folder)
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or not rules.may_write(st.st_uid, student):
            return None
        return _read(fd, SMALL[file], file).decode("utf-8", "replace")
    except (OSError, Refused):
        return None
    finally:
        os.close(fd)
        os.close(folder)


def last_change(inbound: int, name: str, limit: int = 1000) -> float | None:
    """The latest change time of an inbound entry and its top-level entries (never followed), or None."""
    try:
        st = os.stat(name, dir_fd=inbound, follow_symlinks=False)
    except OSError:
        return None
    newest = max(st.st_ctime, st.st_mtime)
    if not stat.S_ISDIR(st.st_mode):
        return newest
    with contextlib.suppress(OSError):
        fd = os.open(name, O_DIR, dir_fd=inbound)
        try:
            with os.scandir(fd) as it:
                for i, entry in enumerate(it):
                    if i >= limit:
                        break
                    e = os.stat(entry.name, dir_fd=fd, follow_symlinks=False)
                    newest = max(newest, e.st_ctime, e.st_mtime)
        finally:
            os.close(fd)
    return newest


def open_inbound(path: Path) -> int:
    """A descriptor of the exchange's ``inbound/`` (the instructor's own path: opened once per pass)."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
