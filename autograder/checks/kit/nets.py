"""Networks in programs: reaching a model's weights through its attributes, and reading ``parameters()``.

Checks of neural-network code (problem sets 3 and 4) inject weights through the attributes
the notebooks fix (``Neuron.w``/``.b``, ``Layer.neurons``, ``MLP.layers``), never through the
student's ``parameters()``, so identical weights land in the student's network and in the
reference whatever ``parameters()`` returns; then they check ``parameters()`` on its own:
the model's own ``Value`` objects, the same ones in the same order on every call.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from autograder.checks.kit.compare import KINK, a, kinds
from autograder.checks.kit.errors import CheckFailure
from autograder.checks.kit.program import Engine, Program, Reads, const, run


def rng_weights(seed: int, n: int) -> list[float]:
    """n distinct weights in [-1, 1] (distinct values double as tags for the parameter order)."""
    rng = random.Random(seed)
    return [round(rng.uniform(-1, 1), 6) for _ in range(n)]


def mlp_param_count(nin: int, nouts: Sequence[int]) -> int:
    sizes = [nin, *nouts]
    return sum((sizes[i] + 1) * sizes[i + 1] for i in range(len(nouts)))


def param_names(nin: int, nouts: Sequence[int]) -> list[str]:
    """The name of every parameter of MLP(nin, nouts), in parameters() order."""
    sizes = [nin, *nouts]
    return [f"layer {i} neuron {j}.{p}" for i, nout in enumerate(nouts) for j in range(nout)
            for p in [*(f"w[{k}]" for k in range(sizes[i])), "b"]]


def neuron_handles(p: Program, n: int, nin: int, label: str) -> list[tuple[str, int]]:
    """(name, handle) of a neuron's ``w[0], ..., w[nin-1], b``, reached through its attributes."""
    w = p.attr(n, "w", what=f"{label}.w")
    out = [(f"{label}.w[{i}]", p.item(w, i, what=f"{label}.w[{i}]")) for i in range(nin)]
    out.append((f"{label}.b", p.attr(n, "b", what=f"{label}.b")))
    return out


def mlp_handles(p: Program, m: int, nin: int, nouts: Sequence[int]) -> list[tuple[str, int]]:
    """(name, handle) of every parameter of an MLP, in reference order, through ``layers``/``neurons``."""
    layers = p.attr(m, "layers", what="model.layers")
    sizes = [nin, *nouts]
    params: list[tuple[str, int]] = []
    for i, nout in enumerate(nouts):
        layer = p.item(layers, i, what=f"model.layers[{i}]")
        neurons = p.attr(layer, "neurons", what=f"model.layers[{i}].neurons")
        for j in range(nout):
            n = p.item(neurons, j, what=f"model.layers[{i}].neurons[{j}]")
            params += neuron_handles(p, n, sizes[i], f"layer {i} neuron {j}")
    return params


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
        h = [max(v, 0.0) for v in acts] if i < len(nouts) - 1 else acts
    return out


def hidden_kink(nin: int, nouts: Sequence[int], weights: Sequence[float], x: Sequence[float]) -> bool:
    """A hidden ReLU input within KINK of 0: its gradient hinges on rounding, so the case is skipped."""
    return any(abs(v) < KINK for acts in pre_activations(nin, nouts, weights, x)[:-1] for v in acts)


def read_parameters(p: Program, label: str, obj: int) -> tuple[int, int, int, int]:
    """Reads of ``obj.parameters()``, called twice: kind, item kinds, handles, handles of the second call."""
    params = p.method(obj, "parameters", what=f"{label}.parameters()")
    r_kind = p.read_kind(params, f"{label}.parameters()")
    r_kinds = p.read_kinds(params, f"{label}.parameters() must return a list of Values")
    r_first = p.read_order(params, f"{label}.parameters() must return a list of Values")
    again = p.method(obj, "parameters", what=f"{label}.parameters(), called again")
    r_second = p.read_order(again, f"{label}.parameters(), called again, must return a list of Values")
    return r_kind, r_kinds, r_first, r_second


def params_problem(label: str, kind: str, item_kinds: list[str], first: list[int], second: list[int],
                   want: list[int], names: dict[int, str], own: str, parts: str) -> str | None:
    """Why ``parameters()`` is not ``want`` (handles), the same Values in the same order on every call.

    ``kind``/``item_kinds``: the type names of the result and its items; ``first``/``second``:
    the handles of two calls (-1 for a Value the program never made: a copy).
    """
    if kind != "list":
        return f"{label}.parameters() returned {a(kind)}, expected a list of Values"
    if any(k != "Value" for k in item_kinds):
        return f"{label}.parameters() returned a list of {kinds(item_kinds)}, expected a list of Values"
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


