"""zengrad_ref.data, .train and .viz, and the package's import hygiene."""

from __future__ import annotations

import ast
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zengrad_ref import Value
from zengrad_ref.data import make_moons
from zengrad_ref.nn import MLP
from zengrad_ref.train import DEFAULT_STEPS, main, train_moons

PACKAGE = Path(__file__).resolve().parent.parent / "zengrad_ref"


# --- make_moons ------------------------------------------------------------------------
def test_make_moons_shape_labels_and_determinism() -> None:
    X, y = make_moons()
    assert len(X) == len(y) == 100
    assert all(isinstance(p, list) and len(p) == 2 and all(isinstance(c, float) for c in p) for p in X)
    assert set(y) == {-1, 1} and y.count(-1) == 50 and y.count(1) == 50
    assert make_moons() == (X, y)
    assert make_moons(seed=1) != (X, y)
    X7, y7 = make_moons(n_samples=7, noise=0.0, seed=3)
    assert len(X7) == 7 and y7.count(-1) == 3 and y7.count(1) == 4  # sklearn: n // 2 outer, rest inner
    assert make_moons(n_samples=0) == ([], [])


def test_make_moons_geometry_without_noise() -> None:
    X, y = make_moons(n_samples=40, noise=0.0, seed=0)
    outer = sorted(p for p, label in zip(X, y, strict=True) if label == -1)
    inner = sorted(p for p, label in zip(X, y, strict=True) if label == 1)
    # upper unit half circle centred at (0, 0); lower one centred at (1, 0.5)
    for px, py in outer:
        assert math.hypot(px, py) == pytest.approx(1.0) and py >= -1e-12
    for px, py in inner:
        assert math.hypot(px - 1.0, py - 0.5) == pytest.approx(1.0) and py <= 0.5 + 1e-12
    # evenly spaced angles from 0 to pi, ends included (numpy.linspace)
    angles = sorted(math.atan2(py, px) for px, py in outer)
    assert angles[0] == pytest.approx(0.0, abs=1e-12) and angles[-1] == pytest.approx(math.pi)
    gaps = [b - a for a, b in zip(angles, angles[1:], strict=False)]
    assert max(gaps) == pytest.approx(min(gaps)) == pytest.approx(math.pi / 19)
    assert [1.0 - math.cos(0.0), 1.0 - math.sin(0.0) - 0.5] in inner


def test_make_moons_noise_has_the_requested_scale() -> None:
    clean, _ = make_moons(n_samples=2000, noise=0.0, seed=5)
    noisy, _ = make_moons(n_samples=2000, noise=0.2, seed=5)  # same shuffle, then noise
    diffs = [n[k] - c[k] for n, c in zip(noisy, clean, strict=True) for k in (0, 1)]
    mean = sum(diffs) / len(diffs)
    std = math.sqrt(sum((d - mean) ** 2 for d in diffs) / len(diffs))
    assert abs(mean) < 0.02 and std == pytest.approx(0.2, rel=0.05)
    with pytest.raises(ValueError):
        make_moons(noise=-0.1)


# --- train ----------------------------------------------------------------------------
def test_seeded_moons_training_reaches_97_percent() -> None:
    start = time.perf_counter()
    model, acc, losses = train_moons(seed=0)
    assert acc >= 0.97
    assert len(losses) == DEFAULT_STEPS and losses[-1] < losses[0]
    assert isinstance(model, MLP) and len(model.parameters()) == 337
    assert time.perf_counter() - start < 20
    # deterministic
    assert train_moons(seed=0, steps=2)[2] == train_moons(seed=0, steps=2)[2]


def test_train_main_prints_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--steps", "3"])
    out = capsys.readouterr().out
    assert "accuracy" in out and "%" in out


# --- viz ------------------------------------------------------------------------------
def test_draw_dot_renders_svg_with_labels_and_grads() -> None:
    from zengrad_ref.viz import draw_dot

    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    d = (c + a).tanh()
    d.label = "out<d>"
    d.backward()
    dot = draw_dot(d)
    assert dot.graph_attr["rankdir"] == "LR"
    svg = dot.pipe(format="svg").decode()
    assert "<svg" in svg
    for text in ("a", "b", "c", "out&lt;d&gt;", "data 2.0000", "data &#45;3.0000", "tanh", "*", "+"):
        assert text in svg, text
    assert f"grad {a.grad:.4f}".replace("-", "&#45;") in svg
    assert draw_dot(d, rankdir="TB").graph_attr["rankdir"] == "TB"


def test_draw_dot_handles_deep_graphs() -> None:
    from zengrad_ref.viz import draw_dot

    x = Value(1.0)
    out = x
    for _ in range(5000):  # far deeper than the recursion limit allows a recursive trace
        out = out + 1.0
    dot = draw_dot(out)
    assert sum(1 for line in dot.body if "shape=record" in line) == 10001


def test_plot_decision_boundary_returns_figure() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from zengrad_ref.viz import plot_decision_boundary

    X, y = make_moons(n_samples=20, seed=0)
    model = MLP(2, [4, 1], seed=0)
    fig = plot_decision_boundary(model, X, y, h=0.5)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert len(ax.collections) >= 2  # the shaded regions and the scatter
    fig2 = Figure()
    ax2 = fig2.add_subplot()
    assert plot_decision_boundary(model, X, y, h=0.5, ax=ax2) is fig2


# --- import hygiene -------------------------------------------------------------------
def test_import_is_light_and_never_pulls_autograder() -> None:
    code = (
        "import sys, zengrad_ref, zengrad_ref.nn, zengrad_ref.losses, zengrad_ref.optim, "
        "zengrad_ref.data, zengrad_ref.train, zengrad_ref.viz\n"
        "heavy = ('graphviz', 'matplotlib', 'numpy', 'autograder', 'hypothesis')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)


def test_no_module_imports_autograder() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "autograder" for n in names), path
