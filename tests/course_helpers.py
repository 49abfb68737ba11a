"""Helpers that drive the real course with real nbgrader: submit, autograde, read grades."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

REPO = Path(__file__).resolve().parent.parent
TIMESTAMP = "2026-11-20 10:00:00.000000 UTC"


def nbgrader(course: Path, *args: str, check: bool = False, timeout: float = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, text=True,
                          capture_output=True, check=check, timeout=timeout)


def read_nb(path: Path) -> NotebookNode:
    return nbformat.read(path, as_version=4)


def solution_nb(assignment: str) -> NotebookNode:
    return read_nb(REPO / "solutions" / assignment / f"{assignment}.ipynb")


def release_nb(assignment: str) -> NotebookNode:
    return read_nb(REPO / "release" / assignment / f"{assignment}.ipynb")


def cell(nb: NotebookNode, grade_id: str) -> NotebookNode:
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return c
    raise KeyError(grade_id)


def mutate(nb: NotebookNode, grade_id: str, old: str, new: str) -> NotebookNode:
    """A copy of ``nb`` with ``old`` replaced by ``new`` in one cell (which must contain it)."""
    nb = copy.deepcopy(nb)
    c = cell(nb, grade_id)
    assert old in c.source, f"{old!r} not in {grade_id}"
    c.source = c.source.replace(old, new)
    return nb


def apply_edits(nb: NotebookNode, edits: Iterable[tuple[str, str, str]]) -> NotebookNode:
    """A copy of ``nb`` with each (grade_id, old, new) edit applied in turn (``old`` occurring once at its turn)."""
    nb = copy.deepcopy(nb)
    for grade_id, old, new in edits:
        c = cell(nb, grade_id)
        assert c.source.count(old) == 1, f"{old!r} occurs {c.source.count(old)} times in {grade_id}"
        c.source = c.source.replace(old, new)
    return nb


def append_code(nb: NotebookNode, source: str, at: int | None = None) -> NotebookNode:
    """A copy of ``nb`` with a new (student-added) code cell."""
    nb = copy.deepcopy(nb)
    new = nbformat.v4.new_code_cell(source)
    if at is None:
        nb.cells.append(new)
    else:
        nb.cells.insert(at, new)
    return nb


@dataclass
class Course:
    root: Path

    def submit(self, student: str, assignment: str, nb: NotebookNode | str | bytes | None,
               extra: dict[str, str] | None = None, name: str | None = None) -> Path:
        """Place a submission as ``nbgrader collect`` would; ``nb`` may be raw text to submit broken JSON."""
        folder = self.root / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        for helper in (REPO / "release" / assignment).glob("*.py"):
            shutil.copy(helper, folder)
        target = folder / (name or f"{assignment}.ipynb")
        if isinstance(nb, NotebookNode):
            nbformat.write(nb, target)
        elif isinstance(nb, bytes):
            target.write_bytes(nb)
        elif isinstance(nb, str):
            target.write_text(nb)
        for fname, text in (extra or {}).items():
            (folder / fname).write_text(text)
        (folder / "timestamp.txt").write_text(TIMESTAMP)
        return folder

    def autograde(self, assignment: str, *students: str, check: bool = False,
                  options: tuple[str, ...] = (), timeout: float = 900) -> subprocess.CompletedProcess:
        """Stock ``nbgrader autograde`` (one student, or every submitted student); ``options`` are config flags.

        ``timeout``: wall seconds for the whole run (a class of many notebooks that train a network needs more).
        """
        args = ["autograde", assignment, "--force", "--log-level=INFO", *options]
        if students:
            (student,) = students
            args += ["--student", student]
        return nbgrader(self.root, *args, check=check, timeout=timeout)

    def grade(self, assignment: str, workers: int = 2, timeout: float = 900) -> subprocess.CompletedProcess:
        """``zengrad-kit grade`` of every submitted student, in parallel, without feedback pages."""
        return subprocess.run([sys.executable, "-m", "autograder.cli", "grade", assignment, "--workers", str(workers),
                               "--no-progress", "--no-feedback"], cwd=self.root, text=True, capture_output=True,
                              timeout=timeout)

    def grades(self, assignment: str) -> dict[str, dict[str, float]]:
        """student -> grade_id -> score, straight from the gradebook."""
        from nbgrader.api import Gradebook

        out: dict[str, dict[str, float]] = {}
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gb:
            for sub in gb.find_assignment(assignment).submissions:
                out[sub.student.id] = {g.name: g.score for nb in sub.notebooks for g in nb.grades}
        return out

    def autograded(self, student: str, assignment: str) -> NotebookNode:
        return read_nb(self.root / "autograded" / student / assignment / f"{assignment}.ipynb")


@dataclass
class CourseTemplate:
    root: Path

    @classmethod
    def build(cls, root: Path) -> CourseTemplate:
        shutil.copy(REPO / "nbgrader_config.py", root)
        shutil.copytree(REPO / "source", root / "source")
        for assignment in sorted(p.name for p in (root / "source").iterdir() if p.is_dir()):
            nbgrader(root, "generate_assignment", assignment, "--force", "--log-level=WARN", check=True)
        return cls(root)

    def copy_to(self, dest: Path) -> Course:
        shutil.copytree(self.root, dest)
        return Course(dest)


def max_points(assignment: str) -> dict[str, float]:
    nb = read_nb(REPO / "source" / assignment / f"{assignment}.ipynb")
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
