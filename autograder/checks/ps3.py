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

from hypothesis import strategies as st

from autograder.checks import register
from autograder.checks.kit import CheckFailure, Engine, Program, batched, close, const, fmt, fmts, points, run
from autograder.checks.kit.compare import KINK
from autograder.checks.kit.compare import a as an
from autograder.checks.kit.compare import kinds as kinds_text
from autograder.checks.kit.nets import (
    hidden_kink,
    mlp_param_count,
    neuron_handles,
    param_names,
    params_problem,
    read_parameters,
    rng_weights,
    run_training,
)
from autograder.checks.kit.strategies import LABELS, NUMBERS, SCORES, SEEDS, numbers, reals

TRAIN_HIDDEN = [16, 16]  # MLP(2, [16, 16, 1]): micrograd's network
TRAIN_POINTS, TRAIN_SEED, TRAIN_STEPS = 40, 0, 25  # zengrad_ref: 100% training accuracy
TRAIN_TARGET = 0.95
TRAIN_CPU = 60.0  # CPU seconds for the full training program (about 3 s on a 2-core CI runner)
PIECES = "ps3"  # autograder/checks/pieces/ps3.py


# --- Module.zero_grad ------------------------------------------------------------
def patched_module(p: Program, values: Sequence[float], grads: Sequence[float]) -> tuple[int, list[int]]:
    """The student's bare ``Module()`` whose ``parameters()`` returns fresh Values (a copy of a list each call)."""
    m = p.call("Module", what="Module()")
    vals = []
    for x, g in zip(values, grads, strict=True):
        v = p.leaf(x)
        p.set_grad(v, g)
        vals.append(v)
    lst = p.new_list(*vals)
    copy = p.method(lst, "__getattribute__", const("copy"))
    p.method(m, "__setattr__", const("parameters"), copy, result=False)
    return m, vals


ZERO_GRAD_CASES = [[(1.0, 2.5)], [(1.0, 1.5), (-2.0, -2.0), (0.5, 0.25)], [(3.0, 0.0), (0.0, -7.0)]]


def zero_grad_batch(engine: Engine, modules: Sequence[Sequence[tuple[float, float]]]) -> None:
    """Each module: (data, grad) of its parameters."""
    p = Program()
    plan = []
    for params in modules:
        data, grads = [d for d, _ in params], [g for _, g in params]
        ctx = f"zero_grad() on a module whose parameters have data {fmts(data)} and grad {fmts(grads)}"
        m, vals = patched_module(p, data, grads)
        p.method(m, "zero_grad", result=False, what=ctx)
        r_kinds = [p.read_kind(p.attr(v, "grad", what=ctx), ctx) for v in vals]
        plan.append((ctx, data, r_kinds, [p.read(v, "a parameter") for v in vals]))
    got = run(engine, p)
    for ctx, data, r_kinds, reads in plan:
        kinds = [got[r] for r in r_kinds]
        if any(k not in ("float", "int") for k in kinds):
            raise CheckFailure(f"{ctx}: a grad is {an(next(k for k in kinds if k not in ('float', 'int')))} "
                               "afterwards, expected 0.0")
        after = [got[r] for r in reads]
        if [g for _, g in after] != [0.0] * len(data):
            raise CheckFailure(f"{ctx}: the grads are {fmts([g for _, g in after])} afterwards, "
                               f"expected {fmts([0.0] * len(data))}")
        if [d for d, _ in after] != data:
            raise CheckFailure(f"{ctx}: the data changed to {fmts([d for d, _ in after])}, expected "
                               f"{fmts(data)} (zero_grad() only resets grad)")
    got.done()


def zero_grad_without_parameters(engine: Engine) -> None:
    p = Program()
    m = p.call("Module", what="Module()")
    p.method(m, "zero_grad", result=False, what="zero_grad() on a Module without parameters")
    run(engine, p).done()


_zero_grad_batches = batched("ps3.zero_grad", zero_grad_batch, st.lists(st.tuples(NUMBERS, NUMBERS), min_size=1,
                                                                   max_size=4), 10, ZERO_GRAD_CASES)


