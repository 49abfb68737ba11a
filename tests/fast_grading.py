"""Grade a solution notebook (optionally mutated) through every hidden check, without nbgrader or a worker.

The notebook's code cells run in notebook order in one namespace, as the sandboxed
worker runs them (test cells excluded, a cell's error does not stop the next one),
and each test cell's hidden checks run through ``ReferenceEngine`` at the point
where the test cell stands, so a check sees exactly the state it would see in the
grader. Only the given cells that are slow and graded by nothing (the training
demo, the plot) are skipped.
"""

from __future__ import annotations

import contextlib
import io
import signal
import sys
from collections.abc import Iterable
from pathlib import Path

from autograder.checks import Verdict, run_check
from autograder.checks.kit import CheckAborted, Program, ProgramResult, ReferenceEngine
from autograder.mutants import Mutant
from autograder.preprocessors import CHECK_CALL, is_test_cell
from tests.course_helpers import REPO, apply_edits, mutate, read_nb, solution_nb


def _skipped_cells() -> set[str]:
    """The read-only cells the worker does not replay (``TrustedChecks.skip_cells`` of the course config)."""
    from autograder.grading.config import course_config
    from autograder.preprocessors import TrustedChecks

    return set(TrustedChecks(config=course_config(REPO)).skip_cells)


SKIP = _skipped_cells()


DEFAULT_CPU_SECONDS = 60.0  # a program without its own budget (the worker's default is smaller)


class _OutOfTime(BaseException):  # noqa: N818 - raised by the CPU timer inside student code
    pass


class TimedEngine(ReferenceEngine):
    """``ReferenceEngine`` with ``Program.timeout`` as a CPU-seconds budget, as the worker enforces it.

    Without it a check that relies on the budget (``ps2``'s ladder: a sort without a
    visited set takes about a billion steps) would never end in-process.
    """

    def run(self, program: Program) -> ProgramResult:
        limit = program.timeout or DEFAULT_CPU_SECONDS

        def out_of_time(signum: int, frame: object) -> None:
            raise _OutOfTime

        previous = signal.signal(signal.SIGVTALRM, out_of_time)
        signal.setitimer(signal.ITIMER_VIRTUAL, limit)
        try:
            outcome = super().run(program)
        except _OutOfTime:
            outcome = ProgramResult([], {"type": "_OutOfTime"})
        finally:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            signal.signal(signal.SIGVTALRM, previous)
        if outcome.error and outcome.error.get("type") == "_OutOfTime":
            raise CheckAborted("timeout", f"your code did not finish within {limit:g} s (an infinite loop?)")
        return outcome


def hidden_checks(assignment: str) -> dict[str, list[str]]:
    """grade_id of each test cell -> the check ids its hidden block names (from the source notebook)."""
    nb = read_nb(REPO / "source" / assignment / f"{assignment}.ipynb")
    return {c.metadata["nbgrader"]["grade_id"]: CHECK_CALL.findall(c.source) for c in nb.cells if is_test_cell(c)}


def _strip_ipython(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def grade_fast(assignment: str, mutant: Mutant | None = None,
               edits: Iterable[tuple[str, str, str]] = ()) -> dict[str, Verdict]:
    """check id -> verdict on the solution notebook, with ``mutant`` (or the ``edits`` of a variant) applied."""
    nb = apply_edits(solution_nb(assignment), edits)
    if mutant is not None:
        nb = mutate(nb, mutant.cell, mutant.old, mutant.new)
    checks = hidden_checks(assignment)
    ns: dict = {"__name__": "__main__", "display": lambda *a, **k: None}
    public = str(REPO / "autograder" / "public")  # gradcheck.py, shipped next to every notebook
    sys.path.insert(0, public)
    verdicts: dict[str, Verdict] = {}
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # what the cells print
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if is_test_cell(cell):
                    engine = TimedEngine(ns)
                    for check_id in checks.get(grade_id, []):
                        verdicts[check_id] = run_check(check_id, engine)
                elif grade_id not in SKIP:
                    try:
                        exec(compile(_strip_ipython(cell.source), f"<cell {index}>", "exec"), ns)
                    except BaseException:  # noqa: B036, S110 - like the worker: a failing cell leaves what it defined
                        pass
    finally:
        sys.path.remove(public)
    return verdicts


def cells_of(assignment: str, check_ids: set[str]) -> set[str]:
    """The grade_ids of the test cells whose hidden checks include any of ``check_ids``."""
    return {grade_id for grade_id, ids in hidden_checks(assignment).items() if set(ids) & check_ids}


def lost_cells(assignment: str, verdicts: dict[str, Verdict]) -> set[str]:
    """The test cells that lose their points: those with a failing hidden check."""
    return cells_of(assignment, {check_id for check_id, v in verdicts.items() if not v.passed})


__all__ = ["Path", "TimedEngine", "cells_of", "grade_fast", "hidden_checks", "lost_cells"]
