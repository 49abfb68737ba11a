"""Assignment 3 checks: ``Module.zero_grad``, ``Neuron``, ``Layer``, ``MLP``, ``svm_loss``,
``sgd_step``, ``train`` and ``decision_grid``.

Every check drives student code through adapter programs and compares it with
``zengrad_ref`` on the trusted side. Weights are injected through the given
attributes (``Neuron.w``/``.b``, ``Layer.neurons``, ``MLP.layers``), never
through the student's ``parameters()``, so identical weights land in the
student's network and in the reference whatever ``parameters()`` returns.

Each check grades one cell and depends on no other student cell where that is
possible, so a bug costs the points of its own cell only:

* ``zero_grad`` and ``sgd`` run on a bare ``Module()`` whose ``parameters``
  is a list of fresh ``Value``s, and ``loss`` on lists of fresh ``Value``s;
* ``layer``, ``mlp`` and ``grid`` compare the student's code with the student's
  own neurons/layers/model (relative checks); ``mlp`` adds the comparison with
  ``zengrad_ref.nn.MLP`` (forward, parameter order, loss gradients) only when
  the student's ``Neuron`` and ``Layer`` pass their own checks;
* ``train`` first checks that the loop combines the student's own
  ``svm_loss``/``zero_grad``/``sgd_step``/``MLP`` exactly as specified (same
  losses and weights as the specified loop run with those same pieces), then,
  when every piece passes its own check, trains ``MLP(2, [16, 16, 1])`` from
  fixed weights and requires >= 95% training accuracy, computed here from the
  plain scores the worker returns.

The one unavoidable dependency: a check needs the objects it drives to exist
(``layer`` needs a ``Neuron`` that can be called, ``mlp`` a ``Layer``, ``train``
an ``MLP``, ``grid`` a ``Neuron``); a missing one reports "not implemented yet".
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from autograder.adapter import CheckAborted, Engine, Outcome, Program, const
from autograder.checks import REGISTRY, CheckFailure, StopCheck, register
from autograder.checks.gradients import REF_ATOL, REF_RTOL, close, fmt

TRAIN_HIDDEN = [16, 16]  # MLP(2, [16, 16, 1]): micrograd's network
TRAIN_POINTS, TRAIN_SEED, TRAIN_STEPS = 40, 0, 25  # zengrad_ref: 100% training accuracy
TRAIN_TARGET = 0.95
TRAIN_TIMEOUT = 60.0  # seconds for the full training program (about 3 s of CPU on a 2-core CI runner)
LOOP_STEPS = 3  # the relative loop check: 3 steps, so the learning-rate schedule is visible


def _fmts(xs: Sequence[float]) -> str:
    return "[" + ", ".join(fmt(x) for x in xs) + "]"


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


def _passes(engine: Engine, *check_ids: str) -> bool:
    """Whether the student's other parts pass their own checks (decides what else can be compared)."""
    for check_id in check_ids:
        try:
            REGISTRY[check_id].fn(engine)
        except (CheckFailure, StopCheck, CheckAborted):
            return False
    return True


# --- Module.zero_grad ------------------------------------------------------------
def zero_grad_check(engine: Engine) -> None:
    cases = [([1.0], [2.5]), ([1.0, -2.0, 0.5], [1.5, -2.0, 0.25]), ([3.0, 0.0], [0.0, -7.0])]
    for values, grads in cases:
        s = Script()
        m, vals = patched_module(s, values, grads)
        s.method("zero_grad()", m, "zero_grad", result=False)
        reads = [s.read("a parameter", v) for v in vals]
        out = run(engine, s)
        got = [out.reads[r] for r in reads]
        ctx = f"zero_grad() on a module whose parameters have data {_fmts(values)} and grad {_fmts(grads)}"
        if [g for _, g in got] != [0.0] * len(values):
            raise CheckFailure(f"{ctx}: the grads are {_fmts([g for _, g in got])} afterwards, "
                               f"expected {_fmts([0.0] * len(values))}")
        if [d for d, _ in got] != list(values):
            raise CheckFailure(f"{ctx}: the data changed to {_fmts([d for d, _ in got])}, expected "
                               f"{_fmts(values)} (zero_grad() only resets grad)")
    s = Script()
    m = s.call("Module()", "Module")
    s.method("zero_grad() on a Module without parameters", m, "zero_grad", result=False)
    run(engine, s)


