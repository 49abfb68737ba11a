"""What problem set 4 added to zengrad_ref, against independent oracles.

* ``a ** b`` with a Value exponent, ``softplus``, ``gelu``: values and gradients against mpmath
  at 50 digits (``mpmath.diff`` of mpmath's own functions) and central differences;
* the fused ``cross_entropy``: against mpmath's log-sum-exp and its derivatives, and against the
  composite ``softmax_cross_entropy``; finite at +-1000, ties, a logit used twice;
* ``SGD(nesterov=True)`` and ``AdamW``: trajectories against the update rules written out here
  (PyTorch's documented algorithms), step by step;
* ``make_spirals``: counts, determinism, the geometry without noise, the scale of the noise.
"""

from __future__ import annotations

import math

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zengrad_ref import Value
from zengrad_ref.data import make_spirals
from zengrad_ref.losses import argmax_accuracy, cross_entropy, softmax, softmax_cross_entropy
from zengrad_ref.optim import SGD, Adam, AdamW

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=60)
mpmath.mp.dps = 50
MP_ATOL, MP_RTOL = 1e-10, 1e-8
FD_ATOL, FD_RTOL = 1e-5, 1e-4
GELU_K = mpmath.sqrt(2 / mpmath.pi)


def close(a: float, n: float, atol: float, rtol: float) -> bool:
    return abs(a - n) <= atol + rtol * abs(n)


def floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def central_difference(f, x: float) -> float:
    h = 1e-6 * max(1.0, abs(x))
    return (f(x + h) - f(x - h)) / (2 * h)


# --- a ** b with a Value exponent ---------------------------------------------------------
@SETTINGS
@given(a=floats(0.05, 20), b=floats(-3, 3))
def test_value_power_against_mpmath_in_both_inputs(a: float, b: float) -> None:
    x, n = Value(a), Value(b)
    out = x**n
    out.backward()

    def f(u: object, v: object) -> object:
        return mpmath.power(u, v)

    ma, mb = mpmath.mpf(a), mpmath.mpf(b)
    assert close(out.data, float(f(ma, mb)), 1e-300, 1e-14)
    assert close(x.grad, float(mpmath.diff(f, (ma, mb), (1, 0))), MP_ATOL, MP_RTOL), (a, b, x.grad)
    assert close(n.grad, float(mpmath.diff(f, (ma, mb), (0, 1))), MP_ATOL, MP_RTOL), (a, b, n.grad)
    assert close(x.grad, central_difference(lambda t: (Value(t) ** Value(b)).data, a), FD_ATOL, FD_RTOL)
    assert close(n.grad, central_difference(lambda t: (Value(a) ** Value(t)).data, b), FD_ATOL, FD_RTOL)


@SETTINGS
@given(a=floats(0.1, 5), c=floats(0.1, 10))
def test_reused_input_and_constant_base(a: float, c: float) -> None:
    x = Value(a)
    (x**x).backward()  # d/dx x**x = x**x * (log x + 1)
    assert close(x.grad, float(mpmath.diff(lambda t: mpmath.power(t, t), mpmath.mpf(a))), MP_ATOL, MP_RTOL)
    y = Value(a)
    out = c**y  # __rpow__: a constant base
    out.backward()
    assert out._prev[1] is y and out._op == "**"
    assert close(y.grad, float(mpmath.power(c, a) * mpmath.log(c)), MP_ATOL, MP_RTOL)


def test_value_power_domain_errors_name_the_base() -> None:
    for base in (0.0, -2.0, -1e-300):
        with pytest.raises(ValueError, match=repr(base).replace("-", r"\-").replace(".", r"\.")):
            Value(base) ** Value(0.5)
    with pytest.raises(ValueError, match="-3.0"):
        (-3.0) ** Value(2.0)
    assert (Value(1.0) ** Value(5.0)).data == 1.0
    big = Value(1000.0) ** Value(1000.0)  # overflow is inf, as for a constant exponent
    assert big.data == math.inf


# --- softplus and gelu ---------------------------------------------------------------------
def mp_softplus(x: object) -> object:
    return mpmath.log1p(mpmath.exp(x))


