"""Assignment 4 checks: ``a ** b``, ``softplus``, ``gelu``, ``cross_entropy``, ``Optimizer.zero_grad``,
``SGD``, ``Adam``, ``AdamW`` and ``train``.

Every check drives student code through adapter programs and compares what it reads back
(plain numbers and type names) with ``zengrad_ref`` computed here: an *absolute* comparison.
One check per graded cell, and a bug costs the points of its own cell only:

* ``pow``: the operator alone (``a ** b``), a reused input (``a ** a``), a constant base
  (``2 ** b``, the given ``__rpow__``) and composed with itself (``(a ** b) ** c``), each
  ``_backward`` driven on its own with a non-unit upstream gradient and inputs that already hold
  a gradient (kit ``Graph`` + ``compare``: reference and central differences); extreme inputs
  against the reference only; then the domain: a base ``<= 0`` must raise a ``ValueError``
  that shows the base when the node is made;
* ``softplus``/``gelu``: the same idea for this assignment's own operators (registered in the
  kit's operator table, one line each): ``f(a)``, ``f(f(a))``, ``f(a) + f(a)`` (kit
  ``compare_batch``), and +-1000, +-30 and 0 against the reference;
* ``cross_entropy``: random logits (a logit may appear several times in the list), ties and
  +-1000, target and upstream gradient; the node's own ``_backward`` alone must reach every
  logit (one fused node), against the reference and central differences;
* ``zero_grad``: the student's ``Optimizer`` over fresh ``Value``\\ s, and ``Value``\\ s that are not
  its parameters (left alone);
* ``sgd``/``adam``/``adamw``: trajectories over several steps from random parameters and
  gradients (set before each ``step()``) against ``zengrad_ref.optim``: the parameters are
  fresh ``Value``\\ s made by the check (known-good parameters); ``adamw`` runs the student's
  ``AdamW`` on the grader's own ``Adam`` (``pieces/ps4.py``: the notebook's ``AdamW`` calls
  ``Adam.__init__``/``Adam.step`` by name);
* ``train``: the student's ``train`` with the grader's own ``MLP``, ``cross_entropy`` and
  ``Adam``: two small cases whose losses and final weights are compared with ``zengrad_ref``'s
  training, then ``MLP(2, [16, 16, 3])`` on 45 spiral points for 60 steps from fixed weights,
  whose training accuracy is computed here from the weights read back.

The property checks are hypothesis properties over batches of cases (one program, one round
trip each) that shrink to the smallest failing case, followed by fixed regression cases (the
notebook's), so a classic bug is caught whatever hypothesis generates. A wrong number gets a
hint when an alternative computed here (the classic bug's) matches it exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache

from hypothesis import strategies as st

import zengrad_ref
from autograder.checks import register
from autograder.checks.kit import (
    FD_ATOL,
    FD_RTOL,
    CheckFailure,
    Engine,
    Graph,
    Program,
    ReferenceEngine,
    StopCheck,
    batched,
    close,
    compare,
    const,
    fmt,
    fmts,
    points,
    reference,
    run,
    run_property,
)
from autograder.checks.kit.compare import a as an
from autograder.checks.kit.gradients import GradientCase, compare_batch, hint
from autograder.checks.kit.nets import mlp_param_count, rng_weights, run_training
from autograder.checks.kit.operators import Operator, sigmoid
from autograder.checks.kit.operators import register as register_operator
from autograder.checks.kit.strategies import INITIAL, NUMBERS, UPSTREAM, reals
from autograder.reasons import Reason

PIECES = "ps4"  # autograder/checks/pieces/ps4.py

TRAIN_HIDDEN = (16, 16)  # MLP(2, [16, 16, 3])
TRAIN_POINTS, TRAIN_SEED, TRAIN_STEPS, TRAIN_LR = 45, 0, 60, 0.1  # zengrad_ref: 97.8% (44 of 45) training accuracy
TRAIN_TARGET = 0.90
TRAIN_CPU = 30.0  # CPU seconds of the accuracy run in the worker (about 1.5 s on a 2-core runner)
OVERFLOW_HINT = " (exp of a large positive number overflows: never give math.exp a large positive argument)"


def _overflow(failure: CheckFailure, hint_text: str) -> CheckFailure:
    """The same failure, with a hint when the student's code raised OverflowError."""
    if "OverflowError" in failure.message:
        return CheckFailure(failure.message + hint_text, failure.reason)
    return failure


def _read(got: object, r: int, hint_text: str = OVERFLOW_HINT) -> object:
    """``got[r]``, with the overflow hint added to the student's error that stopped the program there."""
    try:
        return got[r]  # type: ignore[index]
    except CheckFailure as failure:
        raise _overflow(failure, hint_text) from None


