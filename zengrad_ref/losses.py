"""Loss functions over ``Value``s, and classification accuracy.

Sums over a data set use the fused ``sum_values`` node (Python's ``sum`` order),
so the floats match micrograd's demo notebook while the graph stays small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from zengrad_ref.engine import Value, sum_values


def mse(preds: Sequence[Value | float], targets: Sequence[Value | float]) -> Value:
    """Mean squared error ``mean((p - t)**2)``; the lengths must match and be non-zero."""
    if len(preds) != len(targets):
        raise ValueError(f"mse: {len(preds)} predictions but {len(targets)} targets")
    if not preds:
        raise ValueError("mse: empty batch")
    squares = [
        (p - t) ** 2 if isinstance(p, Value) else (Value(p) - t) ** 2
        for p, t in zip(preds, targets, strict=True)
    ]
    return sum_values(squares) * (1.0 / len(squares))


def svm_hinge_l2(
    scores: Sequence[Value], labels: Sequence[int], params: Sequence[Value], alpha: float = 1e-4
) -> Value:
    """micrograd's demo loss: ``mean(relu(1 - y_i*score_i)) + alpha * sum(p*p)``.

    ``labels`` are -1/+1. Written exactly like the notebook,
    ``(1 + -yi*scorei).relu()``, ``sum(...) * (1.0/len)`` and ``alpha * sum(p*p)``,
    so the loss has the same floats as micrograd's for the same weights.
    """
    if len(scores) != len(labels):
        raise ValueError(f"svm_hinge_l2: {len(scores)} scores but {len(labels)} labels")
    if not scores:
        raise ValueError("svm_hinge_l2: empty batch")
    margins = [(1 + -yi * si).relu() for yi, si in zip(labels, scores, strict=True)]
    data_loss = sum_values(margins) * (1.0 / len(margins))
    reg_loss = alpha * sum_values([p * p for p in params])
    return data_loss + reg_loss


def softmax_cross_entropy(logits: Sequence[Value], target: int) -> Value:
    """``-log softmax(logits)[target]``, computed as ``logsumexp(z - max) - (z_t - max)``.

    Subtracting the (constant) maximum keeps every ``exp`` argument <= 0, so large
    logits neither overflow nor lose the answer; the gradient is unchanged because
    softmax is shift-invariant.
    """
    if not logits:
        raise ValueError("softmax_cross_entropy: no logits")
    if not 0 <= target < len(logits):
        raise IndexError(f"softmax_cross_entropy: target {target} out of range for {len(logits)} classes")
    zmax = max(z.data for z in logits)
    shifted = [z - zmax for z in logits]
    log_sum_exp = sum_values([s.exp() for s in shifted]).log()
    return log_sum_exp - shifted[target]


def softmax(zs: Sequence[float]) -> list[float]:
    """``exp(z_i) / sum_j exp(z_j)`` of plain numbers, with the maximum subtracted first (no overflow)."""
    if not zs:
        raise ValueError("softmax: no numbers")
    m = max(zs)
    exps = [math.exp(z - m) for z in zs]
    total = sum(exps)
    return [e / total for e in exps]


def cross_entropy(logits: Sequence[Value], target: int) -> Value:
    """``-log softmax(logits)[target]`` as one node whose inputs are the logits (a fused operator).

    The value is ``log(sum_j exp(z_j - m)) - (z_target - m)`` with ``m = max_j z_j``, so no
    ``exp`` argument is positive: finite for logits of +-1000, ties included. The gradient is
    ``softmax(z) - onehot(target)``, times ``out.grad``, accumulated into each logit (a logit
    that appears twice in the list receives both contributions). Same numbers as
    :func:`softmax_cross_entropy`, one node instead of ``3n + 2``.
    """
    if not logits:
        raise ValueError("cross_entropy: no logits")
    if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < len(logits):
        raise IndexError(f"cross_entropy: target {target!r} out of range for {len(logits)} classes")
    zs = [z.data for z in logits]
    m = max(zs)
    exps = [math.exp(z - m) for z in zs]
    total = sum(exps)
    out = Value(math.log(total) - (zs[target] - m), tuple(logits), "cross_entropy")

    def _backward() -> None:
        g = out.grad
        for i, z in enumerate(logits):
            z.grad += (exps[i] / total - (1.0 if i == target else 0.0)) * g

    out._backward = _backward
    return out


def argmax_accuracy(scores: Sequence[Sequence[Value | float]], labels: Sequence[int]) -> float:
    """Fraction of samples whose highest score (the first one on a tie) is at the label's index."""
    if len(scores) != len(labels):
        raise ValueError(f"argmax_accuracy: {len(scores)} score lists but {len(labels)} labels")
    if not scores:
        raise ValueError("argmax_accuracy: empty batch")
    hits = 0
    for row, label in zip(scores, labels, strict=True):
        xs = [s.data if isinstance(s, Value) else float(s) for s in row]
        hits += max(range(len(xs)), key=xs.__getitem__) == label
    return hits / len(scores)


def accuracy(scores: Sequence[Value | float], labels: Sequence[int]) -> float:
    """Fraction of samples whose predicted sign matches the -1/+1 label.

    A score > 0 predicts +1, anything else -1 (micrograd's ``(scorei.data > 0) == (yi > 0)``).
    """
    if len(scores) != len(labels):
        raise ValueError(f"accuracy: {len(scores)} scores but {len(labels)} labels")
    if not scores:
        raise ValueError("accuracy: empty batch")
    hits = 0
    for s, y in zip(scores, labels, strict=True):
        x = s.data if isinstance(s, Value) else float(s)
        if math.isnan(x):
            continue
        hits += (x > 0) == (y > 0)
    return hits / len(scores)