# --- Neuron -----------------------------------------------------------------------
NEURON_CASES = [  # (nin, nonlin, w, b, x, inputs as Values), simplest first
    (1, False, [2.0], 0.5, [3.0], False),
    (2, False, [2.0, -1.0], 0.5, [3.0, 4.0], False),
    (2, True, [0.5, -1.5], 0.25, [2.0, 0.5], False),
    (2, True, [0.5, -1.5], -0.25, [-1.0, 1.0], False),
    (3, False, [0.3, -0.7, 1.1], -0.2, [1.5, 0.5, -2.0], True),
    (4, True, [0.9, 0.2, -0.4, 0.6], 0.1, [1.0, -0.5, 0.25, 2.0], True),
]


def neuron_check(engine: Engine) -> None:
    from zengrad_ref import Value as RValue
    from zengrad_ref.nn import Neuron as RNeuron

    for nin, nonlin, w, b, x, as_values in NEURON_CASES:
        label = f"Neuron({nin}, nonlin={nonlin})"
        ctx = f"{label} with w = {_fmts(w)}, b = {fmt(b)} on x = {_fmts(x)}"
        s = Script()
        n = s.call(label, "Neuron", const(nin), const(nonlin))
        handles = neuron_handles(s, n, nin, "neuron")
        for (_, h), v in zip(handles, [*w, b], strict=True):
            s.setdata(h, v)
        xs = [s.leaf(v) for v in x] if as_values else []
        arg = s.new_list(xs) if as_values else const(list(x))
        out = s.method(f"{label}(x)", n, "__call__", arg)
        r_out = s.read(f"{label}(x) must return one Value; reading its data and grad", out)
        s.backward(f"backward() from the output of {label}(x)", out)
        r_params = [s.read("a parameter", h) for _, h in handles]
        r_x = [s.read("an input", h) for h in xs]
        params = s.method(f"{label}.parameters()", n, "parameters")
        r_order = s.read_order(f"{label}.parameters() must return a list of Values", params)
        got = run(engine, s)

        ref = RNeuron(nin, nonlin=nonlin, rng=random.Random(0))
        ref.set_weights([*w, b])
        rx = [RValue(v) for v in x]
        rout = ref(rx)
        rout.backward()
        act = b + sum(wi * xi for wi, xi in zip(w, x, strict=True))
        mine = got.reads[r_out][0]
        if not close(mine, rout.data, REF_ATOL, REF_RTOL):
            hint = ""
            if close(mine, rout.data - b, REF_ATOL, REF_RTOL) and b:
                hint = " (is the bias missing?)"
            elif nonlin and act < 0 and close(mine, act, REF_ATOL, REF_RTOL):
                hint = " (with nonlin=True the output is relu(act))"
            elif not nonlin and act < 0 and mine == 0.0:
                hint = " (with nonlin=False there is no relu)"
            raise CheckFailure(f"{ctx}: your output is {fmt(mine)}, expected {fmt(rout.data)}{hint}")
        expected = [p.grad for p in ref.parameters()]
        for (name, _), r, e in zip(handles, r_params, expected, strict=True):
            g = got.reads[r][1]
            if not close(g, e, REF_ATOL, REF_RTOL):
                raise CheckFailure(f"{ctx}: after backward() from the output, your {name.replace('neuron.', '')}.grad "
                                   f"= {fmt(g)}, expected {fmt(e)} (the output must be built from Value operations "
                                   "on the weights and the bias)")
        for i, (r, xv) in enumerate(zip(r_x, rx if as_values else [], strict=True)):
            g = got.reads[r][1]
            if not close(g, xv.grad, REF_ATOL, REF_RTOL):
                raise CheckFailure(f"{ctx} (x given as Values): after backward(), your x[{i}].grad = {fmt(g)}, "
                                   f"expected {fmt(xv.grad)}")
        names = {h: name.replace("neuron.", "") for name, h in handles}
        order = got.reads[r_order]
        want = [name.replace("neuron.", "") for name, _ in handles]
        mine_names = [names.get(h, "a copy") for h in order]
        if mine_names != want:
            if len(order) != len(want):
                raise CheckFailure(f"Neuron({nin}).parameters() returned {len(order)} Values, expected {len(want)}: "
                                   f"{', '.join(want)}")
            if "a copy" in mine_names:
                raise CheckFailure(f"Neuron({nin}).parameters() returned new Values, expected the neuron's own w "
                                   "and b (training must update the neuron itself)")
            raise CheckFailure(f"Neuron({nin}).parameters() returned [{', '.join(mine_names)}], expected "
                               f"[{', '.join(want)}]")