def check_parameters(reads: Reads, r: tuple[int, int, int, int], named: Sequence[tuple[str, int]], label: str,
                     own: str, parts: str) -> None:
    """A CheckFailure unless ``parameters()`` (read by :func:`read_parameters`) returns the Values of
    ``named`` ((name, handle) pairs, in order), the same ones on both calls (:func:`params_problem`)."""
    r_kind, r_kinds, r_first, r_second = r
    is_list = reads[r_kind] == "list"
    problem = params_problem(label, reads[r_kind], reads[r_kinds] if is_list else [],
                             reads[r_first] if is_list else [], reads[r_second] if is_list else [],
                             [h for _, h in named], {h: name for name, h in named}, own, parts)
    if problem:
        raise CheckFailure(problem)


ZeroGradReads = tuple[list[int], list[int]]


def call_zero_grad(p: Program, obj: int, ctx: str, own: Sequence[int], values: Sequence[int],
                   label: str) -> ZeroGradReads:
    """``obj.zero_grad()``, then reads of the type names of ``own``'s grads and of every one of ``values``
    (``label``: what a value is, for messages); judged by :func:`zeroed`."""
    p.method(obj, "zero_grad", result=False, what=ctx)
    return [p.read_kind(p.attr(v, "grad", what=ctx), ctx) for v in own], [p.read(v, label) for v in values]


def zeroed(got: Reads, ctx: str, reads: ZeroGradReads) -> list[tuple[float, float]]:
    """(data, grad) of the values after ``zero_grad()``; a CheckFailure if a grad it reset is not a number."""
    r_kinds, r_values = reads
    wrong = next((k for k in (got[r] for r in r_kinds) if k not in ("float", "int")), None)
    if wrong is not None:
        raise CheckFailure(f"{ctx}: a grad is {a(wrong)} afterwards, expected 0.0")
    return [got[r] for r in r_values]


def check_one_value(kind: str, what: str, reaches: str) -> None:
    """A CheckFailure unless ``what`` returned one ``Value`` (``kind``: the type name it returned)."""
    if kind != "Value":
        raise CheckFailure(f"{what} returned {a(kind)}, expected one Value (built from Value operations, so that "
                           f"backward() reaches {reaches})")


@dataclass
class Trained:
    """What the student's ``train`` did: the losses it returned (plain floats), the weights after.

    ``reads`` still holds the program's outcome: call ``reads.done()`` once the numbers are
    compared, so an error the student's code raised after them is reported too.
    """

    losses: list[float]
    weights: list[float]
    reads: Reads


def run_training(engine: Engine, shown: str, *, pieces: str, known_good: Sequence[str], nouts: Sequence[int],
                 weights: Sequence[float], X: Sequence[Sequence[float]], y: Sequence[int], steps: int,
                 extra: Sequence[Any] = (), timeout: float | None = None) -> Trained:
    """The student's ``train(model, X, y, steps, *extra)`` on a known-good ``MLP(2, nouts)`` set to
    ``weights`` (with the other ``known_good`` pieces), run on ``engine``; a CheckFailure unless it
    returned a list of ``steps`` plain floats. ``shown``: the call as the student reads it."""
    p = Program(timeout=timeout)
    p.use_known_good(pieces, "MLP", *known_good)
    m = p.call("MLP", const(2), const(list(nouts)), what=f"MLP(2, {list(nouts)})")
    p.set_data_list(p.method(m, "parameters", what="model.parameters()"), list(weights))
    losses = p.call("train", m, const(X), const(y), const(steps), *map(const, extra), what=shown)
    r_kind = p.read_kind(losses, shown)
    r_kinds = p.read_kinds(losses, f"{shown} must return a list of losses")
    r_losses = [p.read_number(p.item(losses, k, what=f"{shown}: a loss"), f"{shown}: the losses must be plain floats")
                for k in range(steps)]
    r_w = p.read_list(p.method(m, "parameters", what="model.parameters()"), "the model's parameters after train")
    got = run(engine, p)
    kind = got[r_kind]
    if kind != "list":
        raise CheckFailure(f"{shown} returned {a(kind)}, expected a list of the {steps} losses (plain floats)")
    item_kinds = got[r_kinds]
    if len(item_kinds) != steps:
        raise CheckFailure(f"{shown} returned {len(item_kinds)} losses, expected {steps} (one per step)")
    if any(k != "float" for k in item_kinds):
        raise CheckFailure(f"{shown} returned a list of {kinds(item_kinds)}, expected plain floats (loss.data)")
    return Trained([got[r] for r in r_losses], [d for d, _ in got[r_w]], got)