# --- a ** b ------------------------------------------------------------------------------------
POW_SHAPES = ["a ** b", "a ** a", "2 ** b", "(a ** b) ** c"]
POW_EDGES = [(1.0, 2.5), (1e-3, 2.0), (50.0, -2.0), (1e-8, 0.5), (2.0, 0.0), (700.0, 100.0), (0.999, -300.0)]
DOMAIN_CASES = [(-2.5, 0.5, "a ** b"), (0.0, 2.0, "a ** b"), (-0.75, 2.0, "a ** b"), (-1000.0, 3.0, "a ** b"),
                (-1.5, 0.5, "2 ** b")]  # "2 ** b": the constant base -1.5


def pow_graph(shape: str, a: float, b: float, c: float, k: float) -> Graph:
    g = Graph()
    if shape == "a ** b":
        g.op("pow", g.leaf(a, "a"), g.leaf(b, "b"))
    elif shape == "a ** a":
        x = g.leaf(a, "a")
        g.op("pow", x, x)
    elif shape == "2 ** b":
        g.op("pow", const(k), g.leaf(b, "b"))
    else:
        x, y, z = g.leaf(a, "a"), g.leaf(b, "b"), g.leaf(c, "c")
        g.op("pow", g.op("pow", x, y), z)
    return g


def pow_domain(engine: Engine) -> None:
    """A base <= 0 raises a ValueError that shows the base, when the node is made."""
    for base, exponent, form in DOMAIN_CASES:
        p = Program()
        b = p.leaf(exponent)
        if form == "a ** b":
            shown = f"a ** b with a = Value({fmt(base)}), b = Value({fmt(exponent)})"
            p.op("pow", p.leaf(base), b, what=shown)
        else:
            shown = f"{fmt(base)} ** b with b = Value({fmt(exponent)})"
            p.op("pow", const(base), b, what=shown)
        outcome = engine.run(p)
        if outcome.ok:
            raise CheckFailure(f"{shown} made a node: a ** b with a Value exponent needs a base > 0; raise a "
                               "ValueError that shows the base, before making the node")
        err = outcome.error or {}
        kind, msg = err.get("type", "Error"), err.get("message", "")
        if kind == "NotImplementedError":
            raise StopCheck(f"not implemented yet: {shown} raises NotImplementedError. Replace `raise "
                            "NotImplementedError()` with your code.", Reason.NOT_IMPLEMENTED)
        if kind != "ValueError":
            raise CheckFailure(f"{shown} raised {kind}: {msg[:120]}; expected a ValueError that shows the base "
                               "(check the base before computing anything)")
        if base != 0.0 and not any(s in msg for s in (repr(base), f"{base:g}", str(base))):
            raise CheckFailure(f"{shown} raised ValueError({msg[:120]!r}): its message should show the base "
                               f"{fmt(base)}")


def pow_check(engine: Engine) -> None:
    def prop(shape: str, a: float, b: float, aa: float, bb: float, c: float, k: float, g: float, g0: float) -> None:
        graph = pow_graph(shape, aa, bb, c, k) if shape == "(a ** b) ** c" else pow_graph(shape, a, b, c, k)
        if g0:
            graph.initial = {leaf: g0 for leaf in graph.leaves()}
        compare(engine, graph, upstream=g)

    run_property("ps4.pow", prop, 60, shape=st.sampled_from(POW_SHAPES), a=reals(0.1, 4.0), b=reals(-2.5, 2.5),
                 aa=reals(0.5, 2.0), bb=reals(-2.0, 2.0), c=reals(-2.0, 2.0), k=st.sampled_from([2.0, 0.5, 3.0]),
                 g=UPSTREAM, g0=INITIAL)
    for a, b in POW_EDGES:  # extreme inputs, against the reference only
        graph = pow_graph("a ** b", a, b, 0.0, 0.0)
        graph.initial = {0: 0.25, 1: 0.25}
        compare(engine, graph, upstream=1.5, use_fd=False, what="a ** b at an extreme input")
    pow_domain(engine)


# --- softplus and gelu: two operators of this assignment, one registration each --------------
GELU_K, GELU_C = math.sqrt(2.0 / math.pi), 0.044715  # GELU, tanh approximation


def _gelu(x: float) -> float:
    return 0.5 * x * (1.0 + math.tanh(GELU_K * (x + GELU_C * x ** 3)))


def _gelu_derivative(x: float) -> float:
    t = math.tanh(GELU_K * (x + GELU_C * x ** 3))
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_K * (1.0 + 3.0 * GELU_C * x * x)


register_operator(Operator("softplus", lambda x: max(x, 0.0) + math.log1p(math.exp(-abs(x))), derivative=sigmoid))
register_operator(Operator("gelu", _gelu, derivative=_gelu_derivative))

