"""One submission graded for feedback: the batch pipeline in a private course, with the visibility applied.

The service never writes the instructor's gradebook: a submission is graded by
:func:`autograder.grading.private.grade_submission`, the function every way of grading calls, in a
private course built from the assignment's material. Converter, preprocessors, sandbox and checks
are the ones ``zengrad-kit grade`` runs, so the per-cell scores are the ones the final batch run
gives the same files. Only the feedback page differs: :class:`ApplyVisibility` runs after
nbgrader's ``GetGrades`` and hides, per cell, what the assignment's rules say a student may not see
yet; the levels of the submission being rendered reach it through nbgrader's ``resources``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.grading.config import Overrides
from autograder.grading.private import Grading, Material, PrivateCourses, grade_submission
from autograder.grading.resources import VISIBILITY, run_data

HIDDEN = "The result of this check is hidden until the due date."
PASSED = "Passed. (The hidden check's message is shown after the due date.)"
FAILED = "Not passed. (The hidden check's message and counterexample are shown after the due date.)"


class ApplyVisibility(NbGraderPreprocessor):
    """On a feedback page: a graded cell's outputs per its level; ``none`` cells lose their score too."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        levels: Mapping[str, str] = run_data(resources).get(VISIBILITY, {})
        hidden_score = hidden_max = 0.0
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if not meta.get("grade") or cell.cell_type != "code":
                continue
            level = levels.get(meta.get("grade_id", ""), "full")
            if level == "full":
                continue
            score, points = float(meta.get("score") or 0.0), float(meta.get("points") or 0.0)
            if level == "pass-fail":
                text = PASSED if points and score >= points else FAILED
            else:
                text, hidden_score, hidden_max = HIDDEN, hidden_score + score, hidden_max + points
                meta["grade"] = False  # the template shows no score for it
            cell.outputs = [new_output("stream", name="stdout", text=text + "\n")]
        info = resources.get("nbgrader", {})
        if hidden_max and "score" in info:
            info["score"] = float(info["score"]) - hidden_score
            info["max_score"] = float(info.get("max_score") or 0.0) - hidden_max
        return nb, resources


@dataclass
class FeedbackResult:
    """What a worker sends back: the outcome (as JSON) and a feedback page per graded notebook."""

    outcome: dict[str, Any]
    pages: dict[str, bytes] = field(default_factory=dict)
    seconds: float = 0.0


def feedback_grading(overrides: Overrides) -> Grading:
    """How the service's private courses grade: the batch pipeline, plus feedback pages with the visibility."""
    return Grading(overrides, feedback=True, after_grades=(ApplyVisibility,))


def warm(material: Material, overrides: Overrides, courses: PrivateCourses) -> None:
    """Build the private course for ``material`` in ``courses`` now, not at the first submission."""
    courses.session(material, feedback_grading(overrides))


def grade_for_feedback(material: Material, student: str, files: dict[str, bytes], overrides: Overrides,
                       levels: dict[str, str], courses: PrivateCourses | None = None) -> FeedbackResult:
    """Grade one submission privately and render its feedback pages with ``levels`` (grade_id -> level)."""
    start = time.perf_counter()
    graded = grade_submission(material, student, files, feedback_grading(overrides), {VISIBILITY: dict(levels)},
                              courses)
    return FeedbackResult(graded.outcome.to_json(), dict(graded.feedback), round(time.perf_counter() - start, 3))
