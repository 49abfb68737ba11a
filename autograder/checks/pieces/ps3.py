# ruff: noqa: F821 - ``Value`` is the student's, from the namespace this source is executed in
"""Known-good pieces of problem set 3: ``Module``, ``Neuron``, ``Layer``, ``MLP``, ``svm_loss``, ``sgd_step``.

Executed in the sandboxed worker over the student's ``Value`` (see
``autograder/checks/pieces/__init__.py``); never imported by the grader. Each
follows the notebook's text exactly (the same names, signatures, attributes
and floating-point order), so a check can put them in place of the student's
parts that are not its subject. Weights start at 0.0: every check injects its
own through ``w`` and ``b``, and the pieces leave the global ``random`` alone.
``Params`` is a bare model: anything with ``parameters()``, for ``sgd_step``.
"""


class Module:
    def parameters(self):
        return []

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    def __init__(self, nin, nonlin=True):
        self.w = [Value(0.0) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x):
        if len(x) != len(self.w):
            raise ValueError(f"a neuron with {len(self.w)} inputs was called on {len(x)}")
        act = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]


class Layer(Module):
    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class Params(Module):
    def __init__(self, params):
        self.params = list(params)

    def parameters(self):
        return list(self.params)


def svm_loss(scores, y, params, alpha=1e-4):
    margins = [(1 + -yi * si).relu() for yi, si in zip(y, scores, strict=True)]
    data_loss = sum(margins) * (1.0 / len(margins))
    reg_loss = alpha * sum(p * p for p in params)
    return data_loss + reg_loss


def sgd_step(model, lr):
    for p in model.parameters():
        p.data -= lr * p.grad
