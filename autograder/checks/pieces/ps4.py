# ruff: noqa: F821 - ``Value`` and ``math`` are the student's, from the namespace this source is executed in
"""Known-good pieces of problem set 4: the network, ``cross_entropy`` and the optimizers.

Executed in the sandboxed worker over the student's ``Value`` (and the ``math`` of the
notebook's locked setup cell; see ``autograder/checks/pieces/__init__.py``); never imported
by the grader. Each follows the notebook's text exactly (the same names, signatures,
attributes and floating-point order), so a check can put them in place of the student's
parts that are not its subject:

* ``Module``, ``Neuron``, ``Layer``, ``MLP``: the notebook's given network (tanh hidden layers,
  a linear last layer, a layer returns a list), with its own ``_linear`` (the student's
  namespace may rebind ``linear``); weights start at 0.0: every check injects its own, and the
  pieces leave the global ``random`` alone;
* ``cross_entropy``: one node, the maximum subtracted, ``softmax - onehot``;
* ``Optimizer``, ``SGD``, ``Adam``, ``AdamW``. They never call ``super()``: a check of the
  student's ``AdamW`` calls these ``Adam.__init__``/``Adam.step`` on an instance of the
  student's class, which is not a subclass of these (``super()`` would refuse it).
"""


def _linear(w, x, b):
    xs = [xi if isinstance(xi, Value) else Value(xi) for xi in x]
    data = b.data
    for wi, xi in zip(w, xs, strict=False):
        data += wi.data * xi.data
    return Value(data, (*w, *xs, b), 'linear')


class Module:
    def parameters(self):
        return []


class Neuron(Module):
    def __init__(self, nin, nonlin=True):
        self.w = [Value(0.0) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = _linear(self.w, x, self.b)
        return act.tanh() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]


class Layer(Module):
    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        return [n(x) for n in self.neurons]

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


def cross_entropy(logits, target):
    zs = [z.data for z in logits]
    m = max(zs)
    exps = [math.exp(z - m) for z in zs]
    total = sum(exps)
    out = Value(math.log(total) - (zs[target] - m), logits, 'cross_entropy')

    def _backward():
        for i, z in enumerate(logits):
            z.grad += (exps[i] / total - (1.0 if i == target else 0.0)) * out.grad

    out._backward = _backward
    return out


class Optimizer:
    def __init__(self, params, lr):
        self.params = list(params)
        self.lr = lr

    def zero_grad(self):
        for p in self.params:
            p.grad = 0.0

    def step(self):
        raise NotImplementedError("each optimizer has its own step()")


class SGD(Optimizer):
    def __init__(self, params, lr, momentum=0.0, nesterov=False):
        Optimizer.__init__(self, params, lr)
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocity = [0.0 for _ in self.params]

    def step(self):
        for i, p in enumerate(self.params):
            self.velocity[i] = self.momentum * self.velocity[i] + p.grad
            if self.nesterov:
                p.data -= self.lr * (p.grad + self.momentum * self.velocity[i])
            else:
                p.data -= self.lr * self.velocity[i]


class Adam(Optimizer):
    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8):
        Optimizer.__init__(self, params, lr)
        self.betas = betas
        self.eps = eps
        self.t = 0
        self.m = [0.0 for _ in self.params]
        self.v = [0.0 for _ in self.params]

    def step(self):
        b1, b2 = self.betas
        self.t += 1
        for i, p in enumerate(self.params):
            g = p.grad
            self.m[i] = b1 * self.m[i] + (1 - b1) * g
            self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
            m_hat = self.m[i] / (1 - b1 ** self.t)
            v_hat = self.v[i] / (1 - b2 ** self.t)
            p.data -= self.lr * m_hat / (math.sqrt(v_hat) + self.eps)


class AdamW(Adam):
    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        Adam.__init__(self, params, lr, betas, eps)
        self.weight_decay = weight_decay

    def step(self):
        for p in self.params:
            p.data -= self.lr * self.weight_decay * p.data
        Adam.step(self)
