"""Cost of every hidden check on the model answer, and of autograding one submission.

    python benchmarks/checks.py                 # every assignment in source/
    python benchmarks/checks.py ps1_operators   # one assignment

For each check: generated cases (programs sent to the sandboxed worker) and
seconds, run on the solution notebook exactly as TrustedChecks runs it.
Then the wall time of stock ``nbgrader autograde`` on that one solution
submission in a fresh copy of the course (startup of the nbgrader command
included, reported separately).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.checks import run_check  # noqa: E402
from autograder.preprocessors import CHECK_CALL, is_test_cell  # noqa: E402
from autograder.release import assignments, nbgrader_cmd, nbgrader_env  # noqa: E402
from autograder.sandbox.engine import StudentEngine  # noqa: E402


def check_costs(assignment: str) -> list[tuple[str, str, int, float, bool]]:
    source = nbformat.read(ROOT / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    solution = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    hidden = {c.metadata["nbgrader"]["grade_id"]: CHECK_CALL.findall(c.source)
              for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")}
    files = {p.name: p.read_bytes() for p in (ROOT / "solutions" / assignment).glob("*.py")}
    cells = [(i, c.source) for i, c in enumerate(solution.cells) if c.cell_type == "code" and not is_test_cell(c)]
    engine = StudentEngine(cells, files)
    rows = []
    try:
        for index, c in enumerate(solution.cells):
            if not is_test_cell(c):
                continue
            grade_id = c.metadata["nbgrader"]["grade_id"]
            engine.advance_to(index)
            for check_id in hidden.get(grade_id, []):
                v = run_check(check_id, engine)
                rows.append((grade_id, check_id, v.programs, v.seconds, v.passed))
    finally:
        engine.close()
    return rows


def autograde_seconds(assignment: str) -> tuple[float, float]:
    """(wall seconds of `nbgrader autograde` on one solution submission, of a no-op nbgrader command)."""
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        shutil.copy(ROOT / "nbgrader_config.py", course)
        shutil.copytree(ROOT / "source" / assignment, course / "source" / assignment)
        env = nbgrader_env()
        subprocess.run(nbgrader_cmd("generate_assignment", assignment, "--force", "--log-level=ERROR"),
                       cwd=course, env=env, check=True, capture_output=True)
        sub = course / "submitted" / "alice" / assignment
        shutil.copytree(ROOT / "solutions" / assignment, sub)
        (sub / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")
        start = time.perf_counter()
        subprocess.run(nbgrader_cmd("autograde", assignment, "--log-level=ERROR"), cwd=course, env=env,
                       check=True, capture_output=True)
        total = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run(nbgrader_cmd("--version"), cwd=course, env=env, check=True, capture_output=True)
        startup = time.perf_counter() - start
        return total, startup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*")
    args = parser.parse_args()
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    for assignment in args.assignments or assignments(ROOT):
        print(f"\n## {assignment}\n")
        print("| test cell | check | generated cases | seconds | passed |")
        print("| --- | --- | ---: | ---: | --- |")
        rows = check_costs(assignment)
        for grade_id, check_id, programs, seconds, passed in rows:
            print(f"| {grade_id} | {check_id} | {programs} | {seconds:.3f} | {passed} |")
        print(f"| **all** | | {sum(r[2] for r in rows)} | {sum(r[3] for r in rows):.3f} | "
              f"{all(r[4] for r in rows)} |")
        total, startup = autograde_seconds(assignment)
        print(f"\nstock `nbgrader autograde` of one solution submission: {total:.2f} s wall "
              f"(of which ~{startup:.2f} s is starting the nbgrader command itself)")


if __name__ == "__main__":
    main()
