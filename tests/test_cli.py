"""The ``zengrad-kit`` command line: validate, release --check, usage errors, and the demo end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from autograder.results import outcomes as oc
from tests.course_helpers import REPO, release_nb, solution_nb

PS1 = "ps1_operators"


def cli(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=timeout)


def test_validate_passes_a_solution_and_fails_a_stub(tmp_path: Path) -> None:
    folder = tmp_path / "student"
    folder.mkdir()
    shutil.copy(REPO / "release" / PS1 / "gradcheck.py", folder)
    nbformat.write(solution_nb(PS1), folder / "good.ipynb")
    nbformat.write(release_nb(PS1), folder / "stub.ipynb")
    (folder / "broken.ipynb").write_text("{ not json")
    good = cli("validate", str(folder / "good.ipynb"), "--course", str(REPO), cwd=tmp_path)
    assert good.returncode == 0 and "PASS" in good.stdout, good.stdout + good.stderr
    stub = cli("validate", str(folder / "stub.ipynb"), "--course", str(REPO), cwd=tmp_path)
    assert stub.returncode == 1 and "FAIL" in stub.stdout and "NotImplementedError" in stub.stdout
    broken = cli("validate", str(folder / "broken.ipynb"), "--course", str(REPO), cwd=tmp_path)
    assert broken.returncode == 1 and "could not validate" in broken.stdout


def test_release_check_lists_differences_and_writes_nothing(tmp_path: Path) -> None:
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    for kind in ("source", "release", "solutions"):
        shutil.copytree(REPO / kind / PS1, course / kind / PS1)
    clean = cli("release", "--check", "--course", str(course), cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    tampered = course / "release" / PS1 / f"{PS1}.ipynb"
    tampered.write_text(tampered.read_text().replace("Problem set 1", "Problem set one"))
    before = tampered.read_text()
    dirty = cli("release", "--check", "--course", str(course), cwd=tmp_path)
    assert dirty.returncode == 1 and f"release/{PS1}/{PS1}.ipynb" in dirty.stdout, dirty.stdout
    assert tampered.read_text() == before
    assert not (course / "gradebook.db").exists()  # --check registers nothing either


def test_release_registers_the_assignment_and_its_grade_cells_in_the_gradebook(tmp_path: Path) -> None:
    from nbgrader.api import Gradebook

    from tests.course_helpers import max_points

    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "source" / PS1, course / "source" / PS1)
    run = cli("release", PS1, "--course", str(course), cwd=tmp_path)
    assert run.returncode == 0 and "registered in the gradebook" in run.stdout, run.stdout + run.stderr
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        cells = {c.name for nb in gb.find_assignment(PS1).notebooks for c in nb.grade_cells}
    assert cells == set(max_points(PS1))
    assert (course / "release" / PS1 / f"{PS1}.ipynb").is_file() and (course / "solutions" / PS1).is_dir()


def test_usage_errors_exit_2(course, tmp_path: Path) -> None:
    unknown = cli("grade", "no_such_assignment", "--course", str(course.root), cwd=tmp_path)
    assert unknown.returncode == oc.EXIT_USAGE and "unknown assignment" in unknown.stderr
    bogus = cli("grade", "--bogus", "--course", str(course.root), cwd=tmp_path)
    assert bogus.returncode == oc.EXIT_USAGE
    not_a_course = cli("grade", "--course", str(tmp_path), cwd=tmp_path)
    assert not_a_course.returncode == oc.EXIT_USAGE and "not a course" in not_a_course.stderr
    nothing = cli("grade", cwd=course.root)
    assert nothing.returncode == oc.EXIT_OK and "nothing to grade" in nothing.stdout


def test_demo_end_to_end_from_any_directory(tmp_path: Path) -> None:
    """The demo's class (quick size), released and graded; every role ends as the demo promises."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = cli("demo", "--quick", "--assignment", PS1, "--dir", str(tmp_path / "demo"), "--no-progress",
              cwd=elsewhere)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert "every role ended as expected" in run.stdout and "## Needs a look" in run.stdout
    assert "submit-time feedback (zengrad-kit serve)" in run.stdout and "(mul_test 0" in run.stdout
    # nbgrader's own log (each broken notebook's traceback included) goes to each outcome's log, not the console
    assert "[AutogradeApp" not in run.stdout + run.stderr and "SAWarning" not in run.stderr, run.stderr[-2000:]
    reports = tmp_path / "demo" / "reports"
    outcomes = json.loads((reports / "outcomes.json").read_text())["outcomes"]
    kinds = {o["error_kind"] for o in outcomes}
    assert {oc.BAD_JSON, oc.MISSING_NOTEBOOK, oc.KERNEL_DIED, oc.TIMEOUT, oc.MEMORY} <= kinds
    assert (reports / "grades.csv").exists() and (reports / "histogram.png").exists()