ACT_SHAPES = ["f(a)", "f(f(a))", "f(a) + f(a)"]
ActCase = tuple[str, float, float, float, bool]  # shape, a, out.grad, a.grad before, against central differences


def act_case(name: str, case: ActCase) -> GradientCase:
    """The shape over ``a`` as a kit graph, driven ``_backward`` by ``_backward``."""
    shape, a, upstream, initial, use_fd = case
    g = Graph()
    x = g.leaf(a, "a")
    if shape == "f(a)":
        g.op(name, x)
    elif shape == "f(f(a))":
        g.op(name, g.op(name, x))
    else:
        g.op("add", g.op(name, x), g.op(name, x))
    if initial:
        g.initial = {x: initial}
    return GradientCase(g, upstream, use_fd=use_fd)


def act_batch(name: str) -> Callable[[Engine, Sequence[ActCase]], None]:
    def batch(engine: Engine, cases: Sequence[ActCase]) -> None:
        try:
            compare_batch(engine, [act_case(name, c) for c in cases])
        except CheckFailure as failure:
            raise _overflow(failure, OVERFLOW_HINT) from None

    return batch


@st.composite
def act_cases(draw: st.DrawFn, values: st.SearchStrategy[float]) -> ActCase:
    return draw(st.sampled_from(ACT_SHAPES)), draw(values), draw(UPSTREAM), draw(INITIAL), True


ACT_EDGES = [("f(a)", x, 1.5, 0.25, False) for x in (1000.0, -1000.0, 30.0, -30.0, 0.0, 750.0, -750.0)]


def activation_check(name: str, values: st.SearchStrategy[float]) -> Callable[[Engine], None]:
    regression = [("f(a)", 0.5, 1.5, 0.0, True), ("f(a)", -1.2, 2.0, 0.75, True), ("f(a)", 2.5, 1.5, 0.0, True),
                  ("f(a) + f(a)", 0.3, -1.5, 0.0, True), ("f(f(a))", -0.8, 0.5, 0.5, True), *ACT_EDGES]
    return batched(f"ps4.{name}", act_batch(name), act_cases(values), 20, regression, size=6)


# --- cross_entropy ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CECase:
    values: tuple[float, ...]  # the distinct Values
    slots: tuple[int, ...]  # logits[i] is the Value values[slots[i]]
    target: int
    upstream: float = 1.0
    initial: float = 0.0

    def names(self) -> list[str]:
        return [chr(ord("a") + i) for i in range(len(self.values))]

    @property
    def shown(self) -> str:
        names = self.names()
        return f"cross_entropy([{', '.join(names[s] for s in self.slots)}], {self.target})"

    @property
    def context(self) -> str:
        names = self.names()
        held = f" (the logits already holding grad {fmt(self.initial)})" if self.initial else ""
        bind = ", ".join(f"{n} = {fmt(v)}" for n, v in zip(names, self.values, strict=True))
        return f"{self.shown} with {bind} and out.grad = {fmt(self.upstream)}{held}"

    def loss(self, values: Sequence[float]) -> float:
        from zengrad_ref.losses import cross_entropy

        return cross_entropy([zengrad_ref.Value(values[s]) for s in self.slots], self.target).data

    def central_difference(self, k: int) -> float:
        x = self.values[k]
        h = 1e-6 * max(1.0, abs(x))
        up, down = list(self.values), list(self.values)
        up[k] += h
        down[k] -= h
        return (self.loss(up) - self.loss(down)) / (2 * h)


CE_VALUES = st.one_of(reals(-5.0, 5.0), st.sampled_from([0.0, 1.0, -1.0, 1000.0, -1000.0, 999.5]))


@st.composite
def ce_cases(draw: st.DrawFn) -> CECase:
    values = draw(st.lists(CE_VALUES, min_size=1, max_size=3))
    extra = draw(st.lists(st.integers(0, len(values) - 1), max_size=2))
    slots = draw(st.permutations(list(range(len(values))) + extra))
    return CECase(tuple(values), tuple(slots), draw(st.integers(0, len(slots) - 1)), draw(UPSTREAM), draw(INITIAL))


CE_CASES = [  # regression cases: the notebook's, ties, +-1000, a logit used twice, one class
    CECase((2.0, -1.0, 0.5), (0, 1, 2), 0),
    CECase((2.0, -1.0, 0.5), (0, 1, 2), 2, 1.5, 0.25),
    CECase((0.3, 0.3, -0.4), (0, 1, 2), 0, -0.5, 0.25),
    CECase((1.0, -0.5), (0, 1, 0), 1, 1.5),
    CECase((1000.0, -1000.0, 999.0), (0, 1, 2), 2, 1.0),
    CECase((1000.0, 1000.0, 1000.0), (0, 1, 2), 0, 1.0),
    CECase((-1000.0, -1000.0), (0, 1), 1, 2.0, 0.5),
    CECase((0.7,), (0,), 0, 1.5),
]


