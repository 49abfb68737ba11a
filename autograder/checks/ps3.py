"""Assignment 3 checks: ``Module.zero_grad``, ``Neuron``, ``Layer``, ``MLP``, ``svm_loss``,
``sgd_step``, ``train`` and ``decision_grid``.

Every check drives student code through adapter programs and compares what it
reads back (plain numbers and type names) with ``zengrad_ref`` computed here, on
the trusted side, with the same weights and inputs: an *absolute* comparison,
never the student's part against the student's other parts (nothing in the
worker is trusted, so a relative check could be passed with forged numbers).
Weights are injected through the given attributes (``Neuron.w``/``.b``,
``Layer.neurons``, ``MLP.layers``), never through the student's
``parameters()``, so identical weights land in the student's network and in the
reference whatever ``parameters()`` returns.

Each check grades one cell, and a bug costs the points of its own cell only: a
check runs its subject with the known-good versions of every other part
(``autograder/checks/pieces/ps3.py``, executed in the worker over the student's
``Value`` with ``Program.define`` and put in place of the student's names with
``Program.override`` for that one program):

* ``zero_grad``: the student's ``Module()`` whose ``parameters`` is replaced by a
  list of fresh ``Value``s (a copy of the list on every call);
* ``neuron``: the student's ``Neuron`` (it builds on nothing but ``Value``);
* ``layer``: the student's ``Layer`` made of known-good ``Neuron``s;
* ``mlp``: the student's ``MLP`` made of known-good ``Layer``s and ``Neuron``s;
* ``loss``: lists of fresh ``Value``s; ``sgd``: a known-good bare model
  (``Params``: anything with ``parameters()``);
* ``train``: the student's ``train`` on a known-good ``MLP`` (with its own
  ``zero_grad``), with known-good ``svm_loss`` and ``sgd_step``; the losses it
  returns and the weights it leaves are compared with the same training done by
  ``zengrad_ref`` here, then ``MLP(2, [16, 16, 1])`` is trained on 40 moons and its
  training accuracy is computed here, from the weights read back;
* ``grid``: the student's ``decision_grid`` on a known-good ``Neuron(2,
  nonlin=False)``, each entry against the sign of the score computed here.

Besides the numbers, every check reads the *type names* the text asks for (one
``Value``, a list of plain floats, 0/1 ints, a list of ``Value``s), and asks for
``parameters()`` twice: the model's own ``Value`` objects, the same ones in the
same order on every call.

The per-piece checks are hypothesis properties (``SETTINGS``: derandomized, so
the same submission gets the same verdict) that report the smallest case they
find wrong, e.g. ``svm_loss(scores=[0.0], y=[1], params=[1.0]): your loss is
1.0, expected 1.0001``. Numbers are bounded floats without NaN, infinities or
subnormals: weights, biases, inputs, data and grads in [-2, 2], scores in
[-3, 3]. One hypothesis example is a *batch* of independent cases (at most 8)
run as one adapter program, i.e. one round trip to the worker; a failing batch
shrinks to its single simplest failing case. Fixed regression cases (the
notebook-sized ones) run after each property, so a classic bug is caught
whatever hypothesis generates. ``train`` runs fixed cases only (training is
deterministic and costly): two tiny ones that pin every argument, the default
``alpha``, the learning-rate schedule and the returned losses, then the
accuracy run.

A case whose answer would hinge on rounding is skipped: a ReLU input or a hinge
margin within 1e-9 of 0 (a correct student may sum in another order than the
reference, which moves the last bit and flips the ReLU's gradient), and a grid
entry whose score is within 1e-9 of 0 accepts 0 or 1.

The one unavoidable dependency is the given ``Value`` class (read-only, and the
pieces are built on it).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.checks import CheckFailure, StopCheck, register
from autograder.checks.gradients import REF_ATOL, REF_RTOL, SETTINGS, close, fmt
from autograder.checks.kit.program import Engine, Operand, Outcome, Program, const
from autograder.checks.pieces import source as pieces_source

TRAIN_HIDDEN = [16, 16]  # MLP(2, [16, 16, 1]): micrograd's network
TRAIN_POINTS, TRAIN_SEED, TRAIN_STEPS = 40, 0, 25  # zengrad_ref: 100% training accuracy
TRAIN_TARGET = 0.95
TRAIN_TIMEOUT = 60.0  # CPU seconds for the full training program (about 3 s on a 2-core CI runner)

KINK = 1e-9  # a ReLU input, hinge margin or grid score closer to 0 than this: the case is skipped
BATCH = 8  # at most this many cases per hypothesis example, run as one program
PIECES = "ps3"  # autograder/checks/pieces/ps3.py


# --- strategies ----------------------------------------------------------------------------
def reals(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


NUMBERS = reals(-2.0, 2.0)  # weights, biases, inputs, parameter data and grads
SCORES = reals(-3.0, 3.0)
LABELS = st.sampled_from([1, -1])
SEEDS = st.integers(0, 2**16)  # seeded weights where the message need not show them


def numbers(n: int, values: st.SearchStrategy[float] = NUMBERS) -> st.SearchStrategy[list[float]]:
    return st.lists(values, min_size=n, max_size=n)


def batches(case: st.SearchStrategy[Any], size: int = BATCH) -> st.SearchStrategy[list[Any]]:
    return st.lists(case, min_size=1, max_size=size)


def _first_failure(exc: BaseException) -> CheckFailure | None:
    if isinstance(exc, CheckFailure):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _first_failure(inner)
        if found is not None:
            return found
    return None


def _run(prop: object, examples: int) -> None:
    try:
        settings(SETTINGS, max_examples=examples, report_multiple_bugs=False)(prop)()  # type: ignore[operator]
    except BaseExceptionGroup as group:  # hypothesis' FlakyFailure: the student's code changed its answer
        failure = _first_failure(group)
        if failure is None:
            raise
        raise failure from None


# --- messages --------------------------------------------------------------------------------
def _fmts(xs: Sequence[float]) -> str:
    return "[" + ", ".join(fmt(x) for x in xs) + "]"


def _points(xs: Sequence[Sequence[float]]) -> str:
    return "[" + ", ".join(_fmts(x) for x in xs) + "]"


def _a(kind: str) -> str:
    """'a float', 'an int', 'None': a type name read back from the worker, for messages."""
    if kind == "NoneType":
        return "None"
    return ("an " if kind[:1].lower() in "aeiou" else "a ") + kind


def _kinds(kinds: Sequence[str]) -> str:
    """The distinct type names of a list's items, e.g. 'Value' or 'float and Value'."""
    seen = sorted(set(kinds))
    return " and ".join(seen) if seen else "nothing"


