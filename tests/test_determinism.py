"""Same submission, same verdict: whatever else the grading process has loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from autograder.mutants.ps1 import MUTANTS
from tests.course_helpers import REPO, mutate, solution_nb

SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
if len(sys.argv) > 3:
    sys.path.insert(0, sys.argv[3])
    import lots_of_constants  # a local module full of float constants hypothesis could mine
from autograder.sandbox.engine import StudentEngine
from autograder.checks import run_check
cells = json.load(open(sys.argv[2]))
verdicts = []
for check_id in ("ps1.mul", "ps1.tanh", "ps1.pow"):
    engine = StudentEngine([tuple(c) for c in cells])
    engine.advance_to(10**6)
    v = run_check(check_id, engine)
    engine.close()
    verdicts.append([v.check_id, v.passed, v.message, v.programs])
print(json.dumps(verdicts))
"""


def _code_cells(nb) -> list[list]:
    return [[i, c.source] for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("grade")]


def test_verdicts_do_not_depend_on_the_modules_loaded_in_the_grader(tmp_path: Path) -> None:
    nb = solution_nb("ps1_operators")
    for name in ("mul_swapped", "tanh_one_minus_t", "pow_wrong_exponent"):
        grade_id, old, new, _ = MUTANTS[name]
        nb = mutate(nb, grade_id, old, new)
    cells = tmp_path / "cells.json"
    cells.write_text(json.dumps(_code_cells(nb)))
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "lots_of_constants.py").write_text(
        "\n".join(f"C{i} = {0.5 + i / 7:.17g} * {-1.25 - i / 3:.17g}" for i in range(200)))
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    runs = [subprocess.run([sys.executable, str(script), str(REPO), str(cells), *more], capture_output=True,
                           text=True, check=True).stdout for more in ([], [str(extra)])]
    plain, loaded = (json.loads(r) for r in runs)
    assert [v[1] for v in plain] == [False, False, False]
    assert plain == loaded