# --- Layer ------------------------------------------------------------------------
LAYER_CASES = [  # (nin, nout, x, inputs as Values)
    (2, 2, [0.5, -1.0], False),
    (3, 1, [1.0, 0.5, -0.5], False),
    (3, 4, [0.25, -1.5, 2.0], True),
]


def layer_check(engine: Engine) -> None:
    for case, (nin, nout, x, as_values) in enumerate(LAYER_CASES):
        label = f"Layer({nin}, {nout})"
        ctx = f"{label} on x = {_fmts(x)}"
        weights = _rng_weights(100 + case, (nin + 1) * nout)
        # program 1: forward, gradients and parameter order, relative to the layer's own neurons
        s = Script()
        layer = s.call(label, "Layer", const(nin), const(nout))
        neurons_list = s.attr(f"{label}.neurons", layer, "neurons")
        neurons = [s.item(f"{label}.neurons[{j}]", neurons_list, j) for j in range(nout)]
        handles = [h for j, n in enumerate(neurons) for h in neuron_handles(s, n, nin, f"neuron {j}")]
        for (_, h), v in zip(handles, weights, strict=True):
            s.setdata(h, v)
        xs = [s.leaf(v) for v in x] if as_values else []
        arg = s.new_list(xs) if as_values else const(list(x))
        out = s.method(f"{label}(x)", layer, "__call__", arg)
        own = [s.method(f"{label}.neurons[{j}](x)", n, "__call__", arg) for j, n in enumerate(neurons)]
        r_own = [s.read("a neuron's output", o) for o in own]
        if nout == 1:
            r_out = s.read(f"{label}(x) must return the single neuron's Value itself, not a list; reading it", out)
            outs = [out]
        else:
            r_out = s.read_list(f"{label}(x) must return a list of Values; reading it", out)
            r_len = s.length(f"{label}(x) must return a list", out)
            outs = [s.item(f"{label}(x)", out, j) for j in range(nout)]
        root = outs[0]
        for o in outs[1:]:
            root = s.p.op("add", root, o)
        s.backward(f"backward() from the sum of the outputs of {label}(x)", root)
        r_grads_layer = [s.read("a parameter", h) for _, h in handles] + [s.read("an input", h) for h in xs]
        for _, h in handles:
            s.setgrad(h, 0.0)
        for h in xs:
            s.setgrad(h, 0.0)
        root2 = own[0]
        for o in own[1:]:
            root2 = s.p.op("add", root2, o)
        s.backward("backward() from the neurons' own outputs", root2)
        r_grads_own = [s.read("a parameter", h) for _, h in handles] + [s.read("an input", h) for h in xs]
        own_params = [s.method(f"{label}.neurons[{j}].parameters()", n, "parameters") for j, n in enumerate(neurons)]
        r_own_params = [s.read_list("a neuron's parameters()", p) for p in own_params]
        params = s.method(f"{label}.parameters()", layer, "parameters")
        r_params = s.read_list(f"{label}.parameters() must return a list of Values", params)
        got = run(engine, s)

        expected_out = [got.reads[r][0] for r in r_own]
        if nout == 1:
            mine = [got.reads[r_out][0]]
        else:
            if got.reads[r_len] != nout:
                raise CheckFailure(f"{ctx}: your layer returned {int(got.reads[r_len])} outputs, expected {nout}")
            mine = [d for d, _ in got.reads[r_out]]
        for j, (a, e) in enumerate(zip(mine, expected_out, strict=True)):
            if not close(a, e, REF_ATOL, REF_RTOL):
                raise CheckFailure(f"{ctx}: output {j} is {fmt(a)}, expected {fmt(e)}, what neurons[{j}](x) "
                                   "gives (the neurons' outputs, in order)")
        names = [name for name, _ in handles] + [f"x[{i}]" for i in range(len(xs))]
        for name, ra, rb in zip(names, r_grads_layer, r_grads_own, strict=True):
            a, e = got.reads[ra][1], got.reads[rb][1]
            if not close(a, e, REF_ATOL, REF_RTOL):
                raise CheckFailure(f"{ctx}: after backward() from the sum of the outputs, {name}.grad = {fmt(a)}, "
                                   f"expected {fmt(e)} (return the neurons' Values themselves)")
        want = [d for r in r_own_params for d, _ in got.reads[r]]
        mine_p = [d for d, _ in got.reads[r_params]]
        if mine_p != want:
            tag = {d: f"neuron {j} parameter {k}" for j, r in enumerate(r_own_params)
                   for k, (d, _) in enumerate(got.reads[r])}
            if len(mine_p) != len(want):
                raise CheckFailure(f"{label}.parameters() returned {len(mine_p)} Values, expected {len(want)} "
                                   f"(each neuron's parameters(), neuron by neuron)")
            first = next(i for i, (a, b) in enumerate(zip(mine_p, want, strict=True)) if a != b)
            raise CheckFailure(f"{label}.parameters()[{first}] is {tag.get(mine_p[first], 'a new Value')}, expected "
                               f"{tag[want[first]]} (the first neuron's parameters(), then the second's, ...)")
        # program 2: the listed Values are the neurons' own (setting them changes the neurons)
        s = Script()
        layer = s.call(label, "Layer", const(nin), const(nout))
        neurons_list = s.attr(f"{label}.neurons", layer, "neurons")
        neurons = [s.item(f"{label}.neurons[{j}]", neurons_list, j) for j in range(nout)]
        params = s.method(f"{label}.parameters()", layer, "parameters")
        s.p.set_data_list(params, _rng_weights(200 + case, len(want)))
        r_set = s.read_list("the list returned by parameters()", params)
        r_own_params = [s.read_list("a neuron's parameters()", s.method("parameters()", n, "parameters"))
                        for n in neurons]
        got = run(engine, s)
        seen = [d for r in r_own_params for d, _ in got.reads[r]]
        if seen != [d for d, _ in got.reads[r_set]]:
            raise CheckFailure(f"{label}.parameters() returned new Values, expected the neurons' own "
                               "(training must update the neurons themselves)")


