"""Whole checks an assignment calls instead of writing: an operator, a plain function, a module.

Each returns a check (a function of an engine) ready for ``register``; the assignment names it with
its own prefix (``"ps5"``), which also names and seeds the hypothesis property (``ps5.cos``):

* :func:`one_input_check`: a one-input operator's ``_backward`` (``a.cos()``): ``f(a)``, ``f(f(a))``
  and ``f(a) + f(a)`` from generated inputs, upstream gradients and gradients already held, as
  batches (one program each), then the fixed cases of the notebook, extreme inputs (against the
  reference only) and inputs where a tight tolerance sees a clamp; the operator must be registered
  (``kit/operators.py``). ps4's ``softplus``/``gelu``.
* :func:`unary_check`: the same operator one example per program (problem set 1's form: ``f(a)``
  and ``f(f(a))``, plus edges).
* :func:`function_check`: a plain function of numbers (``mean(xs)``, ``fit_line(xs, ys)``) against a
  reference in plain Python on generated arguments, its result a number or a list of numbers, with
  the classic bugs replayed for hints (the reference with the bug in it).
* :func:`module_check`: a module (``Line()``): its parameters reached through the attributes the
  notebook fixes, set to known weights; its forward pass and the gradients ``backward()`` gives them
  against a reference written with ``zengrad_ref`` values; ``parameters()``, its own ``Value``\\ s,
  the same ones in the same order on every call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from autograder.checks.kit.compare import a as an
from autograder.checks.kit.compare import close, fmt, fmts, kinds
from autograder.checks.kit.errors import CheckFailure
from autograder.checks.kit.gradients import GradientCase, compare, compare_batch
from autograder.checks.kit.graph import Graph
from autograder.checks.kit.nets import check_parameters, read_parameters
from autograder.checks.kit.program import Engine, Program, const, run
from autograder.checks.kit.runner import batched, run_property
from autograder.checks.kit.strategies import INITIAL, UPSTREAM

OVERFLOW_HINT = " (exp of a large positive number overflows: never give math.exp a large positive argument)"


def with_overflow_hint(failure: CheckFailure, hint: str = OVERFLOW_HINT) -> CheckFailure:
    """The same failure, with a hint when the student's code raised OverflowError."""
    if "OverflowError" in failure.message:
        return CheckFailure(failure.message + hint, failure.reason)
    return failure


# --- a one-input operator -----------------------------------------------------------------------
SHAPES = ["f(a)", "f(f(a))", "f(a) + f(a)"]
OneInputCase = tuple[str, float, float, float, bool]  # shape, a, out.grad, a.grad before, against central differences
EDGES = (1000.0, -1000.0, 30.0, -30.0, 0.0, 750.0, -750.0)  # against the reference only: nothing may overflow
TIGHT = (4.0, 12.0, -12.0, 300.0)  # against the reference's tolerance: no clamp, no other formula


def one_input_graph(op: str, case: OneInputCase) -> GradientCase:
    """The shape over ``a`` as a kit graph, driven ``_backward`` by ``_backward``."""
    shape, a, upstream, initial, use_fd = case
    g = Graph()
    x = g.leaf(a, "a")
    if shape == "f(a)":
        g.op(op, x)
    elif shape == "f(f(a))":
        g.op(op, g.op(op, x))
    else:
        g.op("add", g.op(op, x), g.op(op, x))
    if initial:
        g.initial = {x: initial}
    return GradientCase(g, upstream, use_fd=use_fd)


@st.composite
def one_input_cases(draw: st.DrawFn, values: st.SearchStrategy[float]) -> OneInputCase:
    return draw(st.sampled_from(SHAPES)), draw(values), draw(UPSTREAM), draw(INITIAL), True


def one_input_check(prefix: str, op: str, values: st.SearchStrategy[float], examples: int = 20,
                    edges: Sequence[float] = EDGES, tight: Sequence[float] = TIGHT,
                    regression: Sequence[OneInputCase] | None = None) -> Callable[[Engine], None]:
    """The check of the one-input operator ``op`` (registered in ``kit/operators.py``), property ``prefix.op``.

    ``values``: where inputs are generated (where finite differences are meaningful); ``edges``:
    extreme inputs, against the reference only; ``tight``: inputs against the reference's tolerance
    (a clamp or another formula shows there); ``regression``: the notebook's own cases (default:
    out.grad 1.5 at 0.5, a gradient held at -1.2, the sum and the composition).
    """
    if regression is None:
        regression = [("f(a)", 0.5, 1.5, 0.0, True), ("f(a)", -1.2, 2.0, 0.75, True), ("f(a)", 2.5, 1.5, 0.0, True),
                      ("f(a) + f(a)", 0.3, -1.5, 0.0, True), ("f(f(a))", -0.8, 0.5, 0.5, True)]
    cases = [*regression, *(("f(a)", x, 1.5, 0.25, False) for x in edges),
             *(("f(a)", x, 1.5, 0.0, True) for x in tight)]

    def batch(engine: Engine, batch_cases: Sequence[OneInputCase]) -> None:
        try:
            compare_batch(engine, [one_input_graph(op, c) for c in batch_cases])
        except CheckFailure as failure:
            raise with_overflow_hint(failure) from None

    return batched(f"{prefix}.{op}", batch, one_input_cases(values), examples, cases, size=6)