def mp_gelu(x: object) -> object:
    return x / 2 * (1 + mpmath.tanh(GELU_K * (x + mpmath.mpf("0.044715") * x**3)))


@pytest.mark.parametrize(("name", "mp_fn"), [("softplus", mp_softplus), ("gelu", mp_gelu)])
def test_activation_against_mpmath(name: str, mp_fn) -> None:
    @SETTINGS
    @given(x=floats(-30, 30))
    def run(x: float) -> None:
        v = Value(x)
        out = getattr(v, name)()
        out.backward()
        mx = mpmath.mpf(x)
        assert close(out.data, float(mp_fn(mx)), 1e-15, 1e-13), (x, out.data)
        assert close(v.grad, float(mpmath.diff(mp_fn, mx)), 1e-13, MP_RTOL), (x, v.grad)
        assert close(v.grad, central_difference(lambda t: getattr(Value(t), name)().data, x), FD_ATOL, FD_RTOL)

    run()


@pytest.mark.parametrize(("x", "softplus", "d_softplus", "gelu", "d_gelu"),
                         [(1000.0, 1000.0, 1.0, 1000.0, 1.0), (-1000.0, 0.0, 0.0, 0.0, 0.0),
                          (0.0, math.log(2.0), 0.5, 0.0, 0.5)])
def test_activations_at_the_extremes(x: float, softplus: float, d_softplus: float, gelu: float,
                                     d_gelu: float) -> None:
    for name, value, slope in (("softplus", softplus, d_softplus), ("gelu", gelu, d_gelu)):
        v = Value(x)
        out = getattr(v, name)()
        out.grad = 2.0
        out._backward()
        assert out.data == value and v.grad == 2.0 * slope, (name, x, out.data, v.grad)


# --- the fused cross-entropy -------------------------------------------------------------
def mp_cross_entropy(target: int):
    def f(*z: object) -> object:
        return mpmath.log(mpmath.fsum(mpmath.exp(t) for t in z)) - z[target]

    return f


@SETTINGS
@given(logits=st.lists(floats(-30, 30), min_size=1, max_size=6), data=st.data(), upstream=floats(-3, 3))
def test_cross_entropy_against_mpmath(logits: list[float], data: st.DataObject, upstream: float) -> None:
    target = data.draw(st.integers(0, len(logits) - 1))
    zs = [Value(z) for z in logits]
    out = cross_entropy(zs, target)
    assert out._prev == tuple(zs) and out._op == "cross_entropy"  # one node, the logits its inputs
    out.grad = upstream
    out._backward()  # its own _backward alone reaches every logit
    mz = [mpmath.mpf(z) for z in logits]
    f = mp_cross_entropy(target)
    assert close(out.data, float(f(*mz)), 1e-12, 1e-12)
    for k, v in enumerate(zs):
        exact = float(upstream * mpmath.diff(f, mz, tuple(int(i == k) for i in range(len(mz)))))
        assert close(v.grad, exact, 1e-12, 1e-9), (k, v.grad, exact)
    composite = softmax_cross_entropy([Value(z) for z in logits], target)
    assert close(out.data, composite.data, 1e-12, 1e-12)


def test_cross_entropy_at_the_extremes_and_with_ties() -> None:
    zs = [Value(1000.0), Value(-1000.0), Value(999.0)]
    out = cross_entropy(zs, 1)
    out.backward()
    assert out.data == pytest.approx(2000.0 + math.log(1 + math.exp(-1)))
    e = math.exp(-1)
    assert [z.grad for z in zs] == pytest.approx([1 / (1 + e), -1.0, e / (1 + e)])
    ties = [Value(1000.0), Value(1000.0), Value(1000.0)]
    out = cross_entropy(ties, 2)
    out.backward()
    assert out.data == pytest.approx(math.log(3)) and [z.grad for z in ties] == pytest.approx([1 / 3, 1 / 3, -2 / 3])
    with pytest.raises(IndexError):
        cross_entropy(zs, 3)
    with pytest.raises(IndexError):
        cross_entropy(zs, True)  # type: ignore[arg-type]


