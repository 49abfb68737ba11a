"""Assignment 3 checks of the network's parts: ``Module.zero_grad``, ``Neuron``, ``Layer``, ``MLP``.

See the package's docstring (``autograder/checks/ps3/__init__.py``) for how every check works.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from autograder.checks.kit import CheckFailure, Engine, Program, batched, close, const, fmt, fmts, points, run
from autograder.checks.kit.compare import KINK
from autograder.checks.kit.compare import a as an
from autograder.checks.kit.compare import kinds as kinds_text
from autograder.checks.kit.nets import (
    call_zero_grad,
    check_one_value,
    check_parameters,
    hidden_kink,
    mlp_param_count,
    neuron_handles,
    read_parameters,
    rng_weights,
    zeroed,
)
from autograder.checks.kit.strategies import NUMBERS, SEEDS, numbers

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


ZERO_GRAD_CASES = [[(1.0, 2.5)], [(1.0, 1.5), (-2.0, -2.0), (0.5, 0.25)], [(3.0, 0.0), (0.0, -7.0)],
                   [(0.0, 1.5), (0.0, -2.0), (0.0, 0.5)]]  # equal data (every bias starts at 0.0)


def zero_grad_batch(engine: Engine, modules: Sequence[Sequence[tuple[float, float]]]) -> None:
    """Each module: (data, grad) of its parameters."""
    p = Program()
    plan = []
    for params in modules:
        data, grads = [d for d, _ in params], [g for _, g in params]
        ctx = f"zero_grad() on a module whose parameters have data {fmts(data)} and grad {fmts(grads)}"
        m, vals = patched_module(p, data, grads)
        plan.append((ctx, data, call_zero_grad(p, m, ctx, vals, vals, "a parameter")))
    got = run(engine, p)
    for ctx, data, reads in plan:
        after = zeroed(got, ctx, reads)
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
        check_one_value(got[r_kind], f"{c.ctx}: the call", "w, b and x")
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
        check_parameters(got, r_p, [(names[h], h) for h in want], f"Neuron({c.nin})",
                         "the neuron's own w and b (training must update the neuron itself)",
                         "w[0], ..., w[nin-1], then b")
    got.done()


neuron_check = batched("ps3.neuron", neuron_batch, neuron_cases(), 10, NEURON_CASES, skip=NeuronCase.on_kink)


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
    from zengrad_ref.engine import sum_values
    from zengrad_ref.nn import Layer as RLayer

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
        sum_values(routs).backward()
        names = [name for name, _ in handles] + [f"x[{i}]" for i in range(len(c.x) if c.as_values else 0)]
        expected = [p.grad for p in ref.parameters()] + ([v.grad for v in rx] if c.as_values else [])
        for name, r, e in zip(names, r_grads, expected, strict=True):
            if not close(got[r][1], e):
                raise CheckFailure(f"{c.ctx}: after backward() from the sum of the outputs, {name}.grad = "
                                   f"{fmt(got[r][1])}, expected {fmt(e)} (return the neurons' Values themselves)")
        check_parameters(got, r_p, handles, c.label, "the neurons' own (training must update the neurons themselves)",
                         "each neuron's parameters(), neuron by neuron")
    got.done()


layer_check = batched("ps3.layer", layer_batch, layer_cases(), 12, LAYER_CASES, size=6, skip=LayerCase.on_kink)


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
    from zengrad_ref.engine import sum_values
    from zengrad_ref.nn import MLP as RMLP

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
        sum_values(routs).backward()
        for (name, _), r, p in zip(handles, r_grads, ref.parameters(), strict=True):
            if not close(got[r][1], p.grad):
                raise CheckFailure(f"{label} on x={points(c.xs)}: after backward() from the sum of the outputs, "
                                   f"{name}.grad = {fmt(got[r][1])}, expected {fmt(p.grad)}")
        check_parameters(got, r_p, handles, label, "the layers' own (training must update the network itself)",
                         "the first layer's parameters(), then the second's, ...")
    got.done()


mlp_check = batched("ps3.mlp", mlp_batch, mlp_cases(), 16, MLP_CASES, size=4, skip=MLPCase.on_kink)