# --- MLP --------------------------------------------------------------------------
MLP_CASES = [  # (nin, nouts, inputs)
    (2, [3, 2, 1], [[0.5, -1.0], [1.5, 0.25]]),
    (3, [4, 2], [[1.0, -0.5, 0.75]]),
    (2, [1], [[0.3, -0.8]]),
]


def _mlp_structure(engine: Engine, nin: int, nouts: list[int]) -> None:
    label = f"MLP({nin}, {nouts})"
    s = Script()
    m = s.call(label, "MLP", const(nin), const(nouts))
    layers = s.attr(f"{label}.layers (store the layers in self.layers)", m, "layers")
    r_len = s.length(f"{label}.layers must be a list of layers", layers)
    got = run(engine, s)
    if got.reads[r_len] != len(nouts):
        raise CheckFailure(f"{label} has {int(got.reads[r_len])} layers, expected {len(nouts)}")
    s = Script()
    m = s.call(label, "MLP", const(nin), const(nouts))
    layers = s.attr(f"{label}.layers", m, "layers")
    lh = [s.item(f"{label}.layers[{i}]", layers, i) for i in range(len(nouts))]
    nl = [s.attr(f"{label}.layers[{i}].neurons", h, "neurons") for i, h in enumerate(lh)]
    r_sizes = [s.length(f"{label}.layers[{i}].neurons", h) for i, h in enumerate(nl)]
    reads = []
    sizes = [nin, *nouts]
    for i, nout in enumerate(nouts):
        for j in range(nout):
            n = s.item(f"{label}.layers[{i}].neurons[{j}]", nl[i], j)
            r_w = s.length("w", s.attr("w", n, "w"))
            reads.append((i, j, r_w, s.read_number("nonlin", s.attr("nonlin", n, "nonlin"))))
    got = run(engine, s, tolerate=True)
    for i, r in enumerate(r_sizes):
        if r < len(got.reads) and got.reads[r] != nouts[i]:
            raise CheckFailure(f"{label}: layer {i} has {int(got.reads[r])} neurons, expected {nouts[i]}")
    if not got.ok:
        raise_error(s, got)
    for i, _, r_w, r_nl in reads:
        if got.reads[r_w] != sizes[i]:
            raise CheckFailure(f"{label}: the neurons of layer {i} have {int(got.reads[r_w])} inputs, "
                               f"expected {sizes[i]} (the size of the layer before)")
        last = i == len(nouts) - 1
        if bool(got.reads[r_nl]) == last:
            if last:
                raise CheckFailure(f"{label}: the last layer (layer {i}) applies ReLU, expected a linear layer "
                                   "(nonlin=False), so that its score can be negative")
            raise CheckFailure(f"{label}: layer {i} is linear, expected ReLU (nonlin=True) in every layer but the last")


