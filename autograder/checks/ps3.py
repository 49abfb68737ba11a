"""Assignment 3 checks: ``Module.zero_grad``, ``Neuron``, ``Layer``, ``MLP``, ``svm_loss``,
``sgd_step``, ``train`` and ``decision_grid``.

Every check drives student code through adapter programs and compares it with
``zengrad_ref`` (or with the student's own parts) on the trusted side. Weights
are injected through the given attributes (``Neuron.w``/``.b``,
``Layer.neurons``, ``MLP.layers``), never through the student's
``parameters()``, so identical weights land in the student's network and in the
reference whatever ``parameters()`` returns.

The per-piece checks are hypothesis properties (``SETTINGS``: derandomized, so
the same submission gets the same verdict) that report the smallest case they
find wrong, e.g. ``svm_loss(scores=[0.0], y=[1], params=[1.0]): your loss is
1.0, expected 1.0001``. Numbers are bounded floats without NaN, infinities or
subnormals: weights, biases, inputs, data and grads in [-2, 2], scores in
[-3, 3]. One hypothesis example is a *batch* of independent cases (at most 8)
run as one adapter program, i.e. one round trip to the worker; a failing batch
shrinks to its single simplest failing case. Per check (examples x cases each,
about how many cases that makes):

* ``zero_grad``: modules of 1-4 parameters with any data and grad (10 x <= 8,
  ~35), then ``Module()`` itself, without parameters;
* ``neuron``: ``nin`` 1-4, ``nonlin`` either way, w, b and x, x as numbers or as
  ``Value``s (10 x <= 8, ~50): output, grads of w, b and x, ``parameters()``;
* ``layer``: ``nin`` 1-4, ``nout`` 1-4, x as numbers or ``Value``s, seeded
  weights (12 x <= 6, ~50): forward, grads and ``parameters()`` relative to the
  layer's own neurons;
* ``mlp``: ``nin`` 1-3, 0-2 hidden layers of 2-4 neurons, a last layer of 1-3,
  1-2 inputs, seeded weights (16 x <= 4, ~25): structure, forward and
  ``parameters()`` relative to its own layers; then ``MLP``s ending in one
  neuron, weights in [-1, 1], the mean hinge loss of 1-4 labelled points
  (10 x <= 3, ~15): parameter order, scores and loss gradients against
  ``zengrad_ref.nn.MLP``;
* ``loss``: 1-5 scores with labels in {-1, +1}, 0-4 parameters, the default
  alpha or alpha in [0, 1] (10 x <= 8, ~50): loss and its gradients;
* ``sgd``: 1-4 parameters, lr in [0.01, 1] (10 x <= 8, ~40);
* ``grid``: a ``Neuron(2, nonlin=False)`` as the model, 1-4 xs by 1-3 ys
  (14 x <= 5, ~50).

A case whose answer would hinge on rounding is skipped: a ReLU input or a hinge
margin within 1e-9 of 0 (a correct student may sum in another order than the
reference, which moves the last bit and flips the ReLU's gradient), and a grid
entry whose score is within 1e-9 of 0 accepts 0 or 1. The former fixed cases
(the notebook-sized ones) run after each property as regression cases, so a
classic bug is caught whatever hypothesis generates.

Each check grades one cell and depends on no other student cell where that is
possible, so a bug costs the points of its own cell only:

* ``zero_grad`` and ``sgd`` run on a bare ``Module()`` whose ``parameters``
  is a list of fresh ``Value``s, and ``loss`` on lists of fresh ``Value``s;
* ``layer``, ``mlp`` and ``grid`` compare the student's code with the student's
  own neurons/layers/model (relative checks; parameters are compared by identity,
  and one a part returns as a copy is that part's bug, not held against the
  whole); a difference between ``mlp`` and ``zengrad_ref.nn.MLP`` counts only
  when the student's ``Neuron`` and ``Layer`` pass their own checks;
* ``train`` (a single seeded run by design, not a property) first checks that
  the loop combines the student's own ``svm_loss``/``zero_grad``/``sgd_step``/
  ``MLP`` exactly as specified (same losses and weights as the specified loop run
  with those same pieces), then trains ``MLP(2, [16, 16, 1])`` from fixed
  weights and requires >= 95% training accuracy, computed here from the plain
  scores the worker returns; when the loop is right, a training failure counts
  only when every piece passes its own check.

"Counts only when the parts pass" is decided after the fact
(``_unless_graded_elsewhere``): the same verdict as asking first, but a correct
submission never pays for re-running the parts' properties.

The one unavoidable dependency: a check needs the objects it drives to exist
(``layer`` needs a ``Neuron`` that can be called, ``mlp`` a ``Layer``, ``train``
an ``MLP``, ``grid`` a ``Neuron``); a missing one reports "not implemented yet".
"""

