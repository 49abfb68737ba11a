"""Per-submission data reaches nbgrader plugins through ``resources`` only (in process, no kernels)."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder.grading.recorder import ApplyGraded
from autograder.grading.resources import GRADED, KEY, VISIBILITY, run_data
from autograder.grading.session import _declared_files_autograde
from autograder.service.worker import FAILED, HIDDEN, ApplyVisibility


def graded_notebook() -> nbformat.NotebookNode:
    """Two graded cells as a feedback page sees them after GetGrades: a full score and a zero."""
    cells = []
    for grade_id, score in (("add_test", 1.0), ("mul_test", 0.0)):
        cell = new_code_cell(f"check('{grade_id}')")
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "points": 1.0, "score": score}
        cell.outputs = [new_output("stream", name="stdout", text=f"{grade_id}: the hidden check's message\n")]
        cells.append(cell)
    return new_notebook(cells=cells)


def render(levels: dict[str, str] | None) -> tuple[list[str], dict]:
    resources: dict = {"nbgrader": {"score": 1.0, "max_score": 2.0}}
    if levels is not None:
        resources[KEY] = {VISIBILITY: levels}
    nb, resources = ApplyVisibility().preprocess(graded_notebook(), resources)
    return ["".join(o.get("text", "") for o in c.outputs) for c in nb.cells], resources["nbgrader"]


def test_visibility_comes_from_each_submission_s_own_resources() -> None:
    hidden, scores = render({"add_test": "none", "mul_test": "pass-fail"})
    assert hidden == [HIDDEN + "\n", FAILED + "\n"]
    assert scores == {"score": 0.0, "max_score": 1.0}  # the hidden cell's points leave the total
    shown, scores = render(None)  # the next submission, without levels: everything, nothing carried over
    assert shown == ["add_test: the hidden check's message\n", "mul_test: the hidden check's message\n"]
    assert scores == {"score": 1.0, "max_score": 2.0}


def test_apply_graded_takes_the_worker_s_notebook_from_resources() -> None:
    submitted = graded_notebook()
    worker = copy.deepcopy(submitted)
    worker.cells[0].outputs = [new_output("stream", name="stdout", text="run by the worker\n")]
    resources = {"nbgrader": {"notebook": "ps1"}, KEY: {GRADED: {"ps1": nbformat.writes(worker).encode()}}}
    nb, _ = ApplyGraded().preprocess(submitted, copy.deepcopy(resources))  # nbconvert deep-copies resources
    assert nb.cells[0].outputs[0].text == "run by the worker\n"
    with pytest.raises(RuntimeError, match="no worker's result for notebook 'other'"):
        ApplyGraded().preprocess(submitted, {"nbgrader": {"notebook": "other"}, KEY: resources[KEY]})
    with pytest.raises(RuntimeError, match="no worker's result"):  # a converter that carries no run data
        ApplyGraded().preprocess(submitted, {"nbgrader": {"notebook": "ps1"}})
    assert run_data({}) == {}


def test_a_converter_puts_its_submission_s_data_into_every_notebook_s_resources(tmp_path: Path) -> None:
    from nbgrader.coursedir import CourseDirectory

    converter = _declared_files_autograde()(coursedir=CourseDirectory(root=str(tmp_path)))
    path = str(tmp_path / "submitted" / "ada" / "ps1_operators" / "ps1_operators.ipynb")
    converter.run_data = {VISIBILITY: {"mul_test": "none"}}
    first = converter.init_single_notebook_resources(path)
    converter.run_data = {VISIBILITY: {"mul_test": "full"}}
    second = converter.init_single_notebook_resources(path)
    assert run_data(first) == {VISIBILITY: {"mul_test": "none"}}
    assert run_data(second) == {VISIBILITY: {"mul_test": "full"}}
    assert first["nbgrader"]["student"] == "ada" and copy.deepcopy(first) == first  # nbconvert copies it

