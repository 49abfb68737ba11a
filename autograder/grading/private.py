"""Grade one submission away from the course: in a private, throwaway course built from its material.

Every way of grading goes through :func:`grade_submission`: the local pool's forked workers,
Dask workers, the submit-time service's workers and Gradescope's container. None of them writes
(or even sees) the course's gradebook. A worker gets the *material* of one assignment (the
course's ``nbgrader_config.py``, ``source/<assignment>/`` and the definitions of the course's
gradebook, without anyone's work) and the submission's files, builds a private course once
per process, and grades there with the very :class:`~autograder.grading.session.GradingSession`
stock-equivalent pipeline: the same converter, preprocessors, sandbox and checks. What comes
back is the outcome and the autograded notebooks (:class:`Graded`); the coordinator, the only
writer of the real gradebook, records them (:mod:`autograder.grading.recorder`).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.grading.config import NO_OVERRIDES, Overrides, initialize_app
from autograder.grading.discover import Job, assignment_notebooks
from autograder.grading.resources import NOTHING
from autograder.grading.session import GradingSession
from autograder.results.outcomes import Outcome

PACKAGES = ("autograder", "zengrad_ref")


class VersionMismatch(RuntimeError):
    """The grading code on this machine is not the coordinator's (grades could differ)."""


def fingerprint() -> str:
    """A digest of the grading code on this machine: zengrad-kit and zengrad_ref sources, nbgrader's version.

    Two machines with the same fingerprint grade a submission identically; the coordinator refuses
    workers whose fingerprint differs from its own.
    """
    import importlib.util

    import nbgrader

    h = hashlib.sha256(f"nbgrader {nbgrader.__version__}\n".encode())
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        locations = (spec.submodule_search_locations or []) if spec else []
        roots = {Path(r).resolve() for r in locations if Path(r).is_dir()}
        for root in sorted(roots):
            for path in sorted(root.rglob("*.py")):
                if "__pycache__" not in path.parts:
                    h.update(f"{name}/{path.relative_to(root)}".encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Material:
    """Everything a machine needs to grade one assignment without the course directory."""

    assignment: str
    config: str  # the course's nbgrader_config.py
    source: tuple[tuple[str, bytes], ...]  # the files of source/<assignment>/, relative paths
    fingerprint: str  # of the coordinator's grading code
    gradebook: bytes | None = None  # the course gradebook's definitions (no students); None: generate_assignment

    @classmethod
    def from_course(cls, course: Path, assignment: str, gradebook: bytes | None = None) -> Material:
        folder = Path(course) / "source" / assignment
        files = tuple((str(p.relative_to(folder)), p.read_bytes()) for p in sorted(folder.rglob("*"))
                      if p.is_file() and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts)
        return cls(assignment, (Path(course) / "nbgrader_config.py").read_text(), files, fingerprint(), gradebook)

    @property
    def digest(self) -> str:
        h = hashlib.sha256(self.assignment.encode() + self.config.encode())
        for name, content in self.source:
            h.update(name.encode() + b"\0" + content)
        h.update(b"\0gradebook\0" + (self.gradebook or b""))
        return h.hexdigest()[:16]


def course_materials(course: Path, assignments: Iterable[str]) -> dict[str, Material]:
    """Each assignment's material, with the definitions of the course's gradebook for those it holds.

    A private course then grades against exactly what this course's gradebook says (cells, hidden
    tests, due date), as stock ``nbgrader autograde`` in the course would; an assignment the
    gradebook does not hold is generated from ``source/`` on the worker instead.
    """
    from autograder.grading.gradebook import definitions_snapshot

    course = Path(course)
    snapshot = definitions_snapshot(course) if (course / "gradebook.db").is_file() else None
    return {a: Material.from_course(course, a, snapshot.data if snapshot and a in snapshot.assignments else None)
            for a in assignments}


@dataclass(frozen=True)
class Grading:
    """How a private course grades: the config overrides, and whether it renders feedback pages (with
    ``after_grades``: plugins run right after nbgrader's ``GetGrades``, fed through ``resources``)."""

    overrides: Overrides = NO_OVERRIDES
    feedback: bool = False
    after_grades: tuple[type, ...] = ()


@dataclass
class Graded:
    """The result of grading one submission privately: what the coordinator records."""

    outcome: Outcome
    notebooks: dict[str, bytes]  # notebook name (without .ipynb) -> the autograded notebook
    feedback: dict[str, bytes] = field(default_factory=dict)  # notebook name -> feedback HTML
    digest: str = ""  # files_digest of the files graded: the recorder refuses a result for other files


# --------------------------------------------------------------------------------------- the private courses

_LOCK = threading.Lock()  # one private grading at a time per process (nbgrader's apps chdir and are not reentrant)


class PrivateCourses:
    """One process's private courses, one per (material, grading): built on first use, graded in many times.

    They live in a directory of their own under ``parent`` (the system's temporary directory unless
    given); :meth:`close` removes it. A forked child starts with none of its parent's.
    """

    def __init__(self, parent: Path | None = None) -> None:
        self.parent = parent
        self._forget()

    def _forget(self) -> None:
        self.root: Path | None = None
        self.pid = os.getpid()
        self.built: dict[tuple[str, Grading], tuple[Path, GradingSession]] = {}

    def session(self, material: Material, how: Grading) -> tuple[Path, GradingSession]:
        """The private course for ``material`` graded ``how`` (built now if it is not yet)."""
        if self.pid != os.getpid():  # inherited through a fork: those courses are the parent's
            self._forget()
        key = (material.digest, how)
        if key not in self.built:
            if self.root is None:
                self.root = Path(tempfile.mkdtemp(prefix="zengrad-private-", dir=self.parent))
            course = Path(tempfile.mkdtemp(prefix=f"{material.assignment}-", dir=self.root))
            self.built[key] = (course, _build(course, material, how))
        return self.built[key]

    def close(self) -> None:
        """Remove every private course of this process."""
        if self.root is not None and self.pid == os.getpid():
            shutil.rmtree(self.root, ignore_errors=True)
        self._forget()


def _build(course: Path, material: Material, how: Grading) -> GradingSession:
    """Lay out a private course (config, source, gradebook) and open a grading session in it."""
    (course / "nbgrader_config.py").write_text(material.config)
    for name, content in material.source:
        target = course / "source" / material.assignment / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    pinned = how.overrides + [f"--CourseDirectory.root={course}",  # never the real course's, whatever the config
                              f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}"]
    if material.gradebook is not None:
        (course / "gradebook.db").write_bytes(material.gradebook)
    else:
        from nbgrader.apps.generateassignmentapp import GenerateAssignmentApp

        with contextlib.chdir(course):
            app = GenerateAssignmentApp()
            initialize_app(app, pinned, [material.assignment, "--force", "--log-level=WARN"])
            app.start()
    return GradingSession(course, pinned, how.feedback, how.after_grades)


def scratch_dir(kind: str) -> Path:
    """A directory for the private courses of this process's workers, named after its pid (the owner removes
    it); those of processes that no longer run (a coordinator killed with ``kill -9``) are removed first."""
    import psutil

    for old in Path(tempfile.gettempdir()).glob(f"zengrad-{kind}-*-*"):
        pid = old.name.split("-")[2]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"zengrad-{kind}-{os.getpid()}-"))