def ce_batch(engine: Engine, cases: Sequence[CECase]) -> None:
    from zengrad_ref.losses import cross_entropy, softmax

    p = Program()
    plan = []
    for c in cases:
        leaves = [p.leaf(v) for v in c.values]
        if c.initial:
            for h in leaves:
                p.set_grad(h, c.initial)
        loss = p.call("cross_entropy", p.new_list(*[leaves[s] for s in c.slots]), const(c.target), what=c.context)
        r_kind = p.read_kind(loss, c.context)
        r_loss = p.read(loss, f"{c.context}: reading the loss (one Value)")
        p.set_grad(loss, c.upstream)
        p.local_backward(loss, what=f"{c.context}: loss._backward()")
        plan.append((c, r_kind, r_loss, [p.read(h, "a logit") for h in leaves]))
    expected = reference(p, ReferenceEngine({"Value": zengrad_ref.Value, "cross_entropy": cross_entropy}))
    got = run(engine, p)
    for c, r_kind, r_loss, r_leaves in plan:
        kind = _read(got, r_kind, " (subtract the largest logit from every logit before exp)")
        if kind != "Value":
            raise CheckFailure(f"{c.shown} returned {an(kind)}, expected one Value")  # type: ignore[arg-type]
        mine_loss, ref_loss = _read(got, r_loss)[0], expected.reads[r_loss][0]  # type: ignore[index]
        if not close(mine_loss, ref_loss):
            extra = " (not a number: subtract the largest logit before exp)" if not math.isfinite(mine_loss) else ""
            raise CheckFailure(f"{c.context}: your loss is {fmt(mine_loss)}, expected {fmt(ref_loss)}{extra}")
        probs = softmax([c.values[s] for s in c.slots])
        names = c.names()
        mine = [_read(got, r)[1] for r in r_leaves]  # type: ignore[index]
        want = [expected.reads[r][1] for r in r_leaves]
        uses = [[i for i, s in enumerate(c.slots) if s == k] for k in range(len(c.values))]
        wrong = next((k for k in range(len(mine)) if not close(mine[k], want[k])), None)
        if wrong is not None:
            raise CheckFailure(f"{c.context}: your {names[wrong]}.grad = {fmt(mine[wrong])}, expected "
                               f"{fmt(want[wrong])}{ce_hint(c, probs, uses, mine, want, wrong)}")
        if max(abs(v) for v in c.values) < 100:
            for k, grad in enumerate(mine):
                numeric = c.initial + c.upstream * c.central_difference(k)
                if not close(grad, numeric, FD_ATOL, FD_RTOL):
                    raise CheckFailure(f"{c.context}: your {names[k]}.grad = {fmt(grad)}, but finite differences "
                                       f"give {fmt(numeric)}")
    got.done()


def ce_hint(c: CECase, probs: Sequence[float], uses: Sequence[Sequence[int]], mine: Sequence[float],
            want: Sequence[float], k: int) -> str:
    """The classic bug that explains every logit's gradient at once, if one does."""
    g, g0 = c.upstream, c.initial
    if all(close(m, g0) for m in mine):
        return (" (loss._backward() alone must pass the gradient to every logit: make the loss one node, "
                "Value(L, logits, 'cross_entropy'), with its own _backward)")
    if all(close(m - g0, -(w - g0)) for m, w in zip(mine, want, strict=True)):
        return " (the sign is flipped: the gradient is softmax minus one-hot)"
    if all(close(m, g0 + g * sum(probs[i] for i in u)) for m, u in zip(mine, uses, strict=True)):
        return " (that is softmax alone: the gradient is softmax minus one-hot, subtract 1 at the target)"
    parts = [g * (probs[i] - (1.0 if i == c.target else 0.0)) for i in uses[k]]
    if len(uses[k]) > 1 and any(close(mine[k], x) or close(mine[k], g0 + x) for x in parts):
        return f" ({c.names()[k]} appears {len(uses[k])} times in the logits: it receives every contribution, += not =)"
    return hint(mine[k], want[k], g0, g, name=c.names()[k])


cross_entropy_check = batched("ps4.cross_entropy", ce_batch, ce_cases(), 25, CE_CASES, size=6)


# --- Optimizer.zero_grad --------------------------------------------------------------------
ZERO_GRAD_CASES = [[(1.0, 3.0, True), (-2.0, -0.5, True), (0.5, 2.0, False)], [(1.0, 2.5, True)],
                   [(3.0, 0.0, True), (0.0, -7.0, True)], [(0.25, 1.5, False)]]


