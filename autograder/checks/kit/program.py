"""Programs of plain numbers: how a check talks to an engine (the reference, or the student's worker).

A check never touches a student object. It writes a :class:`Program` (make a leaf, apply an
operator, call a function, set ``out.grad``, call ``_backward``, read ``data``/``grad``/type
names: the instructions of ``autograder/checks/kit/interpreter.py``, one builder method each)
and hands it to an engine, which returns the reads as plain numbers and strings. The same
program runs on the reference in-process (:class:`ReferenceEngine`) and on the student's code
in a jailed worker (``autograder.sandbox.engine.StudentEngine``), so one check drives both
and compares on the trusted side.

Every step may carry a description (``what=``), so that when the student's code fails at that
step the message says what was being done ("Layer(3, 2) on x=[...]: calling it"): see
:func:`student_error`, the one translation from a failed program to a verdict. :meth:`run`
returns :class:`Reads`, which look reads up in program order and raise the error that stopped
the program when a read was never reached.

**Known-good pieces** (``autograder/checks/pieces/<assignment>.py``) are how a bug costs only
its own cell: :meth:`Program.use_known_good` defines the instructor's version of some parts in
the worker (over the student's ``Value``) and puts them in place of the student's globals for
this program only, so a ``Layer`` is checked with correct ``Neuron``\\ s, ``backward()`` with a
correct ``topological_sort``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import zengrad_ref
from autograder.checks.kit.errors import CheckFailure, StopCheck
from autograder.checks.kit.interpreter import run_program
from autograder.reasons import Reason

Operand = int | dict  # a node handle, or {"const": x}


def const(x: Any) -> dict:
    """An operand that is a plain Python value, e.g. the 2 in ``2 * v`` or a list of inputs."""
    return {"const": x}


@dataclass
class Program:
    """A straight-line script over handles, built by a check; ``what`` describes steps for messages."""

    steps: list[list[Any]] = field(default_factory=list)
    timeout: float | None = None  # CPU seconds the student's side may take; None: the engine's default
    reads: list[str] = field(default_factory=list)  # a description of each read
    what: dict[int, str] = field(default_factory=dict)  # step index -> what it does, for messages
    _next: int = 0

    # -- plumbing ------------------------------------------------------------------------
    def _handle(self) -> int:
        self._next += 1
        return self._next

    def _step(self, ins: list[Any], what: str = "") -> None:
        if what:
            self.what[len(self.steps)] = what
        self.steps.append(ins)

    def _read(self, ins: list[Any], what: str) -> int:
        self._step(ins, what)
        self.reads.append(what)
        return len(self.reads) - 1

    def step_what(self, step: int | None) -> str:
        """What the program was doing at ``step``: the nearest description at or before it."""
        if step is None:
            return ""
        for i in range(step, -1, -1):
            if i in self.what:
                return self.what[i]
        return ""

    # -- making things ---------------------------------------------------------------------
    def leaf(self, x: float, what: str = "") -> int:
        h = self._handle()
        self._step(["leaf", h, float(x)], what)
        return h

    def op(self, name: str, *args: Operand, what: str = "") -> int:
        h = self._handle()
        self._step(["op", h, name, list(args)], what)
        return h

    def call(self, fname: str, *args: Operand, result: bool = True, kwargs: dict[str, Operand] | None = None,
             what: str = "") -> int | None:
        """``fname(*args, **kwargs)`` of a global the student's code defines."""
        h = self._handle() if result else None
        if kwargs:
            self._step(["call_kw", h, fname, list(args), dict(kwargs)], what)
        else:
            self._step(["call", h, fname, list(args)], what)
        return h

    def method(self, obj: int, name: str, *args: Operand, result: bool = True, what: str = "") -> int | None:
        """``obj.name(*args)``; the result gets a handle unless ``result`` is False."""
        h = self._handle() if result else None
        self._step(["method", h, obj, name, list(args)], what)
        return h

    def attr(self, obj: int, name: str, what: str = "") -> int:
        """``obj.name``."""
        return self.method(obj, "__getattribute__", const(name), what=what)  # type: ignore[return-value]

    def new_list(self, *args: Operand) -> int:
        """A new Python list of handles and/or constants, made in the engine."""
        h = self._handle()
        self._step(["list", h, list(args)])
        return h

    def item(self, seq: int, index: int, what: str = "") -> int:
        h = self._handle()
        self._step(["item", h, seq, index], what)
        return h

    def sum(self, handles: Sequence[int]) -> int:
        """``handles[0] + handles[1] + ...`` with the student's ``+``."""
        root = handles[0]
        for h in handles[1:]:
            root = self.op("add", root, h)
        return root

    # -- changing things -------------------------------------------------------------------
    def set_grad(self, h: int, g: float) -> None:
        self._step(["setgrad", h, float(g)])

    def set_data(self, h: int, x: float) -> None:
        """Set ``.data`` of one node (e.g. a weight reached through a model's attributes)."""
        self._step(["setdata", h, float(x)])

    def set_data_list(self, seq: int, values: Sequence[float], what: str = "") -> None:
        """Set ``.data`` of every Value in a list (e.g. a model's parameters), in order."""
        self._step(["setdata_list", seq, [float(v) for v in values]], what)

    def local_backward(self, h: int, what: str = "") -> None:
        self._step(["local_backward", h], what)

    def backward(self, h: int, what: str = "") -> None:
        self._step(["backward", h], what)

    # -- known-good pieces -----------------------------------------------------------------
    def define(self, source: str, name: str, what: str = "") -> int:
        """A known-good piece written by the instructor (``source`` defines ``name``), over the student's Value."""
        h = self._handle()
        self._step(["define", h, source, name], what)
        return h

    def override(self, name: str, value: Operand) -> None:
        """Replace the student's global ``name`` by ``value`` (a handle or a constant) for this program only."""
        self._step(["override", name, value])

    def known_good(self, assignment: str, name: str) -> int:
        """A handle to the known-good piece ``name`` of ``autograder/checks/pieces/<assignment>.py``."""
        from autograder.checks.pieces import source

        return self.define(source(assignment), name, what=f"the grader's own {name} (did your code change Value?)")

    def use_known_good(self, assignment: str, *names: str) -> None:
        """For the rest of this program the student's globals ``names`` are the known-good pieces."""
        for name in names:
            self.override(name, self.known_good(assignment, name))

    # -- reading back (each returns the index of its read) ----------------------------------
    def read(self, h: int, what: str = "") -> int:
        """``[data, grad]`` of a Value."""
        return self._read(["read", h], what)

    def read_number(self, h: int, what: str = "") -> int:
        """A plain number, or the ``.data`` of a Value."""
        return self._read(["read_number", h], what)

    def read_list(self, seq: int, what: str = "") -> int:
        """``[[data, grad], ...]`` of a list of Values."""
        return self._read(["read_list", seq], what)

    def read_order(self, seq: int, what: str = "") -> int:
        """The handles of a list's items, -1 for an object this program did not make."""
        return self._read(["read_order", seq], what)

    def read_kind(self, h: int, what: str = "") -> int:
        """The type name of an object (``float``, ``list``, ``Value``, ...)."""
        return self._read(["read_kind", h], what)

    def read_kinds(self, seq: int, what: str = "") -> int:
        """The type names of the items of a sequence."""
        return self._read(["read_kinds", seq], what)

    def read_length(self, seq: int, what: str = "") -> int:
        """``len(seq)``."""
        return self.read_number(self.method(seq, "__len__", what=what), what)  # type: ignore[arg-type]


