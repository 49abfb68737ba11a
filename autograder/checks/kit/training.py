"""Checks of a training loop: the student's ``train`` on a known-good network, against the reference's loop.

Problem sets 3 and 4 both ask for ``train(model, X, y, steps[, option])``; they differ in the
data, the network's activation, the loss and the update, i.e. in what the notebook says one
step is. A :class:`Training` holds those facts for one assignment, once: the dataset, the
known-good pieces ``train`` runs with, the name and default of its optional argument and the
notebook's loop written with ``zengrad_ref`` (which can replay a classic bug, for hints). A
:class:`TrainCase` is one call (network, data, steps), and :func:`training_check` is the whole
check: the small exact cases (every loss and every final weight against the reference), then
the accuracy run, whose training accuracy is computed here from the weights read back.

The student's ``train`` runs on the grader's own ``MLP`` with known weights
(``kit.nets.run_training``), so only ``train`` itself is graded. A reference loop reports a
*kink* (a ReLU input or a hinge margin within ``KINK`` of 0) when its numbers would hinge on
rounding: then the accuracy, if asked for, decides alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from autograder.checks.kit.compare import close, fmt
from autograder.checks.kit.errors import CheckFailure
from autograder.checks.kit.nets import mlp_param_count, param_names, rng_weights, run_training
from autograder.checks.kit.program import Engine

Points = list[list[float]]
Loop = Callable[[Any, Points, list[int], int, float, str], tuple[list[float], bool]]


@dataclass(frozen=True, eq=False)
class Training:
    """What one assignment's ``train`` is, for its check.

    ``loop(model, X, y, steps, option, bug)`` is the notebook's loop run by ``zengrad_ref`` on
    ``model`` (a ``zengrad_ref.nn.MLP``): it returns the losses and whether a kink was met; with
    ``bug`` (a key of ``bugs``) it makes that classic mistake instead, so a matching wrong answer
    gets the bug's hint. ``loss_rule``/``step_rule`` say in the notebook's words what a loss and
    a step are (the tail of a wrong loss's and a wrong weight's message).
    """

    pieces: str  # autograder/checks/pieces/<pieces>.py
    known_good: tuple[str, ...]  # the pieces train runs with, besides MLP
    data: Callable[[int, int], tuple[Points, list[int]]]  # (points, seed) -> X, y
    data_shown: str  # how the data is written, with {points} and {seed}
    option: str  # the name of train's optional last argument
    default: float  # its default
    activation: str  # the hidden layers' activation (zengrad_ref.nn.MLP's keyword)
    init_seed: int  # zengrad_ref.nn.MLP(2, nouts, seed=init_seed): the accuracy run's weights
    loop: Loop
    accuracy: Callable[[list[Any], list[int]], float]  # of the reference model's outputs
    cpu: float  # CPU seconds of the accuracy run in the worker
    loss_rule: str
    step_rule: str
    bugs: Mapping[str, str] = field(default_factory=dict)

    def model(self, nouts: Sequence[int], weights: Sequence[float] | None = None, seed: int = 0) -> Any:
        """The reference ``MLP(2, nouts)``, set to ``weights`` if given."""
        from zengrad_ref.nn import MLP

        model = MLP(2, list(nouts), seed=seed, activation=self.activation)
        if weights is not None:
            model.set_weights(list(weights))
        return model


@dataclass(frozen=True)
class TrainCase:
    """``train(model, X, y, steps[, option])`` on a known-good ``MLP(2, nouts)`` from fixed weights.

    ``exact``: the losses and final weights are compared with the reference (else only the
    accuracy, for a long run whose last bits may drift with a correct student's order of sums).
    """

    training: Training
    nouts: tuple[int, ...]
    points: int
    data_seed: int
    steps: int
    option: float | None = None  # None: train's default
    weight_seed: int | None = None  # None: the reference MLP's own initial weights (Training.init_seed)
    exact: bool = True

    def data(self) -> tuple[Points, list[int]]:
        return self.training.data(self.points, self.data_seed)

    def weights(self) -> list[float]:
        if self.weight_seed is None:
            return self.training.model(self.nouts, seed=self.training.init_seed).get_weights()
        return rng_weights(self.weight_seed, mlp_param_count(2, self.nouts))

    @property
    def shown(self) -> str:
        t = self.training
        option = f", {t.option}={fmt(self.option)}" if self.option is not None else ""
        return (f"train(model, X, y, steps={self.steps}{option}) with model = MLP(2, {list(self.nouts)}) on "
                + t.data_shown.format(points=self.points, seed=self.data_seed))


@cache
def reference_training(case: TrainCase, bug: str = "") -> tuple[tuple[float, ...], tuple[float, ...], bool]:
    """The notebook's loop run by zengrad_ref (with one classic bug, for hints): losses, final weights, kink."""
    t = case.training
    X, y = case.data()
    model = t.model(case.nouts, case.weights())
    option = t.default if case.option is None else case.option
    losses, kink = t.loop(model, X, y, case.steps, option, bug)
    return tuple(losses), tuple(model.get_weights()), kink


def train_accuracy(case: TrainCase, weights: Sequence[float]) -> float:
    """The training accuracy of ``MLP(2, nouts)`` with these weights, computed here by zengrad_ref."""
    X, y = case.data()
    model = case.training.model(case.nouts, weights)
    return case.training.accuracy([model(x) for x in X], y)


def _loss_hint(case: TrainCase, mine: Sequence[float], k: int) -> str:
    """Why the loss of step k is wrong: a classic bug whose losses match, else the notebook's rule."""
    want = reference_training(case)[0]
    for bug, why in case.training.bugs.items():
        if all(close(a, b) for a, b in zip(mine, reference_training(case, bug)[0], strict=True)):
            return f" ({why})"
    if k + 1 < len(want) and close(mine[k], want[k + 1]):
        return " (computed after the update?)"
    return f" ({case.training.loss_rule})"


def train_case(engine: Engine, case: TrainCase, target: float | None = None) -> None:
    """The student's ``train`` on a known-good MLP with the known-good pieces; compared here."""
    t = case.training
    X, y = case.data()
    trained = run_training(engine, case.shown, pieces=t.pieces, known_good=t.known_good, nouts=case.nouts,
                           weights=case.weights(), X=X, y=y, steps=case.steps,
                           extra=[case.option] if case.option is not None else [],
                           timeout=t.cpu if target is not None else None)
    if target is not None:
        acc = train_accuracy(case, trained.weights)
        if acc < target:
            raise CheckFailure(f"{case.shown} from fixed weights: training accuracy {acc:.1%}, expected at "
                               f"least {target:.0%}")
    if case.exact:  # only then is the reference's training run (a long accuracy run is not)
        _compare_with_reference(case, trained.losses, trained.weights)
    trained.reads.done()


def _compare_with_reference(case: TrainCase, losses: Sequence[float], weights: Sequence[float]) -> None:
    """Every loss and every final weight against the reference's training (skipped on a kink)."""
    want, want_w, kink = reference_training(case)
    if kink:
        return
    for k, (a, b) in enumerate(zip(losses, want, strict=True)):
        if not close(a, b):
            raise CheckFailure(f"{case.shown}: your loss of step {k} is {fmt(a)}, expected {fmt(b)}"
                               + _loss_hint(case, losses, k))
    for name, a, b in zip(param_names(2, case.nouts), weights, want_w, strict=True):
        if not close(a, b):
            raise CheckFailure(f"{case.shown}: afterwards {name} is {fmt(a)}, expected {fmt(b)} "
                               f"({case.training.step_rule})")


def training_check(cases: Sequence[TrainCase], accuracy_case: TrainCase, target: float) -> Callable[[Engine], None]:
    """The check of ``train``: the exact cases in order (simplest first), then the accuracy run."""

    def check(engine: Engine) -> None:
        for case in cases:
            train_case(engine, case)
        train_case(engine, accuracy_case, target)

    return check
