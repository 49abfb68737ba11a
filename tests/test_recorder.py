"""The grading unit with real nbgrader and kernels: a private course from the gradebook's definitions, grading
there, and the coordinator's recorder as the only writer of the course's gradebook, verified afterwards."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.grading.config import NO_OVERRIDES
from autograder.grading.discover import discover
from autograder.grading.gradebook import definitions_snapshot, open_gradebook, verify
from autograder.grading.private import (
    PrivateCourses,
    course_materials,
    grade_submission,
    scratch_dir,
    submission_files,
)
from autograder.grading.recorder import RecordingSession
from autograder.grading.resources import VISIBILITY
from autograder.grading.session import preload
from autograder.mutants.ps1 import MUTANTS
from autograder.results import outcomes as oc
from autograder.service.worker import HIDDEN, feedback_grading
from tests.course_helpers import REPO, Course, max_points, mutate, nbgrader, solution_nb

PS1 = "ps1_operators"
POINTS = max_points(PS1)
DUE = dt.datetime(2026, 11, 1, 12, 0)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory, isolated_jupyter: None):
    """A ps1-only course with a due date and an earlier student; two submissions graded privately, with feedback
    pages under different visibility levels (one process, one private course)."""
    root = tmp_path_factory.mktemp("recorder") / "course"
    (root / "source").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "source" / PS1, root / "source" / PS1)
    nbgrader(root, "generate_assignment", PS1, "--force", "--log-level=WARN", check=True)
    with open_gradebook(root) as gb:
        gb.update_or_create_assignment(PS1, duedate=DUE)
        gb.add_student("earlier")
        gb.add_submission(PS1, "earlier")
    course = Course(root)
    grade_id, old, new, _ = MUTANTS["mul_swapped"]
    course.submit("perfect", PS1, solution_nb(PS1))
    course.submit("bug", PS1, mutate(solution_nb(PS1), grade_id, old, new))
    preload()
    material = course_materials(root, [PS1])[PS1]
    jobs = {j.student: j for j in discover(root)}
    courses = PrivateCourses(tmp_path_factory.mktemp("private"))
    how = feedback_grading(NO_OVERRIDES)
    try:
        results = {
            "perfect": grade_submission(material, "perfect", submission_files(root, jobs["perfect"]), how,
                                        {VISIBILITY: {"mul_test": "none"}}, courses),
            "bug": grade_submission(material, "bug", submission_files(root, jobs["bug"]), how, courses=courses),
        }
        private_roots = [path for path, _ in courses.built.values()]
    finally:
        courses.close()
    return course, material, jobs, results, private_roots


def test_a_private_course_starts_from_the_gradebook_s_definitions_and_nobody_s_work(graded) -> None:
    course, material, *_ = graded
    snapshot = definitions_snapshot(course.root)
    assert snapshot.assignments == {PS1} and material.gradebook == snapshot.data
    copy = course.root.parent / "snapshot.db"
    copy.write_bytes(snapshot.data)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{copy}") as gb, open_gradebook(course.root) as real:
        assert gb.students == [] and gb.find_assignment(PS1).submissions == []
        assert gb.find_assignment(PS1).duedate == DUE
        mine, theirs = gb.find_notebook(PS1, PS1), real.find_notebook(PS1, PS1)
        assert {c.name: c.max_score for c in mine.grade_cells} == {c.name: c.max_score for c in theirs.grade_cells}
        # the locked cells (hidden tests included) that autograde restores, as the course's gradebook holds them
        assert {c.name: (c.source, c.checksum) for c in mine.source_cells} == \
            {c.name: (c.source, c.checksum) for c in theirs.source_cells}
        assert [s.id for s in real.students] == ["earlier"]  # the course's own gradebook is untouched


def test_the_private_grading_scores_and_renders_each_submission_with_its_own_levels(graded) -> None:
    *_, results, private_roots = graded
    perfect, bug = results["perfect"].outcome, results["bug"].outcome
    assert (perfect.status, perfect.score, bug.score) == (oc.GRADED, sum(POINTS.values()), sum(POINTS.values()) - 1)
    assert {c.grade_id: c.score for c in bug.cells} == dict(POINTS, mul_test=0.0)
    assert list(results["perfect"].notebooks) == [PS1] and list(results["perfect"].feedback) == [PS1]
    perfect_page = results["perfect"].feedback[PS1].decode()
    bug_page = results["bug"].feedback[PS1].decode()
    assert HIDDEN in perfect_page  # its own level for mul_test: none
    assert HIDDEN not in bug_page and "HiddenCheckFailed" in bug_page  # none of the first submission's levels
    assert private_roots and not any(p.exists() for p in private_roots)  # close() removed them


def test_the_recorder_writes_what_the_worker_graded_and_verify_reads_it_back(graded) -> None:
    course, _, jobs, results, _ = graded
    recorder = RecordingSession(course.root, NO_OVERRIDES, feedback=True)
    outcomes = [recorder.record(jobs[s], results[s]) for s in ("perfect", "bug")]
    assert [(o.status, o.score) for o in outcomes] == [(oc.GRADED, r.outcome.score) for r in results.values()]
    assert [c.score for c in outcomes[1].cells] == [c.score for c in results["bug"].outcome.cells]
    assert course.grades(PS1)["bug"] == dict(POINTS, mul_test=0.0)
    assert course.autograded("perfect", PS1).metadata["zengrad"]["verdicts"]
    page = (course.root / "feedback" / "perfect" / PS1 / f"{PS1}.html").read_text()
    assert HIDDEN not in page  # the course's feedback is the recorder's own, with every result shown
    assert verify(course.root, outcomes) == []
    with open_gradebook(course.root) as gb:  # a write lost after recording: verify names it
        for grade in gb.find_submission_notebook(PS1, PS1, "bug").grades:
            if grade.name == "add_test":
                grade.auto_score = 0
        gb.db.commit()
    (lost,) = verify(course.root, outcomes)
    assert lost.key == (PS1, "bug") and "bug" in str(lost) and lost.stored[(PS1, "add_test")] == 0.0


def test_the_recorder_refuses_a_result_that_is_not_this_submission_s(graded) -> None:
    course, _, jobs, results, _ = graded
    before = course.grades(PS1)["perfect"]
    outcome = RecordingSession(course.root, NO_OVERRIDES, feedback=False).record(jobs["perfect"], results["bug"])
    assert outcome.status == oc.ERROR and outcome.error_kind == oc.AUTOGRADE_FAILED and not outcome.cells
    assert "not this submission's" in outcome.message
    assert course.grades(PS1)["perfect"] == before  # nothing of the bug's result was written as perfect's


def test_a_killed_run_s_private_courses_are_removed_by_the_next_run() -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = Path(tempfile.mkdtemp(prefix=f"zengrad-test-{gone.stdout.strip()}-"))  # its owner exited
    (stale / "private").mkdir()
    live = Path(tempfile.mkdtemp(prefix=f"zengrad-test-{os.getpid()}-"))  # its owner (this process) runs
    mine = scratch_dir("test")
    try:
        assert not stale.exists() and live.is_dir() and mine.is_dir()
        assert mine.name.startswith(f"zengrad-test-{os.getpid()}-")
    finally:
        shutil.rmtree(live, ignore_errors=True)
        shutil.rmtree(mine, ignore_errors=True)
        shutil.rmtree(stale, ignore_errors=True)