@dataclass
class ProgramResult:
    """What running a program gave: the reads so far, and the error that stopped it, if any."""

    reads: list[Any]
    error: dict | None = None  # {"type", "message", "step"}

    @property
    def ok(self) -> bool:
        return self.error is None


class Engine(Protocol):
    def run(self, program: Program) -> ProgramResult: ...


class ReferenceEngine:
    """Runs programs in-process on ``zengrad_ref`` (or any namespace with a compatible ``Value``).

    It uses the very interpreter the worker uses (``kit/interpreter.py``), so the reference and
    the student are driven identically.
    """

    def __init__(self, namespace: dict[str, Any] | None = None) -> None:
        self.ns = namespace if namespace is not None else {
            "Value": zengrad_ref.Value,
            "topological_sort": zengrad_ref.topological_order,
        }

    def run(self, program: Program) -> ProgramResult:
        reply = run_program(program.steps, self.ns)
        return ProgramResult(reply["reads"], None if reply["ok"] else reply["error"])


def student_error(program: Program, outcome: ProgramResult, context: str = "",
                  build_hint: str = "keep the given Value class and forward passes intact") -> BaseException:
    """The verdict for a program that stopped in the student's code: the one translation every check uses.

    Not implemented yet, a missing name, or a graph that cannot even be built end the check
    (``StopCheck``: nothing to shrink); any other exception is a wrong answer on this input
    (``CheckFailure``, reason ``error``: hypothesis shrinks it to the smallest input).
    """
    err = outcome.error or {}
    step = err.get("step")
    ins = program.steps[step] if isinstance(step, int) and 0 <= step < len(program.steps) else []
    what = program.step_what(step) or "your code"
    kind, msg = err.get("type", "Error"), err.get("message", "")
    text = f"{kind}: {msg}" if msg else kind
    on = f"On {context}, " if context else ""
    if kind == "NotImplementedError":
        return StopCheck(f"not implemented yet: {what} raises NotImplementedError. Replace the two stub lines "
                         "(`# YOUR CODE HERE` and the `raise`) with your code.", Reason.NOT_IMPLEMENTED)
    if ins[:1] in (["leaf"], ["op"]):
        return StopCheck(f"could not even build {context or what}: {text}. Run the cells above, and {build_hint}.",
                         Reason.ERROR)
    if kind == "NameError":
        if ins[:1] in (["call"], ["call_kw"]) and f"no function named {ins[2]} " in msg:  # the name itself
            return StopCheck(f"{what}: {text}. Define it with exactly this name and run its cell (did the cell "
                             "raise an error?).", Reason.ERROR)
        return StopCheck(f"{on}{what}: your code raised {text} (a global name? use the function's arguments)",
                         Reason.ERROR)
    return CheckFailure(f"{on}{what}: your code raised {text}", Reason.ERROR)


