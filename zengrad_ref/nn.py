"""A tiny neural-net library on top of ``Value``, with micrograd's semantics.

``Neuron``/``Layer``/``MLP`` behave like ``micrograd.nn`` (weights drawn from
``uniform(-1, 1)``, bias ``0.0``, ReLU hidden layers, a linear last layer, a
single ``Value`` out of a one-output layer), plus what the kit needs on top:

* ``MLP(..., seed=...)`` draws every weight, in parameter order, from one
  ``random.Random(seed)``, so a network is reproducible without touching the
  global ``random`` state (``seed=None`` uses the global generator, like micrograd);
* ``get_weights``/``set_weights`` copy weights between two networks, e.g. a
  student's and the reference, so their outputs can be compared exactly;
* ``activation="tanh"`` as an alternative to ReLU for the hidden layers.

A neuron's pre-activation is one fused ``linear`` node (see ``engine.linear``):
the same floats as ``b + w0*x0 + w1*x1 + ...`` with far fewer graph nodes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from zengrad_ref.engine import Value, linear

ACTIVATIONS = ("relu", "tanh")


class Module:
    """Base class: anything with parameters that can be trained."""

    def parameters(self) -> list[Value]:
        """All trainable ``Value``s, in a fixed, documented order."""
        return []

    def zero_grad(self) -> None:
        """Reset every parameter's gradient before the next ``backward()``."""
        for p in self.parameters():
            p.grad = 0.0

    def get_weights(self) -> list[float]:
        """The parameters' values as plain floats, in ``parameters()`` order."""
        return [p.data for p in self.parameters()]

    def set_weights(self, weights: Sequence[float]) -> None:
        """Overwrite the parameters' values, in ``parameters()`` order (gradients untouched)."""
        params = self.parameters()
        if len(weights) != len(params):
            raise ValueError(
                f"set_weights: expected {len(params)} weights for {type(self).__name__}, got {len(weights)}"
            )
        for p, w in zip(params, weights, strict=True):
            p.data = float(w)


def _check_activation(activation: str) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")


class Neuron(Module):
    """``act(b + sum_i w_i * x_i)``, with ``act`` the identity when ``nonlin`` is False."""

    def __init__(
        self, nin: int, nonlin: bool = True, rng: random.Random | None = None, activation: str = "relu"
    ):
        _check_activation(activation)
        uniform = (rng or random).uniform  # the global generator when rng is None, like micrograd
        self.w = [Value(uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin
        self.activation = activation

    def __call__(self, x: Sequence[Value | float]) -> Value:
        act = linear(self.w, x, self.b)
        if not self.nonlin:
            return act
        return act.relu() if self.activation == "relu" else act.tanh()

    def parameters(self) -> list[Value]:
        """``w[0], ..., w[nin-1], b``."""
        return self.w + [self.b]

    def __repr__(self) -> str:
        kind = ("ReLU" if self.activation == "relu" else "Tanh") if self.nonlin else "Linear"
        return f"{kind}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` independent neurons reading the same inputs."""

    def __init__(
        self,
        nin: int,
        nout: int,
        nonlin: bool = True,
        rng: random.Random | None = None,
        activation: str = "relu",
    ):
        self.neurons = [Neuron(nin, nonlin=nonlin, rng=rng, activation=activation) for _ in range(nout)]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        """A list of outputs, or a single ``Value`` when the layer has one neuron (micrograd)."""
        # Wrap plain numbers once here rather than once per neuron.
        x = [xi if isinstance(xi, Value) else Value(xi) for xi in x]
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        """Neuron by neuron: each neuron's ``w[0..nin-1]`` then its ``b``."""
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """A multi-layer perceptron: nonlinear hidden layers, a linear last layer.

    ``MLP(2, [16, 16, 1])`` has ``(2+1)*16 + (16+1)*16 + (16+1)*1 = 337`` parameters.
    """

    def __init__(self, nin: int, nouts: Sequence[int], seed: int | None = None, activation: str = "relu"):
        _check_activation(activation)
        rng = random.Random(seed) if seed is not None else None
        sz = [nin, *nouts]
        self.layers = [
            Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1, rng=rng, activation=activation)
            for i in range(len(nouts))
        ]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        """A single ``Value`` if the last layer has one output, otherwise a list."""
        out: Value | list[Value] = list(x)
        for layer in self.layers:
            out = layer([out] if isinstance(out, Value) else out)
        return out

    def parameters(self) -> list[Value]:
        """Layer by layer, neuron by neuron: ``w[0..nin-1]`` then ``b``."""
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