def _chain_returns_value(engine: Engine, nin: int, nouts: list[int], x: list[float]) -> bool:
    """Whether the student's own layers, chained, end in one Value (Layer's one-neuron convention).

    The MLP is compared with its own layers in that shape, so a Layer that returns a
    one-element list costs the Layer's points only.
    """
    s = Script()
    m = s.call(f"MLP({nin}, {nouts})", "MLP", const(nin), const(nouts))
    layers = s.attr(f"MLP({nin}, {nouts}).layers", m, "layers")
    h = const(x)
    for i in range(len(nouts)):
        h = s.method(f"MLP({nin}, {nouts}).layers[{i}](...)", s.item("a layer", layers, i), "__call__", h)
    mark = len(s.p.steps)
    s.p.read(h)
    got = run(engine, s, tolerate=True)
    if got.ok:
        return True
    if got.error.get("step") != mark:
        raise_error(s, got)
    return False


def mlp_check(engine: Engine) -> None:
    from zengrad_ref import Value as RValue
    from zengrad_ref.nn import MLP as RMLP

    for nin, nouts, _ in MLP_CASES:
        _mlp_structure(engine, nin, nouts)
    for case, (nin, nouts, inputs) in enumerate(MLP_CASES):
        label = f"MLP({nin}, {nouts})"
        weights = _rng_weights(300 + case, mlp_param_count(nin, nouts))
        s = Script()
        m = s.call(label, "MLP", const(nin), const(nouts))
        layer_h, _, handles = mlp_handles(s, m, nin, nouts)
        for (_, h), v in zip(handles, weights, strict=True):
            s.setdata(h, v)
        single = nouts[-1] == 1 and _chain_returns_value(engine, nin, nouts, inputs[0])
        checks = []
        for x in inputs:
            out = s.method(f"{label}(x)", m, "__call__", const(x))
            h = const(x)
            for i, layer in enumerate(layer_h):
                h = s.method(f"{label}.layers[{i}](...)", layer, "__call__", h)
            if single:
                checks.append((x, s.read(f"{label}(x) must return one Value", out), s.read("the chain", h), True))
            else:
                checks.append((x, s.read_list(f"{label}(x) must return a list of Values", out),
                               s.read_list("the chain", h), False))
        layer_params = [s.read_list(f"{label}.layers[{i}].parameters()", s.method("parameters()", lh, "parameters"))
                        for i, lh in enumerate(layer_h)]
        r_params = s.read_list(f"{label}.parameters() must return a list of Values",
                               s.method(f"{label}.parameters()", m, "parameters"))
        got = run(engine, s)
        for x, r_mine, r_chain, single in checks:
            mine = [got.reads[r_mine][0]] if single else [d for d, _ in got.reads[r_mine]]
            chain = [got.reads[r_chain][0]] if single else [d for d, _ in got.reads[r_chain]]
            same = len(mine) == len(chain) and all(
                close(a, b, REF_ATOL, REF_RTOL) for a, b in zip(mine, chain, strict=True))
            if not same:
                raise CheckFailure(f"{label} on x = {_fmts(x)}: your output is {_fmts(mine)}, expected "
                                   f"{_fmts(chain)}, what feeding x through its layers in turn gives")
        want = [d for r in layer_params for d, _ in got.reads[r]]
        mine_p = [d for d, _ in got.reads[r_params]]
        if mine_p != want:
            if len(mine_p) != len(want):
                raise CheckFailure(f"{label}.parameters() returned {len(mine_p)} Values, expected {len(want)} "
                                   "(each layer's parameters(), layer by layer)")
            first = next(i for i, (a, b) in enumerate(zip(mine_p, want, strict=True)) if a != b)
            raise CheckFailure(f"{label}.parameters()[{first}] is not the parameter expected there "
                               "(the first layer's parameters(), then the second's, ...)")
        s = Script()
        m = s.call(label, "MLP", const(nin), const(nouts))
        layer_h, _, _ = mlp_handles(s, m, nin, nouts)
        params = s.method(f"{label}.parameters()", m, "parameters")
        s.p.set_data_list(params, _rng_weights(400 + case, len(want)))
        r_set = s.read_list("the list returned by parameters()", params)
        layer_params = [s.read_list("parameters()", s.method("parameters()", lh, "parameters")) for lh in layer_h]
        got = run(engine, s)
        if [d for r in layer_params for d, _ in got.reads[r]] != [d for d, _ in got.reads[r_set]]:
            raise CheckFailure(f"{label}.parameters() returned new Values, expected the layers' own "
                               "(training must update the network itself)")

    if not _passes(engine, "ps3.neuron", "ps3.layer"):
        return  # the comparison with the reference would only repeat a Neuron/Layer bug graded there
    # with correct neurons and layers: identical weights, compared with zengrad_ref end to end
    nin, nouts = 2, [4, 3, 1]
    label = f"MLP({nin}, {nouts})"
    points = [[0.5, -1.0], [1.5, 0.25], [-0.75, 0.5], [0.1, 0.9]]
    labels = [1, -1, -1, 1]
    weights = _rng_weights(500, mlp_param_count(nin, nouts))
    s = Script()
    m = s.call(label, "MLP", const(nin), const(nouts))
    _, _, handles = mlp_handles(s, m, nin, nouts)
    for (_, h), v in zip(handles, weights, strict=True):
        s.setdata(h, v)
    r_params = s.read_list(f"{label}.parameters()", s.method("parameters()", m, "parameters"))
    scores = [s.method(f"{label}(x)", m, "__call__", const(x)) for x in points]
    r_scores = [s.read("a score", h) for h in scores]
    total = None
    for h, yi in zip(scores, labels, strict=True):
        margin = s.p.op("relu", s.p.op("add", s.p.op("mul", h, const(-yi)), const(1.0)))
        total = margin if total is None else s.p.op("add", total, margin)
    loss = s.p.op("mul", total, const(1.0 / len(points)))
    s.backward("backward() from the hinge loss of the scores", loss)
    r_grads = [s.read("a parameter", h) for _, h in handles]
    got = run(engine, s)

    ref = RMLP(nin, nouts, seed=0)
    ref.set_weights(weights)
    if [d for d, _ in got.reads[r_params]] != weights:
        raise CheckFailure(f"{label}.parameters() is out of order, expected layer by layer, neuron by "
                           "neuron, w[0], ..., w[nin-1], b")
    rscores = [ref([RValue(a) for a in x]) for x in points]
    for x, r, e in zip(points, r_scores, rscores, strict=True):
        if not close(got.reads[r][0], e.data, REF_ATOL, REF_RTOL):
            raise CheckFailure(f"{label} with identical weights on x = {_fmts(x)}: your score is "
                               f"{fmt(got.reads[r][0])}, expected {fmt(e.data)}")
    rl = None
    for sc, yi in zip(rscores, labels, strict=True):
        mg = (1 + -yi * sc).relu()
        rl = mg if rl is None else rl + mg
    (rl * (1.0 / len(points))).backward()
    for (name, _), r, p in zip(handles, r_grads, ref.parameters(), strict=True):
        if not close(got.reads[r][1], p.grad, REF_ATOL, REF_RTOL):
            raise CheckFailure(f"{label} with identical weights, hinge loss on 4 points: after backward() your "
                               f"{name}.grad = {fmt(got.reads[r][1])}, expected {fmt(p.grad)}")


