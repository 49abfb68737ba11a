"""micrograd's moons demo, seeded: the end-to-end check that the whole stack learns.

``python -m zengrad_ref.train`` trains ``MLP(2, [16, 16, 1])`` on 100 moons points
with the SVM hinge loss + L2 and micrograd's learning-rate schedule, and prints
the training accuracy.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from zengrad_ref.data import make_moons
from zengrad_ref.losses import accuracy, svm_hinge_l2
from zengrad_ref.nn import MLP
from zengrad_ref.optim import SGD

DEFAULT_STEPS = 25  # seed 0: >= 97% from 20 steps on, 98% on the plateau 23..30; see train_moons


def train_moons(
    seed: int = 0,
    steps: int = DEFAULT_STEPS,
    n_samples: int = 100,
    noise: float = 0.1,
    alpha: float = 1e-4,
    hidden: Sequence[int] = (16, 16),
) -> tuple[MLP, float, list[float]]:
    """Train on ``make_moons(n_samples, noise, seed)`` with ``MLP(2, [*hidden, 1], seed=seed)``.

    Full-batch SGD on ``svm_hinge_l2`` with ``lr = 1.0 - 0.9 * k / steps`` at
    step ``k`` (micrograd's demo). Returns the model, the final training
    accuracy (measured after the last update) and the loss of every step.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    X, y = make_moons(n_samples=n_samples, noise=noise, seed=seed)
    model = MLP(2, [*hidden, 1], seed=seed)
    params = model.parameters()
    opt = SGD(params, lr=1.0)
    losses: list[float] = []
    for k in range(steps):
        scores = [model(x) for x in X]
        loss = svm_hinge_l2(scores, y, params, alpha=alpha)
        opt.zero_grad()
        loss.backward()
        opt.lr = 1.0 - 0.9 * k / steps
        opt.step()
        losses.append(loss.data)
    final_acc = accuracy([model(x) for x in X], y)
    return model, final_acc, losses


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: train and print the accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    _, acc, losses = train_moons(seed=args.seed, steps=args.steps)
    elapsed = time.perf_counter() - start
    print(
        f"moons seed={args.seed} steps={args.steps}: final loss {losses[-1]:.4f}, "
        f"accuracy {acc:.0%} ({elapsed:.1f} s)"
    )


if __name__ == "__main__":
    main()
