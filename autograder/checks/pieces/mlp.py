# ruff: noqa: F821 - ``Module`` and ``Layer`` are the assignment's pieces, ``Value`` the student's
"""The known-good ``MLP`` of problem sets 3 and 4: their notebooks give the same one.

Layers of ``Layer`` (nonlinear hidden layers, a linear last layer), parameters layer by layer.
Appended to the pieces of every assignment in ``pieces.SHARED`` (it builds on their
``Module`` and ``Layer``); executed in the worker like them, never imported by the grader.
"""


class MLP(Module):
    def __init__(self, nin, nouts):
        sizes = [nin] + list(nouts)
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]
