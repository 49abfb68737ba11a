"""Optimizers with PyTorch's update formulas, for ``Value`` parameters.

``lr`` is a plain attribute, so a schedule is ``opt.lr = ...`` before ``step()``
(micrograd's demo uses ``1.0 - 0.9 * k / steps``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from zengrad_ref.engine import Value


class Optimizer:
    """Holds the parameter list; ``zero_grad`` resets their gradients."""

    def __init__(self, params: Iterable[Value], lr: float):
        self.params = list(params)
        if not all(isinstance(p, Value) for p in self.params):
            raise TypeError("optimizer parameters must be Value objects (e.g. model.parameters())")
        self.lr = float(lr)

    def zero_grad(self) -> None:
        """Reset every parameter's gradient before the next ``backward()``."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (PyTorch-style) momentum and Nesterov momentum.

    ``momentum == 0``: ``p -= lr * g`` (micrograd's update).
    Otherwise ``buf = momentum * buf + g`` (``buf = g`` on the first step), then
    ``p -= lr * buf``, or with ``nesterov``: ``p -= lr * (g + momentum * buf)``
    (``torch.optim.SGD`` with ``dampening=0``).
    """

    def __init__(self, params: Iterable[Value], lr: float, momentum: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr)
        if momentum < 0:
            raise ValueError(f"momentum must be >= 0, got {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self._buf: list[float] | None = None

    def step(self) -> None:
        """Apply one update using the gradients currently stored in the parameters."""
        lr = self.lr
        if self.momentum == 0.0:
            for p in self.params:
                p.data -= lr * p.grad
            return
        mu = self.momentum
        if self._buf is None:
            self._buf = [p.grad for p in self.params]
        else:
            self._buf = [mu * b + p.grad for b, p in zip(self._buf, self.params, strict=True)]
        for p, b in zip(self.params, self._buf, strict=True):
            p.data -= lr * (p.grad + mu * b if self.nesterov else b)


class Adam(Optimizer):
    """Adam (Kingma & Ba), written the way ``torch.optim.Adam`` computes it.

    ``m = b1*m + (1-b1)*g``, ``v = b2*v + (1-b2)*g*g``, then with
    ``bc1 = 1 - b1**t`` and ``bc2 = 1 - b2**t``:
    ``p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)``, which equals the
    textbook ``lr * m_hat / (sqrt(v_hat) + eps)``.
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {betas!r}")
        self.betas = (float(b1), float(b2))
        self.eps = float(eps)
        self.t = 0
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)

    def step(self) -> None:
        """Apply one update using the gradients currently stored in the parameters."""
        self.t += 1
        b1, b2 = self.betas
        bc1 = 1.0 - b1**self.t
        bc2_sqrt = math.sqrt(1.0 - b2**self.t)
        step_size = self.lr / bc1
        m, v, eps = self.m, self.v, self.eps
        for i, p in enumerate(self.params):
            g = p.grad
            m[i] = b1 * m[i] + (1.0 - b1) * g
            v[i] = b2 * v[i] + (1.0 - b2) * g * g
            p.data -= step_size * m[i] / (math.sqrt(v[i]) / bc2_sqrt + eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW`` computes it.

    Each step first shrinks every parameter, ``p *= 1 - lr * weight_decay``, then
    applies Adam's update with the gradient as it is: the decay never enters the
    moments (an L2 term added to the gradient would, and Adam would rescale it).
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ):
        super().__init__(params, lr, betas, eps)
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)

    def step(self) -> None:
        """Decay every parameter, then apply Adam's update."""
        decay = 1.0 - self.lr * self.weight_decay
        for p in self.params:
            p.data *= decay
        super().step()