def zero_grad_batch(engine: Engine, cases: Sequence[Sequence[tuple[float, float, bool]]]) -> None:
    """Each case: (data, grad, is it one of the optimizer's parameters) of some Values."""
    p = Program()
    plan = []
    for values in cases:
        mine = [(d, g) for d, g, own in values if own]
        others = [(d, g) for d, g, own in values if not own]
        ctx = (f"Optimizer(params, lr=0.1).zero_grad() with params of data {fmts([d for d, _ in mine])} and grad "
               f"{fmts([g for _, g in mine])}" + (f" (and {len(others)} other Value{'s' * (len(others) > 1)})"
                                                 if others else ""))
        handles = []
        for d, g, _ in values:
            h = p.leaf(d)
            p.set_grad(h, g)
            handles.append(h)
        own = [h for h, (_, _, is_own) in zip(handles, values, strict=True) if is_own]
        opt = p.call("Optimizer", p.new_list(*own), const(0.1), what="Optimizer(params, lr=0.1)")
        p.method(opt, "zero_grad", result=False, what=ctx)
        r_kinds = [p.read_kind(p.attr(h, "grad", what=ctx), ctx) for h in own]
        plan.append((ctx, values, r_kinds, [p.read(h, "a Value") for h in handles]))
    got = run(engine, p)
    for ctx, values, r_kinds, reads in plan:
        kinds = [got[r] for r in r_kinds]
        if any(k not in ("float", "int") for k in kinds):
            raise CheckFailure(f"{ctx}: a grad is {an(next(k for k in kinds if k not in ('float', 'int')))} "
                               "afterwards, expected 0.0")
        after = [got[r] for r in reads]
        for (d, g, own), (d2, g2) in zip(values, after, strict=True):
            if own and g2 != 0.0:
                own_grads = [x[1] for x, v in zip(after, values, strict=True) if v[2]]
                raise CheckFailure(f"{ctx}: the grads of its parameters are {fmts(own_grads)} afterwards, expected "
                                   "all 0.0 (every Value of self.params)")
            if not own and g2 != g:
                raise CheckFailure(f"{ctx}: the grad of a Value that is not one of its parameters is {fmt(g2)} "
                                   f"afterwards, expected {fmt(g)} (reset self.params, and only those)")
            if d2 != d:
                raise CheckFailure(f"{ctx}: a data is {fmt(d2)} afterwards, expected {fmt(d)} (zero_grad() only "
                                   "resets grad)")
    got.done()


zero_grad_check = batched("ps4.zero_grad", zero_grad_batch,
                          st.lists(st.tuples(NUMBERS, NUMBERS, st.booleans()), min_size=1, max_size=4), 10,
                          ZERO_GRAD_CASES)


# --- SGD, Adam, AdamW: trajectories ------------------------------------------------------------
@dataclass(frozen=True)
class OptCase:
    """``kind(params, **kwargs)`` from ``data``; before step k every parameter's grad is ``grads[k][i]``."""

    kind: str  # "SGD" | "Adam" | "AdamW"
    kwargs: tuple[tuple[str, object], ...]
    data: tuple[float, ...]
    grads: tuple[tuple[float, ...], ...]

    def arg(self, name: str, default: object) -> object:
        return dict(self.kwargs).get(name, default)

    @property
    def shown(self) -> str:
        args = "".join(f", {k}={fmts(v) if isinstance(v, tuple) else fmt(v) if not isinstance(v, bool) else v}"
                       for k, v in self.kwargs).replace("[", "(").replace("]", ")")
        return (f"{self.kind}(params{args}) from data {fmts(self.data)}, with the grads "
                f"{points(self.grads)} before steps 1..{len(self.grads)}")


def ref_trajectory(case: OptCase) -> list[list[float]]:
    """The data after every step, by zengrad_ref.optim."""
    from zengrad_ref import optim

    params = [zengrad_ref.Value(x) for x in case.data]
    opt = getattr(optim, case.kind)(params, **dict(case.kwargs))
    out = []
    for grads in case.grads:
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        opt.step()
        out.append([p.data for p in params])
    return out