class Reads:
    """The reads of a program's run, looked up in program order.

    Looking up a read the program never reached raises the error that stopped it, so a batch
    of cases reports its first problem in program order: a wrong value read before the error,
    or the error itself. :meth:`done` raises an error that came after the last read.
    """

    def __init__(self, program: Program, outcome: ProgramResult, context: str = "") -> None:
        self.program, self.outcome, self.context = program, outcome, context

    def __getitem__(self, r: int) -> Any:
        if r < len(self.outcome.reads):
            return self.outcome.reads[r]
        if self.outcome.ok:
            raise IndexError(f"read {r} of {len(self.outcome.reads)}")  # a bug in the check
        raise student_error(self.program, self.outcome, self.context)

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    def done(self) -> None:
        if not self.outcome.ok:
            raise student_error(self.program, self.outcome, self.context)


def run(engine: Engine, program: Program, context: str = "") -> Reads:
    """Run ``program`` on ``engine``; the reads, raising the student's error where a read was not reached."""
    return Reads(program, engine.run(program), context)


def reference(program: Program, engine: Engine | None = None) -> ProgramResult:
    """The reference's run of ``program``; a failure there is a bug in the check, never the student's."""
    out = (engine or ReferenceEngine()).run(program)
    if not out.ok:
        raise RuntimeError(f"the reference failed on this program: {out.error}")
    return out