class Script:
    """An adapter program plus a description of each step, for messages."""

    def __init__(self, timeout: float | None = None) -> None:
        self.p = Program(timeout=timeout)
        self.what: dict[int, str] = {}

    def _note(self, what: str) -> None:
        self.what[len(self.p.steps)] = what

    def call(self, what: str, fname: str, *args: Any, result: bool = True,
             kwargs: dict[str, Operand] | None = None) -> Any:
        self._note(what)
        return self.p.call(fname, *args, result=result, kwargs=kwargs)

    def method(self, what: str, obj: int, name: str, *args: Any, result: bool = True) -> Any:
        self._note(what)
        return self.p.method(obj, name, *args, result=result)

    def attr(self, what: str, obj: int, name: str) -> int:
        self._note(what)
        return self.p.method(obj, "__getattribute__", const(name))

    def item(self, what: str, seq: int, i: int) -> int:
        self._note(what)
        return self.p.item(seq, i)

    def known_good(self, name: str) -> int:
        """A handle to the known-good piece ``name`` (a class or function of pieces/ps3.py)."""
        self._note(f"the grader's own {name} (did your code change Value?)")
        return self.p.define(pieces_source(PIECES), name)

    def use_known_good(self, *names: str) -> None:
        """The student's globals ``names`` are the known-good pieces for the rest of this program."""
        for name in names:
            self.p.override(name, self.known_good(name))

    def leaf(self, x: float) -> int:
        return self.p.leaf(x)

    def new_list(self, handles: Sequence[int]) -> int:
        """A Python list of nodes, made in the worker."""
        return self.p.new_list(*handles)

    def setdata(self, h: int, x: float) -> None:
        self.p.set_data(h, x)

    def setgrad(self, h: int, g: float) -> None:
        self.p.set_grad(h, g)

    def backward(self, what: str, h: int) -> None:
        self._note(what)
        self.p.backward(h)

    def read(self, what: str, h: int) -> int:
        self._note(what)
        return self.p.read(h, what)

    def read_number(self, what: str, h: int) -> int:
        self._note(what)
        return self.p.read_number(h, what)

    def read_list(self, what: str, h: int) -> int:
        self._note(what)
        return self.p.read_list(h, what)

    def read_order(self, what: str, h: int) -> int:
        self._note(what)
        return self.p.read_order(h, what)

    def kind(self, what: str, h: int) -> int:
        self._note(what)
        return self.p.read_kind(h, what)

    def kinds(self, what: str, h: int) -> int:
        self._note(what)
        return self.p.read_kinds(h, what)

    def length(self, what: str, seq: int) -> int:
        self._note(what)
        return self.p.read_number(self.p.method(seq, "__len__"), what)

    def step_what(self, step: int | None) -> str:
        if step is None:
            return "your code"
        for i in range(step, -1, -1):
            if i in self.what:
                return self.what[i]
        return "your code"


def run(engine: Engine, s: Script, tolerate: bool = False) -> Outcome:
    """Run a script; turn a student error into StopCheck/CheckFailure unless ``tolerate``."""
    out = engine.run(s.p)
    if out.ok or tolerate:
        return out
    raise_error(s, out)
    return out  # unreachable


def raise_error(s: Script, out: Outcome) -> None:
    err = out.error or {}
    step = err.get("step")
    what = s.step_what(step)
    kind, msg = err.get("type", "Error"), err.get("message", "")
    text = f"{kind}: {msg}" if msg else kind
    if kind == "NotImplementedError":
        raise StopCheck(f"not implemented yet: {what} raises NotImplementedError. "
                        "Replace `raise NotImplementedError()` with your code.", "not_implemented")
    if kind == "NameError":
        ins = s.p.steps[step] if isinstance(step, int) and 0 <= step < len(s.p.steps) else []
        if ins[:1] in (["call"], ["call_kw"]) and f"no function named {ins[2]} " in msg:  # the name itself
            raise StopCheck(f"{what}: {text}. Define it with exactly this name and run its cell (did the cell "
                            "raise an error?).", "error")
        raise StopCheck(f"{what}: your code raised {text} (a global name? use the function's arguments)", "error")
    raise CheckFailure(f"{what}: your code raised {text}", "error")


class Got:
    """The reads of a script's run, looked up in program order.

    Looking up a read the program never reached raises the error that stopped it,
    so a batch reports its first problem in program order: a wrong value read
    before the error, or the error itself. ``done()`` raises an error that came
    after the last read.
    """

    def __init__(self, s: Script, out: Outcome) -> None:
        self.s, self.out = s, out

    def __getitem__(self, r: int) -> Any:
        if r < len(self.out.reads):
            return self.out.reads[r]
        if self.out.ok:
            raise IndexError(f"read {r} of {len(self.out.reads)}")  # a bug in the check
        raise_error(self.s, self.out)
        raise AssertionError("unreachable")

    def done(self) -> None:
        if not self.out.ok:
            raise_error(self.s, self.out)


def execute(engine: Engine, s: Script) -> Got:
    return Got(s, engine.run(s.p))


def _rng_weights(seed: int, n: int) -> list[float]:
    """n distinct weights in [-1, 1] (distinct values double as tags for the parameter order)."""
    rng = random.Random(seed)
    return [round(rng.uniform(-1, 1), 6) for _ in range(n)]


# --- the attribute structure of a network (the given __init__s / the spec of MLP.__init__) -------
def neuron_handles(s: Script, n: int, nin: int, label: str) -> list[tuple[str, int]]:
    w = s.attr(f"{label}.w", n, "w")
    out = [(f"{label}.w[{i}]", s.item(f"{label}.w[{i}]", w, i)) for i in range(nin)]
    out.append((f"{label}.b", s.attr(f"{label}.b", n, "b")))
    return out


def mlp_handles(s: Script, m: int, nin: int, nouts: Sequence[int]) -> tuple[list[int], list[list[int]],
                                                                          list[tuple[str, int]]]:
    """layer handles, neuron handles per layer, and (name, handle) of every parameter in reference order."""
    layers = s.attr("model.layers", m, "layers")
    sizes = [nin, *nouts]
    layer_h, neuron_h, params = [], [], []
    for i, nout in enumerate(nouts):
        layer = s.item(f"model.layers[{i}]", layers, i)
        neurons = s.attr(f"model.layers[{i}].neurons", layer, "neurons")
        row = []
        for j in range(nout):
            n = s.item(f"model.layers[{i}].neurons[{j}]", neurons, j)
            row.append(n)
            params += neuron_handles(s, n, sizes[i], f"layer {i} neuron {j}")
        layer_h.append(layer)
        neuron_h.append(row)
    return layer_h, neuron_h, params


def mlp_param_count(nin: int, nouts: Sequence[int]) -> int:
    sizes = [nin, *nouts]
    return sum((sizes[i] + 1) * sizes[i + 1] for i in range(len(nouts)))


def pre_activations(nin: int, nouts: Sequence[int], weights: Sequence[float], x: Sequence[float]) -> list[list[float]]:
    """Every neuron's b + w . x, layer by layer, in plain floats and the reference's order (for kinks)."""
    k, h, out = 0, list(x), []
    for i, nout in enumerate(nouts):
        acts = []
        for _ in range(nout):
            act = weights[k + len(h)]
            for wi, xi in zip(weights[k:k + len(h)], h, strict=True):
                act += wi * xi
            k += len(h) + 1
            acts.append(act)
        out.append(acts)
        h = [max(a, 0.0) for a in acts] if i < len(nouts) - 1 else acts
    return out


def hidden_kink(nin: int, nouts: Sequence[int], weights: Sequence[float], x: Sequence[float]) -> bool:
    """A hidden ReLU input within KINK of 0."""
    return any(abs(a) < KINK for acts in pre_activations(nin, nouts, weights, x)[:-1] for a in acts)


def params_problem(label: str, kind: str, kinds: list[str], first: list[int], second: list[int], want: list[int],
                   names: dict[int, str], own: str, parts: str) -> str | None:
    """Why ``parameters()`` is not ``want`` (handles), the same Values in the same order on every call.

    ``kind``/``kinds``: the type names of the result and its items; ``first``/``second``: the
    handles of two calls (-1 for a Value the program never made: a copy).
    """
    if kind != "list":
        return f"{label}.parameters() returned {_a(kind)}, expected a list of Values"
    if any(k != "Value" for k in kinds):
        return f"{label}.parameters() returned a list of {_kinds(kinds)}, expected a list of Values"
    for call, got in (("", first), (" the second time", second)):
        if got == want:
            continue
        if len(got) != len(want):
            return f"{label}.parameters() returned {len(got)} Values{call}, expected {len(want)} ({parts})"
        if -1 in got:
            return f"{label}.parameters() returned new Values{call}, expected {own}"
        k = next(k for k, (m, w) in enumerate(zip(got, want, strict=True)) if m != w)
        return (f"{label}.parameters()[{k}] is {names.get(got[k], 'another Value')}{call}, expected "
                f"{names.get(want[k], 'another Value')} ({parts})")
    return None


