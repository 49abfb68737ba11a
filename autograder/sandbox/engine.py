"""A notebook's student code in a jailed check worker, cell by cell, as the kernel ran it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from autograder.checks.kit.errors import CheckAborted
from autograder.checks.kit.program import Program, ProgramResult


@dataclass
class ReplayedCell:
    index: int
    ok: bool
    error: dict | None = None  # {"type", "message"}
    fatal: str = ""  # "timeout" | "crashed" | "memory" when the cell took the process down


class StudentEngine:
    """Student code in a jailed worker, executed cell by cell like the notebook.

    ``advance_to(i)`` runs the student's code cells above cell ``i`` (test cells
    excluded) so a check sees exactly the state its test cell would see in the
    kernel. If student code overruns, crashes or kills the worker while a check runs,
    the check is aborted and a fresh worker replays the cells that already ran.
    Every budget is CPU time of the worker (load-proof); a wall-clock backstop, much
    longer, catches code that blocks without computing.

    A cell that uses more than ``cell_cpu`` seconds is interrupted like the kernel's
    cells are (SIGINT). A cell that ignores the interrupt, or ends the process
    (``os._exit``, a crash, memory), leaves every later check ungraded, as a dead
    kernel would: that is ``fatal``, and the submission needs the instructor.
    """

    def __init__(
        self,
        cells: Sequence[tuple[int, str]],
        files: dict[str, bytes] | None = None,
        limits: Any = None,
        cell_cpu: float = 30.0,
        program_cpu: float = 10.0,
        interrupt_grace_cpu: float = 2.0,
        sandbox: Any = None,
        max_reply_bytes: int = 4 << 20,
    ) -> None:
        from autograder.sandbox.jail import JailLimits

        self.cells = list(cells)
        self.files = files or {}
        self.limits = limits or JailLimits()
        self.cell_cpu = cell_cpu
        self.program_cpu = program_cpu
        self.interrupt_grace_cpu = interrupt_grace_cpu
        self.sandbox = sandbox
        self.max_reply_bytes = max_reply_bytes
        self.done: list[int] = []  # cells executed (and kept) in the current worker
        self.results: dict[int, ReplayedCell] = {}
        self.fatal: ReplayedCell | None = None
        self._worker: Any = None
        self.programs_run = 0
        self.workers_started = 0
        self.cpu_used = 0.0  # CPU seconds of every worker this engine started (for reports and benchmarks)

    # -- worker lifecycle --------------------------------------------------
    def _fresh_worker(self) -> Any:
        from autograder.sandbox.worker import Worker

        if self._worker is not None:
            self.cpu_used += self._worker.cpu()
            self._worker.close()
            self._worker = None
        self._worker = Worker(self.files, self.limits, self.sandbox, self.max_reply_bytes)
        self.workers_started += 1
        return self._worker

    def _replay(self) -> None:
        from autograder.sandbox.worker import Budget

        worker = self._fresh_worker()
        sources = dict(self.cells)
        if self.done:
            worker.request({"cmd": "exec", "cells": [[i, sources[i]] for i in self.done]},
                           Budget.for_cpu(self.cell_cpu * len(self.done)))

    def close(self) -> None:
        if self._worker is not None:
            self.cpu_used += self._worker.cpu()
            self._worker.close()
            self._worker = None

    # -- notebook semantics ------------------------------------------------
    def advance_to(self, cell_index: int) -> None:
        """Execute every pending code cell above ``cell_index``, the way the kernel would."""
        from autograder.sandbox.worker import Budget, WorkerLost

        if self._worker is None and not self.fatal:
            try:
                self._replay()
            except WorkerLost as lost:
                self.fatal = ReplayedCell(self.done[-1] if self.done else -1, False,
                                        {"type": lost.reason, "message": str(lost)}, fatal=lost.reason)
                return
        for index, source in self.cells:
            if index >= cell_index or index in self.results or self.fatal:
                continue
            interrupted = False
            try:
                try:
                    reply = self._worker.request({"cmd": "exec", "cells": [[index, source]]},
                                                 Budget.for_cpu(self.cell_cpu))
                except WorkerLost as lost:
                    if lost.reason != "timeout":
                        raise
                    interrupted = True
                    self._worker.interrupt()
                    try:
                        reply = self._worker.wait_reply(Budget.for_cpu(self.interrupt_grace_cpu, slack=10.0),
                                                        since=self._worker.cpu())
                    except WorkerLost as again:
                        if again.reason == "timeout":
                            self._worker.kill()
                            raise WorkerLost("hung", f"cell {index} ignored the interrupt after "
                                                     f"{self.cell_cpu:g} CPU seconds") from None
                        raise
                r = reply["cells"][0]
                error = r.get("error")
                if interrupted:
                    error = {"type": "CPUTimeLimit", "message": f"cell {index} used more than {self.cell_cpu:g} "
                                                                "CPU seconds and was interrupted"}
                self.results[index] = ReplayedCell(index, bool(r["ok"]) and not interrupted, error)
                self.done.append(index)
            except WorkerLost as lost:
                self.results[index] = ReplayedCell(index, False, {"type": lost.reason, "message": str(lost)},
                                                 fatal=lost.reason)
                self.fatal = self.results[index]
            except (KeyError, IndexError, TypeError):
                self.results[index] = ReplayedCell(index, False, {"type": "protocol", "message": "malformed reply"},
                                                 fatal="protocol")
                self.fatal = self.results[index]
                self._worker.kill()

    def run(self, program: Program) -> ProgramResult:
        from autograder.sandbox.worker import Budget, WorkerLost

        if self.fatal:
            what = {"hung": "hung and ignored the interrupt", "protocol": "tampered with the grader's channel",
                    "stalled": "blocked without computing"}.get(self.fatal.fatal, "ended the Python process")
            raise CheckAborted(
                "not-graded",
                f"not graded: the code in cell {self.fatal.index} {what} "
                f"({self.fatal.error['message']}), so nothing after it could run",
            )
        if self._worker is None:
            try:
                self._replay()
            except WorkerLost as lost:
                raise CheckAborted("stalled" if lost.reason == "stalled" else "not-graded",
                                   f"not graded: replaying your notebook failed ({lost})") from None
        self.programs_run += 1
        cpu = program.timeout or self.program_cpu
        try:
            reply = self._worker.request({"cmd": "run", "program": program.steps}, Budget.for_cpu(cpu))
        except WorkerLost as lost:
            self._worker.close()  # kills it, also on a timeout
            self._worker = None  # the next check replays the cells in a fresh worker
            if lost.reason == "timeout":
                msg = f"too slow: your code did not finish within {cpu:g} CPU seconds (an infinite loop?)"
            elif lost.reason == "stalled":
                msg = f"your code blocked without computing ({lost.detail})"
            elif lost.reason == "memory":
                msg = "your code ran out of memory"
            elif lost.reason == "protocol":
                msg = f"the grader could not read your code's answer ({lost.detail})"
            else:
                msg = f"your code crashed the Python process ({lost.detail})"
            raise CheckAborted(lost.reason, msg) from None
        if not isinstance(reply.get("reads"), list):
            self._worker.close()
            self._worker = None
            raise CheckAborted("protocol", "the grader could not read your code's answer")
        return ProgramResult(reply["reads"], None if reply.get("ok") else reply.get("error"))

    def cell_errors(self) -> list[ReplayedCell]:
        out = [r for r in self.results.values() if not r.ok]
        if self.fatal is not None and self.fatal.index not in self.results:
            out.append(self.fatal)
        return out
