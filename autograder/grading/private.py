"""Grade one submission away from the course: in a private, throwaway course built from its material.

A Dask worker or Gradescope's container cannot see the course directory or its gradebook. It
gets the *material* of one assignment (the course's ``nbgrader_config.py`` and
``source/<assignment>/``) and the submission's files, builds a private course once per process
(``generate_assignment`` into a private gradebook), and grades submissions there with the very
:class:`~autograder.grading.session.GradingSession` that ``zengrad-kit grade`` uses: the same
converter, preprocessors, sandbox and checks. What comes back is the outcome and the autograded
notebooks (:class:`Graded`); the coordinator, the only writer of the real gradebook, records
them with :class:`RecordingSession`, which runs nbgrader's converter again with the execution
replaced by the remote result, so the gradebook rows are exactly the ones a local run writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.grading.discover import Job, assignment_notebooks
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

    @classmethod
    def from_course(cls, course: Path, assignment: str) -> Material:
        folder = Path(course) / "source" / assignment
        files = tuple((str(p.relative_to(folder)), p.read_bytes()) for p in sorted(folder.rglob("*"))
                      if p.is_file() and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts)
        return cls(assignment, (Path(course) / "nbgrader_config.py").read_text(), files, fingerprint())

    @property
    def digest(self) -> str:
        h = hashlib.sha256(self.assignment.encode() + self.config.encode())
        for name, content in self.source:
            h.update(name.encode() + b"\0" + content)
        return h.hexdigest()[:16]


@dataclass
class Graded:
    """The result of grading one submission privately: what the coordinator records."""

    outcome: Outcome
    notebooks: dict[str, bytes]  # notebook name (without .ipynb) -> the autograded notebook
    feedback: dict[str, bytes] = field(default_factory=dict)  # notebook name -> feedback HTML


# --------------------------------------------------------------------------------------- the private course

_LOCK = threading.Lock()  # one private grading at a time per process (nbgrader's apps chdir and are not reentrant)
_COURSES: dict[tuple[str, tuple[str, ...], bool], tuple[Path, GradingSession]] = {}


def _private_course(material: Material, overrides: tuple[str, ...], feedback: bool) -> tuple[Path, GradingSession]:
    key = (material.digest, overrides, feedback)
    if key not in _COURSES:
        from nbgrader.apps.generateassignmentapp import GenerateAssignmentApp

        course = Path(tempfile.mkdtemp(prefix=f"zengrad-private-{material.assignment}-"))
        (course / "nbgrader_config.py").write_text(material.config)
        for name, content in material.source:
            target = course / "source" / material.assignment / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        with contextlib.chdir(course):
            app = GenerateAssignmentApp()
            app.initialize([material.assignment, "--force", "--log-level=WARN"])
            app.start()
        _COURSES[key] = (course, GradingSession(course, list(overrides), feedback))
    return _COURSES[key]


def grade_submission(material: Material, student: str, files: dict[str, bytes], overrides: tuple[str, ...] = (),
                     feedback: bool = False) -> Graded:
    """Grade one submission (its files, as under ``submitted/<student>/<assignment>/``) in a private course."""
    if material.fingerprint != fingerprint():
        raise VersionMismatch(f"this machine's grading code ({fingerprint()}) differs from the coordinator's "
                              f"({material.fingerprint}): install the same zengrad-kit version everywhere")
    with _LOCK:
        course, session = _private_course(material, tuple(overrides), feedback)
        job = Job(material.assignment, student, assignment_notebooks(course, material.assignment))
        for kind in ("submitted", "autograded", "feedback"):
            shutil.rmtree(course / kind / student, ignore_errors=True)
        folder = course / "submitted" / student / material.assignment
        for name, content in files.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        folder.mkdir(parents=True, exist_ok=True)
        outcome = session.grade(job)
        autograded = course / "autograded" / student / material.assignment
        notebooks = {name: (autograded / f"{name}.ipynb").read_bytes() for name in job.notebooks
                     if (autograded / f"{name}.ipynb").exists()}
        html = course / "feedback" / student / material.assignment
        pages = {name: (html / f"{name}.html").read_bytes() for name in job.notebooks
                 if (html / f"{name}.html").exists()}
        for kind in ("submitted", "autograded", "feedback"):
            shutil.rmtree(course / kind / student, ignore_errors=True)
        return Graded(outcome, notebooks, pages)


def submission_files(course: Path, job: Job) -> dict[str, bytes]:
    """The files of ``submitted/<student>/<assignment>/``, as a private course needs them."""
    folder = Path(course) / "submitted" / job.student / job.assignment
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------------- recording remotely

_RESULTS: dict[tuple[str, str, str], NotebookNode] = {}  # (assignment, student, notebook) -> autograded notebook


class ApplyGraded(NbGraderPreprocessor):
    """In place of execution and checks: the notebook a remote machine autograded (see RecordingSession)."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        meta = resources.get("nbgrader", {})
        key = (meta.get("assignment"), meta.get("student"), meta.get("notebook"))
        graded = _RESULTS.get(key)
        if graded is None:
            raise RuntimeError(f"no remote result for {key}")
        if [(c.cell_type, c.source) for c in graded.cells] != [(c.cell_type, c.source) for c in nb.cells]:
            raise RuntimeError(f"the remote result for {key} is not this submission's notebook")
        return graded, resources


class RecordingSession(GradingSession):
    """nbgrader's converter on the coordinator, with execution and checks replaced by a remote result.

    Sanitizing, restoring read-only cells, the integrity scan, the scores (``SaveAutoGrades``),
    late penalties and the autograded copy all happen exactly as in a local run, on the real
    course; the only difference is where the notebook was executed and checked.
    """

    def __init__(self, course: Path, overrides: list[str] | tuple[str, ...] = (), feedback: bool = True) -> None:
        super().__init__(course, overrides, feedback)
        from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, SaveAutoGrades

        self.app.config.Autograde.autograde_preprocessors = [ApplyGraded, SaveAutoGrades, AssignLatePenalties,
                                                             CheckCellMetadata]

    def record(self, job: Job, graded: Graded) -> Outcome:
        """Write one remote result into the real gradebook (and autograded/, feedback/); the local outcome."""
        for name, content in graded.notebooks.items():
            _RESULTS[(job.assignment, job.student, name)] = nbformat.reads(content.decode(), as_version=4)
        try:
            outcome = self.grade(job)
        finally:
            for name in graded.notebooks:
                _RESULTS.pop((job.assignment, job.student, name), None)
        remote = graded.outcome
        outcome.log = remote.log + ("\n" + outcome.log if outcome.log else "")
        outcome.seconds, outcome.attempts, outcome.timings = remote.seconds, remote.attempts, remote.timings
        if remote.status == "error" and outcome.status != "error":
            outcome.fail(remote.error_kind or "worker-crashed", remote.message)  # type: ignore[arg-type]
        return outcome


def stored_notebooks(course: Path, job: Job) -> dict[str, Any]:
    """The autograded notebooks of a job in a course (for tests and reports)."""
    folder = Path(course) / "autograded" / job.student / job.assignment
    return {p.stem: nbformat.read(p, as_version=4) for p in sorted(folder.glob("*.ipynb"))}
