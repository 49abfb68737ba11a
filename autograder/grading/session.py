"""One submission through nbgrader's own ``Autograde`` converter, in this process.

The configuration is the course's ``nbgrader_config.py`` (plus ``--Class.trait=value``
overrides) loaded through nbgrader's own app initialisation, so a submission graded here gets
exactly the grades stock ``nbgrader autograde`` gives it. The sandbox, the trusted checks and
the outcome records all happen inside the converter's preprocessors; this module runs the
converter (handing each submission's own data to the plugins through ``resources``) and
classifies the result into one ``Outcome``. A session is one process's: it writes the
gradebook of its course, which no other process writes.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autograder.grading.config import NO_OVERRIDES, Overrides, initialize_app
from autograder.grading.discover import Job
from autograder.grading.gradebook import gradebook_cells, reuse_gradebook_engines
from autograder.grading.resources import NOTHING, CarriesRunData
from autograder.results import outcomes as oc
from autograder.results.outcomes import Outcome


def preload() -> None:
    """Import nbgrader, the pipeline and the checks once, so forked workers start warm."""
    import nbgrader.apps  # noqa: F401 - the expensive import (jsonschema grammar)
    import nbgrader.apps.autogradeapp  # noqa: F401
    import nbgrader.converters  # noqa: F401

    from autograder.checks import load_all
    from autograder.preprocessors import GuardedExecute, IntegrityScan, TrustedChecks  # noqa: F401 - imported lazily

    load_all()
    import hypothesis  # noqa: F401


class GradingSession:
    """nbgrader's autograde (and feedback) for one submission at a time, in this process.

    The configuration comes from the course's ``nbgrader_config.py`` plus ``overrides``, through
    nbgrader's own app initialisation, so it is the configuration stock ``nbgrader autograde``
    uses. ``after_grades``: plugins to run on feedback pages right after nbgrader's ``GetGrades``
    (the service's visibility); they get each submission's data through ``resources``.
    """

    def __init__(self, course: Path, overrides: Overrides = NO_OVERRIDES, feedback: bool = True,
                 after_grades: tuple[type, ...] = ()) -> None:
        from nbgrader.apps.autogradeapp import AutogradeApp

        self.course = Path(course).resolve()
        self.feedback = feedback
        os.chdir(self.course)
        reuse_gradebook_engines()
        self.app = AutogradeApp()
        initialize_app(self.app, overrides, ["--force"])
        self.app.log.setLevel("INFO")
        self.coursedir = self.app.coursedir
        self.after_grades = after_grades
        self._feedback: Any = None
        self._types: dict[str, Any] = {}

    def file_types(self, assignment: str) -> Any:
        """Which files of a submission travel on (:class:`autograder.exchange.FileTypes`), per assignment."""
        if assignment not in self._types:
            from autograder.exchange import FileTypes, OwnerCheckedCollect

            extra = OwnerCheckedCollect(config=self.app.config).allowed_files
            self._types[assignment] = FileTypes.of_source(self.course / "source" / assignment, extra)
        return self._types[assignment]

    def autograde(self, job: Job, data: Mapping[str, Any] = NOTHING) -> dict[str, Any]:
        """nbgrader's ``Autograde`` converter for one student: {success, log, error}, as NbGraderAPI returns."""
        from nbgrader.utils import capture_log, temp_attrs

        with temp_attrs(self.coursedir, assignment_id=job.assignment, student_id=job.student):
            converter = _declared_files_autograde()(coursedir=self.coursedir, parent=self.app)
            converter.file_types = self.file_types(job.assignment)
            converter.run_data = data
            converter.force = True
            converter.create_student = True
            return capture_log(converter)

    def generate_feedback(self, job: Job, data: Mapping[str, Any] = NOTHING) -> dict[str, Any]:
        """nbgrader's ``GenerateFeedback`` for one student, with one exporter for the whole session."""
        from nbgrader.utils import capture_log, temp_attrs

        if self._feedback is None:
            self._feedback = _session_feedback(self.coursedir, self.app, self.after_grades)
        self._feedback.run_data = data
        try:
            with temp_attrs(self.coursedir, assignment_id=job.assignment, student_id=job.student):
                return capture_log(self._feedback)
        finally:
            self._feedback.run_data = NOTHING

    def grade(self, job: Job, data: Mapping[str, Any] = NOTHING) -> Outcome:
        """Autograde, classify and (if anything was autograded) generate feedback for one submission.

        ``data``: this submission's data for the plugins (see :mod:`autograder.grading.resources`).
        """
        start = time.perf_counter()
        outcome = Outcome(job.assignment, job.student)
        folder = self.course / "submitted" / job.student / job.assignment
        pre = oc.precheck(folder, list(job.notebooks))
        _, dropped = self.file_types(job.assignment).split(
            str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() or p.is_symlink())
        if dropped:
            outcome.notes.append(f"left out, not files of {job.assignment}: {', '.join(dropped)}")
        result = self.autograde(job, data)
        logs = [result.get("log", "") + (result.get("error") or "")]
        if pre is not None:
            outcome.fail(*pre)
        if not result.get("success"):
            text = (result.get("error") or "") + result.get("log", "")
            outcome.fail(oc.AUTOGRADE_FAILED, "nbgrader autograde failed: " + _last_error_line(text))
        self._read_results(job, outcome)
        if self.feedback and outcome.autograded:
            fb = self.generate_feedback(job, data)
            if not fb.get("success"):
                logs.append("feedback failed:\n" + (fb.get("error") or "") + fb.get("log", ""))
        outcome.log = "\n".join(logs)
        outcome.seconds = round(time.perf_counter() - start, 3)
        return outcome

    def _read_results(self, job: Job, outcome: Outcome) -> None:
        import nbformat

        autograded = self.course / "autograded" / job.student / job.assignment
        nbs = {}
        for name in job.notebooks:
            path = autograded / f"{name}.ipynb"
            if path.exists():
                nbs[name] = nbformat.read(path, as_version=4)
        outcome.autograded = bool(nbs)
        for name, nb in nbs.items():
            oc.classify_notebook(outcome, nb, name)
        outcome.cells, outcome.score, outcome.max_score = gradebook_cells(self.course, job, nbs)


@functools.cache
def _declared_files_autograde() -> type:
    """nbgrader's ``Autograde`` whose copy of a submission into ``autograded/`` keeps only the declared files.

    Stock autograde copies every file of ``submitted/`` but ``CourseDirectory.ignore``; whatever
    road a submission came by (a zip, an LMS download, stock collect), only what
    :class:`autograder.exchange.FileTypes` admits goes on to ``autograded/`` and ``feedback/``.
    """
    from nbgrader.converters import Autograde

    class DeclaredFilesAutograde(CarriesRunData, Autograde):
        file_types: Any = None

        def init_assignment(self, assignment_id: str, student_id: str) -> None:
            super().init_assignment(assignment_id, student_id)
            dest = Path(self._format_dest(assignment_id, student_id))
            for path in sorted(dest.rglob("*"), reverse=True):
                rel = str(path.relative_to(dest))
                if (path.is_symlink() or path.is_file()) and not self.file_types.travels(rel):
                    self.log.warning("Left out (not a file of %s): %s", assignment_id, rel)
                    path.unlink()
                elif path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                    path.rmdir()

    return DeclaredFilesAutograde


def _session_feedback(coursedir: Any, app: Any, after_grades: tuple[type, ...] = ()) -> Any:
    """A ``GenerateFeedback`` converter that builds its exporter once and keeps it for every later student.

    Stock ``nbgrader generate_feedback`` converts a whole class with one exporter; a converter per
    submission would compile the HTML templates again for each one (a fifth of a page's CPU).
    ``after_grades`` join the course's feedback preprocessors right after ``GetGrades``.
    """
    from nbconvert.writers import FilesWriter
    from nbgrader.converters import GenerateFeedback
    from traitlets.config import Config

    class SessionFeedback(CarriesRunData, GenerateFeedback):
        kept: Any = None

        def start(self) -> None:  # BaseConverter.start, with the exporter made only the first time
            self.init_notebooks()
            self.writer = FilesWriter(parent=self, config=self.config)
            if self.kept is None:
                self.kept = self.exporter_class(parent=self, config=self.config)
                for pp in self.preprocessors:
                    self.kept.register_preprocessor(pp)
            self.exporter = self.kept
            with contextlib.chdir(self.coursedir.root):
                self.convert_notebooks()

    cfg = Config()
    cfg.HTMLExporter.template_name = "feedback"
    converter = SessionFeedback(coursedir=coursedir, parent=app)
    converter.update_config(cfg)
    converter.force = True
    if after_grades:
        chain = list(converter.preprocessors)
        names = [p if isinstance(p, str) else f"{p.__module__}.{p.__name__}" for p in chain]
        at = next((i + 1 for i, n in enumerate(names) if n.endswith("GetGrades")), len(chain))
        converter.preprocessors = [*chain[:at], *after_grades, *chain[at:]]
    return converter


def _last_error_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        if "Error" in line or "Exception" in line:
            return line[:300]
    return lines[-1][:300] if lines else "no log"