def unary_check(prefix: str, op: str, values: st.SearchStrategy[float], edges: Sequence[float] = (),
                examples: int = 50, nested: st.SearchStrategy[float] | None = None) -> Callable[[Engine], None]:
    """A one-input operator one example per program (``f(a)``, ``f(f(a))``), then ``edges`` against the
    reference only; ``nested`` is the domain for ``f(f(a))`` where ``f``'s range leaves the domain (log)."""

    def check(engine: Engine) -> None:
        def prop(shape: str, a: float, aa: float, g: float, g0: float) -> None:
            graph = Graph()
            if shape == "f(a)":
                graph.op(op, graph.leaf(a, "a"))
            else:
                graph.op(op, graph.op(op, graph.leaf(aa, "a")))
            if g0:
                graph.initial = {0: g0}
            compare(engine, graph, upstream=g)

        run_property(f"{prefix}.{op}", prop, examples, shape=st.sampled_from(["f(a)", "f(f(a))"]), a=values,
                     aa=values if nested is None else nested, g=UPSTREAM, g0=INITIAL)
        for x in edges:  # the edges, on their own, against the reference only
            graph = Graph()
            graph.op(op, graph.leaf(x, "a"))
            compare(engine, graph, upstream=1.5, use_fd=False, what=f"{op}(a) at the edge")

    return check


# --- a plain function of numbers -------------------------------------------------------------------
Result = float | list[float]


def _show(arg: Any) -> str:
    if isinstance(arg, list | tuple):
        return fmts(arg) if all(isinstance(v, int | float) for v in arg) else repr(list(arg))
    return fmt(arg) if isinstance(arg, float) else repr(arg)


def _same(mine: Result, want: Result) -> bool:
    if isinstance(want, list):
        return isinstance(mine, list) and len(mine) == len(want) and all(close(a, b) for a, b in zip(mine, want,
                                                                                                      strict=True))
    return not isinstance(mine, list) and close(mine, want)


def function_check(prefix: str, function: str, reference: Callable[..., Result],
                   cases: st.SearchStrategy[tuple], examples: int = 20, regression: Sequence[tuple] = (),
                   bugs: Mapping[str, Callable[..., Result]] | None = None) -> Callable[[Engine], None]:
    """The student's plain function ``function(*args)`` against ``reference(*args)``, property ``prefix.function``.

    ``cases`` generates argument tuples (numbers, lists of numbers); the reference (plain Python,
    computed here) returns a number or a list of numbers, and the student's result must be the same
    kind (plain floats or ints: ``.data`` of a Value is not asked for). A wrong result gets the hint
    of the first of ``bugs`` (hint -> the reference with that classic bug in it) that gives exactly
    the student's numbers.
    """
    bugs = dict(bugs or {})

    def batch(engine: Engine, batch_cases: Sequence[tuple]) -> None:
        p = Program()
        plan = []
        for args in batch_cases:
            want = reference(*args)
            shown = f"{function}({', '.join(_show(a) for a in args)})"
            out = p.call(function, *[const(list(a) if isinstance(a, tuple) else a) for a in args], what=shown)
            r_kind = p.read_kind(out, shown)
            if isinstance(want, list):
                r_items = p.read_kinds(out, f"{shown} must return a list of numbers")
                r_values = [p.read_number(p.item(out, i, what=f"{shown}: item {i}"), f"{shown}: the numbers")
                            for i in range(len(want))]
            else:
                r_items, r_values = None, [p.read_number(out, f"{shown} must return a number")]
            plan.append((args, shown, want, r_kind, r_items, r_values))
        got = run(engine, p)
        for args, shown, want, r_kind, r_items, r_values in plan:
            kind = got[r_kind]
            if isinstance(want, list):
                if kind != "list":
                    raise CheckFailure(f"{shown} returned {an(kind)}, expected a list of {len(want)} numbers")
                items = got[r_items]
                if len(items) != len(want) or any(k not in ("float", "int") for k in items):
                    raise CheckFailure(f"{shown} returned a list of {len(items)} {kinds(items)}, expected "
                                       f"{len(want)} numbers")
                mine: Result = [got[r] for r in r_values]
            else:
                if kind not in ("float", "int"):
                    raise CheckFailure(f"{shown} returned {an(kind)}, expected a number")
                mine = got[r_values[0]]
            if not _same(mine, want):
                why = next((f" ({hint})" for hint, buggy in bugs.items() if _replays(buggy, args, mine)), "")
                shown_mine = fmts(mine) if isinstance(mine, list) else fmt(mine)
                shown_want = fmts(want) if isinstance(want, list) else fmt(want)
                raise CheckFailure(f"{shown} returned {shown_mine}, expected {shown_want}{why}")
        got.done()

    return batched(f"{prefix}.{function}", batch, cases, examples, regression)