# --- svm_loss -----------------------------------------------------------------------
LOSS_CASES = [  # (scores, labels, params, alpha or None for the default)
    ([0.25], [1], [], None),
    ([0.25], [-1], [], None),
    ([2.0], [1], [], None),
    ([0.5, -0.3, 1.5, -2.0], [1, 1, -1, -1], [], None),
    ([5.0], [1], [2.0, -1.0], 0.1),
    ([0.5, -0.3], [1, -1], [0.7, -1.2, 0.4], 0.01),
    ([0.9, -1.4, 0.2, 1.1, -0.6, 0.05], [1, -1, -1, 1, 1, -1], [0.8, -0.3, 0.5, -0.9], None),
]


def loss_check(engine: Engine) -> None:
    from zengrad_ref import Value as RValue
    from zengrad_ref.losses import svm_hinge_l2

    for scores, labels, params, alpha in LOSS_CASES:
        shown = f"svm_loss(scores={_fmts(scores)}, y={labels}, params={_fmts(params)}" + (
            f", alpha={fmt(alpha)})" if alpha is not None else ")")
        s = Script()
        sh = [s.leaf(v) for v in scores]
        ph = [s.leaf(v) for v in params]
        args = [s.new_list(sh), const(labels), s.new_list(ph)] + ([const(alpha)] if alpha is not None else [])
        loss = s.call(shown, "svm_loss", *args)
        r_loss = s.read(f"{shown} must return one Value; reading it", loss)
        s.backward(f"backward() from {shown}", loss)
        r_s = [s.read("a score", h) for h in sh]
        r_p = [s.read("a parameter", h) for h in ph]
        got = run(engine, s)

        rs = [RValue(v) for v in scores]
        rp = [RValue(v) for v in params]
        a = 1e-4 if alpha is None else alpha
        ref = svm_hinge_l2(rs, labels, rp, alpha=a)
        ref.backward()
        mine = got.reads[r_loss][0]
        if not close(mine, ref.data, REF_ATOL, REF_RTOL):
            reg = a * sum(p * p for p in params)
            hint = ""
            if params and close(mine, ref.data - reg, REF_ATOL, REF_RTOL):
                hint = " (the L2 term alpha * sum(p * p) is missing)"
            elif len(scores) > 1 and close(mine, (ref.data - reg) * len(scores) + reg, REF_ATOL, REF_RTOL):
                hint = " (average the margins: multiply their sum by 1.0 / n)"
            raise CheckFailure(f"{shown}: your loss is {fmt(mine)}, expected {fmt(ref.data)}{hint}")
        for i, (r, v) in enumerate(zip(r_s, rs, strict=True)):
            if not close(got.reads[r][1], v.grad, REF_ATOL, REF_RTOL):
                raise CheckFailure(f"{shown}: after backward(), your grad of scores[{i}] is "
                                   f"{fmt(got.reads[r][1])}, expected {fmt(v.grad)}")
        for i, (r, v) in enumerate(zip(r_p, rp, strict=True)):
            if not close(got.reads[r][1], v.grad, REF_ATOL, REF_RTOL):
                raise CheckFailure(f"{shown}: after backward(), your grad of params[{i}] is "
                                   f"{fmt(got.reads[r][1])}, expected {fmt(v.grad)}")