def read_parameters(s: Script, label: str, obj: int) -> tuple[int, int, int, int]:
    """Reads of ``obj.parameters()``, called twice: kind, item kinds, handles, handles of the second call."""
    params = s.method(f"{label}.parameters()", obj, "parameters")
    r_kind = s.kind(f"{label}.parameters()", params)
    r_kinds = s.kinds(f"{label}.parameters() must return a list of Values", params)
    r_first = s.read_order(f"{label}.parameters() must return a list of Values", params)
    again = s.method(f"{label}.parameters(), called again", obj, "parameters")
    r_second = s.read_order(f"{label}.parameters(), called again, must return a list of Values", again)
    return r_kind, r_kinds, r_first, r_second


def _sum(s: Script, handles: Sequence[int]) -> int:
    root = handles[0]
    for h in handles[1:]:
        root = s.p.op("add", root, h)
    return root


# --- Module.zero_grad ------------------------------------------------------------
def patched_module(s: Script, values: Sequence[float], grads: Sequence[float]) -> tuple[int, list[int]]:
    """The student's bare ``Module()`` whose ``parameters()`` returns fresh Values (a copy of a list each call)."""
    m = s.call("Module()", "Module")
    vals = []
    for x, g in zip(values, grads, strict=True):
        v = s.leaf(x)
        s.setgrad(v, g)
        vals.append(v)
    lst = s.new_list(vals)
    copy = s.p.method(lst, "__getattribute__", const("copy"))
    s.p.method(m, "__setattr__", const("parameters"), copy, result=False)
    return m, vals


ZERO_GRAD_CASES = [[(1.0, 2.5)], [(1.0, 1.5), (-2.0, -2.0), (0.5, 0.25)], [(3.0, 0.0), (0.0, -7.0)]]


def zero_grad_batch(engine: Engine, modules: Sequence[Sequence[tuple[float, float]]]) -> None:
    """Each module: (data, grad) of its parameters."""
    s = Script()
    plan = []
    for params in modules:
        data, grads = [d for d, _ in params], [g for _, g in params]
        ctx = f"zero_grad() on a module whose parameters have data {_fmts(data)} and grad {_fmts(grads)}"
        m, vals = patched_module(s, data, grads)
        s.method(ctx, m, "zero_grad", result=False)
        r_kinds = [s.kind(ctx, s.attr(ctx, v, "grad")) for v in vals]
        plan.append((ctx, data, r_kinds, [s.read("a parameter", v) for v in vals]))
    got = execute(engine, s)
    for ctx, data, r_kinds, reads in plan:
        kinds = [got[r] for r in r_kinds]
        if any(k not in ("float", "int") for k in kinds):
            raise CheckFailure(f"{ctx}: a grad is {_a(next(k for k in kinds if k not in ('float', 'int')))} "
                               "afterwards, expected 0.0")
        after = [got[r] for r in reads]
        if [g for _, g in after] != [0.0] * len(data):
            raise CheckFailure(f"{ctx}: the grads are {_fmts([g for _, g in after])} afterwards, "
                               f"expected {_fmts([0.0] * len(data))}")
        if [d for d, _ in after] != data:
            raise CheckFailure(f"{ctx}: the data changed to {_fmts([d for d, _ in after])}, expected "
                               f"{_fmts(data)} (zero_grad() only resets grad)")
    got.done()


def zero_grad_check(engine: Engine) -> None:
    @given(modules=batches(st.lists(st.tuples(NUMBERS, NUMBERS), min_size=1, max_size=4)))
    def prop(modules: list[list[tuple[float, float]]]) -> None:
        zero_grad_batch(engine, modules)

    _run(prop, 10)
    zero_grad_batch(engine, ZERO_GRAD_CASES)
    s = Script()
    m = s.call("Module()", "Module")
    s.method("zero_grad() on a Module without parameters", m, "zero_grad", result=False)
    run(engine, s)


# --- Neuron -----------------------------------------------------------------------
@dataclass
class NeuronCase:
    nin: int
    nonlin: bool
    w: list[float]
    b: float
    x: list[float]
    as_values: bool = False  # x given as Values (their grads are checked too)

    @property
    def label(self) -> str:
        return f"Neuron({self.nin}, nonlin={self.nonlin})"

    @property
    def ctx(self) -> str:
        return (f"{self.label} with w={_fmts(self.w)}, b={fmt(self.b)}, x={_fmts(self.x)}"
                + (" (x as Values)" if self.as_values else ""))

    @property
    def act(self) -> float:
        return self.b + sum(wi * xi for wi, xi in zip(self.w, self.x, strict=True))

    def on_kink(self) -> bool:
        return self.nonlin and abs(self.act) < KINK


@st.composite
def neuron_cases(draw: st.DrawFn) -> NeuronCase:
    nonlin = draw(st.booleans())
    wx = draw(st.lists(st.tuples(NUMBERS, NUMBERS), min_size=1, max_size=4))  # (w[i], x[i]): nin = 1..4
    return NeuronCase(len(wx), nonlin, [w for w, _ in wx], draw(NUMBERS), [x for _, x in wx], draw(st.booleans()))


NEURON_CASES = [  # regression cases, simplest first
    NeuronCase(1, False, [2.0], 0.5, [3.0]),
    NeuronCase(2, False, [2.0, -1.0], 0.5, [3.0, 4.0]),
    NeuronCase(2, True, [0.5, -1.5], 0.25, [2.0, 0.5]),
    NeuronCase(2, True, [0.5, -1.5], -0.25, [-1.0, 1.0]),
    NeuronCase(3, False, [0.3, -0.7, 1.1], -0.2, [1.5, 0.5, -2.0], True),
    NeuronCase(4, True, [0.9, 0.2, -0.4, 0.6], 0.1, [1.0, -0.5, 0.25, 2.0], True),
]


