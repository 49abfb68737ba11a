"""Assignment 3 checks of fitting the network: ``svm_loss``, ``sgd_step``, ``train``, ``decision_grid``.

See the package's docstring (``autograder/checks/ps3/__init__.py``) for how every check works.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from autograder.checks.kit import CheckFailure, Engine, Program, batched, close, const, fmt, fmts, run
from autograder.checks.kit.compare import KINK
from autograder.checks.kit.compare import a as an
from autograder.checks.kit.nets import (
    check_one_value,
    hidden_kink,
)
from autograder.checks.kit.strategies import LABELS, NUMBERS, SCORES, numbers, reals
from autograder.checks.kit.training import TrainCase, Training, training_check
from autograder.checks.ps3.modules import PIECES

TRAIN_HIDDEN = [16, 16]  # MLP(2, [16, 16, 1]): micrograd's network
TRAIN_POINTS, TRAIN_SEED, TRAIN_STEPS = 40, 0, 25  # zengrad_ref: 100% training accuracy
TRAIN_TARGET = 0.95
TRAIN_CPU = 60.0  # CPU seconds for the full training program (about 3 s on a 2-core CI runner)


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
        check_one_value(got[r_kind], c.shown, "every score and parameter")
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


loss_check = batched("ps3.loss", loss_batch, loss_cases(), 10, LOSS_CASES, skip=LossCase.on_kink)


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


def _svm_loop(model, X: list[list[float]], y: list[int], steps: int, alpha: float,  # type: ignore[no-untyped-def]
              bug: str) -> tuple[list[float], bool]:
    """The notebook's loop by zengrad_ref: svm_loss, zero_grad, backward, sgd_step with 1.0 - 0.9 * k / steps."""
    from zengrad_ref.losses import svm_hinge_l2

    nouts = [len(layer.neurons) for layer in model.layers]
    params = model.parameters()
    losses, kink = [], False
    for k in range(steps):
        weights = model.get_weights()
        kink = kink or any(hidden_kink(2, nouts, weights, x) for x in X)
        scores = [model(x) for x in X]
        kink = kink or any(abs(1 - yi * sc.data) < KINK for sc, yi in zip(scores, y, strict=True))
        loss = svm_hinge_l2(scores, y, params, alpha=alpha)
        model.zero_grad()
        loss.backward()
        lr = 1.0 - 0.9 * k / steps
        for p in params:
            p.data -= lr * p.grad
        losses.append(loss.data)
    return losses, kink


def _accuracy(scores: list, y: list[int]) -> float:
    from zengrad_ref.losses import accuracy

    return accuracy(scores, y)


TRAINING = Training(
    pieces=PIECES, known_good=("svm_loss", "sgd_step"), data=_moons,
    data_shown="make_moons({points}, noise=0.1, seed={seed})", option="alpha", default=1e-4, activation="relu",
    init_seed=TRAIN_SEED, loop=_svm_loop, accuracy=_accuracy, cpu=TRAIN_CPU,
    loss_rule="step k: the scores of every x in X, svm_loss(scores, y, model.parameters(), alpha), before the update",
    step_rule="each step: model.zero_grad(), loss.backward(), sgd_step(model, 1.0 - 0.9 * k / steps)")
TRAIN_CASES = [  # small and exact, simplest first: every argument, the default alpha, the schedule, the losses
    TrainCase(TRAINING, (3, 1), 6, 2, 2, None, 700),
    TrainCase(TRAINING, (4, 4, 1), 8, 1, 3, 0.01, 600),
]
ACCURACY_CASE = TrainCase(TRAINING, (*TRAIN_HIDDEN, 1), TRAIN_POINTS, TRAIN_SEED, TRAIN_STEPS)
train_check = training_check(TRAIN_CASES, ACCURACY_CASE, TRAIN_TARGET)


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
