"""Assignment 4 checks of the operators: ``a ** b``, ``softplus``, ``gelu``, ``cross_entropy``.

See the package's docstring (``autograder/checks/ps4/__init__.py``) for how every check works.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

import zengrad_ref
from autograder.checks.kit import (
    FD_ATOL,
    FD_RTOL,
    CheckFailure,
    Engine,
    Graph,
    Program,
    ReferenceEngine,
    StopCheck,
    batched,
    close,
    compare,
    const,
    fmt,
    reference,
    run,
    run_property,
)
from autograder.checks.kit.compare import a as an
from autograder.checks.kit.generic import OVERFLOW_HINT, one_input_check
from autograder.checks.kit.gradients import GradientCase, compare_batch, hint
from autograder.checks.kit.misconceptions import misconception
from autograder.checks.kit.operators import reference_operator
from autograder.checks.kit.operators import register as register_operator
from autograder.checks.kit.strategies import INITIAL, UPSTREAM, reals
from autograder.reasons import Reason

MAX_HINT = " (" + misconception("cross_entropy: the largest logit not subtracted",
                                "subtract the largest logit from every logit before exp") + ")"
LOG_OF_P_HINT = " (" + misconception(
    "cross_entropy: log of a probability", "a log of a probability that rounds to 0: compute L = log(sum of "
    "exp(z - m)) - (z[target] - m), never log(p[target])") + ")"


def _overflow(failure: CheckFailure, hint_text: str) -> CheckFailure:
    """The same failure, with a hint when the student's code raised OverflowError (or a log of 0 in a loss)."""
    if "OverflowError" in failure.message:
        return CheckFailure(failure.message + hint_text, failure.reason)
    if "ValueError: math domain error" in failure.message and "cross_entropy" in failure.message:
        return CheckFailure(failure.message + LOG_OF_P_HINT, failure.reason)
    return failure


def _read(got: object, r: int, hint_text: str = OVERFLOW_HINT) -> object:
    """``got[r]``, with the overflow hint added to the student's error that stopped the program there."""
    try:
        return got[r]  # type: ignore[index]
    except CheckFailure as failure:
        raise _overflow(failure, hint_text) from None


# --- a ** b ------------------------------------------------------------------------------------
POW_SHAPES = ["a ** b", "a ** a", "2 ** b", "(a ** b) ** c"]
POW_EDGES = [(1.0, 2.5), (1e-3, 2.0), (50.0, -2.0), (1e-8, 0.5), (2.0, 0.0), (700.0, 100.0), (0.999, -300.0)]
DOMAIN_CASES = [(-2.5, 0.5, "a ** b"), (0.0, 2.0, "a ** b"), (-0.75, 2.0, "a ** b"), (-1000.0, 3.0, "a ** b"),
                (-1.5, 0.5, "2 ** b")]  # "2 ** b": the constant base -1.5


def pow_graph(shape: str, a: float, b: float, c: float, k: float) -> Graph:
    g = Graph()
    if shape == "a ** b":
        g.op("pow", g.leaf(a, "a"), g.leaf(b, "b"))
    elif shape == "a ** a":
        x = g.leaf(a, "a")
        g.op("pow", x, x)
    elif shape == "2 ** b":
        g.op("pow", const(k), g.leaf(b, "b"))
    else:
        x, y, z = g.leaf(a, "a"), g.leaf(b, "b"), g.leaf(c, "c")
        g.op("pow", g.op("pow", x, y), z)
    return g