def neuron_batch(engine: Engine, cases: Sequence[NeuronCase]) -> None:
    from zengrad_ref import Value as RValue
    from zengrad_ref.nn import Neuron as RNeuron

    cases = [c for c in cases if not c.on_kink()]
    if not cases:
        return
    s = Script()
    plan = []
    for c in cases:
        n = s.call(c.ctx, "Neuron", const(c.nin), const(c.nonlin))
        handles = neuron_handles(s, n, c.nin, "neuron")
        for (_, h), v in zip(handles, [*c.w, c.b], strict=True):
            s.setdata(h, v)
        xs = [s.leaf(v) for v in c.x] if c.as_values else []
        arg = s.new_list(xs) if c.as_values else const(list(c.x))
        out = s.method(f"{c.ctx}: calling it", n, "__call__", arg)
        r_kind = s.kind(f"{c.ctx}: calling it", out)
        r_out = s.read(f"{c.ctx}: the call must return one Value; reading its data and grad", out)
        s.backward(f"{c.ctx}: backward() from the output", out)
        r_params = [s.read("a parameter", h) for _, h in handles]
        r_x = [s.read("an input", h) for h in xs]
        plan.append((c, handles, r_kind, r_out, r_params, r_x, read_parameters(s, f"Neuron({c.nin})", n)))
    got = execute(engine, s)

    for c, handles, r_kind, r_out, r_params, r_x, r_p in plan:
        ref = RNeuron(c.nin, nonlin=c.nonlin, rng=random.Random(0))
        ref.set_weights([*c.w, c.b])
        rx = [RValue(v) for v in c.x]
        rout = ref(rx)
        rout.backward()
        if got[r_kind] != "Value":
            raise CheckFailure(f"{c.ctx}: the call returned {_a(got[r_kind])}, expected one Value (built from "
                               "Value operations, so that backward() reaches w, b and x)")
        mine = got[r_out][0]
        if not close(mine, rout.data, REF_ATOL, REF_RTOL):
            hint = ""
            if close(mine, rout.data - c.b, REF_ATOL, REF_RTOL) and c.b:
                hint = " (is the bias missing?)"
            elif c.nonlin and c.act < 0 and close(mine, c.act, REF_ATOL, REF_RTOL):
                hint = " (with nonlin=True the output is relu(act))"
            elif not c.nonlin and c.act < 0 and mine == 0.0:
                hint = " (with nonlin=False there is no relu)"
            raise CheckFailure(f"{c.ctx}: your output is {fmt(mine)}, expected {fmt(rout.data)}{hint}")
        grads = [got[r][1] for r in r_params]
        for (name, _), g, p in zip(handles, grads, ref.parameters(), strict=True):
            if not close(g, p.grad, REF_ATOL, REF_RTOL):
                name = name.removeprefix("neuron.")
                no_relu = not c.nonlin and c.act <= 0 and not any(grads)  # a relu would explain it
                if name == "b" and g == 0.0:
                    hint = "is the bias missing, or a relu applied with nonlin=False?" if no_relu else \
                        "is the bias a Value in the sum?"
                elif no_relu:
                    hint = "with nonlin=False there is no relu"
                else:
                    hint = "the output must be built from Value operations on the weights and the bias"
                raise CheckFailure(f"{c.ctx}: after backward() from the output, your {name}.grad = {fmt(g)}, "
                                   f"expected {fmt(p.grad)} ({hint})")
        for i, (r, xv) in enumerate(zip(r_x, rx if c.as_values else [], strict=True)):
            g = got[r][1]
            if not close(g, xv.grad, REF_ATOL, REF_RTOL):
                raise CheckFailure(f"{c.ctx}: after backward(), your x[{i}].grad = {fmt(g)}, expected {fmt(xv.grad)} "
                                   "(compute with the Values of x themselves)")
        names = {h: name.removeprefix("neuron.") for name, h in handles}
        want = [h for _, h in handles]
        r_kind_p, r_kinds_p, r_first, r_second = r_p
        first = got[r_first] if got[r_kind_p] == "list" else []
        if got[r_kind_p] == "list" and all(k == "Value" for k in got[r_kinds_p]) and first != want \
                and len(first) == len(want) and -1 not in first:
            raise CheckFailure(f"Neuron({c.nin}).parameters() returned [{', '.join(names[h] for h in first)}], "
                               f"expected [{', '.join(names[h] for h in want)}]")
        problem = params_problem(f"Neuron({c.nin})", got[r_kind_p], got[r_kinds_p], first,
                                 got[r_second] if got[r_kind_p] == "list" else [], want, names,
                                 "the neuron's own w and b (training must update the neuron itself)",
                                 "w[0], ..., w[nin-1], then b")
        if problem:
            raise CheckFailure(problem)
    got.done()


def neuron_check(engine: Engine) -> None:
    @given(cases=batches(neuron_cases()))
    def prop(cases: list[NeuronCase]) -> None:
        neuron_batch(engine, cases)

    _run(prop, 10)
    neuron_batch(engine, NEURON_CASES)


# --- Layer ------------------------------------------------------------------------
@dataclass
class LayerCase:
    nin: int
    nout: int
    x: list[float]
    as_values: bool = False
    seed: int = 0  # of the weights, set through the neurons' w and b
    nonlin: bool = True  # False: Layer(nin, nout, nonlin=False) (the keyword goes on to every neuron)

    @property
    def label(self) -> str:
        return f"Layer({self.nin}, {self.nout}" + (")" if self.nonlin else ", nonlin=False)")

    @property
    def ctx(self) -> str:
        return f"{self.label} on x={_fmts(self.x)}" + (" (x as Values)" if self.as_values else "")

    def weights(self) -> list[float]:
        return _rng_weights(self.seed, (self.nin + 1) * self.nout)

    def on_kink(self) -> bool:
        return self.nonlin and hidden_kink(self.nin, [self.nout, 1], self.weights() + [0.0] * (self.nout + 1), self.x)


@st.composite
def layer_cases(draw: st.DrawFn) -> LayerCase:
    nout = draw(st.integers(1, 4))
    x = draw(st.lists(NUMBERS, min_size=1, max_size=4))  # nin = 1..4
    return LayerCase(len(x), nout, x, draw(st.booleans()), draw(SEEDS), draw(st.booleans()))


LAYER_CASES = [  # regression cases
    LayerCase(2, 2, [0.5, -1.0], False, 100),
    LayerCase(3, 1, [1.0, 0.5, -0.5], False, 101),
    LayerCase(3, 4, [0.25, -1.5, 2.0], True, 102),
    LayerCase(2, 3, [-1.0, 1.5], True, 103, nonlin=False),
]


