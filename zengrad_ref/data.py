"""Toy data sets, from scratch with the standard library (no numpy, no sklearn): moons and spirals."""

from __future__ import annotations

import math
import random


def _linspace(start: float, stop: float, n: int) -> list[float]:
    """``numpy.linspace(start, stop, n)``: n evenly spaced points, both ends included."""
    if n <= 1:
        return [start] * n
    step = (stop - start) / (n - 1)
    return [start + i * step for i in range(n - 1)] + [stop]


def make_moons(
    n_samples: int = 100, noise: float = 0.1, seed: int = 0
) -> tuple[list[list[float]], list[int]]:
    """Two interleaving half circles, like ``sklearn.datasets.make_moons``.

    The outer moon is the upper half of the unit circle centred at (0, 0), label
    -1; the inner moon is the lower half centred at (1, 0.5), label +1 (micrograd's
    ``y*2 - 1``). ``n_samples // 2`` points go to the outer moon, the rest to the
    inner one. The points are shuffled, then Gaussian noise with standard
    deviation ``noise`` is added to each coordinate, all from one
    ``random.Random(seed)``, so the result depends only on the arguments.
    """
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    n_out = n_samples // 2
    n_in = n_samples - n_out
    outer = [[math.cos(t), math.sin(t)] for t in _linspace(0.0, math.pi, n_out)]
    inner = [[1.0 - math.cos(t), 1.0 - math.sin(t) - 0.5] for t in _linspace(0.0, math.pi, n_in)]
    points = [(p, -1) for p in outer] + [(p, 1) for p in inner]

    rng = random.Random(seed)
    rng.shuffle(points)
    X = [[x + rng.gauss(0.0, noise), y + rng.gauss(0.0, noise)] for (x, y), _ in points]
    labels = [label for _, label in points]
    return X, labels


SPIRAL_TURNS = 0.75  # how far each arm winds, in turns, from its inner end to its outer end
SPIRAL_R0 = 0.2  # the radius of each arm's inner end (the outer end is at radius 1)


def make_spirals(
    n_samples: int = 90, classes: int = 3, noise: float = 0.1, seed: int = 0
) -> tuple[list[list[float]], list[int]]:
    """``classes`` interleaved spiral arms, labels ``0 .. classes - 1``.

    Arm ``j`` has ``n_samples // classes`` points (one more for each of the first
    ``n_samples % classes`` arms). Its ``i``-th point, at ``s = i / (n_j - 1)``
    (``numpy.linspace(0, 1, n_j)``), lies at radius ``r = 0.2 + 0.8 * s`` and angle
    ``2 * pi * (j / classes + 0.75 * s)``: every arm starts at its own angle and
    winds three quarters of a turn outwards. The points are shuffled, then
    Gaussian noise with standard deviation ``noise`` is added to each coordinate,
    all from one ``random.Random(seed)`` (as :func:`make_moons`), so the result
    depends only on the arguments.
    """
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    if classes < 1:
        raise ValueError(f"classes must be >= 1, got {classes}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    points: list[tuple[list[float], int]] = []
    for j in range(classes):
        n_j = n_samples // classes + (1 if j < n_samples % classes else 0)
        for s in _linspace(0.0, 1.0, n_j):
            r = SPIRAL_R0 + (1.0 - SPIRAL_R0) * s
            t = 2.0 * math.pi * (j / classes + SPIRAL_TURNS * s)
            points.append(([r * math.cos(t), r * math.sin(t)], j))

    rng = random.Random(seed)
    rng.shuffle(points)
    X = [[x + rng.gauss(0.0, noise), y + rng.gauss(0.0, noise)] for (x, y), _ in points]
    labels = [label for _, label in points]
    return X, labels
