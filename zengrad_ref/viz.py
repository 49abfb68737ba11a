"""Pictures: the computation graph (graphviz) and a 2-D decision boundary (matplotlib).

Both libraries are imported inside the functions, so ``import zengrad_ref`` stays
fast and works without them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from zengrad_ref.engine import Value, topological_order

if TYPE_CHECKING:  # pragma: no cover
    import graphviz
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_RECORD_SPECIALS = str.maketrans({c: "\\" + c for c in '{}|<>"\\'})


def _record_text(text: str) -> str:
    """Escape the characters graphviz gives a meaning to inside a record label."""
    return text.translate(_RECORD_SPECIALS)


def draw_dot(root: Value, format: str = "svg", rankdir: str = "LR") -> graphviz.Digraph:
    """The graph that produced ``root``, micrograd-style, as a ``graphviz.Digraph``.

    Every node is a record ``label | data 1.2345 | grad 0.5000``; every non-leaf
    gets a small oval for its operator, with an edge to its output and edges
    from its inputs. Nodes come from the iterative ``topological_order``, so
    deep graphs do not hit the recursion limit (rendering them is another matter).
    Render with ``.pipe(format="svg")`` or display it in Jupyter.
    """
    import graphviz

    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir must be LR, TB, RL or BT, got {rankdir!r}")
    dot = graphviz.Digraph(format=format, graph_attr={"rankdir": rankdir})
    order = topological_order(root)
    names = {id(node): f"n{k}" for k, node in enumerate(order)}  # stable: the same graph, the same SVG
    for node in order:
        uid = names[id(node)]
        fields = [node.label, f"data {node.data:.4f}", f"grad {node.grad:.4f}"]
        dot.node(name=uid, label="{ " + " | ".join(_record_text(f) for f in fields) + " }", shape="record")
        if node._op:
            dot.node(name=uid + "op", label=node._op, shape="oval", fontsize="10")
            dot.edge(uid + "op", uid)
            for child in node._prev:  # one edge per use, so x*x shows two arrows
                dot.edge(names[id(child)], uid + "op")
    return dot


def plot_decision_boundary(
    model: Callable[[list[Value]], Value | Any],
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    h: float = 0.25,
    ax: Axes | None = None,
) -> Figure:
    """Shade where ``model`` scores > 0 on a grid of step ``h`` and scatter the data.

    Like micrograd's demo: the grid extends 1 unit beyond the data on each side.
    Uses the object-oriented matplotlib API (no pyplot state), so it works with
    the Agg backend in tests and CI. Returns the Figure it drew on.
    """
    import numpy as np
    from matplotlib.figure import Figure

    if h <= 0:
        raise ValueError(f"h must be > 0, got {h!r}")
    pts = np.asarray(X, dtype=float)
    x_min, x_max = pts[:, 0].min() - 1, pts[:, 0].max() + 1
    y_min, y_max = pts[:, 1].min() - 1, pts[:, 1].max() + 1
    xx, yy = np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))
    scores = [
        model([Value(a), Value(b)]) for a, b in zip(xx.ravel().tolist(), yy.ravel().tolist(), strict=True)
    ]
    Z = np.array([s.data > 0 for s in scores]).reshape(xx.shape)

    if ax is None:
        fig = Figure()
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    ax.contourf(xx, yy, Z, cmap="Spectral", alpha=0.8)
    ax.scatter(pts[:, 0], pts[:, 1], c=list(y), s=40, cmap="Spectral")
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    return fig