def alt_trajectory(case: OptCase, bug: str) -> list[list[float]]:
    """The data after every step with one classic bug, in plain floats (for hints only)."""
    theta = list(case.data)
    n = len(theta)
    lr = float(case.arg("lr", 0.001))  # type: ignore[arg-type]
    mu = float(case.arg("momentum", 0.0))  # type: ignore[arg-type]
    b1, b2 = case.arg("betas", (0.9, 0.999))  # type: ignore[misc]
    if bug == "betas swapped":
        b1, b2 = b2, b1
    eps = float(case.arg("eps", 1e-8))  # type: ignore[arg-type]
    wd = float(case.arg("weight_decay", 0.01)) if case.kind == "AdamW" else 0.0  # type: ignore[arg-type]
    vel, m, v, out = [0.0] * n, [0.0] * n, [0.0] * n, []
    for t, grads in enumerate(case.grads, start=1):
        for i, g in enumerate(grads):
            if case.kind == "SGD":
                if bug == "velocity lost":
                    vel[i] = 0.0
                vel[i] = (mu * vel[i] + (1 - mu) * g) if bug == "dampened" else mu * vel[i] + g
                theta[i] -= lr * (vel[i] if bug == "nesterov ignored" or not case.arg("nesterov", False)
                                  else g + mu * vel[i])
                continue
            if case.kind == "AdamW":
                if bug == "decay in the gradient":
                    g = g + wd * theta[i]
                elif bug == "decay without lr":
                    theta[i] -= wd * theta[i]
                elif bug not in ("no decay", "decay after the update"):
                    theta[i] -= lr * wd * theta[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            tt = 1 if bug == "t not kept" else t
            m_hat, v_hat = (m[i], v[i]) if bug == "no bias correction" else (m[i] / (1 - b1**tt), v[i] / (1 - b2**tt))
            denominator = math.sqrt(v_hat + eps) if bug == "eps inside sqrt" else math.sqrt(v_hat) + eps
            theta[i] -= lr * m_hat / denominator
            if bug == "decay after the update":
                theta[i] -= lr * wd * theta[i]
        out.append(list(theta))
    return out


BUGS = {
    "SGD": {"velocity lost": "the velocity is not kept from one step to the next",
            "nesterov ignored": "nesterov=True steps by lr * (grad + momentum * v)",
            "dampened": "v = momentum * v + grad, not an average with (1 - momentum)"},
    "Adam": {"no bias correction": "the bias correction m / (1 - b1**t), v / (1 - b2**t) is missing",
             "eps inside sqrt": "eps goes outside the square root: sqrt(v_hat) + eps",
             "betas swapped": "betas = (b1, b2): b1 for the gradient's average m, b2 for the square's v",
             "t not kept": "the step count t must grow by 1 at every step, in the optimizer"},
    "AdamW": {"decay in the gradient": "decoupled: shrink p.data directly, do not add the decay to the gradient",
              "decay without lr": "the decay is lr * weight_decay * p.data",
              "decay after the update": "decay first, then Adam's step",
              "no decay": "the weight decay is missing"},
}


def _same(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> bool:
    return all(close(x, y) for ra, rb in zip(a, b, strict=True) for x, y in zip(ra, rb, strict=True))


def optimizer_batch(engine: Engine, cases: Sequence[OptCase]) -> None:
    p = Program()
    kinds = {c.kind for c in cases}
    if kinds == {"AdamW"}:
        p.use_known_good(PIECES, "Adam")  # the student's AdamW on the grader's Adam
    plan = []
    for c in cases:
        leaves = [p.leaf(x) for x in c.data]
        opt = p.call(c.kind, p.new_list(*leaves), kwargs={k: const(v) for k, v in c.kwargs}, what=c.shown)
        steps = []
        for k, grads in enumerate(c.grads, start=1):
            for h, g in zip(leaves, grads, strict=True):
                p.set_grad(h, g)
            p.method(opt, "step", result=False, what=f"{c.shown}: step {k}")
            steps.append([p.read(h, f"{c.shown}: a parameter") for h in leaves])
        plan.append((c, steps))
    got = run(engine, p)
    for c, steps in plan:
        want = ref_trajectory(c)
        mine = [[got[r][0] for r in reads] for reads in steps]
        for k, (reads, row, right) in enumerate(zip(steps, mine, want, strict=True), start=1):
            if not all(close(x, y) for x, y in zip(row, right, strict=True)):
                extra = next((f" ({why})" for bug, why in BUGS[c.kind].items()
                              if _same(mine, alt_trajectory(c, bug))), "")
                raise CheckFailure(f"{c.shown}: after step {k} the data is {fmts(row)}, expected {fmts(right)}{extra}")
            grads = [got[r][1] for r in reads]
            if grads != list(c.grads[k - 1]):
                raise CheckFailure(f"{c.shown}: after step {k} the grads are {fmts(grads)}, expected "
                                   f"{fmts(c.grads[k - 1])} (step() changes p.data only)")
    got.done()


GRADS = st.one_of(NUMBERS, reals(-1e-3, 1e-3))


@st.composite
def _params_and_grads(draw: st.DrawFn) -> tuple[tuple[float, ...], tuple[tuple[float, ...], ...]]:
    n = draw(st.integers(1, 3))
    data = tuple(draw(st.lists(NUMBERS, min_size=n, max_size=n)))
    grads = draw(st.lists(st.lists(GRADS, min_size=n, max_size=n).map(tuple), min_size=1, max_size=4))
    return data, tuple(grads)


def _maybe(draw: st.DrawFn, name: str, values: st.SearchStrategy) -> list[tuple[str, object]]:
    """A keyword argument, or none (its default)."""
    return [(name, draw(values))] if draw(st.booleans()) else []


@st.composite
def opt_cases(draw: st.DrawFn, kind: str) -> OptCase:
    data, grads = draw(_params_and_grads())
    if kind == "SGD":
        kwargs = [("lr", draw(reals(0.01, 1.0))), *_maybe(draw, "momentum", st.one_of(st.just(0.9), reals(0.0, 0.99))),
                  *_maybe(draw, "nesterov", st.booleans())]
    else:
        betas = st.tuples(st.sampled_from([0.9, 0.5, 0.0]), st.sampled_from([0.999, 0.9, 0.5]))
        kwargs = [*_maybe(draw, "lr", reals(0.001, 0.5)), *_maybe(draw, "betas", betas),
                  *_maybe(draw, "eps", st.sampled_from([1e-8, 1e-3, 0.1, 1.0]))]
        if kind == "AdamW":
            kwargs += _maybe(draw, "weight_decay", reals(0.0, 0.5))
    return OptCase(kind, tuple(kwargs), data, grads)


_NB_GRADS = ((1.0, -2.0), (0.5, 0.0), (-1.0, 1.0))  # the notebook's
OPT_CASES = {
    "SGD": [OptCase("SGD", (("lr", 0.1),), (1.0, -0.5), _NB_GRADS),
            OptCase("SGD", (("lr", 0.1), ("momentum", 0.9)), (1.0, -0.5), _NB_GRADS),
            OptCase("SGD", (("lr", 0.1), ("momentum", 0.9), ("nesterov", True)), (1.0, -0.5), _NB_GRADS),
            OptCase("SGD", (("lr", 0.5), ("momentum", 0.5)), (0.3,), ((1.0,), (1.0,), (1.0,), (-2.0,)))],
    "Adam": [OptCase("Adam", (("lr", 0.1),), (1.0, -0.5), _NB_GRADS),
             OptCase("Adam", (("lr", 0.1), ("betas", (0.5, 0.9)), ("eps", 0.1)), (1.0, -0.5), _NB_GRADS),
             OptCase("Adam", (), (0.5,), ((1e-4,), (2e-4,), (-1e-4,))),
             OptCase("Adam", (("lr", 0.05), ("betas", (0.8, 0.99))), (0.2, -0.1, 0.7), ((0.3, -1.0, 0.0),) * 4)],
    "AdamW": [OptCase("AdamW", (("lr", 0.1), ("weight_decay", 0.5)), (1.0, -0.5), _NB_GRADS),
              OptCase("AdamW", (("lr", 0.1),), (1.0, -0.5), _NB_GRADS),
              OptCase("AdamW", (("lr", 0.2), ("weight_decay", 0.25), ("eps", 0.1)), (2.0,), ((0.0,), (0.5,), (1.0,)))],
}


def optimizer_check(kind: str, examples: int) -> Callable[[Engine], None]:
    return batched(f"ps4.{kind.lower()}", optimizer_batch, opt_cases(kind), examples, OPT_CASES[kind], size=6)


# --- train --------------------------------------------------------------------------------------
def _spirals(n: int, seed: int) -> tuple[list[list[float]], list[int]]:
    from zengrad_ref.data import make_spirals

    return make_spirals(n_samples=n, classes=3, noise=0.1, seed=seed)


@dataclass(frozen=True)
class TrainCase:
    """train(model, X, y, steps[, lr]) on a known-good MLP(2, nouts) from fixed weights, on spirals."""

    nouts: tuple[int, ...]
    points: int
    data_seed: int
    steps: int
    lr: float | None  # None: train's default
    weight_seed: int | None  # None: zengrad_ref.nn.MLP(2, nouts, seed=TRAIN_SEED)'s initial weights
    notes: tuple[str, ...] = field(default=())

    def weights(self) -> list[float]:
        if self.weight_seed is None:
            from zengrad_ref.nn import MLP as RMLP

            return RMLP(2, list(self.nouts), seed=TRAIN_SEED, activation="tanh").get_weights()
        return rng_weights(self.weight_seed, mlp_param_count(2, self.nouts))

    @property
    def shown(self) -> str:
        lr = f", lr={fmt(self.lr)}" if self.lr is not None else ""
        return (f"train(model, X, y, steps={self.steps}{lr}) with model = MLP(2, {list(self.nouts)}) on "
                f"make_spirals({self.points}, noise=0.1, seed={self.data_seed})")


TRAIN_CASES = [  # small and exact, simplest first: every argument, the default lr, the losses, the state
    TrainCase((3, 3), 6, 1, 3, None, 700),
    TrainCase((4, 3), 9, 2, 3, 0.05, 600),
]
ACCURACY_CASE = TrainCase((*TRAIN_HIDDEN, 3), TRAIN_POINTS, TRAIN_SEED, TRAIN_STEPS, None, None)


@cache
def reference_training(case: TrainCase, bug: str = "") -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The notebook's loop run by zengrad_ref (with one classic bug, for hints): the losses, the final weights."""
    from zengrad_ref.engine import sum_values
    from zengrad_ref.losses import cross_entropy
    from zengrad_ref.nn import MLP as RMLP
    from zengrad_ref.optim import Adam

    X, y = _spirals(case.points, case.data_seed)
    model = RMLP(2, list(case.nouts), seed=0, activation="tanh")
    model.set_weights(case.weights())
    params = model.parameters()
    lr = TRAIN_LR if case.lr is None else case.lr
    opt = Adam(params, lr=lr)
    losses = []
    for _ in range(case.steps):
        total = sum_values([cross_entropy(model(x), label) for x, label in zip(X, y, strict=True)])
        loss = total if bug == "sum" else total * (1.0 / len(X))
        if bug == "fresh optimizer":
            opt = Adam(params, lr=lr)
        if bug != "no zero_grad":
            opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.data)
    return tuple(losses), tuple(model.get_weights())


TRAIN_BUGS = {"sum": "the loss is the mean: the sum times 1.0 / len(X)",
              "fresh optimizer": "make one Adam before the loop: its moments carry over from step to step",
              "no zero_grad": "opt.zero_grad() before loss.backward(): gradients accumulate"}


def train_accuracy(case: TrainCase, weights: Sequence[float]) -> float:
    """The training accuracy of MLP(2, nouts) with these weights, computed here by zengrad_ref."""
    from zengrad_ref.losses import argmax_accuracy
    from zengrad_ref.nn import MLP as RMLP

    X, y = _spirals(case.points, case.data_seed)
    model = RMLP(2, list(case.nouts), seed=0, activation="tanh")
    model.set_weights(weights)
    return argmax_accuracy([model(x) for x in X], y)  # type: ignore[misc]


def train_case(engine: Engine, case: TrainCase, target: float | None = None) -> None:
    """The student's train() on a known-good MLP with known-good cross_entropy and Adam; compared here."""
    X, y = _spirals(case.points, case.data_seed)
    trained = run_training(engine, case.shown, pieces=PIECES, known_good=("cross_entropy", "Adam"), nouts=case.nouts,
                           weights=case.weights(), X=X, y=y, steps=case.steps,
                           extra=[case.lr] if case.lr is not None else [],
                           timeout=TRAIN_CPU if target is not None else None)
    mine, weights, got = trained.losses, trained.weights, trained.reads
    if target is not None:
        acc = train_accuracy(case, weights)
        if acc < target:
            raise CheckFailure(f"{case.shown} from fixed weights: training accuracy {acc:.1%}, expected at least "
                               f"{target:.0%}")
        got.done()
        return
    want, want_w = reference_training(case)
    for k, (a, b) in enumerate(zip(mine, want, strict=True)):
        if not close(a, b):
            extra = next((f" ({why})" for bug, why in TRAIN_BUGS.items()
                          if all(close(x, z) for x, z in zip(mine, reference_training(case, bug)[0], strict=True))),
                         "")
            if not extra and k + 1 < len(want) and close(a, want[k + 1]):
                extra = " (computed after the update?)"
            raise CheckFailure(f"{case.shown}: your loss of step {k} is {fmt(a)}, expected {fmt(b)}" + (extra or (
                " (step k: the mean of cross_entropy(model(x), label) over X, before the update)")))
    for i, (a, b) in enumerate(zip(weights, want_w, strict=True)):
        if not close(a, b):
            raise CheckFailure(f"{case.shown}: afterwards model.parameters()[{i}] is {fmt(a)}, expected {fmt(b)} "
                               "(each step: opt.zero_grad(), loss.backward(), opt.step(), with one Adam(model."
                               "parameters(), lr=lr) made before the loop)")
    got.done()


def train_check(engine: Engine) -> None:
    for case in TRAIN_CASES:
        train_case(engine, case)
    train_case(engine, ACCURACY_CASE, TRAIN_TARGET)


register("ps4.pow", "a ** b with a Value exponent")(pow_check)
register("ps4.softplus", "softplus(a)")(activation_check("softplus", reals(-30.0, 30.0)))
register("ps4.gelu", "gelu(a)")(activation_check("gelu", reals(-6.0, 6.0)))
register("ps4.cross_entropy", "cross_entropy(logits, target)")(cross_entropy_check)
register("ps4.zero_grad", "Optimizer.zero_grad")(zero_grad_check)
register("ps4.sgd", "SGD")(optimizer_check("SGD", 14))
register("ps4.adam", "Adam")(optimizer_check("Adam", 14))
register("ps4.adamw", "AdamW")(optimizer_check("AdamW", 10))
register("ps4.train", "train")(train_check)