def layer_batch(engine: Engine, cases: Sequence[LayerCase]) -> None:
    """Structure, forward, gradients and parameters() of each layer, made of known-good neurons."""
    from zengrad_ref import Value as RValue
    from zengrad_ref.nn import Layer as RLayer

    cases = [c for c in cases if not c.on_kink()]
    if not cases:
        return
    s = Script()
    s.use_known_good("Neuron")
    plan = []
    for c in cases:
        label, nout = c.label, c.nout
        layer = s.call(label, "Layer", const(c.nin), const(nout),
                       kwargs=None if c.nonlin else {"nonlin": const(False)})
        neurons_list = s.attr(f"{label}.neurons", layer, "neurons")
        r_count = s.length(f"{label}.neurons must be a list of neurons", neurons_list)
        neurons = [s.item(f"{label}.neurons[{j}]", neurons_list, j) for j in range(nout)]
        r_nonlin = [s.read_number(f"{label}.neurons[{j}].nonlin", s.attr(f"{label}.neurons[{j}].nonlin", n, "nonlin"))
                    for j, n in enumerate(neurons)]
        handles = [h for j, n in enumerate(neurons) for h in neuron_handles(s, n, c.nin, f"neurons[{j}]")]
        for (_, h), v in zip(handles, c.weights(), strict=True):
            s.setdata(h, v)
        xs = [s.leaf(v) for v in c.x] if c.as_values else []
        arg = s.new_list(xs) if c.as_values else const(list(c.x))
        out = s.method(f"{c.ctx}: calling it", layer, "__call__", arg)
        r_kind = s.kind(f"{c.ctx}: calling it", out)
        if nout == 1:
            r_kinds = None
            r_out = s.read(f"{c.ctx}: the call must return the single neuron's Value itself; reading it", out)
            outs = [out]
        else:
            r_kinds = s.kinds(f"{c.ctx}: the call must return a list of Values", out)
            r_out = s.read_list(f"{c.ctx}: the call must return a list of Values; reading it", out)
            outs = [s.item(f"{c.ctx}: output", out, j) for j in range(nout)]
        s.backward(f"{c.ctx}: backward() from the sum of the outputs", _sum(s, outs))
        r_grads = [s.read("a parameter", h) for _, h in handles] + [s.read("an input", h) for h in xs]
        plan.append((c, handles, r_count, r_nonlin, r_kind, r_kinds, r_out, r_grads,
                     read_parameters(s, label, layer)))
    got = execute(engine, s)

    for c, handles, r_count, r_nonlin, r_kind, r_kinds, r_out, r_grads, r_p in plan:
        if got[r_count] != c.nout:
            raise CheckFailure(f"{c.label} has {int(got[r_count])} neurons, expected {c.nout}")
        for j, r in enumerate(r_nonlin):
            if bool(got[r]) != c.nonlin:
                raise CheckFailure(f"{c.label}: neurons[{j}].nonlin is {bool(got[r])}, expected {c.nonlin} "
                                   "(__init__ passes nonlin and the other keywords on to every neuron)")
        ref = RLayer(c.nin, c.nout, nonlin=c.nonlin, rng=random.Random(0))
        ref.set_weights(c.weights())
        rx = [RValue(v) for v in c.x]
        rout = ref(rx)
        routs = [rout] if c.nout == 1 else list(rout)
        if c.nout == 1 and got[r_kind] != "Value":
            raise CheckFailure(f"{c.ctx}: the call returned {_a(got[r_kind])}, expected the single neuron's Value "
                               "itself, not a list")
        if c.nout > 1:
            if got[r_kind] != "list":
                raise CheckFailure(f"{c.ctx}: the call returned {_a(got[r_kind])}, expected a list of "
                                   f"{c.nout} Values")
            kinds = got[r_kinds]
            if len(kinds) != c.nout:
                raise CheckFailure(f"{c.ctx}: your layer returned {len(kinds)} outputs, expected {c.nout}")
            if any(k != "Value" for k in kinds):
                raise CheckFailure(f"{c.ctx}: the call returned a list of {_kinds(kinds)}, expected a list of "
                                   "Values (the neurons' outputs themselves)")
        mine = [got[r_out][0]] if c.nout == 1 else [d for d, _ in got[r_out]]
        for j, (a, e) in enumerate(zip(mine, routs, strict=True)):
            if not close(a, e.data, REF_ATOL, REF_RTOL):
                raise CheckFailure(f"{c.ctx}: output {j} is {fmt(a)}, expected {fmt(e.data)}, what neurons[{j}](x) "
                                   "gives (the neurons' outputs, in order)")
        total = routs[0]
        for e in routs[1:]:
            total = total + e
        total.backward()
        names = [name for name, _ in handles] + [f"x[{i}]" for i in range(len(c.x) if c.as_values else 0)]
        expected = [p.grad for p in ref.parameters()] + ([v.grad for v in rx] if c.as_values else [])
        for name, r, e in zip(names, r_grads, expected, strict=True):
            if not close(got[r][1], e, REF_ATOL, REF_RTOL):
                raise CheckFailure(f"{c.ctx}: after backward() from the sum of the outputs, {name}.grad = "
                                   f"{fmt(got[r][1])}, expected {fmt(e)} (return the neurons' Values themselves)")
        r_kind_p, r_kinds_p, r_first, r_second = r_p
        is_list = got[r_kind_p] == "list"
        problem = params_problem(c.label, got[r_kind_p], got[r_kinds_p] if is_list else [],
                                 got[r_first] if is_list else [], got[r_second] if is_list else [],
                                 [h for _, h in handles], {h: name for name, h in handles},
                                 "the neurons' own (training must update the neurons themselves)",
                                 "each neuron's parameters(), neuron by neuron")
        if problem:
            raise CheckFailure(problem)
    got.done()


def layer_check(engine: Engine) -> None:
    @given(cases=batches(layer_cases(), 6))
    def prop(cases: list[LayerCase]) -> None:
        layer_batch(engine, cases)

    _run(prop, 12)
    layer_batch(engine, LAYER_CASES)


# --- MLP --------------------------------------------------------------------------
@dataclass
class MLPCase:
    nin: int
    nouts: list[int]
    xs: list[list[float]]
    seed: int = 0  # of the weights, set through the neurons' w and b

    @property
    def label(self) -> str:
        return f"MLP({self.nin}, {self.nouts})"

    def weights(self) -> list[float]:
        return _rng_weights(self.seed, mlp_param_count(self.nin, self.nouts))

    def on_kink(self) -> bool:
        return any(hidden_kink(self.nin, self.nouts, self.weights(), x) for x in self.xs)


HIDDEN = st.lists(st.integers(2, 4), max_size=2)  # a one-neuron layer outputs a bare Value: never hidden


@st.composite
def mlp_cases(draw: st.DrawFn) -> MLPCase:
    nin = draw(st.integers(1, 3))
    nouts = [*draw(HIDDEN), draw(st.integers(1, 3))]
    return MLPCase(nin, nouts, draw(st.lists(numbers(nin), min_size=1, max_size=2)), draw(SEEDS))


MLP_CASES = [  # regression cases
    MLPCase(2, [3, 2, 1], [[0.5, -1.0], [1.5, 0.25]], 300),
    MLPCase(3, [4, 2], [[1.0, -0.5, 0.75]], 301),
    MLPCase(2, [1], [[0.3, -0.8]], 302),
    MLPCase(2, [4, 3, 1], [[0.5, -1.0], [1.5, 0.25], [-0.75, 0.5], [0.1, 0.9]], 500),
]


