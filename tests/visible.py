"""Run the *visible* tests of a notebook on the solution and on every mutant of the catalogue.

What a student sees before submitting: the notebook's code cells in order, test cells
included, as *Run All* and *Validate* run them (an error does not stop the next cell);
hidden blocks are absent from ``solutions/``, and the visible test cells call only
``gradcheck``. Plain ``exec`` in one namespace per case, no Jupyter kernel: a whole
catalogue takes seconds. The training demo and the plot (ps3: seconds of training and a
matplotlib figure, graded by nothing) are skipped.

``python -m tests.visible ASSIGNMENT`` prints one JSON object: for the solution (key
``""``), every mutant (its name) and every correct variant (``"variant:" + its name``), the
test cells that fail and the start of each error, on one line.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import sys
import time
import types
from collections.abc import Iterable

from autograder.mutants import Mutant, catalogue, variants
from autograder.preprocessors import is_test_cell
from tests.course_helpers import REPO, apply_edits, mutate, solution_nb

VARIANT = "variant:"  # the prefix of a correct variant's key

SKIP = {"training_demo", "plot"}
CPU_SECONDS = 30.0  # per case: a visible test that hangs counts as failing (Validate would time out)


class _OutOfTime(BaseException):  # noqa: N818 - raised by the CPU timer inside notebook code
    pass


def _first_line(exc: BaseException) -> str:
    """The error's name and the start of its message, on one line (a message wrapped at 80 columns joined)."""
    text = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_case(assignment: str, mutant: Mutant | None, edits: Iterable[tuple[str, str, str]] = ()) -> dict[str, str]:
    """grade_id -> the start of the error (one line), for every test cell that fails."""
    nb = apply_edits(solution_nb(assignment), edits)
    if mutant is not None:
        nb = mutate(nb, mutant.cell, mutant.old, mutant.new)
    main = types.ModuleType("__main__")  # gradcheck finds Value in __main__, as in a kernel
    main.__dict__["display"] = lambda *args, **kwargs: None
    saved = sys.modules["__main__"]
    sys.modules["__main__"] = main
    failed: dict[str, str] = {}

    def out_of_time(signum: int, frame: object) -> None:
        raise _OutOfTime

    previous = signal.signal(signal.SIGVTALRM, out_of_time)
    signal.setitimer(signal.ITIMER_VIRTUAL, CPU_SECONDS)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for index, cell in enumerate(nb.cells):
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if cell.cell_type != "code" or grade_id in SKIP:
                    continue
                try:
                    exec(compile(cell.source, f"<cell {index}>", "exec"), main.__dict__)
                except _OutOfTime:
                    failed[grade_id or f"cell {index}"] = f"timeout: more than {CPU_SECONDS:g} CPU seconds"
                    break
                except BaseException as exc:  # noqa: B036 - like Validate: note it, run the next cell
                    if is_test_cell(cell):
                        failed[grade_id] = _first_line(exc)
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)
        sys.modules["__main__"] = saved
    return failed


def run_assignment(assignment: str) -> dict[str, dict]:
    """"" (the solution), every mutant name and every variant -> {"failed": {grade_id: message}, "seconds": s}."""
    sys.path.insert(0, str(REPO / "solutions" / assignment))  # gradcheck.py, shipped next to the notebook
    cases: list[tuple[str, Mutant | None, tuple]] = [("", None, ()), *((n, m, ()) for n, m in
                                                                   catalogue()[assignment].items())]
    cases += [(VARIANT + name, None, edits) for name, edits in variants()[assignment].items()]
    out = {}
    for name, mutant, edits in cases:
        started = time.process_time()
        failed = run_case(assignment, mutant, edits)
        out[name] = {"failed": failed, "seconds": round(time.process_time() - started, 3)}
    return out


if __name__ == "__main__":
    print(json.dumps(run_assignment(sys.argv[1])))