def pow_domain(engine: Engine) -> None:
    """A base <= 0 raises a ValueError that shows the base, when the node is made."""
    for base, exponent, form in DOMAIN_CASES:
        p = Program()
        b = p.leaf(exponent)
        if form == "a ** b":
            shown = f"a ** b with a = Value({fmt(base)}), b = Value({fmt(exponent)})"
            p.op("pow", p.leaf(base), b, what=shown)
        else:
            shown = f"{fmt(base)} ** b with b = Value({fmt(exponent)})"
            p.op("pow", const(base), b, what=shown)
        outcome = engine.run(p)
        if outcome.ok:
            raise CheckFailure(f"{shown} made a node: a ** b with a Value exponent needs a base > 0; raise a "
                               "ValueError that shows the base, before making the node")
        err = outcome.error or {}
        kind, msg = err.get("type", "Error"), err.get("message", "")
        if kind == "NotImplementedError":
            raise StopCheck(f"not implemented yet: {shown} raises NotImplementedError. Replace `raise "
                            "NotImplementedError()` with your code.", Reason.NOT_IMPLEMENTED)
        if kind != "ValueError":
            raise CheckFailure(f"{shown} raised {kind}: {msg[:120]}; expected a ValueError that shows the base "
                               "(check the base before computing anything)")
        if base != 0.0 and not any(s in msg for s in (repr(base), f"{base:g}", str(base))):
            raise CheckFailure(f"{shown} raised ValueError({msg[:120]!r}): its message should show the base "
                               f"{fmt(base)}")


# a number exponent is problem set 1's power(), any base: the squares of every squared-error loss
NUMBER_EXPONENT_HINT = misconception("a ** n: a number exponent not through power()",
                                     "a number as the exponent goes to the given power() (problem set 1's **, defined "
                                     "for any base): only a Value exponent needs a base > 0")
NUMBER_EXPONENTS = [(-2.0, 2), (-1.5, 3), (0.0, 2), (-0.5, -1), (-3.0, 0), (2.0, 0.5), (-1.25, 2.0)]


def pow_number_exponent(engine: Engine) -> None:
    """``a ** n`` for a number ``n`` is the given ``power()``: defined for a base <= 0 too, with its gradient."""
    probe = Program()
    for base, n in NUMBER_EXPONENTS:
        probe.op("pow", probe.leaf(base), const(n), what=f"a ** {n!r} with a = Value({fmt(base)})")
    outcome = engine.run(probe)
    if not outcome.ok:
        err = outcome.error or {}
        kind, msg = err.get("type", "Error"), err.get("message", "")
        shown = probe.step_what(err.get("step")) or "a ** n"
        if kind == "NotImplementedError":
            raise StopCheck(f"not implemented yet: {shown} raises NotImplementedError. Replace `raise "
                            "NotImplementedError()` with your code.", Reason.NOT_IMPLEMENTED)
        raise CheckFailure(f"{shown} raised {kind}: {msg[:120]}; {NUMBER_EXPONENT_HINT}")
    cases = []
    for base, n in NUMBER_EXPONENTS:
        graph = Graph()
        graph.op("pow", graph.leaf(base, "a"), const(n))
        graph.initial = {0: 0.25}
        cases.append(GradientCase(graph, 1.5, what=f"a ** {fmt(n)} (a number exponent: the given power())",
                                  use_fd=base != 0.0 or n >= 1))
    try:
        compare_batch(engine, cases)
    except CheckFailure as failure:
        raise CheckFailure(failure.message + " (" + misconception(
            "a ** n: a number exponent not through power()", "a number exponent goes to the given power(): one "
            "input, no log") + ")", failure.reason) from None


def pow_check(engine: Engine) -> None:
    def prop(shape: str, a: float, b: float, aa: float, bb: float, c: float, k: float, g: float, g0: float) -> None:
        graph = pow_graph(shape, aa, bb, c, k) if shape == "(a ** b) ** c" else pow_graph(shape, a, b, c, k)
        if g0:
            graph.initial = {leaf: g0 for leaf in graph.leaves()}
        compare(engine, graph, upstream=g)

    run_property("ps4.pow", prop, 60, shape=st.sampled_from(POW_SHAPES), a=reals(0.1, 4.0), b=reals(-2.5, 2.5),
                 aa=reals(0.5, 2.0), bb=reals(-2.0, 2.0), c=reals(-2.0, 2.0), k=st.sampled_from([2.0, 0.5, 3.0]),
                 g=UPSTREAM, g0=INITIAL)
    for a, b in POW_EDGES:  # extreme inputs, against the reference only
        graph = pow_graph("a ** b", a, b, 0.0, 0.0)
        graph.initial = {0: 0.25, 1: 0.25}
        compare(engine, graph, upstream=1.5, use_fd=False, what="a ** b at an extreme input")
    pow_number_exponent(engine)
    pow_domain(engine)