def mlp_batch(engine: Engine, cases: Sequence[MLPCase]) -> None:
    """Structure, forward, gradients and parameters() of each MLP, made of known-good layers."""
    from zengrad_ref import Value as RValue
    from zengrad_ref.nn import MLP as RMLP

    cases = [c for c in cases if not c.on_kink()]
    if not cases:
        return
    s = Script()
    s.use_known_good("Neuron", "Layer")
    plan = []
    for c in cases:
        label, nouts = c.label, c.nouts
        sizes = [c.nin, *nouts]
        m = s.call(label, "MLP", const(c.nin), const(nouts))
        layers = s.attr(f"{label}.layers (store the layers in self.layers)", m, "layers")
        r_layers = s.length(f"{label}.layers must be a list of layers", layers)
        lh = [s.item(f"{label}.layers[{i}]", layers, i) for i in range(len(nouts))]
        nl = [s.attr(f"{label}.layers[{i}].neurons", h, "neurons") for i, h in enumerate(lh)]
        r_sizes = [s.length(f"{label}.layers[{i}].neurons", h) for i, h in enumerate(nl)]
        structure, handles = [], []
        for i, nout in enumerate(nouts):
            for j in range(nout):
                n = s.item(f"{label}.layers[{i}].neurons[{j}]", nl[i], j)
                structure.append((i, s.length("w", s.attr("w", n, "w")),
                                  s.read_number("nonlin", s.attr("nonlin", n, "nonlin"))))
                handles += neuron_handles(s, n, sizes[i], f"layer {i} neuron {j}")
        for (_, h), v in zip(handles, c.weights(), strict=True):
            s.setdata(h, v)
        forward, outs = [], []
        for x in c.xs:
            what = f"{label}({_fmts(x)})"
            out = s.method(what, m, "__call__", const(x))
            r_kind = s.kind(what, out)
            if nouts[-1] == 1:
                forward.append((x, r_kind, None, s.read(f"{what} must return one Value", out)))
                outs.append(out)
            else:
                r_kinds = s.kinds(f"{what} must return a list of Values", out)
                forward.append((x, r_kind, r_kinds, s.read_list(f"{what} must return a list of Values", out)))
                outs += [s.item(f"{what}: output", out, j) for j in range(nouts[-1])]
        s.backward(f"{label}: backward() from the sum of its outputs", _sum(s, outs))
        r_grads = [s.read("a parameter", h) for _, h in handles]
        plan.append((c, r_layers, r_sizes, structure, forward, handles, r_grads, read_parameters(s, label, m)))
    got = execute(engine, s)

    for c, r_layers, r_sizes, structure, forward, handles, r_grads, r_p in plan:
        label, nouts, sizes = c.label, c.nouts, [c.nin, *c.nouts]
        if got[r_layers] != len(nouts):
            raise CheckFailure(f"{label} has {int(got[r_layers])} layers, expected {len(nouts)}")
        for i, r in enumerate(r_sizes):
            if got[r] != nouts[i]:
                raise CheckFailure(f"{label}: layer {i} has {int(got[r])} neurons, expected {nouts[i]}")
        for i, r_w, r_nl in structure:
            if got[r_w] != sizes[i]:
                raise CheckFailure(f"{label}: the neurons of layer {i} have {int(got[r_w])} inputs, "
                                   f"expected {sizes[i]} (the size of the layer before)")
            last = i == len(nouts) - 1
            if bool(got[r_nl]) == last:
                if last:
                    raise CheckFailure(f"{label}: the last layer (layer {i}) applies ReLU, expected a linear layer "
                                       "(nonlin=False), so that its score can be negative")
                raise CheckFailure(f"{label}: layer {i} is linear, expected ReLU (nonlin=True) in every layer but "
                                   "the last")
        ref = RMLP(c.nin, nouts, seed=0)
        ref.set_weights(c.weights())
        routs = []
        for x, r_kind, r_kinds, r_out in forward:
            rout = ref([RValue(a) for a in x])
            want = [rout] if nouts[-1] == 1 else list(rout)
            routs += want
            shown = f"{label} on x={_fmts(x)}"
            if nouts[-1] == 1 and got[r_kind] != "Value":
                raise CheckFailure(f"{shown}: returned {_a(got[r_kind])}, expected one Value (the last layer has "
                                   "one neuron)")
            if nouts[-1] > 1:
                if got[r_kind] != "list":
                    raise CheckFailure(f"{shown}: returned {_a(got[r_kind])}, expected a list of {nouts[-1]} Values")
                kinds = got[r_kinds]
                if len(kinds) != nouts[-1] or any(k != "Value" for k in kinds):
                    raise CheckFailure(f"{shown}: returned a list of {len(kinds)} {_kinds(kinds)}, expected "
                                       f"{nouts[-1]} Values")
            mine = [got[r_out][0]] if nouts[-1] == 1 else [d for d, _ in got[r_out]]
            if not all(close(a, e.data, REF_ATOL, REF_RTOL) for a, e in zip(mine, want, strict=True)):
                raise CheckFailure(f"{shown}: your output is {_fmts(mine)}, expected {_fmts([e.data for e in want])} "
                                   "(x fed through the layers in turn)")
        total = routs[0]
        for e in routs[1:]:
            total = total + e
        total.backward()
        for (name, _), r, p in zip(handles, r_grads, ref.parameters(), strict=True):
            if not close(got[r][1], p.grad, REF_ATOL, REF_RTOL):
                raise CheckFailure(f"{label} on x={_points(c.xs)}: after backward() from the sum of the outputs, "
                                   f"{name}.grad = {fmt(got[r][1])}, expected {fmt(p.grad)}")
        r_kind_p, r_kinds_p, r_first, r_second = r_p
        is_list = got[r_kind_p] == "list"
        problem = params_problem(label, got[r_kind_p], got[r_kinds_p] if is_list else [],
                                 got[r_first] if is_list else [], got[r_second] if is_list else [],
                                 [h for _, h in handles], {h: name for name, h in handles},
                                 "the layers' own (training must update the network itself)",
                                 "the first layer's parameters(), then the second's, ...")
        if problem:
            raise CheckFailure(problem)
    got.done()


def mlp_check(engine: Engine) -> None:
    @given(cases=batches(mlp_cases(), 4))
    def prop(cases: list[MLPCase]) -> None:
        mlp_batch(engine, cases)

    _run(prop, 16)
    mlp_batch(engine, MLP_CASES)


# --- svm_loss -----------------------------------------------------------------------
@dataclass
class LossCase:
    scores: list[float]
    labels: list[int]
    params: list[float]
    alpha: float | None = None  # None: the default

    @property
    def shown(self) -> str:
        return (f"svm_loss(scores={_fmts(self.scores)}, y={self.labels}, params={_fmts(self.params)}"
                + (f", alpha={fmt(self.alpha)})" if self.alpha is not None else ")"))

    def on_kink(self) -> bool:
        return any(abs(1 - yi * si) < KINK for si, yi in zip(self.scores, self.labels, strict=True))


@st.composite
def loss_cases(draw: st.DrawFn) -> LossCase:
    points = draw(st.lists(st.tuples(SCORES, LABELS), min_size=1, max_size=5))  # (score, label)
    return LossCase([sc for sc, _ in points], [yi for _, yi in points], draw(st.lists(NUMBERS, max_size=4)),
                    draw(st.one_of(st.none(), reals(0.0, 1.0))))


LOSS_CASES = [  # regression cases
    LossCase([0.25], [1], []),
    LossCase([0.25], [-1], []),
    LossCase([2.0], [1], []),
    LossCase([0.5, -0.3, 1.5, -2.0], [1, 1, -1, -1], []),
    LossCase([5.0], [1], [2.0, -1.0], 0.1),
    LossCase([0.5, -0.3], [1, -1], [0.7, -1.2, 0.4], 0.01),
    LossCase([0.9, -1.4, 0.2, 1.1, -0.6, 0.05], [1, -1, -1, 1, 1, -1], [0.8, -0.3, 0.5, -0.9]),
]


def loss_batch(engine: Engine, cases: Sequence[LossCase]) -> None:
    from zengrad_ref import Value as RValue
    from zengrad_ref.losses import svm_hinge_l2

    cases = [c for c in cases if not c.on_kink()]
    if not cases:
        return
    s = Script()
    plan = []
    for c in cases:
        sh = [s.leaf(v) for v in c.scores]
        ph = [s.leaf(v) for v in c.params]
        args = [s.new_list(sh), const(c.labels), s.new_list(ph)] + ([const(c.alpha)] if c.alpha is not None else [])
        loss = s.call(c.shown, "svm_loss", *args)
        r_kind = s.kind(c.shown, loss)
        r_loss = s.read(f"{c.shown} must return one Value; reading it", loss)
        s.backward(f"backward() from {c.shown}", loss)
        plan.append((c, r_kind, r_loss, [s.read("a score", h) for h in sh], [s.read("a parameter", h) for h in ph]))
    got = execute(engine, s)

    for c, r_kind, r_loss, r_s, r_p in plan:
        rs = [RValue(v) for v in c.scores]
        rp = [RValue(v) for v in c.params]
        a = 1e-4 if c.alpha is None else c.alpha
        ref = svm_hinge_l2(rs, c.labels, rp, alpha=a)
        ref.backward()
        if got[r_kind] != "Value":
            raise CheckFailure(f"{c.shown} returned {_a(got[r_kind])}, expected one Value (built from Value "
                               "operations, so that backward() reaches every score and parameter)")
        mine = got[r_loss][0]
        if not close(mine, ref.data, REF_ATOL, REF_RTOL):
            reg = a * sum(p * p for p in c.params)
            hint = ""
            if reg and close(mine, ref.data - reg, REF_ATOL, REF_RTOL):
                hint = " (the L2 term alpha * sum(p * p) is missing)"
            elif len(c.scores) > 1 and close(mine, (ref.data - reg) * len(c.scores) + reg, REF_ATOL, REF_RTOL):
                hint = " (average the margins: multiply their sum by 1.0 / n)"
            elif c.alpha is None and c.params and close(mine, ref.data - reg + 1e-3 * reg / a, 1e-9, 1e-3):
                hint = " (the default alpha is 1e-4)"
            raise CheckFailure(f"{c.shown}: your loss is {fmt(mine)}, expected {fmt(ref.data)}{hint}")
        for what, reads, values in (("scores", r_s, rs), ("params", r_p, rp)):
            for i, (r, v) in enumerate(zip(reads, values, strict=True)):
                if not close(got[r][1], v.grad, REF_ATOL, REF_RTOL):
                    raise CheckFailure(f"{c.shown}: after backward(), your grad of {what}[{i}] is "
                                       f"{fmt(got[r][1])}, expected {fmt(v.grad)} (build the loss from Value "
                                       f"operations on the {what} themselves)")
    got.done()


