"""Benchmark the reference engine against micrograd 0.1.0, side by side in one process.

    python benchmarks/engine.py           # full run (about a minute)
    python benchmarks/engine.py --quick   # fewer repeats, smaller graphs

Measures, on the same data and the same initial weights:

1. one training step of micrograd's moons demo (MLP(2, [16, 16, 1]), 100 points,
   SVM hinge loss + L2, backward, SGD update): micrograd running the notebook
   code; the reference running the same notebook code with plain ``+``/``*``
   (the engine alone); and the reference's own ``nn``/``losses``/``optim`` (fused
   ``linear``/``sum`` nodes). Median seconds per step, micrograd/reference ratio.
2. backward throughput (graph nodes per second, topological sort included) on the
   same unfused MLP graph built by each engine;
3. peak traced memory per graph node (tracemalloc, build + backward);
4. backward through a 1,000,000-node-deep chain (reference only: micrograd's
   recursive topological sort overflows the stack long before that).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from micrograd.engine import Value as MGValue  # noqa: E402
from micrograd.nn import MLP as MGMLP  # noqa: E402

from zengrad_ref.data import make_moons  # noqa: E402
from zengrad_ref.engine import Value, topological_order  # noqa: E402
from zengrad_ref.losses import svm_hinge_l2  # noqa: E402
from zengrad_ref.nn import MLP  # noqa: E402
from zengrad_ref.optim import SGD  # noqa: E402

ALPHA = 1e-4
LR = 0.5


# --- a micrograd-style MLP for any Value class (the notebook's nn, unfused) ---------
class PlainMLP:
    """micrograd.nn.MLP over an arbitrary Value class, with given weights."""

    def __init__(self, value_cls: type, sizes: list[int], weights: list[float]):
        self.V = value_cls
        it = iter(weights)
        self.layers = []
        for nin, nout in zip(sizes, sizes[1:], strict=False):
            self.layers.append(
                [([value_cls(next(it)) for _ in range(nin)], value_cls(next(it))) for _ in range(nout)]
            )

    def __call__(self, x: list[Any]) -> Any:
        for i, layer in enumerate(self.layers):
            last = i == len(self.layers) - 1
            out = []
            for w, b in layer:
                act = sum((wi * xi for wi, xi in zip(w, x, strict=True)), b)
                out.append(act if last else act.relu())
            x = out
        return x[0] if len(x) == 1 else x

    def parameters(self) -> list[Any]:
        return [p for layer in self.layers for w, b in layer for p in [*w, b]]


def notebook_loss(model: Any, value_cls: type, X: list[list[float]], y: list[int]) -> Any:
    """The loss of micrograd's demo notebook, verbatim apart from names."""
    inputs = [list(map(value_cls, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores, strict=True)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = ALPHA * sum(p * p for p in model.parameters())
    return data_loss + reg_loss


def notebook_step(model: Any, value_cls: type, X: list[list[float]], y: list[int]) -> float:
    total = notebook_loss(model, value_cls, X, y)
    for p in model.parameters():
        p.grad = 0
    total.backward()
    for p in model.parameters():
        p.data -= LR * p.grad
    return total.data


def reference_step(model: MLP, opt: SGD, X: list[list[float]], y: list[int]) -> float:
    scores = [model(x) for x in X]
    loss = svm_hinge_l2(scores, y, model.parameters(), alpha=ALPHA)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.data


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def count_nodes_mg(root: Any) -> int:
    seen, stack = {id(root)}, [root]
    while stack:
        for c in stack.pop()._prev:
            if id(c) not in seen:
                seen.add(id(c))
                stack.append(c)
    return len(seen)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="reference engine vs micrograd 0.1.0")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller graphs")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 11
    chain_len = 200_000 if args.quick else 1_000_000
    mem_points = 10 if args.quick else 25

    X, y = make_moons(n_samples=100, noise=0.1, seed=0)
    weights = MLP(2, [16, 16, 1], seed=0).get_weights()
    sizes = [2, 16, 16, 1]

    # 1. one training step, same data and same initial weights everywhere --------------
    mg = MGMLP(2, [16, 16, 1])
    for p, w in zip(mg.parameters(), weights, strict=True):
        p.data = w
    ref_plain = PlainMLP(Value, sizes, weights)
    ref = MLP(2, [16, 16, 1])
    ref.set_weights(weights)
    opt = SGD(ref.parameters(), lr=LR)

    # Same floats: the first step's losses must agree (then every run does the same work).
    l_mg = notebook_step(mg, MGValue, X, y)
    l_plain = notebook_step(ref_plain, Value, X, y)
    l_ref = reference_step(ref, opt, X, y)
    assert abs(l_mg - l_plain) <= 1e-12 and abs(l_mg - l_ref) <= 1e-12, (l_mg, l_plain, l_ref)
    assert all(abs(a.data - b.data) <= 1e-12 for a, b in zip(mg.parameters(), ref.parameters(), strict=True))

    t_mg, _ = median_time(lambda: notebook_step(mg, MGValue, X, y), repeats)
    t_plain, _ = median_time(lambda: notebook_step(ref_plain, Value, X, y), repeats)
    t_ref, _ = median_time(lambda: reference_step(ref, opt, X, y), repeats)

    # 2. backward throughput on the same (unfused) graph ----------------------------
    def build(value_cls: type, n: int) -> Any:
        model = PlainMLP(value_cls, sizes, weights)
        return notebook_loss(model, value_cls, X[:n], y[:n])

    def backward_rate(value_cls: type, count: Callable[[Any], int]) -> tuple[int, float]:
        times, nodes = [], 0
        for _ in range(repeats):
            root = build(value_cls, len(X))
            nodes = count(root)
            gc.collect()
            t0 = time.perf_counter()
            root.backward()
            times.append(time.perf_counter() - t0)
            del root
        return nodes, nodes / statistics.median(times)

    n_graph, rate_mg = backward_rate(MGValue, count_nodes_mg)
    n_graph_ref, rate_ref = backward_rate(Value, lambda r: len(topological_order(r)))
    assert n_graph == n_graph_ref, (n_graph, n_graph_ref)

    # 3. peak memory per node (graph build + backward) --------------------------------
    def bytes_per_node(value_cls: type, count: Callable[[Any], int]) -> float:
        gc.collect()
        tracemalloc.start()
        root = build(value_cls, mem_points)
        root.backward()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak / count(root)

    mem_mg = bytes_per_node(MGValue, count_nodes_mg)
    mem_ref = bytes_per_node(Value, lambda r: len(topological_order(r)))

    # 4. a very deep chain, reference only --------------------------------------------
    gc.collect()
    t0 = time.perf_counter()
    x = Value(random.random())
    out = x
    for _ in range(chain_len):
        out = out + 1.0
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    out.backward()
    t_chain = time.perf_counter() - t0
    assert x.grad == 1.0
    del out

    # --- report ----------------------------------------------------------------------
    py = sys.version.split()[0]
    print(
        f"zengrad_ref vs micrograd 0.1.0  (Python {py}, median of {repeats}, moons n=100, MLP(2,[16,16,1]))"
    )
    print()
    rows = [
        ("training step, micrograd (notebook code)", f"{t_mg * 1e3:9.1f} ms", "1.0x"),
        ("training step, reference engine, same code", f"{t_plain * 1e3:9.1f} ms", f"{t_mg / t_plain:.1f}x"),
        ("training step, reference nn/losses/optim", f"{t_ref * 1e3:9.1f} ms", f"{t_mg / t_ref:.1f}x"),
        (f"backward, micrograd ({n_graph} nodes)", f"{rate_mg / 1e6:6.2f} M nodes/s", "1.0x"),
        (
            f"backward, reference ({n_graph} nodes)",
            f"{rate_ref / 1e6:6.2f} M nodes/s",
            f"{rate_ref / rate_mg:.1f}x",
        ),
        ("peak memory per node, micrograd", f"{mem_mg:7.0f} B", "1.0x"),
        ("peak memory per node, reference", f"{mem_ref:7.0f} B", f"{mem_mg / mem_ref:.1f}x less"),
        (f"chain of {chain_len:,} (+ 1.0): build, reference", f"{t_build:9.2f} s", ""),
        (f"chain of {chain_len:,} (+ 1.0): backward, reference", f"{t_chain:9.2f} s", ""),
    ]
    w0 = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{w0}}  {'result':>17}  {'vs micrograd':>12}")
    print("-" * (w0 + 33))
    for name, val, ratio in rows:
        print(f"{name:<{w0}}  {val:>17}  {ratio:>12}")


if __name__ == "__main__":
    main()