# --- softplus and gelu: two operators of this assignment, one registration each --------------
register_operator(reference_operator("softplus"))
register_operator(reference_operator("gelu"))



def activation_check(name: str, values: st.SearchStrategy[float]) -> Callable[[Engine], None]:
    """One of this assignment's activations: the kit's check of a one-input operator, finite at +-1000 and
    right between 2.5 and 1000 to the reference's tolerance (no clamp, GELU's tanh form)."""
    return one_input_check("ps4", name, values, examples=20)


# --- cross_entropy ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CECase:
    values: tuple[float, ...]  # the distinct Values
    slots: tuple[int, ...]  # logits[i] is the Value values[slots[i]]
    target: int
    upstream: float = 1.0
    initial: float = 0.0

    def names(self) -> list[str]:
        return [chr(ord("a") + i) for i in range(len(self.values))]

    @property
    def shown(self) -> str:
        names = self.names()
        return f"cross_entropy([{', '.join(names[s] for s in self.slots)}], {self.target})"

    @property
    def context(self) -> str:
        names = self.names()
        held = f" (the logits already holding grad {fmt(self.initial)})" if self.initial else ""
        bind = ", ".join(f"{n} = {fmt(v)}" for n, v in zip(names, self.values, strict=True))
        return f"{self.shown} with {bind} and out.grad = {fmt(self.upstream)}{held}"

    def loss(self, values: Sequence[float]) -> float:
        from zengrad_ref.losses import cross_entropy

        return cross_entropy([zengrad_ref.Value(values[s]) for s in self.slots], self.target).data

    def central_difference(self, k: int) -> float:
        x = self.values[k]
        h = 1e-6 * max(1.0, abs(x))
        up, down = list(self.values), list(self.values)
        up[k] += h
        down[k] -= h
        return (self.loss(up) - self.loss(down)) / (2 * h)


CE_VALUES = st.one_of(reals(-5.0, 5.0), st.sampled_from([0.0, 1.0, -1.0, 1000.0, -1000.0, 999.5]))


@st.composite
def ce_cases(draw: st.DrawFn) -> CECase:
    values = draw(st.lists(CE_VALUES, min_size=1, max_size=3))
    extra = draw(st.lists(st.integers(0, len(values) - 1), max_size=2))
    slots = draw(st.permutations(list(range(len(values))) + extra))
    return CECase(tuple(values), tuple(slots), draw(st.integers(0, len(slots) - 1)), draw(UPSTREAM), draw(INITIAL))


CE_CASES = [  # regression cases: the notebook's, ties, +-1000, a logit used twice, one class
    CECase((2.0, -1.0, 0.5), (0, 1, 2), 0),
    CECase((2.0, -1.0, 0.5), (0, 1, 2), 2, 1.5, 0.25),
    CECase((0.3, 0.3, -0.4), (0, 1, 2), 0, -0.5, 0.25),
    CECase((1.0, -0.5), (0, 1, 0), 1, 1.5),
    CECase((1000.0, -1000.0, 999.0), (0, 1, 2), 2, 1.0),
    CECase((1000.0, 1000.0, 1000.0), (0, 1, 2), 0, 1.0),
    CECase((-1000.0, -1000.0), (0, 1), 1, 2.0, 0.5),
    CECase((0.7,), (0,), 0, 1.5),
    CECase((1000.0, -1000.0, 0.0), (0, 1, 2), 1),  # the target far below the largest logit: no log of p
    CECase((-1000.0, 1000.0, 999.0), (0, 1, 2), 0, 1.5),  # the largest logit is not the first
]


