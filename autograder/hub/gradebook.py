"""Every assignment of ``source/`` registered in the gradebook, without touching the committed ``release/``.

``nbgrader generate_assignment A`` skips an assignment whose ``release/A`` exists ("Skipping
existing assignment") and then never writes the gradebook; with ``--force`` it deletes
``release/A`` first. Here nbgrader's own GenerateAssignment runs with the release directory
pointed at a throwaway folder: the gradebook learns the assignment, its notebooks and cells
exactly as ``generate_assignment`` records them, and ``release/`` stays as committed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


class GradebookError(RuntimeError):
    """nbgrader could not register an assignment (its log says why)."""


def registered(course: Path) -> dict[str, set[str]]:
    """assignment -> notebook names the gradebook knows (empty when there is no gradebook)."""
    db = course / "gradebook.db"
    if not db.exists():
        return {}
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        return {a.name: {nb.name for nb in a.notebooks} for a in gb.assignments}


def missing(course: Path) -> list[str]:
    """Assignments of ``source/`` whose notebooks the gradebook does not know (all of them)."""
    from autograder.release import assignments

    known = registered(course)
    return [a for a in assignments(course)
            if not {p.stem for p in (course / "source" / a).glob("*.ipynb")} <= known.get(a, set())]


def register(course: Path, names: list[str]) -> None:
    """Record ``names`` in the gradebook with nbgrader's GenerateAssignment (output thrown away)."""
    from nbgrader.apps import NbGraderAPI

    from autograder.grading.config import course_config

    with tempfile.TemporaryDirectory(prefix="zengrad-register-") as tmp:
        cfg = course_config(course)
        cfg.CourseDirectory.root = str(course)
        cfg.CourseDirectory.release_directory = str(Path(tmp) / "release")
        api = NbGraderAPI(config=cfg)
        api.log.setLevel("ERROR")
        for name in names:
            result = api.generate_assignment(name, force=True, create=True)
            if not result.get("success"):
                raise GradebookError(f"nbgrader could not register {name}: "
                                     f"{(result.get('error') or result.get('log') or '').strip()[-2000:]}")