def zero_grad_check(engine: Engine) -> None:
    _zero_grad_batches(engine)
    zero_grad_without_parameters(engine)


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
        return (f"{self.label} with w={fmts(self.w)}, b={fmt(self.b)}, x={fmts(self.x)}"
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
    p = Program()
    plan = []
    for c in cases:
        n = p.call("Neuron", const(c.nin), const(c.nonlin), what=c.ctx)
        handles = neuron_handles(p, n, c.nin, "neuron")
        for (_, h), v in zip(handles, [*c.w, c.b], strict=True):
            p.set_data(h, v)
        xs = [p.leaf(v) for v in c.x] if c.as_values else []
        arg = p.new_list(*xs) if c.as_values else const(list(c.x))
        out = p.method(n, "__call__", arg, what=f"{c.ctx}: calling it")
        r_kind = p.read_kind(out, f"{c.ctx}: calling it")
        r_out = p.read(out, f"{c.ctx}: the call must return one Value; reading its data and grad")
        p.backward(out, what=f"{c.ctx}: backward() from the output")
        r_params = [p.read(h, "a parameter") for _, h in handles]
        r_x = [p.read(h, "an input") for h in xs]
        plan.append((c, handles, r_kind, r_out, r_params, r_x, read_parameters(p, f"Neuron({c.nin})", n)))
    got = run(engine, p)

    for c, handles, r_kind, r_out, r_params, r_x, r_p in plan:
        ref = RNeuron(c.nin, nonlin=c.nonlin, rng=random.Random(0))
        ref.set_weights([*c.w, c.b])
        rx = [RValue(v) for v in c.x]
        rout = ref(rx)
        rout.backward()
        if got[r_kind] != "Value":
            raise CheckFailure(f"{c.ctx}: the call returned {an(got[r_kind])}, expected one Value (built from "
                               "Value operations, so that backward() reaches w, b and x)")
        mine = got[r_out][0]
        if not close(mine, rout.data):
            hint = ""
            if close(mine, rout.data - c.b) and c.b:
                hint = " (is the bias missing?)"
            elif c.nonlin and c.act < 0 and close(mine, c.act):
                hint = " (with nonlin=True the output is relu(act))"
            elif not c.nonlin and c.act < 0 and mine == 0.0:
                hint = " (with nonlin=False there is no relu)"
            raise CheckFailure(f"{c.ctx}: your output is {fmt(mine)}, expected {fmt(rout.data)}{hint}")
        grads = [got[r][1] for r in r_params]
        for (name, _), g, p in zip(handles, grads, ref.parameters(), strict=True):
            if not close(g, p.grad):
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
            if not close(g, xv.grad):
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


neuron_check = batched("ps3.neuron", neuron_batch, neuron_cases(), 10, NEURON_CASES)


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
        return f"{self.label} on x={fmts(self.x)}" + (" (x as Values)" if self.as_values else "")

    def weights(self) -> list[float]:
        return rng_weights(self.seed, (self.nin + 1) * self.nout)

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
    p = Program()
    p.use_known_good(PIECES, "Neuron")
    plan = []
    for c in cases:
        label, nout = c.label, c.nout
        layer = p.call("Layer", const(c.nin), const(nout),
                       kwargs=None if c.nonlin else {"nonlin": const(False)}, what=label)
        neurons_list = p.attr(layer, "neurons", what=f"{label}.neurons")
        r_count = p.read_length(neurons_list, f"{label}.neurons must be a list of neurons")
        neurons = [p.item(neurons_list, j, what=f"{label}.neurons[{j}]") for j in range(nout)]
        r_nonlin = [p.read_number(p.attr(n, "nonlin", what=f"{label}.neurons[{j}].nonlin"),
                                  f"{label}.neurons[{j}].nonlin") for j, n in enumerate(neurons)]
        handles = [h for j, n in enumerate(neurons) for h in neuron_handles(p, n, c.nin, f"neurons[{j}]")]
        for (_, h), v in zip(handles, c.weights(), strict=True):
            p.set_data(h, v)
        xs = [p.leaf(v) for v in c.x] if c.as_values else []
        arg = p.new_list(*xs) if c.as_values else const(list(c.x))
        out = p.method(layer, "__call__", arg, what=f"{c.ctx}: calling it")
        r_kind = p.read_kind(out, f"{c.ctx}: calling it")
        if nout == 1:
            r_kinds = None
            r_out = p.read(out, f"{c.ctx}: the call must return the single neuron's Value itself; reading it")
            outs = [out]
        else:
            r_kinds = p.read_kinds(out, f"{c.ctx}: the call must return a list of Values")
            r_out = p.read_list(out, f"{c.ctx}: the call must return a list of Values; reading it")
            outs = [p.item(out, j, what=f"{c.ctx}: output") for j in range(nout)]
        p.backward(p.sum(outs), what=f"{c.ctx}: backward() from the sum of the outputs")
        r_grads = [p.read(h, "a parameter") for _, h in handles] + [p.read(h, "an input") for h in xs]
        plan.append((c, handles, r_count, r_nonlin, r_kind, r_kinds, r_out, r_grads,
                     read_parameters(p, label, layer)))
    got = run(engine, p)

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
            raise CheckFailure(f"{c.ctx}: the call returned {an(got[r_kind])}, expected the single neuron's Value "
                               "itself, not a list")
        if c.nout > 1:
            if got[r_kind] != "list":
                raise CheckFailure(f"{c.ctx}: the call returned {an(got[r_kind])}, expected a list of "
                                   f"{c.nout} Values")
            kinds = got[r_kinds]
            if len(kinds) != c.nout:
                raise CheckFailure(f"{c.ctx}: your layer returned {len(kinds)} outputs, expected {c.nout}")
            if any(k != "Value" for k in kinds):
                raise CheckFailure(f"{c.ctx}: the call returned a list of {kinds_text(kinds)}, expected a list of "
                                   "Values (the neurons' outputs themselves)")
        mine = [got[r_out][0]] if c.nout == 1 else [d for d, _ in got[r_out]]
        for j, (a, e) in enumerate(zip(mine, routs, strict=True)):
            if not close(a, e.data):
                raise CheckFailure(f"{c.ctx}: output {j} is {fmt(a)}, expected {fmt(e.data)}, what neurons[{j}](x) "
                                   "gives (the neurons' outputs, in order)")
        total = routs[0]
        for e in routs[1:]:
            total = total + e
        total.backward()
        names = [name for name, _ in handles] + [f"x[{i}]" for i in range(len(c.x) if c.as_values else 0)]
        expected = [p.grad for p in ref.parameters()] + ([v.grad for v in rx] if c.as_values else [])
        for name, r, e in zip(names, r_grads, expected, strict=True):
            if not close(got[r][1], e):
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


layer_check = batched("ps3.layer", layer_batch, layer_cases(), 12, LAYER_CASES, size=6)


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
        return rng_weights(self.seed, mlp_param_count(self.nin, self.nouts))

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
    p = Program()
    p.use_known_good(PIECES, "Neuron", "Layer")
    plan = []
    for c in cases:
        label, nouts = c.label, c.nouts
        sizes = [c.nin, *nouts]
        m = p.call("MLP", const(c.nin), const(nouts), what=label)
        layers = p.attr(m, "layers", what=f"{label}.layers (store the layers in self.layers)")
        r_layers = p.read_length(layers, f"{label}.layers must be a list of layers")
        lh = [p.item(layers, i, what=f"{label}.layers[{i}]") for i in range(len(nouts))]
        nl = [p.attr(h, "neurons", what=f"{label}.layers[{i}].neurons") for i, h in enumerate(lh)]
        r_sizes = [p.read_length(h, f"{label}.layers[{i}].neurons") for i, h in enumerate(nl)]
        structure, handles = [], []
        for i, nout in enumerate(nouts):
            for j in range(nout):
                n = p.item(nl[i], j, what=f"{label}.layers[{i}].neurons[{j}]")
                structure.append((i, p.read_length(p.attr(n, "w", what="w"), "w"),
                                  p.read_number(p.attr(n, "nonlin", what="nonlin"), "nonlin")))
                handles += neuron_handles(p, n, sizes[i], f"layer {i} neuron {j}")
        for (_, h), v in zip(handles, c.weights(), strict=True):
            p.set_data(h, v)
        forward, outs = [], []
        for x in c.xs:
            what = f"{label}({fmts(x)})"
            out = p.method(m, "__call__", const(x), what=what)
            r_kind = p.read_kind(out, what)
            if nouts[-1] == 1:
                forward.append((x, r_kind, None, p.read(out, f"{what} must return one Value")))
                outs.append(out)
            else:
                r_kinds = p.read_kinds(out, f"{what} must return a list of Values")
                forward.append((x, r_kind, r_kinds, p.read_list(out, f"{what} must return a list of Values")))
                outs += [p.item(out, j, what=f"{what}: output") for j in range(nouts[-1])]
        p.backward(p.sum(outs), what=f"{label}: backward() from the sum of its outputs")
        r_grads = [p.read(h, "a parameter") for _, h in handles]
        plan.append((c, r_layers, r_sizes, structure, forward, handles, r_grads, read_parameters(p, label, m)))
    got = run(engine, p)

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
            shown = f"{label} on x={fmts(x)}"
            if nouts[-1] == 1 and got[r_kind] != "Value":
                raise CheckFailure(f"{shown}: returned {an(got[r_kind])}, expected one Value (the last layer has "
                                   "one neuron)")
            if nouts[-1] > 1:
                if got[r_kind] != "list":
                    raise CheckFailure(f"{shown}: returned {an(got[r_kind])}, expected a list of {nouts[-1]} Values")
                kinds = got[r_kinds]
                if len(kinds) != nouts[-1] or any(k != "Value" for k in kinds):
                    raise CheckFailure(f"{shown}: returned a list of {len(kinds)} {kinds_text(kinds)}, expected "
                                       f"{nouts[-1]} Values")
            mine = [got[r_out][0]] if nouts[-1] == 1 else [d for d, _ in got[r_out]]
            if not all(close(a, e.data) for a, e in zip(mine, want, strict=True)):
                raise CheckFailure(f"{shown}: your output is {fmts(mine)}, expected {fmts([e.data for e in want])} "
                                   "(x fed through the layers in turn)")
        total = routs[0]
        for e in routs[1:]:
            total = total + e
        total.backward()
        for (name, _), r, p in zip(handles, r_grads, ref.parameters(), strict=True):
            if not close(got[r][1], p.grad):
                raise CheckFailure(f"{label} on x={points(c.xs)}: after backward() from the sum of the outputs, "
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


mlp_check = batched("ps3.mlp", mlp_batch, mlp_cases(), 16, MLP_CASES, size=4)


# --- svm_loss -----------------------------------------------------------------------
@dataclass
class LossCase:
    scores: list[float]
    labels: list[int]
    params: list[float]
    alpha: float | None = None  # None: the default

    @property
    def shown(self) -> str:
        return (f"svm_loss(scores={fmts(self.scores)}, y={self.labels}, params={fmts(self.params)}"
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
    p = Program()
    plan = []
    for c in cases:
        sh = [p.leaf(v) for v in c.scores]
        ph = [p.leaf(v) for v in c.params]
        args = [p.new_list(*sh), const(c.labels), p.new_list(*ph)] + ([const(c.alpha)] if c.alpha is not None else [])
        loss = p.call("svm_loss", *args, what=c.shown)
        r_kind = p.read_kind(loss, c.shown)
        r_loss = p.read(loss, f"{c.shown} must return one Value; reading it")
        p.backward(loss, what=f"backward() from {c.shown}")
        plan.append((c, r_kind, r_loss, [p.read(h, "a score") for h in sh], [p.read(h, "a parameter") for h in ph]))
    got = run(engine, p)

    for c, r_kind, r_loss, r_s, r_p in plan:
        rs = [RValue(v) for v in c.scores]
        rp = [RValue(v) for v in c.params]
        a = 1e-4 if c.alpha is None else c.alpha
        ref = svm_hinge_l2(rs, c.labels, rp, alpha=a)
        ref.backward()
        if got[r_kind] != "Value":
            raise CheckFailure(f"{c.shown} returned {an(got[r_kind])}, expected one Value (built from Value "
                               "operations, so that backward() reaches every score and parameter)")
        mine = got[r_loss][0]
        if not close(mine, ref.data):
            reg = a * sum(p * p for p in c.params)
            hint = ""
            if reg and close(mine, ref.data - reg):
                hint = " (the L2 term alpha * sum(p * p) is missing)"
            elif len(c.scores) > 1 and close(mine, (ref.data - reg) * len(c.scores) + reg):
                hint = " (average the margins: multiply their sum by 1.0 / n)"
            elif c.alpha is None and c.params and close(mine, ref.data - reg + 1e-3 * reg / a, 1e-9, 1e-3):
                hint = " (the default alpha is 1e-4)"
            raise CheckFailure(f"{c.shown}: your loss is {fmt(mine)}, expected {fmt(ref.data)}{hint}")
        for what, reads, values in (("scores", r_s, rs), ("params", r_p, rp)):
            for i, (r, v) in enumerate(zip(reads, values, strict=True)):
                if not close(got[r][1], v.grad):
                    raise CheckFailure(f"{c.shown}: after backward(), your grad of {what}[{i}] is "
                                       f"{fmt(got[r][1])}, expected {fmt(v.grad)} (build the loss from Value "
                                       f"operations on the {what} themselves)")
    got.done()


loss_check = batched("ps3.loss", loss_batch, loss_cases(), 10, LOSS_CASES)


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
    p = Program()
    p.use_known_good(PIECES, "Params")
    plan = []
    for c in cases:
        shown = f"sgd_step(model, lr={fmt(c.lr)}) with parameters data {fmts(c.data)} and grad {fmts(c.grads)}"
        vals = []
        for x, g in zip(c.data, c.grads, strict=True):
            v = p.leaf(x)
            p.set_grad(v, g)
            vals.append(v)
        m = p.call("Params", p.new_list(*vals), what="a model with parameters()")
        p.call("sgd_step", m, const(c.lr), result=False, what=shown)
        plan.append((c, shown, [p.read(v, "a parameter") for v in vals]))
    got = run(engine, p)
    for c, shown, reads in plan:
        mine = [got[r][0] for r in reads]
        want = [d - c.lr * g for d, g in zip(c.data, c.grads, strict=True)]
        if not all(close(a, b) for a, b in zip(mine, want, strict=True)):
            hint = ""
            if all(close(a, d + c.lr * g) for a, d, g in zip(mine, c.data, c.grads, strict=True)):
                hint = " (the parameters moved up the gradient: subtract lr * grad)"
            elif mine == c.data:
                hint = " (the parameters did not move: update p.data in place)"
            raise CheckFailure(f"{shown}: data afterwards {fmts(mine)}, expected {fmts(want)}{hint}")
        grads = [got[r][1] for r in reads]
        if grads != c.grads:
            raise CheckFailure(f"{shown}: grad afterwards {fmts(grads)}, expected {fmts(c.grads)} (sgd_step "
                               "leaves the gradients alone)")
    got.done()


sgd_check = batched("ps3.sgd", sgd_batch, sgd_cases(), 10, SGD_CASES)


# --- train -------------------------------------------------------------------------------
def _moons(n: int, seed: int) -> tuple[list[list[float]], list[int]]:
    from zengrad_ref.data import make_moons

    return make_moons(n_samples=n, noise=0.1, seed=seed)


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
        return rng_weights(self.weight_seed, mlp_param_count(2, self.nouts))

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
    trained = run_training(engine, case.shown, pieces=PIECES, known_good=("svm_loss", "sgd_step"), nouts=nouts,
                           weights=case.weights(), X=X, y=y, steps=case.steps,
                           extra=[case.alpha] if case.alpha is not None else [],
                           timeout=TRAIN_CPU if target is not None else None)
    mine, weights, got = trained.losses, trained.weights, trained.reads
    if target is not None:
        acc = train_accuracy(case, weights)
        if acc < target:
            raise CheckFailure(f"{case.shown} from fixed weights: training accuracy {acc:.1%}, expected at "
                               f"least {target:.0%}")
    want, want_w, kink = reference_training(case)
    if kink:  # the answer hinges on rounding: the accuracy (if asked for) decides alone
        return
    for k, (a, b) in enumerate(zip(mine, want, strict=True)):
        if not close(a, b):
            hint = " (computed after the update?)" if k + 1 < len(want) and close(a, want[k + 1]) else ""
            raise CheckFailure(f"{case.shown}: your loss of step {k} is {fmt(a)}, expected {fmt(b)}{hint} (step k: "
                               "the scores of every x in X, svm_loss(scores, y, model.parameters(), alpha), "
                               "before the update)")
    names = param_names(2, nouts)
    for name, a, b in zip(names, weights, want_w, strict=True):
        if not close(a, b):
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
        return f"decision_grid(model, xs={fmts(self.xs)}, ys={fmts(self.ys)})"

    @property
    def ctx(self) -> str:
        return f"{self.what} with model = Neuron(2, nonlin=False), w={fmts(self.w)}, b={fmt(self.b)}"


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

    p = Program()
    p.use_known_good(PIECES, "Neuron")
    plan = []
    for c in cases:
        n = p.call("Neuron", const(2), const(False), what="Neuron(2, nonlin=False) as the model")
        p.set_data_list(p.method(n, "parameters", what="model.parameters()"), [*c.w, c.b])
        z = p.call("decision_grid", n, const(c.xs), const(c.ys), what=c.ctx)
        r_kind = p.read_kind(z, c.ctx)
        r_rows = p.read_kinds(z, f"{c.what} must return a list of rows")
        rows = [p.item(z, i, what=f"{c.what}: row") for i in range(len(c.ys))]
        r_cols = [p.read_kinds(r, f"{c.what}: each row must be a list") for r in rows]
        r_z = [[p.read_number(p.item(r, j, what="entry"), f"{c.what}: the entries must be 0 or 1")
                for j in range(len(c.xs))] for r in rows]
        plan.append((c, r_kind, r_rows, r_cols, r_z))
    got = run(engine, p)

    for c, r_kind, r_rows, r_cols, r_z in plan:
        shape = f"{len(c.ys)} rows (one per y) of {len(c.xs)} entries (one per x)"
        if got[r_kind] != "list":
            raise CheckFailure(f"{c.ctx}: returned {an(got[r_kind])}, expected a list of {shape}")
        rows = got[r_rows]
        if len(rows) != len(c.ys):
            raise CheckFailure(f"{c.ctx}: {len(rows)} rows, expected {shape}")
        if any(k != "list" for k in rows):
            raise CheckFailure(f"{c.ctx}: a row is {an(next(k for k in rows if k != 'list'))}, expected a list "
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
                    raise CheckFailure(f"{c.ctx}: Z[{i}][{j}] is {an(kinds[j])} ({shown}), expected the int 1 or 0")
                if abs(score) < KINK:  # on the boundary: either answer will do
                    want = mine if mine in (0, 1) else None
                else:
                    want = 1 if score > 0 else 0
                if mine != want:
                    raise CheckFailure(f"{c.ctx}: Z[{i}][{j}] is {int(mine)}, expected "
                                       f"{'0 or 1' if want is None else want} (the model's score at [x, y] = "
                                       f"[{fmt(xv)}, {fmt(yv)}] is {fmt(score)})")
    got.done()


grid_check = batched("ps3.grid", grid_batch, grid_cases(), 14, GRID_CASES, size=5)


register("ps3.zero_grad", "Module.zero_grad")(zero_grad_check)
register("ps3.neuron", "Neuron")(neuron_check)
register("ps3.layer", "Layer")(layer_check)
register("ps3.mlp", "MLP")(mlp_check)
register("ps3.loss", "svm_loss")(loss_check)
register("ps3.sgd", "sgd_step")(sgd_check)
register("ps3.train", "train")(train_check)
register("ps3.grid", "decision_grid")(grid_check)