# --- sgd_step ------------------------------------------------------------------------
SGD_CASES = [  # (data, grads, lr)
    ([1.0], [0.5], 0.1),
    ([1.0, -2.0, 0.5], [0.5, -4.0, 0.0], 0.1),
    ([0.3, -0.7], [2.0, 1.5], 1.0),
    ([0.25, 0.75, -1.25], [-0.5, 0.125, 3.0], 0.37),
]


def sgd_check(engine: Engine) -> None:
    for data, grads, lr in SGD_CASES:
        s = Script()
        m, vals = patched_module(s, data, grads)
        s.call(f"sgd_step(model, {fmt(lr)})", "sgd_step", m, const(lr), result=False)
        reads = [s.read("a parameter", v) for v in vals]
        got = run(engine, s)
        mine = [got.reads[r][0] for r in reads]
        want = [d - lr * g for d, g in zip(data, grads, strict=True)]
        if not all(close(a, b, REF_ATOL, REF_RTOL) for a, b in zip(mine, want, strict=True)):
            hint = ""
            if all(close(a, d + lr * g, REF_ATOL, REF_RTOL) for a, d, g in zip(mine, data, grads, strict=True)):
                hint = " (the parameters moved up the gradient: subtract lr * grad)"
            elif mine == list(data):
                hint = " (the parameters did not move: update p.data in place)"
            raise CheckFailure(f"sgd_step(model, lr={fmt(lr)}) with parameters data {_fmts(data)} and grad "
                               f"{_fmts(grads)}: data afterwards {_fmts(mine)}, expected {_fmts(want)}{hint}")


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
    if loop == "verified" and not _passes(engine, "ps3.zero_grad", "ps3.neuron", "ps3.layer", "ps3.mlp",
                                     "ps3.loss", "ps3.sgd"):
        return  # the loop is right; a bug in a piece it uses is graded in that piece's cell
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
GRID_XS = [-1.0, -0.25, 0.5, 1.25, 2.0]
GRID_YS = [-0.5, 0.25, 1.0]


