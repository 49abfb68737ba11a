"""``zengrad-kit new``: a new assignment that is complete and passes the course's contract as generated.

The end-to-end test makes one in a copy of the course checkout (the new check and mutant modules go into
that copy's ``autograder`` package) and runs the contract tests there, as an instructor would after
``zengrad-kit new``; the fast ones pin the template and the refusals.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.authoring import AuthoringError, new_assignment, notebook
from autograder.release import STUB
from tests.course_helpers import REPO


def test_the_template_notebook_has_two_graded_parts_and_the_intro_every_notebook_has() -> None:
    nb = notebook("ps9_demo", "ps9", "a demo")
    meta = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"] for c in nb.cells if "nbgrader" in c.metadata}
    assert {g: m.get("points") for g, m in meta.items() if m["grade"]} == {"sin_test": 2, "mean_test": 1}
    assert [g for g, m in meta.items() if m["solution"]] == ["sin_solution", "mean_solution"]
    assert all(m["locked"] != m["solution"] for m in meta.values())
    intro = " ".join(nb.cells[0].source.split())
    assert "*Run → Run All Cells* runs every cell until the first test cell" in intro
    assert "Use the Python standard library only" in intro and "plain Python process" in intro
    tests = [c.source for c in nb.cells if meta.get(c.metadata.get("nbgrader", {}).get("grade_id"), {}).get("grade")]
    assert 'check("ps9.sin")' in tests[0] and 'check("ps9.mean")' in tests[1]
    assert STUB not in str(nb)  # nbgrader writes the stub at release


def test_a_bad_or_taken_name_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    (tmp_path / "source" / "ps1_other").mkdir(parents=True)
    for name, why in (("PS9", "named like ps5_trig"), ("ps9", "named like ps5_trig"), ("ps1_new", "prefix ps1"),
                      ("ps4_extend", "exists already")):
        with pytest.raises(AuthoringError, match=why):
            new_assignment(tmp_path, name, release_it=False)
    assert sorted(p.name for p in (tmp_path / "source").iterdir()) == ["ps1_other"]


@pytest.mark.slow
def test_a_new_assignment_passes_the_contract_as_generated(tmp_path: Path) -> None:
    """``zengrad-kit new ps9_demo`` in a copy of the checkout, then its focused contract tests there."""
    copy = tmp_path / "course"
    ignore = shutil.ignore_patterns(".venv", ".git", "__pycache__", "test-artifacts", "gradebook.db", "*.egg-info")
    shutil.copytree(REPO, copy, ignore=ignore)
    env = dict(os.environ, PYTHONPATH=str(copy))  # the copy's autograder, not the installed one
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    made = subprocess.run([sys.executable, "-m", "autograder.cli", "new", "ps9_demo", "--course", str(copy)],
                          cwd=copy, env=env, text=True, capture_output=True, timeout=900)
    assert made.returncode == 0, made.stdout + made.stderr
    for path in ("source/ps9_demo/ps9_demo.ipynb", "autograder/checks/ps9.py", "autograder/mutants/ps9.py",
                 "release/ps9_demo/ps9_demo.ipynb", "solutions/ps9_demo/ps9_demo.ipynb", "gradebook.db"):
        assert (copy / path).exists(), path
    assert "ps9_demo" in (copy / "docs" / "requirements.md").read_text()
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_notebook_text.py",
         "tests/test_requirements.py", "tests/test_visible.py", "tests/test_mutants.py", "tests/test_assignments.py",
         "-k", "ps9 or every_assignment or table or course_and"],
        cwd=copy, env=env, text=True, capture_output=True, timeout=2400)
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert "ps9_demo: visible tests catch 8/8 mutants" in tests.stdout