from __future__ import annotations

import contextvars
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.adapter import CheckAborted, Engine, Outcome, Program, const
from autograder.checks import REGISTRY, CheckFailure, StopCheck, register
from autograder.checks.gradients import REF_ATOL, REF_RTOL, SETTINGS, close, fmt

TRAIN_HIDDEN = [16, 16]  # MLP(2, [16, 16, 1]): micrograd's network
TRAIN_POINTS, TRAIN_SEED, TRAIN_STEPS = 40, 0, 25  # zengrad_ref: 100% training accuracy
TRAIN_TARGET = 0.95
TRAIN_TIMEOUT = 60.0  # seconds for the full training program (about 3 s of CPU on a 2-core CI runner)
LOOP_STEPS = 3  # the relative loop check: 3 steps, so the learning-rate schedule is visible

KINK = 1e-9  # a ReLU input, hinge margin or grid score closer to 0 than this: the case is skipped
BATCH = 8  # at most this many cases per hypothesis example, run as one program


# --- strategies ----------------------------------------------------------------------------
def reals(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


NUMBERS = reals(-2.0, 2.0)  # weights, biases, inputs, parameter data and grads
SCORES = reals(-3.0, 3.0)
LABELS = st.sampled_from([1, -1])
SEEDS = st.integers(0, 2**16)  # seeded weights where the message need not show them (relative checks)


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


def _short(xs: Sequence[float], n: int = 6) -> str:
    return _fmts(xs) if len(xs) <= n else _fmts(xs[:n])[:-1] + f", ... ({len(xs)} in all)]"


class Script:
    """An adapter program plus a description of each step, for messages."""

    def __init__(self, timeout: float | None = None) -> None:
        self.p = Program(timeout=timeout)
        self.what: dict[int, str] = {}

    def _note(self, what: str) -> None:
        self.what[len(self.p.steps)] = what

    def call(self, what: str, fname: str, *args: Any, result: bool = True) -> Any:
        self._note(what)
        return self.p.call(fname, *args, result=result)

    def method(self, what: str, obj: int, name: str, *args: Any, result: bool = True) -> Any:
        self._note(what)
        return self.p.method(obj, name, *args, result=result)

    def attr(self, what: str, obj: int, name: str) -> int:
        self._note(what)
        return self.p.method(obj, "__getattribute__", const(name))

    def item(self, what: str, seq: int, i: int) -> int:
        self._note(what)
        return self.p.item(seq, i)

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
    what = s.step_what(err.get("step"))
    kind, msg = err.get("type", "Error"), err.get("message", "")
    text = f"{kind}: {msg}" if msg else kind
    if kind == "NotImplementedError":
        raise StopCheck(f"not implemented yet: {what} raises NotImplementedError. "
                        "Replace `raise NotImplementedError()` with your code.", "not_implemented")
    if kind == "NameError":
        raise StopCheck(f"{what}: {text}. Define it with exactly this name and run its cell.", "error")
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


def patched_module(s: Script, values: Sequence[float], grads: Sequence[float]) -> tuple[int, list[int]]:
    """A bare ``Module()`` whose ``parameters()`` returns fresh Values (a copy of a list each call)."""
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


def order_problem(label: str, mine: list[int], want: list[int], names: dict[int, str], own: str,
                  parts: str) -> str | None:
    """Why the handles ``mine`` (a ``parameters()`` list) are not ``want`` (the parts' own lists, joined).

    -1 in ``want`` is a Value a part returns as a copy (that part's bug, graded in its own cell): any
    Value matches it.
    """
    if len(mine) == len(want) and all(w == -1 or m == w for m, w in zip(mine, want, strict=True)):
        return None
    if len(mine) != len(want):
        return f"{label}.parameters() returned {len(mine)} Values, expected {len(want)} ({parts})"
    if any(m == -1 for m, w in zip(mine, want, strict=True) if w != -1):
        return f"{label}.parameters() returned new Values, expected {own}"
    k = next(k for k, (m, w) in enumerate(zip(mine, want, strict=True)) if w != -1 and m != w)
    return (f"{label}.parameters()[{k}] is {names.get(mine[k], 'another Value')}, expected "
            f"{names.get(want[k], 'another Value')} ({parts})")


def _unless_graded_elsewhere(engine: Engine, check: Callable[[], None], *check_ids: str) -> None:
    """Run ``check``; a failure stands only if the parts it builds on pass their own checks.

    The same verdict as asking about the parts first and skipping ``check`` when one
    fails, but a correct submission never pays for re-running the parts' checks.
    """
    try:
        check()
    except (CheckFailure, StopCheck, CheckAborted) as failure:
        if _passes(engine, *check_ids):
            raise failure from None


_VERDICTS: contextvars.ContextVar[dict[str, bool] | None] = contextvars.ContextVar("ps3_verdicts", default=None)


def _passes(engine: Engine, *check_ids: str) -> bool:
    """Whether the student's other parts pass their own checks (decides what else can be compared).

    Nested calls share their verdicts (``train`` asks about ``mlp``, which asks about
    ``neuron`` and ``layer`` again), so each check runs at most once per question.
    """
    token = _VERDICTS.set({}) if _VERDICTS.get() is None else None
    memo = _VERDICTS.get()
    assert memo is not None
    try:
        for check_id in check_ids:
            if check_id not in memo:
                try:
                    REGISTRY[check_id].fn(engine)
                    memo[check_id] = True
                except (CheckFailure, StopCheck, CheckAborted):
                    memo[check_id] = False
            if not memo[check_id]:
                return False
        return True
    finally:
        if token is not None:
            _VERDICTS.reset(token)


# --- Module.zero_grad ------------------------------------------------------------
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
        plan.append((ctx, data, [s.read("a parameter", v) for v in vals]))
    got = execute(engine, s)
    for ctx, data, reads in plan:
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
        r_out = s.read(f"{c.ctx}: the call must return one Value; reading its data and grad", out)
        s.backward(f"{c.ctx}: backward() from the output", out)
        r_params = [s.read("a parameter", h) for _, h in handles]
        r_x = [s.read("an input", h) for h in xs]
        params = s.method(f"{c.label}.parameters()", n, "parameters")
        r_order = s.read_order(f"{c.label}.parameters() must return a list of Values", params)
        plan.append((c, handles, r_out, r_params, r_x, r_order))
    got = execute(engine, s)

    for c, handles, r_out, r_params, r_x, r_order in plan:
        ref = RNeuron(c.nin, nonlin=c.nonlin, rng=random.Random(0))
        ref.set_weights([*c.w, c.b])
        rx = [RValue(v) for v in c.x]
        rout = ref(rx)
        rout.backward()
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
                        "is the bias missing?"
                elif no_relu:
                    hint = "with nonlin=False there is no relu"
                else:
                    hint = "the output must be built from Value operations on the weights and the bias"
                raise CheckFailure(f"{c.ctx}: after backward() from the output, your {name}.grad = {fmt(g)}, "
                                   f"expected {fmt(p.grad)} ({hint})")
        for i, (r, xv) in enumerate(zip(r_x, rx if c.as_values else [], strict=True)):
            g = got[r][1]
            if not close(g, xv.grad, REF_ATOL, REF_RTOL):
                raise CheckFailure(f"{c.ctx}: after backward(), your x[{i}].grad = {fmt(g)}, expected {fmt(xv.grad)}")
        names = {h: name.removeprefix("neuron.") for name, h in handles}
        order = got[r_order]
        want = [name.removeprefix("neuron.") for name, _ in handles]
        mine_names = [names.get(h, "a copy") for h in order]
        if mine_names != want:
            if len(order) != len(want):
                raise CheckFailure(f"Neuron({c.nin}).parameters() returned {len(order)} Values, expected "
                                   f"{len(want)}: {', '.join(want)}")
            if "a copy" in mine_names:
                raise CheckFailure(f"Neuron({c.nin}).parameters() returned new Values, expected the neuron's own w "
                                   "and b (training must update the neuron itself)")
            raise CheckFailure(f"Neuron({c.nin}).parameters() returned [{', '.join(mine_names)}], expected "
                               f"[{', '.join(want)}]")
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

    @property
    def label(self) -> str:
        return f"Layer({self.nin}, {self.nout})"

    @property
    def ctx(self) -> str:
        return f"{self.label} on x={_fmts(self.x)}" + (" (x as Values)" if self.as_values else "")


@st.composite
def layer_cases(draw: st.DrawFn) -> LayerCase:
    nout = draw(st.integers(1, 4))
    x = draw(st.lists(NUMBERS, min_size=1, max_size=4))  # nin = 1..4
    return LayerCase(len(x), nout, x, draw(st.booleans()), draw(SEEDS))


LAYER_CASES = [  # regression cases
    LayerCase(2, 2, [0.5, -1.0], False, 100),
    LayerCase(3, 1, [1.0, 0.5, -0.5], False, 101),
    LayerCase(3, 4, [0.25, -1.5, 2.0], True, 102),
]


def _sum(s: Script, handles: Sequence[int]) -> int:
    root = handles[0]
    for h in handles[1:]:
        root = s.p.op("add", root, h)
    return root


def layer_batch(engine: Engine, cases: Sequence[LayerCase]) -> None:
    """Forward, gradients and parameters() of each layer, relative to the layer's own neurons."""
    s = Script()
    plan = []
    for c in cases:
        label, nout = c.label, c.nout
        layer = s.call(label, "Layer", const(c.nin), const(nout))
        neurons_list = s.attr(f"{label}.neurons", layer, "neurons")
        neurons = [s.item(f"{label}.neurons[{j}]", neurons_list, j) for j in range(nout)]
        handles = [h for j, n in enumerate(neurons) for h in neuron_handles(s, n, c.nin, f"neurons[{j}]")]
        for (_, h), v in zip(handles, _rng_weights(c.seed, len(handles)), strict=True):
            s.setdata(h, v)
        xs = [s.leaf(v) for v in c.x] if c.as_values else []
        arg = s.new_list(xs) if c.as_values else const(list(c.x))
        out = s.method(f"{c.ctx}: calling it", layer, "__call__", arg)
        own = [s.method(f"{label}.neurons[{j}](x)", n, "__call__", arg) for j, n in enumerate(neurons)]
        r_own = [s.read("a neuron's output", o) for o in own]
        r_len = None
        if nout == 1:
            r_out = s.read(f"{c.ctx}: the call must return the single neuron's Value itself, not a list; "
                           "reading it", out)
            outs = [out]
        else:
            r_out = s.read_list(f"{c.ctx}: the call must return a list of Values; reading it", out)
            r_len = s.length(f"{c.ctx}: the call must return a list", out)
            outs = [s.item(f"{c.ctx}: output", out, j) for j in range(nout)]
        s.backward(f"{c.ctx}: backward() from the sum of the outputs", _sum(s, outs))
        r_grads_layer = [s.read("a parameter", h) for _, h in handles] + [s.read("an input", h) for h in xs]
        for h in [h for _, h in handles] + xs:
            s.setgrad(h, 0.0)
        s.backward("backward() from the neurons' own outputs", _sum(s, own))
        r_grads_own = [s.read("a parameter", h) for _, h in handles] + [s.read("an input", h) for h in xs]
        r_own_params = [s.read_order(f"{label}.neurons[{j}].parameters() must return a list of Values",
                                     s.method(f"{label}.neurons[{j}].parameters()", n, "parameters"))
                        for j, n in enumerate(neurons)]
        r_params = s.read_order(f"{label}.parameters() must return a list of Values",
                                s.method(f"{label}.parameters()", layer, "parameters"))
        plan.append((c, handles, r_own, r_out, r_len, r_grads_layer, r_grads_own, r_own_params, r_params))
    got = execute(engine, s)

    for c, handles, r_own, r_out, r_len, r_grads_layer, r_grads_own, r_own_params, r_params in plan:
        expected_out = [got[r][0] for r in r_own]
        if r_len is None:
            mine = [got[r_out][0]]
        else:
            mine = [d for d, _ in got[r_out]]
            if got[r_len] != c.nout:
                raise CheckFailure(f"{c.ctx}: your layer returned {int(got[r_len])} outputs, expected {c.nout}")
        for j, (a, e) in enumerate(zip(mine, expected_out, strict=True)):
            if not close(a, e, REF_ATOL, REF_RTOL):
                raise CheckFailure(f"{c.ctx}: output {j} is {fmt(a)}, expected {fmt(e)}, what neurons[{j}](x) "
                                   "gives (the neurons' outputs, in order)")
        names = [name for name, _ in handles] + [f"x[{i}]" for i in range(len(c.x) if c.as_values else 0)]
        for name, ra, rb in zip(names, r_grads_layer, r_grads_own, strict=True):
            a, e = got[ra][1], got[rb][1]
            if not close(a, e, REF_ATOL, REF_RTOL):
                raise CheckFailure(f"{c.ctx}: after backward() from the sum of the outputs, {name}.grad = {fmt(a)}, "
                                   f"expected {fmt(e)} (return the neurons' Values themselves)")
        want = [h for r in r_own_params for h in got[r]]
        problem = order_problem(c.label, got[r_params], want, {h: name for name, h in handles},
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
]


def _chains_end_in_a_value(engine: Engine, cases: Sequence[MLPCase]) -> list[bool]:
    """Whether each MLP's own layers, chained, end in one Value (Layer's one-neuron convention).

    The MLP is compared with its own layers in that shape, so a Layer that returns a
    one-element list costs the Layer's points only. Asked as "does the result have a
    ``data`` attribute"; where this program fails (a broken structure), True: the main
    program reports the problem.
    """
    s = Script()
    flags: dict[int, int] = {}
    for k, c in enumerate(cases):
        if c.nouts[-1] != 1:
            continue
        m = s.call(c.label, "MLP", const(c.nin), const(c.nouts))
        layers = s.attr(f"{c.label}.layers", m, "layers")
        h = const(c.xs[0])
        for i in range(len(c.nouts)):
            h = s.method(f"{c.label}.layers[{i}](...)", s.item("a layer", layers, i), "__call__", h)
        attrs = s.method("the attributes of the result", h, "__dir__")
        flags[k] = s.read_number("a Value?", s.method("a Value?", attrs, "__contains__", const("data")))
    out = engine.run(s.p) if flags else Outcome([])
    return [c.nouts[-1] == 1 and (flags[k] >= len(out.reads) or bool(out.reads[flags[k]]))
            for k, c in enumerate(cases)]


def mlp_batch(engine: Engine, cases: Sequence[MLPCase]) -> None:
    """Structure, forward (against the chain of its own layers) and parameters() of each MLP."""
    singles = _chains_end_in_a_value(engine, cases)
    s = Script()
    plan = []
    for c, single in zip(cases, singles, strict=True):
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
        for (_, h), v in zip(handles, _rng_weights(c.seed, len(handles)), strict=True):
            s.setdata(h, v)
        forward = []
        for x in c.xs:
            out = s.method(f"{label}({_fmts(x)})", m, "__call__", const(x))
            h = const(x)
            for i, layer in enumerate(lh):
                h = s.method(f"{label}.layers[{i}](...)", layer, "__call__", h)
            if single:
                forward.append((x, s.read(f"{label}({_fmts(x)}) must return one Value", out),
                                s.read("the chain", h), True))
            else:
                forward.append((x, s.read_list(f"{label}({_fmts(x)}) must return a list of Values", out),
                                s.read_list("the chain", h), False))
        r_layer_params = [s.read_order(f"{label}.layers[{i}].parameters() must return a list of Values",
                                       s.method(f"{label}.layers[{i}].parameters()", layer, "parameters"))
                          for i, layer in enumerate(lh)]
        r_params = s.read_order(f"{label}.parameters() must return a list of Values",
                                s.method(f"{label}.parameters()", m, "parameters"))
        plan.append((c, r_layers, r_sizes, structure, forward, handles, r_layer_params, r_params))
    got = execute(engine, s)

    for c, r_layers, r_sizes, structure, forward, handles, r_layer_params, r_params in plan:
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
        for x, r_mine, r_chain, single in forward:
            mine = [got[r_mine][0]] if single else [d for d, _ in got[r_mine]]
            chain = [got[r_chain][0]] if single else [d for d, _ in got[r_chain]]
            same = len(mine) == len(chain) and all(
                close(a, b, REF_ATOL, REF_RTOL) for a, b in zip(mine, chain, strict=True))
            if not same:
                raise CheckFailure(f"{label} on x={_fmts(x)}: your output is {_fmts(mine)}, expected "
                                   f"{_fmts(chain)}, what feeding x through its layers in turn gives")
        want = [h for r in r_layer_params for h in got[r]]
        problem = order_problem(label, got[r_params], want, {h: name for name, h in handles},
                                "the layers' own (training must update the network itself)",
                                "the first layer's parameters(), then the second's, ...")
        if problem:
            raise CheckFailure(problem)
    got.done()


@dataclass
class NetCase:
    """An MLP with a one-neuron last layer, its weights in parameter order, and labelled points."""

    nin: int
    nouts: list[int]
    weights: list[float]
    points: list[list[float]]
    labels: list[int]

    @property
    def label(self) -> str:
        return f"MLP({self.nin}, {self.nouts})"

    @property
    def ctx(self) -> str:
        return (f"{self.label} with weights {_short(self.weights)} on points {_points(self.points)}, "
                f"labels {self.labels}")

    def on_kink(self) -> bool:
        """A hidden ReLU input or a hinge margin within KINK of 0 (plain floats, the reference's order)."""
        for x, yi in zip(self.points, self.labels, strict=True):
            k, h = 0, list(x)
            for i, nout in enumerate(self.nouts):
                out = []
                for _ in range(nout):
                    act = self.weights[k + len(h)]
                    for wi, xi in zip(self.weights[k:k + len(h)], h, strict=True):
                        act += wi * xi
                    k += len(h) + 1
                    if i < len(self.nouts) - 1 and abs(act) < KINK:
                        return True
                    out.append(max(act, 0.0) if i < len(self.nouts) - 1 else act)
                h = out
            if abs(1 - yi * h[0]) < KINK:
                return True
        return False


@st.composite
def net_cases(draw: st.DrawFn) -> NetCase:
    nin = draw(st.integers(1, 3))
    nouts = [*draw(HIDDEN), 1]
    points = draw(st.lists(numbers(nin), min_size=1, max_size=4))
    return NetCase(nin, nouts, draw(numbers(mlp_param_count(nin, nouts), reals(-1.0, 1.0))), points,
                   draw(st.lists(LABELS, min_size=len(points), max_size=len(points))))


NET_CASES = [  # regression case
    NetCase(2, [4, 3, 1], _rng_weights(500, mlp_param_count(2, [4, 3, 1])),
            [[0.5, -1.0], [1.5, 0.25], [-0.75, 0.5], [0.1, 0.9]], [1, -1, -1, 1]),
]


def net_batch(engine: Engine, cases: Sequence[NetCase]) -> None:
    """Identical weights in the student's MLP and zengrad_ref's: parameter order, scores, hinge-loss grads."""
    from zengrad_ref import Value as RValue
    from zengrad_ref.nn import MLP as RMLP

    cases = [c for c in cases if not c.on_kink()]
    if not cases:
        return
    s = Script()
    plan = []
    for c in cases:
        m = s.call(c.label, "MLP", const(c.nin), const(c.nouts))
        _, _, handles = mlp_handles(s, m, c.nin, c.nouts)
        for (_, h), v in zip(handles, c.weights, strict=True):
            s.setdata(h, v)
        r_order = s.read_order(f"{c.label}.parameters()", s.method("parameters()", m, "parameters"))
        scores = [s.method(f"{c.label}({_fmts(x)})", m, "__call__", const(x)) for x in c.points]
        r_scores = [s.read("a score", h) for h in scores]
        total = None
        for h, yi in zip(scores, c.labels, strict=True):
            margin = s.p.op("relu", s.p.op("add", s.p.op("mul", h, const(-yi)), const(1.0)))
            total = margin if total is None else s.p.op("add", total, margin)
        loss = s.p.op("mul", total, const(1.0 / len(c.points)))
        s.backward(f"{c.ctx}: backward() from the hinge loss of the scores", loss)
        r_grads = [s.read("a parameter", h) for _, h in handles]
        plan.append((c, handles, r_order, r_scores, r_grads))
    got = execute(engine, s)

    for c, handles, r_order, r_scores, r_grads in plan:
        ref = RMLP(c.nin, c.nouts, seed=0)
        ref.set_weights(c.weights)
        if got[r_order] != [h for _, h in handles]:
            raise CheckFailure(f"{c.label}.parameters() is out of order, expected layer by layer, neuron by "
                               "neuron, w[0], ..., w[nin-1], b")
        rscores = [ref([RValue(a) for a in x]) for x in c.points]
        for x, r, e in zip(c.points, r_scores, rscores, strict=True):
            if not close(got[r][0], e.data, REF_ATOL, REF_RTOL):
                raise CheckFailure(f"{c.ctx}: your score on x={_fmts(x)} is {fmt(got[r][0])}, expected "
                                   f"{fmt(e.data)}")
        rl = None
        for sc, yi in zip(rscores, c.labels, strict=True):
            mg = (1 + -yi * sc).relu()
            rl = mg if rl is None else rl + mg
        (rl * (1.0 / len(c.points))).backward()
        for (name, _), r, p in zip(handles, r_grads, ref.parameters(), strict=True):
            if not close(got[r][1], p.grad, REF_ATOL, REF_RTOL):
                raise CheckFailure(f"{c.ctx}: after backward() from the mean hinge loss, your {name}.grad = "
                                   f"{fmt(got[r][1])}, expected {fmt(p.grad)}")
    got.done()


def mlp_check(engine: Engine) -> None:
    @given(cases=batches(mlp_cases(), 4))
    def prop(cases: list[MLPCase]) -> None:
        mlp_batch(engine, cases)

    _run(prop, 16)
    mlp_batch(engine, MLP_CASES)

    @given(cases=batches(net_cases(), 3))
    def net(cases: list[NetCase]) -> None:
        net_batch(engine, cases)

    def against_reference() -> None:
        _run(net, 10)
        net_batch(engine, NET_CASES)

    # a difference from the reference only repeats a Neuron/Layer bug if those fail their own checks
    _unless_graded_elsewhere(engine, against_reference, "ps3.neuron", "ps3.layer")


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
        r_loss = s.read(f"{c.shown} must return one Value; reading it", loss)
        s.backward(f"backward() from {c.shown}", loss)
        plan.append((c, r_loss, [s.read("a score", h) for h in sh], [s.read("a parameter", h) for h in ph]))
    got = execute(engine, s)

    for c, r_loss, r_s, r_p in plan:
        rs = [RValue(v) for v in c.scores]
        rp = [RValue(v) for v in c.params]
        a = 1e-4 if c.alpha is None else c.alpha
        ref = svm_hinge_l2(rs, c.labels, rp, alpha=a)
        ref.backward()
        mine = got[r_loss][0]
        if not close(mine, ref.data, REF_ATOL, REF_RTOL):
            reg = a * sum(p * p for p in c.params)
            hint = ""
            if reg and close(mine, ref.data - reg, REF_ATOL, REF_RTOL):
                hint = " (the L2 term alpha * sum(p * p) is missing)"
            elif len(c.scores) > 1 and close(mine, (ref.data - reg) * len(c.scores) + reg, REF_ATOL, REF_RTOL):
                hint = " (average the margins: multiply their sum by 1.0 / n)"
            raise CheckFailure(f"{c.shown}: your loss is {fmt(mine)}, expected {fmt(ref.data)}{hint}")
        for what, reads, values in (("scores", r_s, rs), ("params", r_p, rp)):
            for i, (r, v) in enumerate(zip(reads, values, strict=True)):
                if not close(got[r][1], v.grad, REF_ATOL, REF_RTOL):
                    raise CheckFailure(f"{c.shown}: after backward(), your grad of {what}[{i}] is "
                                       f"{fmt(got[r][1])}, expected {fmt(v.grad)}")
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
    s = Script()
    plan = []
    for c in cases:
        shown = f"sgd_step(model, lr={fmt(c.lr)}) with parameters data {_fmts(c.data)} and grad {_fmts(c.grads)}"
        m, vals = patched_module(s, c.data, c.grads)
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


def _loop_check(engine: Engine) -> str:
    """The student's train() against the specified loop run with the student's own pieces.

    Returns "verified"; "unverified" when the specified loop cannot run on the student's
    pieces but train() can (then the accuracy run decides); or "pieces broken" when both fail
    inside the pieces (a bug graded in those pieces' cells).
    """
    nin, nouts, steps = 2, [4, 4, 1], LOOP_STEPS
    X, y = _moons(8, 1)
    weights = _rng_weights(600, mlp_param_count(nin, nouts))
    what = f"train(model, X, y, steps={steps}) with model = MLP(2, [4, 4, 1]) on 8 moons"

    s = Script()
    ma = s.call("MLP(2, [4, 4, 1])", "MLP", const(nin), const(nouts))
    _, _, ha = mlp_handles(s, ma, nin, nouts)
    for (_, h), v in zip(ha, weights, strict=True):
        s.setdata(h, v)
    train_step = len(s.p.steps)
    losses = s.call(what, "train", ma, const(X), const(y), const(steps))
    r_len = s.length(f"{what} must return a list of losses", losses)
    r_losses = [s.read_number(f"{what}: the losses must be numbers", s.item(f"{what}: losses", losses, k))
                for k in range(steps)]
    r_wa = [s.read("a parameter", h) for _, h in ha]

    t = Script()
    mb = t.call("MLP(2, [4, 4, 1])", "MLP", const(nin), const(nouts))
    _, _, hb = mlp_handles(t, mb, nin, nouts)
    for (_, h), v in zip(hb, weights, strict=True):
        t.setdata(h, v)
    r_lb = []
    for k in range(steps):
        scores = t.new_list([t.method("model(x)", mb, "__call__", const(x)) for x in X])
        params = t.method("model.parameters()", mb, "parameters")
        loss = t.call("svm_loss", "svm_loss", scores, const(y), params, const(1e-4))
        r_lb.append(t.read_number("the loss", loss))
        t.method("model.zero_grad()", mb, "zero_grad", result=False)
        t.backward("loss.backward()", loss)
        t.call("sgd_step", "sgd_step", mb, const(1.0 - 0.9 * k / steps), result=False)
    r_wb = [t.read("a parameter", h) for _, h in hb]
    got_b = engine.run(t.p)
    got_a = engine.run(s.p)
    if not got_a.ok:
        if r_len < len(got_a.reads) and got_a.reads[r_len] != steps:
            raise CheckFailure(f"{what} returned {int(got_a.reads[r_len])} losses, expected {steps} (one per step)")
        err = got_a.error or {}
        inside_train = err.get("step") is not None and err["step"] >= train_step
        if inside_train and err.get("type") != "NotImplementedError" and not got_b.ok:
            return "pieces broken"  # the specified loop fails on the student's pieces too: graded there
        raise_error(s, got_a)
    if not got_b.ok:
        return "unverified"
    mine_l = [got_a.reads[r] for r in r_losses]
    want_l = [got_b.reads[r] for r in r_lb]
    for k, (a, b) in enumerate(zip(mine_l, want_l, strict=True)):
        if not close(a, b, REF_ATOL, REF_RTOL):
            raise CheckFailure(f"{what}: your loss of step {k} is {fmt(a)}, expected {fmt(b)} (step k: scores of "
                               "every point, svm_loss(scores, y, model.parameters(), alpha), before the update)")
    for (name, _), ra, rb in zip(ha, r_wa, r_wb, strict=True):
        a, b = got_a.reads[ra][0], got_b.reads[rb][0]
        if not close(a, b, REF_ATOL, REF_RTOL):
            raise CheckFailure(f"{what}: afterwards {name} is {fmt(a)}, expected {fmt(b)} (each step: "
                               "model.zero_grad(), loss.backward(), sgd_step(model, 1.0 - 0.9 * k / steps))")
    return "verified"


def train_check(engine: Engine) -> None:
    loop = _loop_check(engine)
    if loop == "pieces broken":
        return
    if loop == "verified":  # the loop is right; a bug in a piece it uses is graded in that piece's cell
        _unless_graded_elsewhere(engine, lambda: _accuracy_check(engine), "ps3.zero_grad", "ps3.neuron",
                                 "ps3.layer", "ps3.mlp", "ps3.loss", "ps3.sgd")
    else:
        _accuracy_check(engine)


def _accuracy_check(engine: Engine) -> None:
    from zengrad_ref.nn import MLP as RMLP

    nouts = [*TRAIN_HIDDEN, 1]
    X, y = _moons(TRAIN_POINTS, TRAIN_SEED)
    weights = RMLP(2, nouts, seed=TRAIN_SEED).get_weights()
    what = (f"train(model, X, y, steps={TRAIN_STEPS}) with model = MLP(2, {nouts}) from fixed weights on "
            f"make_moons({TRAIN_POINTS}, noise=0.1, seed={TRAIN_SEED})")
    s = Script(timeout=TRAIN_TIMEOUT)
    m = s.call(f"MLP(2, {nouts})", "MLP", const(2), const(nouts))
    _, _, handles = mlp_handles(s, m, 2, nouts)
    for (_, h), v in zip(handles, weights, strict=True):
        s.setdata(h, v)
    s.call(what, "train", m, const(X), const(y), const(TRAIN_STEPS), result=False)
    r_scores = [s.read_number("a score of the trained model", s.method("model(x)", m, "__call__", const(x)))
                for x in X]
    got = run(engine, s)
    scores = [got.reads[r] for r in r_scores]
    hits = sum((sc > 0) == (yi > 0) for sc, yi in zip(scores, y, strict=True))
    if hits < TRAIN_TARGET * len(y):
        raise CheckFailure(f"{what}: training accuracy {hits}/{len(y)} = {hits / len(y):.1%}, expected at least "
                           f"{TRAIN_TARGET:.0%}")


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
    """Each Z[i][j] against the sign of the model's own score at [xs[j], ys[i]]."""
    s = Script()
    plan = []
    for c in cases:
        n = s.call("Neuron(2, nonlin=False) as the model", "Neuron", const(2), const(False))
        for (_, h), v in zip(neuron_handles(s, n, 2, "model"), [*c.w, c.b], strict=True):
            s.setdata(h, v)
        z = s.call(c.ctx, "decision_grid", n, const(c.xs), const(c.ys))
        r_scores = [[s.read_number("model([x, y])", s.method("model([x, y])", n, "__call__", const([xv, yv])))
                     for xv in c.xs] for yv in c.ys]
        r_rows = s.length(f"{c.what} must return a list of rows", z)
        rows = [s.item(f"{c.what}: row", z, i) for i in range(len(c.ys))]
        r_cols = [s.length(f"{c.what}: each row must be a list", r) for r in rows]
        r_z = [[s.read_number(f"{c.what}: the entries must be 0 or 1", s.item("entry", r, j))
                for j in range(len(c.xs))] for r in rows]
        plan.append((c, r_scores, r_rows, r_cols, r_z))
    got = execute(engine, s)

    for c, r_scores, r_rows, r_cols, r_z in plan:
        shape = f"{len(c.ys)} rows (one per y) of {len(c.xs)} entries (one per x)"
        if got[r_rows] != len(c.ys):
            raise CheckFailure(f"{c.ctx}: {int(got[r_rows])} rows, expected {shape}")
        for r in r_cols:
            if got[r] != len(c.xs):
                raise CheckFailure(f"{c.ctx}: a row of {int(got[r])} entries, expected {shape}")
        for i, yv in enumerate(c.ys):
            for j, xv in enumerate(c.xs):
                score, mine = got[r_scores[i][j]], got[r_z[i][j]]
                if abs(score) < KINK:  # on the boundary: either answer will do
                    want = mine if mine in (0.0, 1.0) else None
                else:
                    want = 1.0 if score > 0 else 0.0
                if mine != want:
                    raise CheckFailure(f"{c.ctx}: Z[{i}][{j}] is {fmt(mine)}, expected "
                                       f"{'0 or 1' if want is None else int(want)} (the model's score at [x, y] = "
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
