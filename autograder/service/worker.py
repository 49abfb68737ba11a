"""One submission graded for feedback: the batch pipeline in a private course, with the visibility applied.

The service never writes the instructor's gradebook: a submission is graded by
:func:`autograder.grading.private.grade_submission`, the function Dask workers use, in a private
course built from the assignment's material. Converter, preprocessors, sandbox and checks are
the ones ``zengrad-kit grade`` runs, so the per-cell scores are the ones the final batch run gives
the same files. Only the feedback page differs: :class:`ApplyVisibility` runs after nbgrader's
``GetGrades`` and hides, per cell, what the assignment's rules say a student may not see yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.grading.private import Material, _private_course, grade_submission

_LEVELS: dict[str, str] = {}  # grade_id -> full | pass-fail | none, for the submission being rendered

HIDDEN = "The result of this check is hidden until the due date."
PASSED = "Passed. (The hidden check's message is shown after the due date.)"
FAILED = "Not passed. (The hidden check's message and counterexample are shown after the due date.)"


class ApplyVisibility(NbGraderPreprocessor):
    """On a feedback page: a graded cell's outputs per its level; ``none`` cells lose their score too."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        hidden_score = hidden_max = 0.0
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if not meta.get("grade") or cell.cell_type != "code":
                continue
            level = _LEVELS.get(meta.get("grade_id", ""), "full")
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


def _install(material: Material, overrides: tuple[str, ...]) -> None:
    """Put ApplyVisibility after GetGrades in this process's private course, once, before its first page."""
    _, session = _private_course(material, overrides, True)
    if getattr(session, "_visibility_installed", False):
        return
    cfg = session.app.config
    chain = list(cfg.GenerateFeedback.get("preprocessors", []))
    names = [p if isinstance(p, str) else f"{p.__module__}.{p.__name__}" for p in chain]
    at = next((i + 1 for i, n in enumerate(names) if n.endswith("GetGrades")), len(chain))
    chain.insert(at, ApplyVisibility)
    cfg.GenerateFeedback.preprocessors = chain
    session._feedback = None  # built again with the new chain on first use
    session._visibility_installed = True


def warm(material: Material, overrides: tuple[str, ...] = ()) -> None:
    """Build this process's private course for ``material`` now (generate_assignment), not at the first submission."""
    _install(material, tuple(overrides))


def grade_for_feedback(material: Material, student: str, files: dict[str, bytes], overrides: tuple[str, ...],
                       levels: dict[str, str]) -> FeedbackResult:
    """Grade one submission privately and render its feedback pages with ``levels`` (grade_id -> level)."""
    import time

    start = time.perf_counter()
    _install(material, tuple(overrides))
    _LEVELS.clear()
    _LEVELS.update(levels)
    try:
        graded = grade_submission(material, student, files, tuple(overrides), feedback=True)
    finally:
        _LEVELS.clear()
    outcome = graded.outcome.to_json()
    return FeedbackResult(outcome, dict(graded.feedback), round(time.perf_counter() - start, 3))
