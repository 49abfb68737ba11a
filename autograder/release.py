"""Regenerate ``release/`` (via real ``nbgrader generate_assignment``) and ``solutions/``.

``release/`` is nbgrader's student version. ``solutions/`` is that same
notebook with every solution cell filled in from ``source/`` (markers removed),
so it is exactly what a perfect student would submit.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

PUBLIC_HELPER = Path(__file__).with_name("public") / "gradcheck.py"
# What nbgrader writes in place of every solution (nbgrader_config.py: c.ClearSolutions.code_stub):
# every stub of every notebook fails the same way, and says what to do.
STUB = '# YOUR CODE HERE\nraise NotImplementedError("not implemented yet: replace these two lines with your code")'
SOLUTION_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*(\n|\Z)", re.M)


def course_root() -> Path:
    """The course directory: the repository root that holds ``nbgrader_config.py``."""
    return Path(__file__).resolve().parent.parent


def assignments(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "source").iterdir() if p.is_dir() and not p.name.startswith("."))


def nbgrader_cmd(*args: str) -> list[str]:
    """Run nbgrader from this interpreter's environment (its bin must be on PATH for alembic)."""
    return [sys.executable, "-m", "nbgrader", *args]


def nbgrader_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def sync_public_helper(root: Path) -> None:
    """Every assignment ships the same public gradcheck helper; copy the canonical one in."""
    for name in assignments(root):
        target = root / "source" / name / "gradcheck.py"
        if not target.exists() or target.read_bytes() != PUBLIC_HELPER.read_bytes():
            shutil.copyfile(PUBLIC_HELPER, target)


def fill_solutions(source_nb: Path, release_nb: Path, out: Path) -> None:
    """The release notebook with each solution cell's source taken from the source notebook."""
    src = nbformat.read(source_nb, as_version=4)
    rel = nbformat.read(release_nb, as_version=4)
    solutions = {
        c.metadata["nbgrader"]["grade_id"]: SOLUTION_MARKERS.sub("", c.source)
        for c in src.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in rel.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in solutions:
            cell.source = solutions[grade_id]
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(rel, out)


def generate(root: Path, out_root: Path, only: list[str] | None = None) -> None:
    """Write release/ and solutions/ for the assignments of ``root`` (all, or ``only``) under ``out_root``."""
    with tempfile.TemporaryDirectory(prefix="zengrad-release-") as tmp:
        course = Path(tmp)
        shutil.copy(root / "nbgrader_config.py", course)
        names = only or assignments(root)
        (course / "source").mkdir()
        for name in names:
            shutil.copytree(root / "source" / name, course / "source" / name)
        for name in names:
            subprocess.run(
                nbgrader_cmd("generate_assignment", name, "--force", "--log-level=WARN"),
                cwd=course, env=nbgrader_env(), check=True, capture_output=True,
            )
        for kind in ("release", "solutions"):
            shutil.rmtree(out_root / kind, ignore_errors=True)
        shutil.copytree(course / "release", out_root / "release")
        for name in assignments(course):
            for nb in sorted((course / "source" / name).glob("*.ipynb")):
                rel_dir = out_root / "release" / name
                shutil.copytree(rel_dir, out_root / "solutions" / name, dirs_exist_ok=True)
                fill_solutions(nb, rel_dir / nb.name, out_root / "solutions" / name / nb.name)


def differences(a: Path, b: Path) -> list[str]:
    """Relative paths that differ between two trees (missing on either side included)."""
    diffs: list[str] = []

    def walk(cmp: filecmp.dircmp, prefix: str) -> None:
        diffs.extend(prefix + n for n in cmp.left_only + cmp.right_only + cmp.diff_files + cmp.funny_files)
        for name, sub in cmp.subdirs.items():
            walk(sub, prefix + name + "/")

    walk(filecmp.dircmp(a, b, ignore=["__pycache__", ".ipynb_checkpoints"]), "")
    return sorted(diffs)


def release(root: Path | None = None, check_only: bool = False, only: list[str] | None = None) -> list[str]:
    """Regenerate release/ and solutions/; return the files that differ from what is committed.

    With ``check_only`` nothing in the course is written; ``only`` limits the work to some assignments.
    """
    root = root or course_root()
    names = only or assignments(root)
    if not check_only:
        sync_public_helper(root)
    with tempfile.TemporaryDirectory(prefix="zengrad-out-") as tmp:
        out = Path(tmp)
        generate(root, out, names)
        diffs = []
        for kind in ("release", "solutions"):
            for name in names:
                committed, fresh = root / kind / name, out / kind / name
                if committed.exists():
                    diffs += [f"{kind}/{name}/{d}" for d in differences(committed, fresh)]
                else:
                    diffs.append(f"{kind}/{name}/ (missing)")
                if not check_only:
                    shutil.rmtree(committed, ignore_errors=True)
                    shutil.copytree(fresh, committed)
            if only is None and (root / kind).exists():  # assignments removed from source/
                diffs += [f"{kind}/{p.name}/ (no source)" for p in (root / kind).iterdir() if p.name not in names]
        return diffs


def register(root: Path, names: list[str]) -> list[str]:
    """Put the assignments ``names`` (and their notebooks' grade cells) into the course's gradebook.

    What ``nbgrader generate_assignment`` does in the course, without writing ``release/`` there
    (``release`` keeps it, from a temporary course): ``zengrad-kit grade`` and stock ``nbgrader
    autograde`` then know the assignment. Returns the problems, one sentence each (nbgrader refuses
    to change the grade cells of an assignment that has submissions).
    """
    problems = []
    db_url = f"sqlite:///{root.resolve() / 'gradebook.db'}"
    with tempfile.TemporaryDirectory(prefix="zengrad-register-") as tmp:
        course = Path(tmp)
        shutil.copy(root / "nbgrader_config.py", course)
        (course / "source").mkdir()
        for name in names:
            shutil.copytree(root / "source" / name, course / "source" / name)
            run = subprocess.run(
                nbgrader_cmd("generate_assignment", name, "--force", "--log-level=ERROR",
                             f"--CourseDirectory.db_url={db_url}"),
                cwd=course, env=nbgrader_env(), capture_output=True, text=True,
            )
            if run.returncode != 0:
                last = (run.stderr.strip().splitlines() or ["nbgrader failed"])[-1]
                problems.append(f"{name}: {last[:300]}")
    return problems
