"""zengrad_ref.nn, .losses and .optim: micrograd semantics, hand-computed and mpmath values."""

from __future__ import annotations

import math
import random

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zengrad_ref import Value
from zengrad_ref.losses import accuracy, mse, softmax_cross_entropy, svm_hinge_l2
from zengrad_ref.nn import MLP, Layer, Module, Neuron
from zengrad_ref.optim import SGD, Adam

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=50)
mpmath.mp.dps = 50


def small_floats(lo: float = -5, hi: float = 5) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


# --- nn -------------------------------------------------------------------------------
def test_parameter_count_and_order() -> None:
    model = MLP(2, [16, 16, 1], seed=0)
    params = model.parameters()
    assert len(params) == 337 == (2 + 1) * 16 + (16 + 1) * 16 + (16 + 1) * 1
    assert len({id(p) for p in params}) == 337
    expected = []
    for layer in model.layers:
        for n in layer.neurons:
            expected += [*n.w, n.b]
    assert [id(p) for p in params] == [id(p) for p in expected]
    assert [len(layer.neurons) for layer in model.layers] == [16, 16, 1]
    assert [len(layer.neurons[0].w) for layer in model.layers] == [2, 16, 16]


def test_initialisation_like_micrograd() -> None:
    model = MLP(3, [4, 2], seed=1)
    for layer in model.layers:
        for n in layer.neurons:
            assert n.b.data == 0.0
            assert all(-1.0 <= w.data <= 1.0 for w in n.w)
    # every weight comes from one Random(seed), in parameter order
    rng = random.Random(1)
    weights = [w.data for layer in model.layers for n in layer.neurons for w in n.w]
    assert weights == [rng.uniform(-1, 1) for _ in weights]


def test_seed_reproducibility_and_global_state() -> None:
    random.seed(123)
    state = random.getstate()
    a, b = MLP(2, [8, 1], seed=7), MLP(2, [8, 1], seed=7)
    assert random.getstate() == state  # a seeded model leaves the global generator alone
    assert a.get_weights() == b.get_weights()
    assert a.get_weights() != MLP(2, [8, 1], seed=8).get_weights()
    random.seed(5)
    c = MLP(2, [8, 1])  # seed=None: the global generator, like micrograd
    random.seed(5)
    assert MLP(2, [8, 1]).get_weights() == c.get_weights()


def test_neuron_and_layer_with_explicit_rng() -> None:
    n1, n2 = Neuron(3, rng=random.Random(4)), Neuron(3, rng=random.Random(4))
    assert n1.get_weights() == n2.get_weights()
    layer = Layer(3, 2, nonlin=False, rng=random.Random(0))
    assert len(layer.parameters()) == 8 and not layer.neurons[0].nonlin


def test_get_set_weights() -> None:
    a, b = MLP(2, [4, 3], seed=0), MLP(2, [4, 3], seed=1)
    b.set_weights(a.get_weights())
    x = [0.3, -1.2]
    assert [o.data for o in a(x)] == [o.data for o in b(x)]
    assert all(isinstance(w, float) for w in b.get_weights())
    with pytest.raises(ValueError, match="expected 27 weights.*got 26"):
        b.set_weights(a.get_weights()[:-1])
    with pytest.raises(ValueError):
        b.set_weights([*a.get_weights(), 0.0])


def test_forward_matches_hand_computation() -> None:
    model = MLP(2, [2, 1], seed=0)
    # layer 1: w = [[1, -2], [0.5, 0.25]], b = [0.1, -3]; layer 2: w = [2, -1], b = 0.5
    model.set_weights([1, -2, 0.1, 0.5, 0.25, -3, 2, -1, 0.5])
    out = model([3.0, 1.0])
    h1 = max(0.0, 0.1 + 1 * 3 - 2 * 1)  # 1.1
    h2 = max(0.0, -3 + 0.5 * 3 + 0.25 * 1)  # relu(-1.25) = 0
    assert isinstance(out, Value)
    assert out.data == pytest.approx(0.5 + 2 * h1 - 1 * h2)
    out.backward()
    w = [p.grad for p in model.parameters()]
    assert w[:3] == pytest.approx([2 * 3.0, 2 * 1.0, 2.0])  # d out / d (w11, w12, b1)
    assert w[3:6] == [0.0, 0.0, 0.0]  # dead ReLU
    assert w[6:] == pytest.approx([h1, h2, 1.0])