def _replays(buggy: Callable[..., Result], args: tuple, mine: Result) -> bool:
    """Whether the classic bug ``buggy`` gives exactly the student's numbers (a failing replay never does)."""
    try:
        alt = buggy(*args)
    except (ArithmeticError, ValueError, TypeError, IndexError):
        return False
    if isinstance(alt, list) and not all(math.isfinite(v) for v in alt):
        return False
    return _same(mine, alt)


# --- a module: parameters through its attributes, forward, backward, parameters() -------------------------
@dataclass(frozen=True)
class ModuleCase:
    """``cls(*args)`` with its parameters set to ``weights`` (attribute by attribute), called on ``x``."""

    args: tuple
    weights: tuple[float, ...]
    x: Any


def module_check(prefix: str, cls: str, attributes: Callable[[tuple], Sequence[tuple[str, int | None]]],
                 reference: Callable[[list[Any], Any], Any], cases: st.SearchStrategy[ModuleCase],
                 examples: int = 12, regression: Sequence[ModuleCase] = ()) -> Callable[[Engine], None]:
    """The student's module ``cls``, property ``prefix.cls`` (lower case).

    ``attributes(args)`` lists its parameters in ``parameters()`` order as ``(attribute, n)``: a list
    of ``n`` Values, or one Value when ``n`` is None (``[("w", None), ("b", None)]``); the check sets
    them to the case's weights through those attributes (never through the student's
    ``parameters()``). ``reference(values, x)`` is the forward pass written with ``zengrad_ref``
    values (one Value, or a list of them): the student's output and, after ``backward()`` from
    (the sum of) the output, every parameter's gradient are compared with it; then
    ``parameters()`` must list the module's own Values, in that order, on every call.
    """
    from zengrad_ref import Value as RValue
    from zengrad_ref.engine import sum_values

    def label(case: ModuleCase) -> str:
        return f"{cls}({', '.join(_show(a) for a in case.args)})"

    def batch(engine: Engine, batch_cases: Sequence[ModuleCase]) -> None:
        p = Program()
        plan = []
        for c in batch_cases:
            name = label(c)
            obj = p.call(cls, *[const(a) for a in c.args], what=name)
            handles: list[tuple[str, int]] = []
            for attr, n in attributes(c.args):
                h = p.attr(obj, attr, what=f"{name}.{attr}")
                handles += ([(attr, h)] if n is None else
                            [(f"{attr}[{i}]", p.item(h, i, what=f"{name}.{attr}[{i}]")) for i in range(n)])
            if len(handles) != len(c.weights):
                raise ValueError(f"{len(c.weights)} weights for {len(handles)} parameters")  # a bug in the check
            for (_, h), w in zip(handles, c.weights, strict=True):
                p.set_data(h, w)
            values = ", ".join(f"{n} = {fmt(w)}" for (n, _), w in zip(handles, c.weights, strict=True))
            call = f"{name} with {values}, called on {_show(c.x)}"
            rw = [RValue(w) for w in c.weights]
            rout = reference(rw, c.x)  # the reference's output, computed here (one Value or a list of them)
            many = isinstance(rout, list)
            out = p.method(obj, "__call__", const(c.x), what=call)
            r_kind = p.read_kind(out, call)
            r_out = (p.read_list(out, f"{call} must return a list of Values") if many
                     else p.read(out, f"{call} must return one Value"))
            outs = [p.item(out, i, what=f"{call}: output") for i in range(len(rout))] if many else [out]
            p.backward(p.sum(outs), what=f"{call}: backward() from {'the sum of its outputs' if many else 'it'}")
            r_grads = [p.read(h, "a parameter") for _, h in handles]
            plan.append((c, call, handles, rw, rout, many, r_kind, r_out, r_grads, read_parameters(p, name, obj)))
        got = run(engine, p)
        for c, call, handles, rw, rout, many, r_kind, r_out, r_grads, r_p in plan:
            kind = got[r_kind]
            if kind != ("list" if many else "Value"):
                raise CheckFailure(f"{call} returned {an(kind)}, expected "
                                   + (f"a list of {len(rout)} Values" if many else "one Value"))
            mine = [d for d, _ in got[r_out]] if many else [got[r_out][0]]
            want = [v.data for v in rout] if many else [rout.data]
            if not (len(mine) == len(want) and all(close(a, b) for a, b in zip(mine, want, strict=True))):
                raise CheckFailure(f"{call}: your output is {fmts(mine)}, expected {fmts(want)}")
            (sum_values(rout) if many else rout).backward()
            for (name, _), r, v in zip(handles, r_grads, rw, strict=True):
                if not close(got[r][1], v.grad):
                    raise CheckFailure(f"{call}: after backward(), {name}.grad = {fmt(got[r][1])}, expected "
                                       f"{fmt(v.grad)} (build the output from Value operations on the parameters)")
            check_parameters(got, r_p, handles, label(c), "its own (training must update the module itself)",
                             ", ".join(n for n, _ in handles))
        got.done()

    return batched(f"{prefix}.{cls.lower()}", batch, cases, examples, regression)