def loss_check(engine: Engine) -> None:
    @given(cases=batches(loss_cases()))
    def prop(cases: list[LossCase]) -> None:
        loss_batch(engine, cases)

    _run(prop, 10)
    loss_batch(engine, LOSS_CASES)


# --- sgd_step ------------------------------------------------------------------------
@dataclass
class SgdCase:
    data: list[float]
    grads: list[float]
    lr: float


@st.composite
def sgd_cases(draw: st.DrawFn) -> SgdCase:
    params = draw(st.lists(st.tuples(NUMBERS, NUMBERS), min_size=1, max_size=4))  # (data, grad)
    return SgdCase([d for d, _ in params], [g for _, g in params], draw(reals(0.01, 1.0)))


SGD_CASES = [  # regression cases
    SgdCase([1.0], [0.5], 0.1),
    SgdCase([1.0, -2.0, 0.5], [0.5, -4.0, 0.0], 0.1),
    SgdCase([0.3, -0.7], [2.0, 1.5], 1.0),
    SgdCase([0.25, 0.75, -1.25], [-0.5, 0.125, 3.0], 0.37),
]


def sgd_batch(engine: Engine, cases: Sequence[SgdCase]) -> None:
    """sgd_step on a known-good bare model (anything with parameters()): data moved in place, grads alone."""
    s = Script()
    s.use_known_good("Params")
    plan = []
    for c in cases:
        shown = f"sgd_step(model, lr={fmt(c.lr)}) with parameters data {_fmts(c.data)} and grad {_fmts(c.grads)}"
        vals = []
        for x, g in zip(c.data, c.grads, strict=True):
            v = s.leaf(x)
            s.setgrad(v, g)
            vals.append(v)
        m = s.call("a model with parameters()", "Params", s.new_list(vals))
        s.call(shown, "sgd_step", m, const(c.lr), result=False)
        plan.append((c, shown, [s.read("a parameter", v) for v in vals]))
    got = execute(engine, s)
    for c, shown, reads in plan:
        mine = [got[r][0] for r in reads]
        want = [d - c.lr * g for d, g in zip(c.data, c.grads, strict=True)]
        if not all(close(a, b, REF_ATOL, REF_RTOL) for a, b in zip(mine, want, strict=True)):
            hint = ""
            if all(close(a, d + c.lr * g, REF_ATOL, REF_RTOL) for a, d, g in zip(mine, c.data, c.grads, strict=True)):
                hint = " (the parameters moved up the gradient: subtract lr * grad)"
            elif mine == c.data:
                hint = " (the parameters did not move: update p.data in place)"
            raise CheckFailure(f"{shown}: data afterwards {_fmts(mine)}, expected {_fmts(want)}{hint}")
        grads = [got[r][1] for r in reads]
        if grads != c.grads:
            raise CheckFailure(f"{shown}: grad afterwards {_fmts(grads)}, expected {_fmts(c.grads)} (sgd_step "
                               "leaves the gradients alone)")
    got.done()


def sgd_check(engine: Engine) -> None:
    @given(cases=batches(sgd_cases()))
    def prop(cases: list[SgdCase]) -> None:
        sgd_batch(engine, cases)

    _run(prop, 10)
    sgd_batch(engine, SGD_CASES)


# --- train -------------------------------------------------------------------------------
def _moons(n: int, seed: int) -> tuple[list[list[float]], list[int]]:
    from zengrad_ref.data import make_moons

    return make_moons(n_samples=n, noise=0.1, seed=seed)


def param_names(nin: int, nouts: Sequence[int]) -> list[str]:
    """The name of every parameter of MLP(nin, nouts), in parameters() order."""
    sizes = [nin, *nouts]
    return [f"layer {i} neuron {j}.{p}" for i, nout in enumerate(nouts) for j in range(nout)
            for p in [*(f"w[{k}]" for k in range(sizes[i])), "b"]]


@dataclass(frozen=True)
class TrainCase:
    """train(model, X, y, steps[, alpha]) on a known-good MLP(2, nouts) from fixed weights, on moons."""

    nouts: tuple[int, ...]
    points: int
    data_seed: int
    steps: int
    alpha: float | None  # None: train's default
    weight_seed: int | None  # None: zengrad_ref.nn.MLP(2, nouts, seed=TRAIN_SEED)'s initial weights

    def weights(self) -> list[float]:
        if self.weight_seed is None:
            from zengrad_ref.nn import MLP as RMLP

            return RMLP(2, list(self.nouts), seed=TRAIN_SEED).get_weights()
        return _rng_weights(self.weight_seed, mlp_param_count(2, self.nouts))

    @property
    def shown(self) -> str:
        alpha = f", alpha={fmt(self.alpha)}" if self.alpha is not None else ""
        return (f"train(model, X, y, steps={self.steps}{alpha}) with model = MLP(2, {list(self.nouts)}) on "
                f"make_moons({self.points}, noise=0.1, seed={self.data_seed})")


TRAIN_CASES = [  # small and exact, simplest first: every argument, the default alpha, the schedule, the losses
    TrainCase((3, 1), 6, 2, 2, None, 700),
    TrainCase((4, 4, 1), 8, 1, 3, 0.01, 600),
]
ACCURACY_CASE = TrainCase((*TRAIN_HIDDEN, 1), TRAIN_POINTS, TRAIN_SEED, TRAIN_STEPS, None, None)


@cache
def reference_training(case: TrainCase) -> tuple[tuple[float, ...], tuple[float, ...], bool]:
    """The notebook's loop run by zengrad_ref: (the losses, the final weights, whether a kink was met)."""
    from zengrad_ref.losses import svm_hinge_l2
    from zengrad_ref.nn import MLP as RMLP

    X, y = _moons(case.points, case.data_seed)
    nouts = list(case.nouts)
    model = RMLP(2, nouts, seed=0)
    model.set_weights(case.weights())
    params = model.parameters()
    alpha = 1e-4 if case.alpha is None else case.alpha
    losses, kink = [], False
    for k in range(case.steps):
        weights = model.get_weights()
        kink = kink or any(hidden_kink(2, nouts, weights, x) for x in X)
        scores = [model(x) for x in X]
        kink = kink or any(abs(1 - yi * sc.data) < KINK for sc, yi in zip(scores, y, strict=True))
        loss = svm_hinge_l2(scores, y, params, alpha=alpha)
        model.zero_grad()
        loss.backward()
        lr = 1.0 - 0.9 * k / case.steps
        for p in params:
            p.data -= lr * p.grad
        losses.append(loss.data)
    return tuple(losses), tuple(model.get_weights()), kink


def train_accuracy(case: TrainCase, weights: Sequence[float]) -> float:
    """The training accuracy of MLP(2, nouts) with these weights, computed here by zengrad_ref."""
    from zengrad_ref.losses import accuracy
    from zengrad_ref.nn import MLP as RMLP

    X, y = _moons(case.points, case.data_seed)
    model = RMLP(2, list(case.nouts), seed=0)
    model.set_weights(weights)
    return accuracy([model(x) for x in X], y)