_PROCESS = PrivateCourses()  # the courses of a process that grades without its own (a Dask worker)
atexit.register(_PROCESS.close)


def grade_submission(material: Material, student: str, files: dict[str, bytes], how: Grading = Grading(),
                     data: Mapping[str, Any] = NOTHING, courses: PrivateCourses | None = None) -> Graded:
    """Grade one submission (its files, as under ``submitted/<student>/<assignment>/``) in a private course.

    ``data``: this submission's data for the plugins (through ``resources``, see
    :mod:`autograder.grading.resources`); ``courses``: where the private courses live (this
    process's own unless given).
    """
    if material.fingerprint != fingerprint():
        raise VersionMismatch(f"this machine's grading code ({fingerprint()}) differs from the coordinator's "
                              f"({material.fingerprint}): install the same zengrad-kit version everywhere")
    with _LOCK:
        course, session = (courses or _PROCESS).session(material, how)
        job = Job(material.assignment, student, assignment_notebooks(course, material.assignment))
        for kind in ("submitted", "autograded", "feedback"):
            shutil.rmtree(course / kind / student, ignore_errors=True)
        folder = course / "submitted" / student / material.assignment
        for name, content in files.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        folder.mkdir(parents=True, exist_ok=True)
        outcome = session.grade(job, data)
        autograded = course / "autograded" / student / material.assignment
        notebooks = {name: (autograded / f"{name}.ipynb").read_bytes() for name in job.notebooks
                     if (autograded / f"{name}.ipynb").exists()}
        html = course / "feedback" / student / material.assignment
        pages = {name: (html / f"{name}.html").read_bytes() for name in job.notebooks
                 if (html / f"{name}.html").exists()}
        for kind in ("submitted", "autograded", "feedback"):
            shutil.rmtree(course / kind / student, ignore_errors=True)
        return Graded(outcome, notebooks, pages, files_digest(files))


def submission_files(course: Path, job: Job) -> dict[str, bytes]:
    """The files of ``submitted/<student>/<assignment>/``, as a private course needs them."""
    folder = Path(course) / "submitted" / job.student / job.assignment
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def files_digest(files: dict[str, bytes]) -> str:
    """A digest of a submission's files (relative path and content): the same files, the same digest."""
    h = hashlib.sha256()
    for name in sorted(files, key=lambda n: Path(n).parts):  # the order of sorted(folder.rglob("*"))
        h.update(name.encode() + b"\0" + files[name] + b"\0")
    return h.hexdigest()[:16]