@SETTINGS
@given(a=floats(-5, 5), b=floats(-5, 5), target=st.integers(0, 2))
def test_cross_entropy_accumulates_into_a_logit_used_twice(a: float, b: float, target: int) -> None:
    x, y = Value(a), Value(b)
    cross_entropy([x, x, y], target).backward()

    def f(u: object, v: object) -> object:
        return mp_cross_entropy(target)(u, u, v)

    ma, mb = mpmath.mpf(a), mpmath.mpf(b)
    assert close(x.grad, float(mpmath.diff(f, (ma, mb), (1, 0))), 1e-12, 1e-9)
    assert close(y.grad, float(mpmath.diff(f, (ma, mb), (0, 1))), 1e-12, 1e-9)


def test_softmax_and_argmax_accuracy() -> None:
    zs = [0.5, -1.0, 2.0, 2.0]
    exact = [mpmath.exp(z) / mpmath.fsum(mpmath.exp(t) for t in zs) for z in zs]
    assert softmax(zs) == pytest.approx([float(p) for p in exact], rel=1e-14)
    assert softmax([1000.0, -1000.0]) == [1.0, 0.0]
    scores = [[Value(0.1), Value(0.9), Value(-1.0)], [3.0, 3.0, 1.0], [0.0, -1.0, 5.0]]
    assert argmax_accuracy(scores, [1, 1, 2]) == pytest.approx(2 / 3)  # a tie goes to the first
    with pytest.raises(ValueError):
        argmax_accuracy([[1.0]], [0, 0])


# --- optimizers: PyTorch's documented algorithms, written out ------------------------------
@SETTINGS
@given(params=st.lists(floats(-2, 2), min_size=1, max_size=3), momentum=floats(0.0, 0.99), nesterov=st.booleans(),
       lr=floats(0.001, 1.0), data=st.data())
def test_sgd_matches_pytorchs_algorithm(params: list[float], momentum: float, nesterov: bool, lr: float,
                                        data: st.DataObject) -> None:
    steps = data.draw(st.lists(st.lists(floats(-3, 3), min_size=len(params), max_size=len(params)), min_size=1,
                               max_size=5))
    ps = [Value(x) for x in params]
    opt = SGD(ps, lr=lr, momentum=momentum, nesterov=nesterov)
    theta, buf = list(params), [0.0] * len(params)
    for t, grads in enumerate(steps, start=1):
        for p, g in zip(ps, grads, strict=True):
            p.grad = g
        opt.step()
        for i, g in enumerate(grads):  # torch.optim.SGD, dampening 0
            if momentum:
                buf[i] = g if t == 1 else momentum * buf[i] + g
                g = g + momentum * buf[i] if nesterov else buf[i]
            theta[i] -= lr * g
        assert [p.data for p in ps] == pytest.approx(theta, rel=1e-12, abs=1e-14)
        assert [p.grad for p in ps] == grads  # step() reads the gradients, never changes them


def test_nesterov_looks_ahead_by_hand() -> None:
    p = Value(1.0)
    opt = SGD([p], lr=0.1, momentum=0.5, nesterov=True)
    p.grad = 2.0
    opt.step()  # buf = 2, step = 2 + 0.5 * 2 = 3
    assert p.data == pytest.approx(0.7)
    p.grad = -1.0
    opt.step()  # buf = 0.5 * 2 - 1 = 0, step = -1 + 0 = -1
    assert p.data == pytest.approx(0.8)


@SETTINGS
@given(params=st.lists(floats(-2, 2), min_size=1, max_size=3), lr=floats(0.001, 0.5), wd=floats(0.0, 0.5),
       b1=floats(0.0, 0.95), b2=floats(0.5, 0.999), eps=st.sampled_from([1e-8, 1e-3, 0.1]), data=st.data())