def train_case(engine: Engine, case: TrainCase, target: float | None = None) -> None:
    """Run the student's train() on a known-good MLP with known-good svm_loss and sgd_step; compare here."""
    X, y = _moons(case.points, case.data_seed)
    nouts = list(case.nouts)
    s = Script(timeout=TRAIN_TIMEOUT if target is not None else None)
    s.use_known_good("MLP", "svm_loss", "sgd_step")
    m = s.call(f"MLP(2, {nouts})", "MLP", const(2), const(nouts))
    s.p.set_data_list(s.method("model.parameters()", m, "parameters"), case.weights())
    alpha = [const(case.alpha)] if case.alpha is not None else []
    losses = s.call(case.shown, "train", m, const(X), const(y), const(case.steps), *alpha)
    r_kind = s.kind(case.shown, losses)
    r_kinds = s.kinds(f"{case.shown} must return a list of losses", losses)
    r_losses = [s.read_number(f"{case.shown}: the losses must be plain floats",
                              s.item(f"{case.shown}: a loss", losses, k)) for k in range(case.steps)]
    r_w = s.read_list("the model's parameters after train", s.method("model.parameters()", m, "parameters"))
    got = execute(engine, s)

    kind = got[r_kind]
    if kind != "list":
        raise CheckFailure(f"{case.shown} returned {_a(kind)}, expected a list of the {case.steps} losses "
                           "(plain floats)")
    kinds = got[r_kinds]
    if len(kinds) != case.steps:
        raise CheckFailure(f"{case.shown} returned {len(kinds)} losses, expected {case.steps} (one per step)")
    if any(k != "float" for k in kinds):
        raise CheckFailure(f"{case.shown} returned a list of {_kinds(kinds)}, expected plain floats (loss.data)")
    mine = [got[r] for r in r_losses]
    weights = [d for d, _ in got[r_w]]
    if target is not None:
        acc = train_accuracy(case, weights)
        if acc < target:
            raise CheckFailure(f"{case.shown} from fixed weights: training accuracy {acc:.1%}, expected at "
                               f"least {target:.0%}")
    want, want_w, kink = reference_training(case)
    if kink:  # the answer hinges on rounding: the accuracy (if asked for) decides alone
        return
    for k, (a, b) in enumerate(zip(mine, want, strict=True)):
        if not close(a, b, REF_ATOL, REF_RTOL):
            hint = " (computed after the update?)" if k + 1 < len(want) and close(a, want[k + 1], REF_ATOL,
                                                                                 REF_RTOL) else ""
            raise CheckFailure(f"{case.shown}: your loss of step {k} is {fmt(a)}, expected {fmt(b)}{hint} (step k: "
                               "the scores of every x in X, svm_loss(scores, y, model.parameters(), alpha), "
                               "before the update)")
    names = param_names(2, nouts)
    for name, a, b in zip(names, weights, want_w, strict=True):
        if not close(a, b, REF_ATOL, REF_RTOL):
            raise CheckFailure(f"{case.shown}: afterwards {name} is {fmt(a)}, expected {fmt(b)} (each step: "
                               "model.zero_grad(), loss.backward(), sgd_step(model, 1.0 - 0.9 * k / steps))")
    got.done()


def train_check(engine: Engine) -> None:
    for case in TRAIN_CASES:
        train_case(engine, case)
    train_case(engine, ACCURACY_CASE, TRAIN_TARGET)


# --- decision_grid ---------------------------------------------------------------------------
@dataclass
class GridCase:
    w: list[float]  # the model: Neuron(2, nonlin=False) with these weights and bias
    b: float
    xs: list[float]
    ys: list[float]

    @property
    def what(self) -> str:
        return f"decision_grid(model, xs={_fmts(self.xs)}, ys={_fmts(self.ys)})"

    @property
    def ctx(self) -> str:
        return f"{self.what} with model = Neuron(2, nonlin=False), w={_fmts(self.w)}, b={fmt(self.b)}"


@st.composite
def grid_cases(draw: st.DrawFn) -> GridCase:
    return GridCase(draw(numbers(2)), draw(NUMBERS), draw(st.lists(NUMBERS, min_size=1, max_size=4)),
                    draw(st.lists(NUMBERS, min_size=1, max_size=3)))


GRID_CASES = [  # regression case: no grid point lies within 0.1 of the boundary
    GridCase([0.8, -1.3], 0.05, [-1.0, -0.25, 0.5, 1.25, 2.0], [-0.5, 0.25, 1.0]),
]


def grid_batch(engine: Engine, cases: Sequence[GridCase]) -> None:
    """Each Z[i][j] (an int) against the sign of a known-good model's score at [xs[j], ys[i]], computed here."""
    from zengrad_ref.nn import Neuron as RNeuron

    s = Script()
    s.use_known_good("Neuron")
    plan = []
    for c in cases:
        n = s.call("Neuron(2, nonlin=False) as the model", "Neuron", const(2), const(False))
        s.p.set_data_list(s.method("model.parameters()", n, "parameters"), [*c.w, c.b])
        z = s.call(c.ctx, "decision_grid", n, const(c.xs), const(c.ys))
        r_kind = s.kind(c.ctx, z)
        r_rows = s.kinds(f"{c.what} must return a list of rows", z)
        rows = [s.item(f"{c.what}: row", z, i) for i in range(len(c.ys))]
        r_cols = [s.kinds(f"{c.what}: each row must be a list", r) for r in rows]
        r_z = [[s.read_number(f"{c.what}: the entries must be 0 or 1", s.item("entry", r, j))
                for j in range(len(c.xs))] for r in rows]
        plan.append((c, r_kind, r_rows, r_cols, r_z))
    got = execute(engine, s)

    for c, r_kind, r_rows, r_cols, r_z in plan:
        shape = f"{len(c.ys)} rows (one per y) of {len(c.xs)} entries (one per x)"
        if got[r_kind] != "list":
            raise CheckFailure(f"{c.ctx}: returned {_a(got[r_kind])}, expected a list of {shape}")
        rows = got[r_rows]
        if len(rows) != len(c.ys):
            raise CheckFailure(f"{c.ctx}: {len(rows)} rows, expected {shape}")
        if any(k != "list" for k in rows):
            raise CheckFailure(f"{c.ctx}: a row is {_a(next(k for k in rows if k != 'list'))}, expected a list "
                               f"({shape})")
        for r in r_cols:
            if len(got[r]) != len(c.xs):
                raise CheckFailure(f"{c.ctx}: a row of {len(got[r])} entries, expected {shape}")
        model = RNeuron(2, nonlin=False, rng=random.Random(0))
        model.set_weights([*c.w, c.b])
        for i, yv in enumerate(c.ys):
            kinds = got[r_cols[i]]
            for j, xv in enumerate(c.xs):
                score, mine = model([xv, yv]).data, got[r_z[i][j]]
                if kinds[j] != "int":
                    shown = bool(mine) if kinds[j] == "bool" else fmt(mine)
                    raise CheckFailure(f"{c.ctx}: Z[{i}][{j}] is {_a(kinds[j])} ({shown}), expected the int 1 or 0")
                if abs(score) < KINK:  # on the boundary: either answer will do
                    want = mine if mine in (0, 1) else None
                else:
                    want = 1 if score > 0 else 0
                if mine != want:
                    raise CheckFailure(f"{c.ctx}: Z[{i}][{j}] is {int(mine)}, expected "
                                       f"{'0 or 1' if want is None else want} (the model's score at [x, y] = "
                                       f"[{fmt(xv)}, {fmt(yv)}] is {fmt(score)})")
    got.done()


def grid_check(engine: Engine) -> None:
    @given(cases=batches(grid_cases(), 5))
    def prop(cases: list[GridCase]) -> None:
        grid_batch(engine, cases)

    _run(prop, 14)
    grid_batch(engine, GRID_CASES)


register("ps3.zero_grad", "Module.zero_grad")(zero_grad_check)
register("ps3.neuron", "Neuron")(neuron_check)
register("ps3.layer", "Layer")(layer_check)
register("ps3.mlp", "MLP")(mlp_check)
register("ps3.loss", "svm_loss")(loss_check)
register("ps3.sgd", "sgd_step")(sgd_check)
register("ps3.train", "train")(train_check)
register("ps3.grid", "decision_grid")(grid_check)