def ce_batch(engine: Engine, cases: Sequence[CECase]) -> None:
    from zengrad_ref.losses import cross_entropy, softmax

    p = Program()
    plan = []
    for c in cases:
        leaves = [p.leaf(v) for v in c.values]
        if c.initial:
            for h in leaves:
                p.set_grad(h, c.initial)
        loss = p.call("cross_entropy", p.new_list(*[leaves[s] for s in c.slots]), const(c.target), what=c.context)
        r_kind = p.read_kind(loss, c.context)
        r_loss = p.read(loss, f"{c.context}: reading the loss (one Value)")
        p.set_grad(loss, c.upstream)
        p.local_backward(loss, what=f"{c.context}: loss._backward()")
        plan.append((c, r_kind, r_loss, [p.read(h, "a logit") for h in leaves]))
    expected = reference(p, ReferenceEngine({"Value": zengrad_ref.Value, "cross_entropy": cross_entropy}))
    got = run(engine, p)
    for c, r_kind, r_loss, r_leaves in plan:
        kind = _read(got, r_kind, MAX_HINT)
        if kind != "Value":
            raise CheckFailure(f"{c.shown} returned {an(kind)}, expected one Value")  # type: ignore[arg-type]
        mine_loss, ref_loss = _read(got, r_loss)[0], expected.reads[r_loss][0]  # type: ignore[index]
        if not close(mine_loss, ref_loss):
            extra = " (not a number: subtract the largest logit before exp)" if not math.isfinite(mine_loss) else ""
            raise CheckFailure(f"{c.context}: your loss is {fmt(mine_loss)}, expected {fmt(ref_loss)}{extra}")
        probs = softmax([c.values[s] for s in c.slots])
        names = c.names()
        mine = [_read(got, r)[1] for r in r_leaves]  # type: ignore[index]
        want = [expected.reads[r][1] for r in r_leaves]
        uses = [[i for i, s in enumerate(c.slots) if s == k] for k in range(len(c.values))]
        wrong = next((k for k in range(len(mine)) if not close(mine[k], want[k])), None)
        if wrong is not None:
            raise CheckFailure(f"{c.context}: your {names[wrong]}.grad = {fmt(mine[wrong])}, expected "
                               f"{fmt(want[wrong])}{ce_hint(c, probs, uses, mine, want, wrong)}")
        if max(abs(v) for v in c.values) < 100:
            for k, grad in enumerate(mine):
                numeric = c.initial + c.upstream * c.central_difference(k)
                if not close(grad, numeric, FD_ATOL, FD_RTOL):
                    raise CheckFailure(f"{c.context}: your {names[k]}.grad = {fmt(grad)}, but finite differences "
                                       f"give {fmt(numeric)}")
    got.done()


def ce_hint(c: CECase, probs: Sequence[float], uses: Sequence[Sequence[int]], mine: Sequence[float],
            want: Sequence[float], k: int) -> str:
    """The classic bug that explains every logit's gradient at once, if one does."""
    g, g0 = c.upstream, c.initial
    if all(close(m, g0) for m in mine):
        return " (" + misconception("cross_entropy: not one node", "loss._backward() alone must pass the gradient "
                                    "to every logit: make the loss one node, Value(L, logits, 'cross_entropy'), with "
                                    "its own _backward") + ")"
    if all(close(m - g0, -(w - g0)) for m, w in zip(mine, want, strict=True)):
        return " (the sign is flipped: the gradient is softmax minus one-hot)"
    if all(close(m, g0 + g * sum(probs[i] for i in u)) for m, u in zip(mine, uses, strict=True)):
        return " (" + misconception("cross_entropy: softmax without the one-hot", "that is softmax alone: the "
                                    "gradient is softmax minus one-hot, subtract 1 at the target") + ")"
    parts = [g * (probs[i] - (1.0 if i == c.target else 0.0)) for i in uses[k]]
    if len(uses[k]) > 1 and any(close(mine[k], x) or close(mine[k], g0 + x) for x in parts):
        return f" ({c.names()[k]} appears {len(uses[k])} times in the logits: it receives every contribution, += not =)"
    return hint(mine[k], want[k], g0, g, name=c.names()[k])


cross_entropy_check = batched("ps4.cross_entropy", ce_batch, ce_cases(), 25, CE_CASES, size=6)
