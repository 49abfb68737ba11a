"""Assignment 4 checks of training: ``Optimizer.zero_grad``, ``SGD``, ``Adam``, ``AdamW``, ``train``.

See the package's docstring (``autograder/checks/ps4/__init__.py``) for how every check works.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

import zengrad_ref
from autograder.checks.kit import (
    CheckFailure,
    Engine,
    Program,
    batched,
    close,
    const,
    fmt,
    fmts,
    points,
    run,
)
from autograder.checks.kit.misconceptions import misconception
from autograder.checks.kit.nets import call_zero_grad, zeroed
from autograder.checks.kit.strategies import NUMBERS, reals
from autograder.checks.kit.training import TrainCase, Training

PIECES = "ps4"  # autograder/checks/pieces/ps4.py

TRAIN_HIDDEN = (16, 16)  # MLP(2, [16, 16, 3])
TRAIN_POINTS, TRAIN_SEED, TRAIN_STEPS, TRAIN_LR = 45, 0, 60, 0.1  # zengrad_ref: 97.8% (44 of 45) training accuracy
TRAIN_TARGET = 0.90
TRAIN_CPU = 30.0  # CPU seconds of the accuracy run in the worker (about 1.5 s on a 2-core runner)

# --- Optimizer.zero_grad --------------------------------------------------------------------
EQUAL_DATA = misconception("zero_grad: parameters told apart by their data",
                           "two parameters with equal data are still two Values: reset every Value of self.params, "
                           "do not compare or deduplicate them by data")
ZERO_GRAD_CASES = [[(1.0, 3.0, True), (-2.0, -0.5, True), (0.5, 2.0, False)], [(1.0, 2.5, True)],
                   [(3.0, 0.0, True), (0.0, -7.0, True)], [(0.25, 1.5, False)],
                   # parameters whose data are equal (every bias starts at 0.0): each one is its own Value
                   [(0.0, 1.5, True), (0.0, -2.0, True), (0.0, 0.5, True)],
                   [(0.5, 1.0, True), (0.5, 3.0, False), (0.5, -1.0, True)]]


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
        plan.append((ctx, values, call_zero_grad(p, opt, ctx, own, handles, "a Value")))
    got = run(engine, p)
    for ctx, values, reads in plan:
        after = zeroed(got, ctx, reads)
        for (d, g, own), (d2, g2) in zip(values, after, strict=True):
            if own and g2 != 0.0:
                own_grads = [x[1] for x, v in zip(after, values, strict=True) if v[2]]
                twin = sum(1 for x, _, o in values if o and x == d) > 1
                why = EQUAL_DATA if twin else "every Value of self.params"
                raise CheckFailure(f"{ctx}: the grads of its parameters are {fmts(own_grads)} afterwards, expected "
                                   f"all 0.0 ({why})")
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


BUGS = {  # classic bug -> its hint, each a misconception kind of the report
    "SGD": {"velocity lost": misconception("SGD: the velocity is not kept between steps",
                                           "the velocity is not kept from one step to the next"),
            "nesterov ignored": misconception("SGD: Nesterov ignored",
                                              "nesterov=True steps by lr * (grad + momentum * v)"),
            "dampened": misconception("SGD: momentum dampened",
                                      "v = momentum * v + grad, not an average with (1 - momentum)")},
    "Adam": {"no bias correction": misconception("Adam: no bias correction",
                                                 "the bias correction m / (1 - b1**t), v / (1 - b2**t) is missing"),
             "eps inside sqrt": misconception("Adam: eps inside the square root",
                                              "eps goes outside the square root: sqrt(v_hat) + eps"),
             "betas swapped": misconception("Adam: betas swapped",
                                            "betas = (b1, b2): b1 for the gradient's average m, b2 for the square's v"),
             "t not kept": misconception("Adam: the step count is not kept",
                                         "the step count t must grow by 1 at every step, in the optimizer")},
    "AdamW": {"decay in the gradient": misconception("AdamW: L2 in the gradient instead of decoupled decay",
                                                     "decoupled: shrink p.data directly, do not add the decay to the "
                                                     "gradient"),
              "decay without lr": misconception("AdamW: decay without lr", "the decay is lr * weight_decay * p.data"),
              "decay after the update": misconception("AdamW: decay after Adam's step",
                                                      "decay first, then Adam's step"),
              "no decay": misconception("AdamW: no decay", "the weight decay is missing")},
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


def _adam_loop(model, X: list[list[float]], y: list[int], steps: int, lr: float,  # type: ignore[no-untyped-def]
               bug: str) -> tuple[list[float], bool]:
    """The notebook's loop by zengrad_ref: the mean cross entropy, one Adam, zero_grad, backward, step."""
    from zengrad_ref.engine import sum_values
    from zengrad_ref.losses import cross_entropy
    from zengrad_ref.optim import Adam

    params = model.parameters()
    opt = Adam(params, lr=lr)
    losses = []
    for _ in range(steps):
        total = sum_values([cross_entropy(model(x), label) for x, label in zip(X, y, strict=True)])
        loss = total if bug == "sum" else total * (1.0 / len(X))
        if bug == "fresh optimizer":
            opt = Adam(params, lr=lr)
        if bug != "no zero_grad":
            opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.data)
    return losses, False


def _accuracy(logits: list, y: list[int]) -> float:
    from zengrad_ref.losses import argmax_accuracy

    return argmax_accuracy(logits, y)  # type: ignore[arg-type]


TRAINING = Training(
    pieces=PIECES, known_good=("cross_entropy", "Adam"), data=_spirals,
    data_shown="make_spirals({points}, noise=0.1, seed={seed})", option="lr", default=TRAIN_LR,
    activation="tanh", init_seed=TRAIN_SEED, loop=_adam_loop, accuracy=_accuracy, cpu=TRAIN_CPU,
    loss_rule="step k: the mean of cross_entropy(model(x), label) over X, before the update",
    step_rule="each step: opt.zero_grad(), loss.backward(), opt.step(), with one Adam(model.parameters(), lr=lr) "
              "made before the loop",
    bugs={"sum": misconception("train: the sum instead of the mean",
                               "the loss is the mean: the sum times 1.0 / len(X)"),
          "fresh optimizer": misconception("train: a new optimizer every step",
                                           "make one Adam before the loop: its moments carry over from step to step"),
          "no zero_grad": misconception("train: no zero_grad", "opt.zero_grad() before loss.backward(): gradients "
                                                                "accumulate")})
TRAIN_CASES = [  # small and exact, simplest first: every argument, the default lr, the losses, the state
    TrainCase(TRAINING, (3, 3), 6, 1, 3, None, 700),
    TrainCase(TRAINING, (4, 3), 9, 2, 3, 0.05, 600),
]
# 60 Adam steps: compared by accuracy only (a correct student's other order of sums may drift the last bits)
ACCURACY_CASE = TrainCase(TRAINING, (*TRAIN_HIDDEN, 3), TRAIN_POINTS, TRAIN_SEED, TRAIN_STEPS, exact=False)
