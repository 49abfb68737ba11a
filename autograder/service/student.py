"""A student on the nbgrader exchange, with nbgrader's own exchange classes (fetch, submit, fetch feedback).

What JupyterLab's Assignment List does when a student presses *Fetch*, *Submit* and *Fetch
Feedback*, in this process (no 2 s app start per click): for the demo's round trip, the service's
tests and its benchmark. Each student has a home folder and an nbgrader cache of their own.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

COURSE_ID = "zengrad"


@dataclass
class Student:
    name: str
    home: Path
    exchange: Path

    @property
    def cache(self) -> Path:
        return self.home / ".nbgrader-cache"

    def _exchange(self, cls: type, assignment: str) -> object:
        from nbgrader.auth import Authenticator
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(course_id=COURSE_ID, assignment_id=assignment, student_id=self.name)
        app = cls(coursedir=coursedir, authenticator=Authenticator(), root=str(self.exchange), cache=str(self.cache),
                  assignment_dir=str(self.home))
        app.log.setLevel("ERROR")
        return app

    def fetch(self, assignment: str) -> Path:
        from nbgrader.exchange.default.fetch_assignment import ExchangeFetchAssignment

        self.home.mkdir(parents=True, exist_ok=True)
        if not (self.home / assignment).is_dir():
            self._exchange(ExchangeFetchAssignment, assignment).start()
        return self.home / assignment

    def submit(self, assignment: str, nb: NotebookNode | bytes | None = None, name: str | None = None) -> str:
        """Write ``nb`` as the assignment's notebook (or ``name``) and submit; the inbound name it got."""
        from nbgrader.exchange.default.submit import ExchangeSubmit

        folder = self.fetch(assignment)
        if name is not None:
            for old in folder.glob("*.ipynb"):
                old.unlink()
        target = folder / (name or f"{assignment}.ipynb")
        if isinstance(nb, NotebookNode):
            nbformat.write(nb, target)
        elif isinstance(nb, bytes):
            target.write_bytes(nb)
        inbound = self.exchange / COURSE_ID / "inbound"
        before = set(p.name for p in inbound.iterdir()) if inbound.is_dir() else set()
        self._exchange(ExchangeSubmit, assignment).start()
        (new,) = {p.name for p in inbound.iterdir()} - before
        return new

    def fetch_feedback(self, assignment: str) -> dict[str, str]:
        """Fetch Feedback; {submission timestamp/notebook: page text} of everything fetched."""
        from nbgrader.exchange.default.fetch_feedback import ExchangeFetchFeedback

        dest = self.home / assignment / "feedback"
        shutil.rmtree(dest, ignore_errors=True)
        self._exchange(ExchangeFetchFeedback, assignment).start()
        if not dest.is_dir():
            return {}
        return {f"{p.parent.name}/{p.stem}": p.read_text() for p in sorted(dest.glob("*/*.html"))}

    def feedback_for(self, assignment: str, inbound_name: str, notebook: str | None = None) -> str | None:
        """The fetched page of one submission (by its inbound name), or None."""
        stamp = inbound_name.split("+")[2]
        pages = self.fetch_feedback(assignment)
        return pages.get(f"{stamp}/{notebook or assignment}")


def release(course_root: Path, assignment: str) -> None:
    """``nbgrader release_assignment`` (in a subprocess, with the course's config)."""
    import subprocess
    import sys

    nbgrader = str(Path(sys.executable).parent / "nbgrader")
    subprocess.run([nbgrader, "release_assignment", assignment, "--force", "--log-level=WARN"], cwd=course_root,
                   check=True, capture_output=True, text=True)
