"""Programs of plain numbers: how a check talks to an engine (the reference, or the student's worker).

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
from autograder.checks.kit.interpreter import run_program

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