def test_last_layer_is_linear_and_output_shapes() -> None:
    model = MLP(2, [3, 4, 2], seed=0)
    assert [n.nonlin for layer in model.layers for n in layer.neurons[:1]] == [True, True, False]
    out = model([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 2
    single = MLP(2, [3, 1], seed=0)([1.0, 2.0])
    assert isinstance(single, Value) and single._op == "linear"
    # a linear output can be negative; a ReLU output cannot
    outs = [MLP(2, [4, 1], seed=s)([1.0, -1.0]).data for s in range(30)]
    assert min(outs) < 0


def test_inputs_may_be_values_or_floats() -> None:
    model = MLP(2, [4, 1], seed=3)
    assert model([0.5, -0.25]).data == model([Value(0.5), Value(-0.25)]).data


def test_fused_neuron_equals_plain_sum_in_micrograd_order() -> None:
    model = MLP(3, [5, 1], seed=2)
    x = [0.7, -1.3, 2.0]
    n = model.layers[0].neurons[0]
    plain = sum((wi * xi for wi, xi in zip(n.w, x, strict=True)), n.b)
    assert n(x).data == max(0.0, plain.data)


def test_tanh_activation() -> None:
    model = MLP(2, [3, 1], seed=0, activation="tanh")
    x = [0.4, -0.6]
    hidden = [
        math.tanh(n.b.data + sum(w.data * xi for w, xi in zip(n.w, x, strict=True)))
        for n in model.layers[0].neurons
    ]
    last = model.layers[1].neurons[0]
    expected = last.b.data + sum(w.data * h for w, h in zip(last.w, hidden, strict=True))
    assert model(x).data == pytest.approx(expected, rel=1e-14)
    assert repr(model.layers[0].neurons[0]) == "TanhNeuron(2)"
    with pytest.raises(ValueError, match="activation"):
        MLP(2, [1], activation="sigmoid")


def test_zero_grad() -> None:
    model = MLP(2, [4, 1], seed=0)
    model([1.0, 2.0]).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())
    assert Module().parameters() == []


def test_repr() -> None:
    assert repr(MLP(2, [2, 1], seed=0)) == (
        "MLP of [Layer of [ReLUNeuron(2), ReLUNeuron(2)], Layer of [LinearNeuron(2)]]"
    )


# --- losses ---------------------------------------------------------------------------
def test_mse_value_and_grad() -> None:
    p = [Value(1.0), Value(-2.0), Value(0.5)]
    loss = mse(p, [0.0, -1.0, 2.5])
    assert loss.data == pytest.approx((1 + 1 + 4) / 3)
    loss.backward()
    assert [v.grad for v in p] == pytest.approx([2 * 1 / 3, 2 * -1 / 3, 2 * -2 / 3])
    with pytest.raises(ValueError):
        mse(p, [1.0])


def test_svm_hinge_l2_by_hand() -> None:
    s = [Value(0.5), Value(-2.0), Value(3.0)]
    y = [1, 1, -1]
    params = [Value(1.0), Value(-2.0)]
    loss = svm_hinge_l2(s, y, params, alpha=0.1)
    # margins relu(1 - y*s): (+1, 0.5) -> 0.5, (+1, -2) -> 3, (-1, 3) -> 4; all active
    assert loss.data == pytest.approx((0.5 + 3 + 4) / 3 + 0.1 * (1 + 4))
    loss.backward()
    assert [v.grad for v in s] == pytest.approx([-1 / 3, -1 / 3, 1 / 3])
    assert [p.grad for p in params] == pytest.approx([0.1 * 2 * 1.0, 0.1 * 2 * -2.0])
    # a satisfied margin contributes nothing
    t = Value(2.0)
    svm_hinge_l2([t], [1], [], alpha=0.0).backward()
    assert t.grad == 0.0


@SETTINGS
@given(logits=st.lists(small_floats(-30, 30), min_size=1, max_size=6), data=st.data())
def test_softmax_cross_entropy_against_mpmath(logits: list[float], data: st.DataObject) -> None:
    target = data.draw(st.integers(0, len(logits) - 1))
    zs = [Value(z) for z in logits]
    loss = softmax_cross_entropy(zs, target)
    loss.backward()

    def ce(*z: object) -> object:
        return mpmath.log(mpmath.fsum(mpmath.exp(t) for t in z)) - z[target]

    mz = [mpmath.mpf(z) for z in logits]
    assert loss.data == pytest.approx(float(ce(*mz)), rel=1e-12, abs=1e-12)
    softmax = [mpmath.exp(z) / mpmath.fsum(mpmath.exp(t) for t in mz) for z in mz]
    for k, v in enumerate(zs):
        exact = float(softmax[k] - (1 if k == target else 0))
        assert abs(v.grad - exact) <= 1e-12 + 1e-9 * abs(exact)


def test_softmax_cross_entropy_is_stable_for_huge_logits() -> None:
    zs = [Value(1000.0), Value(-1000.0), Value(999.0)]
    loss = softmax_cross_entropy(zs, 0)
    loss.backward()
    assert loss.data == pytest.approx(math.log(1 + math.exp(-1)))
    assert all(math.isfinite(z.grad) for z in zs)
    with pytest.raises(IndexError):
        softmax_cross_entropy(zs, 3)


def test_accuracy() -> None:
    assert accuracy([Value(0.3), Value(-2.0), Value(1.0), 0.0], [1, -1, -1, -1]) == 0.75
    assert isinstance(accuracy([1.0], [1]), float)
    with pytest.raises(ValueError):
        accuracy([1.0], [1, -1])


# --- optim ----------------------------------------------------------------------------
def test_sgd_plain_and_momentum() -> None:
    p = Value(1.0)
    opt = SGD([p], lr=0.1)
    p.grad = 2.0
    opt.step()
    assert p.data == pytest.approx(0.8)
    opt.zero_grad()
    assert p.grad == 0.0

    q = Value(1.0)
    opt = SGD([q], lr=0.1, momentum=0.9)
    grads = [2.0, -1.0, 0.5]
    buf, expected = 0.0, 1.0
    for k, g in enumerate(grads):
        q.grad = g
        opt.step()
        buf = g if k == 0 else 0.9 * buf + g  # torch.optim.SGD, dampening 0
        expected -= 0.1 * buf
        assert q.data == pytest.approx(expected, rel=1e-15)


def test_sgd_lr_is_mutable_for_schedules() -> None:
    p = Value(0.0)
    opt = SGD([p], lr=1.0)
    opt.lr = 0.25
    p.grad = 1.0
    opt.step()
    assert p.data == -0.25


def test_adam_matches_textbook_formula() -> None:
    lr, (b1, b2), eps = 0.01, (0.9, 0.999), 1e-8
    ps = [Value(1.0), Value(-0.5)]
    opt = Adam(ps, lr=lr, betas=(b1, b2), eps=eps)
    grads = [[0.3, -2.0], [0.1, 1.0], [-0.4, 0.0], [2.5, -0.25]]
    theta, m, v = [1.0, -0.5], [0.0, 0.0], [0.0, 0.0]
    for t, gs in enumerate(grads, start=1):
        for p, g in zip(ps, gs, strict=True):
            p.grad = g
        opt.step()
        for i, g in enumerate(gs):  # Kingma & Ba, Algorithm 1
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat = m[i] / (1 - b1**t)
            v_hat = v[i] / (1 - b2**t)
            theta[i] -= lr * m_hat / (math.sqrt(v_hat) + eps)
        assert [p.data for p in ps] == pytest.approx(theta, rel=1e-12, abs=1e-15)
    # the first step moves every parameter with a non-zero gradient by ~lr
    q = Value(0.0)
    opt = Adam([q], lr=0.1)
    q.grad = 123.0
    opt.step()
    assert q.data == pytest.approx(-0.1, rel=1e-6)


def test_optimizers_validate_inputs() -> None:
    with pytest.raises(TypeError):
        SGD([1.0], lr=0.1)  # type: ignore[list-item]
    with pytest.raises(ValueError):
        Adam([Value(1.0)], betas=(1.0, 0.999))
    with pytest.raises(ValueError):
        SGD([Value(1.0)], lr=0.1, momentum=-1)


def test_training_a_tiny_regression_with_adam_and_mse() -> None:
    model = MLP(1, [8, 1], seed=0)
    opt = Adam(model.parameters(), lr=0.05)
    xs = [[-1.0], [-0.5], [0.0], [0.5], [1.0]]
    ys = [2 * x[0] + 1 for x in xs]
    first = None
    for _ in range(150):
        loss = mse([model(x) for x in xs], ys)
        first = first if first is not None else loss.data
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.data < 0.01 * first