def grid_check(engine: Engine) -> None:
    w, b = [0.8, -1.3], 0.05  # no grid point lies within 0.1 of the boundary
    what = f"decision_grid(model, xs={GRID_XS}, ys={GRID_YS})"
    s = Script()
    n = s.call("Neuron(2, nonlin=False) as the model", "Neuron", const(2), const(False))
    for (_, h), v in zip(neuron_handles(s, n, 2, "model"), [*w, b], strict=True):
        s.setdata(h, v)
    z = s.call(what, "decision_grid", n, const(GRID_XS), const(GRID_YS))
    r_expected = [[s.read_number("model([x, y])", s.method("model([x, y])", n, "__call__", const([xv, yv])))
                   for xv in GRID_XS] for yv in GRID_YS]
    r_rows = s.length(f"{what} must return a list of rows", z)
    rows = [s.item(f"{what}: row", z, i) for i in range(len(GRID_YS))]
    r_cols = [s.length(f"{what}: each row must be a list", r) for r in rows]
    r_z = [[s.read_number(f"{what}: the entries must be 0 or 1", s.item("entry", r, j)) for j in range(len(GRID_XS))]
           for r in rows]
    got = run(engine, s, tolerate=True)
    shape = f"{len(GRID_YS)} rows (one per y) of {len(GRID_XS)} entries (one per x)"
    if r_rows < len(got.reads) and got.reads[r_rows] != len(GRID_YS):
        raise CheckFailure(f"{what}: {int(got.reads[r_rows])} rows, expected {shape}")
    for r in r_cols:
        if r < len(got.reads) and got.reads[r] != len(GRID_XS):
            raise CheckFailure(f"{what}: a row of {int(got.reads[r])} entries, expected {shape}")
    if not got.ok:
        raise_error(s, got)
    for i, yv in enumerate(GRID_YS):
        for j, xv in enumerate(GRID_XS):
            want = 1.0 if got.reads[r_expected[i][j]] > 0 else 0.0
            mine = got.reads[r_z[i][j]]
            if mine != want:
                raise CheckFailure(f"{what}: Z[{i}][{j}] is {fmt(mine)}, expected {int(want)} (the model's score "
                                   f"at [x, y] = [{fmt(xv)}, {fmt(yv)}] is {fmt(got.reads[r_expected[i][j]])})")


register("ps3.zero_grad", "Module.zero_grad")(zero_grad_check)
register("ps3.neuron", "Neuron")(neuron_check)
register("ps3.layer", "Layer")(layer_check)
register("ps3.mlp", "MLP")(mlp_check)
register("ps3.loss", "svm_loss")(loss_check)
register("ps3.sgd", "sgd_step")(sgd_check)
register("ps3.train", "train")(train_check)
register("ps3.grid", "decision_grid")(grid_check)