def test_adamw_matches_pytorchs_algorithm(params: list[float], lr: float, wd: float, b1: float, b2: float,
                                          eps: float, data: st.DataObject) -> None:
    steps = data.draw(st.lists(st.lists(floats(-3, 3), min_size=len(params), max_size=len(params)), min_size=1,
                               max_size=5))
    ps = [Value(x) for x in params]
    opt = AdamW(ps, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    theta, m, v = list(params), [0.0] * len(params), [0.0] * len(params)
    for t, grads in enumerate(steps, start=1):
        for p, g in zip(ps, grads, strict=True):
            p.grad = g
        opt.step()
        for i, g in enumerate(grads):  # torch.optim.AdamW: decoupled decay first, then Adam
            theta[i] -= lr * wd * theta[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat, v_hat = m[i] / (1 - b1**t), v[i] / (1 - b2**t)
            theta[i] -= lr * m_hat / (math.sqrt(v_hat) + eps)
        assert [p.data for p in ps] == pytest.approx(theta, rel=1e-10, abs=1e-12)
        assert [p.grad for p in ps] == grads


def test_adamw_without_decay_is_adam_and_decay_is_not_in_the_moments() -> None:
    a, b = Value(0.5), Value(0.5)
    plain, decoupled = Adam([a], lr=0.1), AdamW([b], lr=0.1, weight_decay=0.0)
    for g in (1.0, -0.5, 0.25):
        a.grad = b.grad = g
        plain.step()
        decoupled.step()
    assert a.data == b.data
    c = Value(2.0)
    opt = AdamW([c], lr=0.1, weight_decay=0.5)
    c.grad = 0.0
    opt.step()  # no gradient: the decay alone, 2 * (1 - 0.1 * 0.5)
    assert c.data == pytest.approx(1.9) and opt.m == [0.0] and opt.v == [0.0]
    with pytest.raises(ValueError):
        AdamW([c], weight_decay=-1.0)


# --- make_spirals ----------------------------------------------------------------------------
def test_make_spirals_counts_labels_and_determinism() -> None:
    X, y = make_spirals()
    assert len(X) == len(y) == 90 and [y.count(j) for j in range(3)] == [30, 30, 30]
    assert all(isinstance(p, list) and len(p) == 2 and all(isinstance(c, float) for c in p) for p in X)
    assert all(type(label) is int for label in y)
    assert make_spirals() == (X, y) and make_spirals(seed=1) != (X, y)
    X8, y8 = make_spirals(n_samples=8, classes=3, noise=0.0)
    assert [y8.count(j) for j in range(3)] == [3, 3, 2]  # the remainder goes to the first arms
    assert make_spirals(n_samples=0) == ([], [])
    X1, y1 = make_spirals(n_samples=1, classes=1, noise=0.0)
    assert X1 == [[0.2, 0.0]] and y1 == [0]
    for bad in ({"n_samples": -1}, {"classes": 0}, {"noise": -0.1}):
        with pytest.raises(ValueError):
            make_spirals(**bad)


def test_make_spirals_geometry_without_noise() -> None:
    X, y = make_spirals(n_samples=60, classes=3, noise=0.0, seed=4)
    for j in range(3):
        arm = sorted((math.hypot(*p), p) for p, label in zip(X, y, strict=True) if label == j)
        radii = [r for r, _ in arm]
        assert radii[0] == pytest.approx(0.2) and radii[-1] == pytest.approx(1.0)  # evenly spaced, both ends in
        gaps = [b - a for a, b in zip(radii, radii[1:], strict=False)]
        assert max(gaps) == pytest.approx(min(gaps)) == pytest.approx(0.8 / 19)
        for r, (px, py) in arm:  # the angle winds 3/4 of a turn while the radius goes from 0.2 to 1
            s = (r - 0.2) / 0.8
            want = 2 * math.pi * (j / 3 + 0.75 * s)
            assert math.cos(want) == pytest.approx(px / r, abs=1e-9) and math.sin(want) == pytest.approx(py / r,
                                                                                                           abs=1e-9)


def test_make_spirals_noise_has_the_requested_scale() -> None:
    clean, _ = make_spirals(n_samples=3000, noise=0.0, seed=5)
    noisy, _ = make_spirals(n_samples=3000, noise=0.2, seed=5)  # same shuffle, then noise
    diffs = [n[k] - c[k] for n, c in zip(noisy, clean, strict=True) for k in (0, 1)]
    mean = sum(diffs) / len(diffs)
    std = math.sqrt(sum((d - mean) ** 2 for d in diffs) / len(diffs))
    assert abs(mean) < 0.02 and std == pytest.approx(0.2, rel=0.05)
