"""The narrow adapter between checks and an engine: programs of plain numbers.

A check never touches a student object. It writes a *program* (make a leaf,
apply an op, set ``out.grad``, call ``_backward``, read ``data``/``grad``) and
hands it to an executor, which returns the reads as plain floats. The same
program runs on the reference engine in-process (``ReferenceEngine``) and on
student code in a sandboxed worker (``StudentEngine``), so one check can drive
both and compare on the trusted side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import zengrad_ref
from autograder.worker_child import run_program

Operand = int | dict  # a node handle, or {"const": x}



def const(x: float) -> dict:
    """An operand that is a plain Python number, e.g. the 2 in ``2 * v`` or ``v ** 2``."""
    return {"const": x}


@dataclass
class Program:
    """A straight-line script over node handles, built by checks."""

    steps: list[list[Any]] = field(default_factory=list)
    timeout: float | None = None  # seconds the student side may take; None: the engine's default
    _next: int = 0
    reads: list[str] = field(default_factory=list)  # a description of each read, for messages

    def _handle(self) -> int:
        self._next += 1
        return self._next

    def leaf(self, x: float) -> int:
        h = self._handle()
        self.steps.append(["leaf", h, float(x)])
        return h

    def op(self, name: str, *args: Operand) -> int:
        h = self._handle()
        self.steps.append(["op", h, name, list(args)])
        return h

    def set_grad(self, h: int, g: float) -> None:
        self.steps.append(["setgrad", h, float(g)])

    def local_backward(self, h: int) -> None:
        self.steps.append(["local_backward", h])

    def backward(self, h: int) -> None:
        self.steps.append(["backward", h])

    def call(
        self, fname: str, *args: Operand, result: bool = True, kwargs: dict[str, Operand] | None = None
    ) -> int | None:
        """``fname(*args, **kwargs)`` of a name the student's code defines; keywords use the "call_kw" instruction."""
        h = self._handle() if result else None
        if kwargs:
            self.steps.append(["call_kw", h, fname, list(args), dict(kwargs)])
        else:
            self.steps.append(["call", h, fname, list(args)])
        return h

    def method(self, obj: int, name: str, *args: Operand, result: bool = True) -> int | None:
        """``obj.name(*args)``; the result gets a handle unless ``result`` is False."""
        h = self._handle() if result else None
        self.steps.append(["method", h, obj, name, list(args)])
        return h

    def new_list(self, *args: Operand) -> int:
        """A new Python list of nodes and/or constants, e.g. the scores passed to a loss function."""
        h = self._handle()
        self.steps.append(["list", h, list(args)])
        return h

    def item(self, seq: int, index: int) -> int:
        h = self._handle()
        self.steps.append(["item", h, seq, index])
        return h

    def set_data(self, h: int, x: float) -> None:
        """Set ``.data`` of one node (e.g. a weight reached through a model's attributes)."""
        self.steps.append(["setdata", h, float(x)])

    def set_data_list(self, seq: int, values: Sequence[float]) -> None:
        """Set ``.data`` of every Value in a list (e.g. a model's parameters), in order."""
        self.steps.append(["setdata_list", seq, [float(v) for v in values]])

    def read_list(self, seq: int, what: str = "") -> int:
        """Read [(data, grad), ...] of a list of Values; returns the index of this read."""
        self.steps.append(["read_list", seq])
        self.reads.append(what)
        return len(self.reads) - 1

    def read_number(self, h: int, what: str = "") -> int:
        """Read a plain number, or the ``.data`` of a Value."""
        self.steps.append(["read_number", h])
        self.reads.append(what)
        return len(self.reads) - 1

    def read(self, h: int, what: str = "") -> int:
        """Read (data, grad) of a node; returns the index of this read."""
        self.steps.append(["read", h])
        self.reads.append(what)
        return len(self.reads) - 1

    def define(self, source: str, name: str) -> int:
        """A known-good piece written by the instructor (``source`` defines ``name``), over the student's ``Value``.

        Used with ``override`` so that a check of one part runs it with known-good versions of the
        parts it builds on: a bug then costs only the cell of the part that has it.
        """
        h = self._handle()
        self.steps.append(["define", h, source, name])
        return h

    def override(self, name: str, value: Operand) -> None:
        """Replace the student's global ``name`` by ``value`` (a handle or a constant) for this program only."""
        self.steps.append(["override", name, value])

    def read_kind(self, h: int, what: str = "") -> int:
        """Read the type name of an object (``float``, ``list``, ``Value``, ...)."""
        self.steps.append(["read_kind", h])
        self.reads.append(what)
        return len(self.reads) - 1

    def read_kinds(self, seq: int, what: str = "") -> int:
        """Read the type names of the items of a sequence."""
        self.steps.append(["read_kinds", seq])
        self.reads.append(what)
        return len(self.reads) - 1

    def read_order(self, h: int, what: str = "") -> int:
        self.steps.append(["read_order", h])
        self.reads.append(what)
        return len(self.reads) - 1


