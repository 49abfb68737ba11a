"""Shared machinery of gradient checks: expressions, programs, tolerances, messages.

An ``Expr`` is a small DAG written as a list of nodes (leaves, then operators
over earlier nodes or constants). From it we derive a program for the
adapter (forward, upstream gradient, local ``_backward`` calls in reverse
topological order, or a full ``backward()``), a readable formula for messages,
and central-difference derivatives computed on the trusted side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, Verbosity, settings

from autograder.checks import CheckFailure, StopCheck
from autograder.checks.kit.program import Engine, Outcome, Program, ReferenceEngine, const


def _no_local_constants() -> None:
    """Keep hypothesis from mining constants out of whatever local modules happen to be loaded.

    Hypothesis (6.1xx) seeds some draws with constants found in "local" (non
    site-packages) modules loaded in the process. Which modules those are differs
    between ``nbgrader autograde``, ``zengrad-kit grade``, a test run or an editable
    install, so the generated examples, and in borderline cases the verdict, would
    depend on how the grader was started. Grades must not: draw from hypothesis's
    fixed global constants only.
    """
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - other hypothesis layouts have no such feature
        return
    if hasattr(providers, "_get_local_constants") and hasattr(providers, "Constants"):
        empty = providers.Constants()
        providers._get_local_constants = lambda: empty


_no_local_constants()

# Determinism is a product requirement: same submission, same grade.
SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    verbosity=Verbosity.quiet,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
)

REF_ATOL, REF_RTOL = 1e-9, 1e-7  # student vs reference: same formula, rounding only
FD_ATOL, FD_RTOL = 1e-5, 1e-3  # student vs central differences (gradcheck-style)

SYMBOL = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "pow": "**"}


def close(a: float, b: float, atol: float, rtol: float) -> bool:
    """|a - b| <= atol + rtol * |b|, with infinities equal to themselves and NaN equal to nothing."""
    if math.isnan(a) or math.isnan(b):
        return False
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * abs(b)


def fmt(x: float) -> str:
    return repr(float(x)) if abs(x) < 1e6 else f"{x:.6g}"


@dataclass
class Expr:
    """A DAG: ``nodes[i]`` is ("leaf", name, value) or ("op", name, args) with args node indices or consts."""

    nodes: list[tuple] = field(default_factory=list)

    def leaf(self, name: str, value: float) -> int:
        self.nodes.append(("leaf", name, float(value)))
        return len(self.nodes) - 1

    def op(self, name: str, *args: int | dict) -> int:
        self.nodes.append(("op", name, args))
        return len(self.nodes) - 1

    @property
    def root(self) -> int:
        return len(self.nodes) - 1

    def leaves(self) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if n[0] == "leaf"]

    # -- rendering ------------------------------------------------------------
    def formula(self, i: int | None = None) -> str:
        i = self.root if i is None else i
        node = self.nodes[i]
        if node[0] == "leaf":
            return node[1]
        _, name, args = node
        parts = [fmt(a["const"]) if isinstance(a, dict) else self.formula(a) for a in args]
        if name in SYMBOL:
            left = parts[0] if isinstance(args[0], dict) or self.nodes[args[0]][0] == "leaf" else f"({parts[0]})"
            right = parts[1] if isinstance(args[1], dict) or self.nodes[args[1]][0] == "leaf" else f"({parts[1]})"
            return f"{left} {SYMBOL[name]} {right}"
        if name == "neg":
            return f"-({parts[0]})"
        return f"{name}({parts[0]})"

    def bindings(self) -> str:
        return ", ".join(f"{n[1]} = {fmt(n[2])}" for n in self.nodes if n[0] == "leaf")

    # -- evaluation on the trusted side ---------------------------------------
    def evaluate(self, values: dict[int, float]) -> float:
        """Forward value of the root with leaf values overridden (reference engine, floats)."""
        return self.forward(values)[-1]

    def forward(self, values: dict[int, float]) -> list[float]:
        """Forward value of every node, leaf values overridden by ``values``."""
        from zengrad_ref import Value

        vals: list[Value] = []
        for i, node in enumerate(self.nodes):
            if node[0] == "leaf":
                vals.append(Value(values.get(i, node[2])))
                continue
            _, name, args = node
            ops = [a["const"] if isinstance(a, dict) else vals[a] for a in args]
            if name == "add":
                v = ops[0] + ops[1]
            elif name == "sub":
                v = ops[0] - ops[1]
            elif name == "mul":
                v = ops[0] * ops[1]
            elif name == "truediv":
                v = ops[0] / ops[1]
            elif name == "pow":
                v = ops[0] ** ops[1]
            elif name == "neg":
                v = -ops[0]
            else:
                v = getattr(ops[0], name)()
            vals.append(v)
        return [v.data for v in vals]

    def central_difference(self, leaf: int) -> float:
        x = self.nodes[leaf][2]
        h = 1e-6 * max(1.0, abs(x))
        return (self.evaluate({leaf: x + h}) - self.evaluate({leaf: x - h})) / (2 * h)

    # -- programs ---------------------------------------------------------------
    def topo(self) -> list[int]:
        """Nodes reachable from the root, inputs first (indices are already topological)."""
        needed = {self.root}
        for i in range(self.root, -1, -1):
            if i in needed and self.nodes[i][0] == "op":
                needed.update(a for a in self.nodes[i][2] if not isinstance(a, dict))
        return sorted(needed)

    def program(
        self, upstream: float, initial_grads: dict[int, float] | None = None, mode: str = "local"
    ) -> tuple[Program, dict[int, int]]:
        """Forward, seed, backpropagate, read every leaf (and the root).

        mode "local": set root.grad = upstream and call each node's ``_backward``
        in reverse topological order (only the operators are under test);
        mode "backward": call the student's ``root.backward()`` (seeds 1.0 itself).
        Returns the program and a map leaf index -> read index.
        """
        p = Program()
        handles: dict[int, int] = {}
        for i, node in enumerate(self.nodes):
            if node[0] == "leaf":
                handles[i] = p.leaf(node[2])
            else:
                _, name, args = node
                handles[i] = p.op(name, *[a if isinstance(a, dict) else handles[a] for a in args])
        for i, g in (initial_grads or {}).items():
            p.set_grad(handles[i], g)
        if mode == "local":
            p.set_grad(handles[self.root], upstream)
            for i in reversed(self.topo()):
                if self.nodes[i][0] == "op":
                    p.local_backward(handles[i])
        else:
            p.backward(handles[self.root])
        reads = {i: p.read(handles[i], self.nodes[i][1]) for i in self.leaves()}
        reads[self.root] = p.read(handles[self.root], "out")
        return p, reads


def _hint(mine: float, ref: float, initial: float, upstream: float) -> str:
    """Name the classic bug when the numbers betray it."""
    if initial and close(mine, ref - initial, REF_ATOL, REF_RTOL):
        return " (it held grad before: accumulate with +=, do not overwrite with =)"
    if upstream not in (0.0, 1.0) and close(mine * upstream, ref - initial, REF_ATOL, REF_RTOL) and mine != ref:
        return " (multiply the local derivative by out.grad: the chain rule)"
    if upstream == 0.0 and ref == initial and mine != ref:  # nothing arrived, yet something was passed on
        return " (multiply the local derivative by out.grad: the chain rule)"
    if close(mine, -ref, REF_ATOL, REF_RTOL):
        return " (the sign is flipped)"
    return ""


def _error_text(err: dict) -> str:
    return f"{err['type']}: {err['message']}" if err.get("message") else err["type"]


def compare(
    engine: Engine,
    expr: Expr,
    upstream: float = 1.0,
    initial_grads: dict[int, float] | None = None,
    mode: str = "local",
    what: str = "",
    use_fd: bool = True,
) -> None:
    """Run ``expr`` on the student and the reference; raise CheckFailure on any difference."""
    program, reads = expr.program(upstream, initial_grads, mode)
    expected = ReferenceEngine().run(program)
    if not expected.ok:  # a strategy left the operator's domain: a bug in the check, not the student
        raise RuntimeError(f"reference failed on {expr.formula()} ({expr.bindings()}): {expected.error}")
    got: Outcome = engine.run(program)
    context = f"{what or expr.formula()} with {expr.bindings()}"
    if mode == "local":
        context += f" and out.grad = {fmt(upstream)}"
    if initial_grads:
        context += " (inputs already holding grad " + ", ".join(
            f"{expr.nodes[i][1]}.grad = {fmt(g)}" for i, g in initial_grads.items()) + ")"
    if not got.ok:
        err = got.error or {}
        step = program.steps[err.get("step", 0)] if err.get("step") is not None else ["?"]
        if err.get("type") == "NotImplementedError":
            raise StopCheck("not implemented yet: `_backward` still raises NotImplementedError. "
                            "Replace `raise NotImplementedError()` with your code.", "not_implemented")
        if step[0] in ("leaf", "op"):
            raise StopCheck(f"could not even build {context}: {_error_text(err)}. "
                            "Run the cells above, and keep the given forward pass intact.", "error")
        raise CheckFailure(f"{context}: your code raised {_error_text(err)}", "error")
    out_data = got.reads[reads[expr.root]][0]
    exp_data = expected.reads[reads[expr.root]][0]
    if not close(out_data, exp_data, REF_ATOL, REF_RTOL):
        raise CheckFailure(f"{context}: the forward value is {fmt(out_data)}, expected {fmt(exp_data)}. "
                           "Did you change the given forward pass?")
    for leaf in expr.leaves():
        name = expr.nodes[leaf][1]
        mine = got.reads[reads[leaf]][1]
        ref = expected.reads[reads[leaf]][1]
        if not close(mine, ref, REF_ATOL, REF_RTOL):
            hint = _hint(mine, ref, (initial_grads or {}).get(leaf, 0.0), upstream if mode == "local" else 1.0)
            raise CheckFailure(f"{context}: your {name}.grad = {fmt(mine)}, expected {fmt(ref)}{hint}")
        if use_fd:
            seed = 1.0 if mode == "backward" else upstream
            numeric = (initial_grads or {}).get(leaf, 0.0) + seed * expr.central_difference(leaf)
            if not close(mine, numeric, FD_ATOL, FD_RTOL):
                raise CheckFailure(f"{context}: your {name}.grad = {fmt(mine)}, but finite differences "
                                   f"give {fmt(numeric)}")


__all__ = ["SETTINGS", "Expr", "compare", "close", "const", "fmt"]