@dataclass
class Outcome:
    """What running a program gave: the reads so far, and the error that stopped it, if any."""

    reads: list[Any]
    error: dict | None = None  # {"type", "message", "step"}

    @property
    def ok(self) -> bool:
        return self.error is None


class Engine(Protocol):
    def run(self, program: Program) -> Outcome: ...


class ReferenceEngine:
    """Runs programs in-process on ``zengrad_ref`` (or any namespace with a compatible ``Value``).

    It uses the very interpreter the worker uses (``worker_child.run_program``),
    so the reference and the student are driven identically.
    """

    def __init__(self, namespace: dict[str, Any] | None = None) -> None:
        self.ns = namespace if namespace is not None else {
            "Value": zengrad_ref.Value,
            "topological_sort": zengrad_ref.topological_order,
        }

    def run(self, program: Program) -> Outcome:
        reply = run_program(program.steps, self.ns)
        return Outcome(reply["reads"], None if reply["ok"] else reply["error"])


class CheckAborted(BaseException):  # noqa: N818 - BaseException so hypothesis does not shrink on it
    """Student code hung, crashed or broke the protocol: stop this check now, do not shrink.

    A BaseException on purpose: hypothesis treats ``Exception`` as a test failure
    and would retry shrunk examples, each costing a full timeout.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class CellResult:
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
        from autograder.jail import JailLimits

        self.cells = list(cells)
        self.files = files or {}
        self.limits = limits or JailLimits()
        self.cell_cpu = cell_cpu
        self.program_cpu = program_cpu
        self.interrupt_grace_cpu = interrupt_grace_cpu
        self.sandbox = sandbox
        self.max_reply_bytes = max_reply_bytes
        self.done: list[int] = []  # cells executed (and kept) in the current worker
        self.results: dict[int, CellResult] = {}
        self.fatal: CellResult | None = None
        self._worker: Any = None
        self.programs_run = 0
        self.workers_started = 0
        self.cpu_used = 0.0  # CPU seconds of every worker this engine started (for reports and benchmarks)

    # -- worker lifecycle --------------------------------------------------
    def _fresh_worker(self) -> Any:
        from autograder.sandbox import Worker

        if self._worker is not None:
            self.cpu_used += self._worker.cpu()
            self._worker.close()
            self._worker = None
        self._worker = Worker(self.files, self.limits, self.sandbox, self.max_reply_bytes)
        self.workers_started += 1
        return self._worker

    def _replay(self) -> None:
        from autograder.sandbox import Budget

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
        from autograder.sandbox import Budget, WorkerLost

        if self._worker is None and not self.fatal:
            try:
                self._replay()
            except WorkerLost as lost:
                self.fatal = CellResult(self.done[-1] if self.done else -1, False,
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
                self.results[index] = CellResult(index, bool(r["ok"]) and not interrupted, error)
                self.done.append(index)
            except WorkerLost as lost:
                self.results[index] = CellResult(index, False, {"type": lost.reason, "message": str(lost)},
                                                 fatal=lost.reason)
                self.fatal = self.results[index]
            except (KeyError, IndexError, TypeError):
                self.results[index] = CellResult(index, False, {"type": "protocol", "message": "malformed reply"},
                                                 fatal="protocol")
                self.fatal = self.results[index]
                self._worker.kill()

    def run(self, program: Program) -> Outcome:
        from autograder.sandbox import Budget, WorkerLost

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
        return Outcome(reply["reads"], None if reply.get("ok") else reply.get("error"))

    def cell_errors(self) -> list[CellResult]:
        out = [r for r in self.results.values() if not r.ok]
        if self.fatal is not None and self.fatal.index not in self.results:
            out.append(self.fatal)
        return out
