"""gradcheck: check your gradients numerically, in the notebook, on any expression.

This helper ships with the assignment. It holds no reference solution: it compares
the gradients your ``Value`` computes with central differences of your own forward
pass, and explains what went wrong in words you can act on: which operation's
``_backward`` is wrong, its local derivative next to the numerical one, and a hint
when the numbers show a classic slip (``=`` where ``+=`` belongs, ``out.grad``
forgotten, a sign, a formula evaluated at the wrong point).

    check_gradients(lambda a, b: a * b, [2.0, -3.0])              # one operator, its _backward only
    check_gradients(lambda a: a * a, [3.0])                       # an input used twice
    check_gradients(lambda a: a.tanh(), [0.5], initial=0.25)      # an input that already holds a gradient
    check_gradients(lambda a, b: (a * b).tanh(), [1.0, 2.0], full=True)   # a whole expression, backward()

The graded (hidden) checks run the same idea much harder, with hypothesis,
against a reference engine, in the grader, not in your notebook.
"""

from __future__ import annotations

import inspect
import math
import re
import sys
import textwrap
import types
from collections.abc import Callable, Mapping, Sequence

__all__ = ["GradientCheckError", "check", "check_gradients", "diagnose", "numerical_derivative"]

WIDTH = 80  # message lines fit a notebook's output area and the Validate dialog
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class GradientCheckError(AssertionError):
    """A gradient differs from its numerical estimate (or is not implemented yet).

    In IPython (a notebook, Validate) the message comes first, then your own
    lines; the checker's frames are left out.
    """

    def _render_traceback_(self) -> list[str]:
        lines = f"{type(self).__name__}: {self}".split("\n")
        try:
            lines += _student_traceback(self)
        except Exception:  # a display helper must never fail the display
            pass
        return lines


def _hidden(frame: types.FrameType) -> bool:
    try:
        return bool(frame.f_locals.get("__tracebackhide__"))
    except Exception:
        return False


def _student_traceback(exc: BaseException) -> list[str]:
    """Your frames (the cell's line, and where your code raised), formatted by IPython, without the checker's."""
    frames: list[tuple[types.FrameType, int, int]] = []
    for err in (exc, exc.__cause__):
        tb = err.__traceback__ if err is not None else None
        while tb is not None:
            if not _hidden(tb.tb_frame):
                frames.append((tb.tb_frame, tb.tb_lasti, tb.tb_lineno))
            tb = tb.tb_next
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if not frames or shell is None:
        return []
    chain = None
    for frame, lasti, lineno in reversed(frames):
        chain = types.TracebackType(chain, frame, lasti, lineno)
    alone = type(exc)(*exc.args)  # the same error without its cause: one traceback, not a chain of two
    stb = shell.InteractiveTB.structured_traceback(type(alone), alone, chain)
    name = type(exc).__name__
    kept = []
    for part in stb:
        plain = _ANSI.sub("", part).strip()
        if not plain or set(plain) <= {"-"} or "Traceback (most recent call last)" in plain:
            continue
        if plain.startswith(f"{name}:") or plain == name:
            continue
        kept.append(part)
    return [""] + kept if kept else []


def _value_class(value_cls):
    if value_cls is not None:
        return value_cls
    import __main__

    try:
        return __main__.Value
    except AttributeError:
        raise GradientCheckError("no class named Value is defined yet: run the cells above first") from None


def numerical_derivative(f: Callable[..., float], xs: Sequence[float], i: int, h: float | None = None) -> float:
    """Central difference (f(x+h) - f(x-h)) / 2h of a float function along input ``i``."""
    __tracebackhide__ = True
    h = h if h is not None else 1e-6 * max(1.0, abs(xs[i]))
    up, down = list(xs), list(xs)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


# --- numbers in messages: one format --------------------------------------------------


def _fmt(x: float) -> str:
    """6 significant digits, and always recognisable as a float: 2.0, -4.5, 0.806824, 1e-26."""
    x = float(x)
    if not math.isfinite(x):
        return repr(x)
    text = f"{x:.6g}"
    return text if any(c in text for c in ".en") else text + ".0"


def _close(a: float, b: float, rel: float = 1e-4, abs_: float = 1e-7) -> bool:
    return abs(a - b) <= abs_ + rel * max(abs(a), abs(b))


# --- the classic slips ------------------------------------------------------------------

# Simple expressions of one number the _backward can see, with how complex they read.
_FORMS: list[tuple[str, int, Callable[[float], float]]] = [
    ("{v}", 1, lambda v: v),
    ("1 / {v}", 2, lambda v: 1 / v),
    ("1 - {v}", 2, lambda v: 1 - v),
    ("{v}**2", 2, lambda v: v * v),
    ("1 - {v}**2", 3, lambda v: 1 - v * v),
    ("{v} * (1 - {v})", 3, lambda v: v * (1 - v)),
]


def _forms_of(x: float, values: Mapping[str, float]) -> list[tuple[int, str, str]]:
    """Every one of ``_FORMS`` over ``values`` that equals ``x``: (cost, form, value name), simplest first."""
    found: list[tuple[int, str, str]] = []
    for form, cost, fn in _FORMS:
        for name, v in values.items():
            try:
                y = fn(float(v))
            except (ZeroDivisionError, OverflowError, ValueError, TypeError):
                continue
            if math.isfinite(y) and _close(x, y, rel=1e-6, abs_=1e-12):
                found.append((cost, form, name))
    return sorted(found)


def diagnose(
    got: float,
    expected: float,
    upstream: float = 1.0,
    initial: float = 0.0,
    *,
    uses: int = 1,
    name: str = "the input",
    values: Mapping[str, float] | None = None,
) -> str | None:
    """One short hint naming the classic slip that turns the right gradient into ``got``, or None.

    Pure, stdlib-only, numbers in, a sentence out (the hidden checks reuse it for their feedback).

    * ``got``: the input's gradient after the ``_backward`` ran (or after ``backward()``);
    * ``expected``: what it should be: ``initial + upstream * (local derivative, summed over the uses)``;
    * ``upstream``: ``out.grad`` while that ``_backward`` ran (1.0 for ``backward()``: the seed);
    * ``initial``: the input's gradient before (non-zero: an input that already held a gradient);
    * ``uses``: how many times the operation uses this input (``a * a``: 2), 1 if unknown;
    * ``name``: what to call the input in the hint (``"a"``, ``"x1"``);
    * ``values``: the numbers the ``_backward`` can see, by the name the student writes them
      (``{"self.data": 0.5, "out.data": 0.462}``), to recognise a local derivative written in terms
      of the wrong one (``self.data * (1 - self.data)`` where ``out.data * (1 - out.data)`` belongs).

    Recognised, first match wins: a gradient that is not a number or not finite; nothing added; a
    gradient held before and overwritten (``=`` instead of ``+=``); one contribution of an input used
    several times (``=`` instead of ``+=``); the factor ``out.grad`` missing (or applied twice, or a
    gradient passed on although ``out.grad`` is 0); the
    sign flipped; a local derivative that is the right form at the wrong point, or another simple form;
    a local derivative off by a factor that is one of ``values``. Returns None when none applies.
    """
    try:
        got, expected = float(got), float(expected)
    except (TypeError, ValueError):
        return (f"{name}.grad is a {type(got).__name__}, not a number: in _backward use .data "
                "(a float), not the Value itself")
    upstream, initial = float(upstream), float(initial)
    if not math.isfinite(got):
        if math.isfinite(expected):
            return f"{name}.grad is {got!r}: an overflow? compute the local derivative from out.data"
        return None
    if not math.isfinite(expected) or _close(got, expected):
        return None
    want, gave = expected - initial, got - initial  # this operation's contribution: expected and yours
    overwrite = not _close(initial, 0.0)  # an input that held a gradient: = instead of += shows

    if _close(gave, 0.0) and not _close(want, 0.0):
        if overwrite and _close(got, want):  # "=" and "added nothing" give the same number here
            return f"{name}.grad is still {_fmt(got)}: add this operation's {_fmt(want)} to it (+=, not =)"
        return f"your _backward adds nothing to {name}.grad (it should add {_fmt(want)})"
    if overwrite and _close(got, want):
        return f"{name}.grad held {_fmt(initial)} and lost it: add to it (+=), do not assign (=)"
    if _close(upstream, 0.0) and _close(want, 0.0):
        return (f"out.grad is 0 here, so nothing may reach {name}.grad: multiply your local derivative "
                "by out.grad (chain rule)")
    if uses > 1:
        for k in range(1, uses):
            if _close(got if overwrite else gave, want * k / uses):
                times = "twice" if uses == 2 else f"{uses} times"
                return f"{name} is used {times} but kept only {k} contribution{'s' * (k > 1)}: use +=, not ="
    if upstream not in (0.0, 1.0, -1.0):
        if _close(gave, want / upstream):
            return "out.grad is missing: multiply your local derivative by it (chain rule)"
        if overwrite and _close(got, want / upstream):
            return "out.grad is missing (chain rule), and = replaced what the gradient held (use +=)"
        if _close(gave, want * upstream):
            return "out.grad is multiplied in twice: once is the chain rule"
    if _close(gave, -want):
        return "the sign is flipped"
    if values and uses == 1 and upstream != 0:
        mine_local, want_local = gave / upstream, want / upstream
        mine, want_forms = _forms_of(mine_local, values), _forms_of(want_local, values)
        if mine and (len(mine) == 1 or mine[0][0] < mine[1][0]):  # yours reads one way, the simplest
            _, form, at = mine[0]
            moved = [other for _, f, other in want_forms if f == form and other != at]
            if len(moved) == 1:  # the right formula, applied to the wrong number
                return f"yours is {form.format(v=at)}: use {moved[0]}, not {at}"
            if len(want_forms) == 1:  # the numerical one reads exactly one way
                _, right, at_right = want_forms[0]
                return f"yours is {form.format(v=at)}; the numerical one is {right.format(v=at_right)}"
        for vname, v in values.items():
            if abs(v) > 1e-9 and not _close(abs(v), 1.0) and not _close(v, upstream):
                if _close(mine_local, want_local * v):
                    return f"yours is {vname} ({_fmt(v)}) times too large: an exponent off by one?"
                if _close(mine_local * v, want_local):
                    return f"yours is {vname} ({_fmt(v)}) times too small: an exponent off by one?"
    return None


# --- running a check ---------------------------------------------------------------------


def _names(f: Callable, n: int, names: str | Sequence[str] | None) -> list[str]:
    if names is not None:
        given = list(names)
    else:
        try:
            params = inspect.signature(f).parameters.values()
            given = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            given = []
    spare = iter(c for c in "abcdefghijklmnopqrstuvwxyz" if c not in given)
    return [given[i] if i < len(given) else next(spare, f"x{i}") for i in range(n)]


def _initial(initial: float | Sequence[float] | None, n: int) -> list[float]:
    if initial is None:
        return [0.0] * n
    if isinstance(initial, int | float):
        return [float(initial)] * n
    out = [float(g) for g in initial]
    if len(out) != n:
        raise ValueError(f"initial has {len(out)} gradients for {n} inputs")
    return out


def _trace(root) -> list:
    """Every node of root's graph once, inputs before the nodes that use them (no recursion)."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(tuple(getattr(node, "_prev", ()))))
    return order


def _number(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        return float(text)


def _reapply(node) -> tuple[Callable, list] | None:
    """The node's operation as a function of its distinct inputs (``a * a`` stays ``a * a``), and those inputs."""
    op, kids = getattr(node, "_op", ""), tuple(getattr(node, "_prev", ()))
    distinct: list = []
    for kid in kids:
        if not any(kid is d for d in distinct):
            distinct.append(kid)
    slots = [next(k for k, d in enumerate(distinct) if d is kid) for kid in kids]
    if op in ("+", "*") and len(kids) == 2:
        def apply(x, y):
            return x + y if op == "+" else x * y
    elif op.startswith("**") and len(kids) == 1:
        try:
            n = _number(op[2:])
        except ValueError:
            return None

        def apply(x):
            return x**n
    elif op.isidentifier() and len(kids) == 1:
        def apply(x):
            return getattr(x, op)()
    else:
        return None

    def g(*xs):
        return apply(*[xs[k] for k in slots])

    return g, distinct


def _op_name(node) -> str:
    op = getattr(node, "_op", "")
    return f"the _backward of {op!r}" if op else "a leaf's _backward"


def _culprit_of(exc: BaseException, nodes: list) -> str:
    """What raised ``exc``: the _backward of which node, else the function (backward(), topological_sort())."""
    tb, frame = exc.__traceback__, None
    while tb is not None:
        if not _hidden(tb.tb_frame):
            frame = tb.tb_frame
        tb = tb.tb_next
    if frame is None:
        return "your code"
    matches = []
    for node in nodes:
        fn = getattr(node, "_backward", None)
        code = getattr(getattr(fn, "__func__", fn), "__code__", None)
        if code is frame.f_code:
            matches.append(node)
    if matches:
        try:
            local_values = list(frame.f_locals.values())
        except Exception:
            local_values = []
        exact = [n for n in matches if any(v is n for v in local_values)]
        return _op_name((exact or matches)[0])
    qualname = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
    return f"{qualname}()" if qualname != "<lambda>" else "your expression"


class _Run:
    """One gradient check: the graph built, backpropagated, and compared with numerical derivatives."""

    def __init__(self, f, inputs, value_cls, *, upstream, full, initial, names, atol, rtol, shown=None):
        __tracebackhide__ = True
        self.inputs = [float(x) for x in inputs]
        self.names = names
        self.shown = shown or names  # how the inputs are shown in "at ...": a, or self.data
        self.initial = initial
        self.full = full
        self.upstream = 1.0 if full else float(upstream)
        self.values = [value_cls(x) for x in self.inputs]
        for v, name, g in zip(self.values, names, initial, strict=True):
            v.label = name
            v.grad = g
        self.out = f(*self.values)
        if not isinstance(self.out, value_cls):
            raise GradientCheckError(
                f"the expression should return a Value, yours returned {type(self.out).__name__}: {self.out!r}")
        self.error: BaseException | None = None
        try:
            if full:
                self.out.backward()
            else:
                self.out.grad = self.upstream
                self.out._backward()
        except Exception as exc:  # explained by the caller, with the student's line
            self.error = exc
            return

        def forward(*xs: float) -> float:
            __tracebackhide__ = True
            return f(*[value_cls(x) for x in xs]).data

        self.wrong: list[tuple[int, object, float]] = []
        for i, v in enumerate(self.values):
            slope = numerical_derivative(forward, self.inputs, i)
            expected = initial[i] + self.upstream * slope
            got = v.grad
            if not _agrees(got, expected, atol, rtol):
                self.wrong.append((i, got, expected))

    def uses(self, i: int) -> int:
        return sum(1 for kid in getattr(self.out, "_prev", ()) if kid is self.values[i])

    def at(self) -> list[str]:
        """Where the check ran: the inputs, out.grad, and the gradients the inputs held before (message lines)."""
        where = ", ".join(f"{n} = {_fmt(x)}" for n, x in zip(self.shown, self.inputs, strict=True))
        held = [f"{n}.grad = {_fmt(g)}" for n, g in zip(self.names, self.initial, strict=True) if g != 0]
        first = f"at {where}" + ("" if self.full else f", with out.grad = {_fmt(self.upstream)}")
        if len(held) == 1 and len(first) + len(held[0]) < WIDTH - 24:
            return [f"{first} and {held[0]} before"]
        return [first] + ([f"(before: {', '.join(held)})"] if held else [])

    def seen_by_backward(self) -> dict[str, float]:
        """The numbers the last operation's _backward can see, by the names it uses for them."""
        kids = tuple(getattr(self.out, "_prev", ()))
        seen = {}
        for kid, role in zip(kids, ("self", "other"), strict=False):
            seen[f"{role}.data"] = kid.data
        seen["out.data"] = self.out.data
        return seen


def _agrees(got, expected: float, atol: float, rtol: float) -> bool:
    try:
        got = float(got)
    except (TypeError, ValueError):
        return False
    if math.isnan(expected):  # the output is infinite here: no numerical estimate, only a number is required
        return not math.isnan(got)
    if math.isinf(expected):
        return got == expected
    return math.isfinite(got) and abs(got - expected) <= atol + rtol * abs(expected)


def _wrap(lines: list[str]) -> str:
    """The message lines, each at most WIDTH wide; the first one after "GradientCheckError: "."""
    prefix = f"{GradientCheckError.__name__}: "
    out = []
    for k, line in enumerate(lines):
        indent = " " * (len(line) - len(line.lstrip()))
        lead = prefix if k == 0 else ""
        out.append(textwrap.fill(lead + line, WIDTH, subsequent_indent=indent + "  ", break_on_hyphens=False,
                                 break_long_words=False)[len(lead):])
    return "\n".join(out)


def _local_lines(run: _Run, i: int, got, expected: float) -> list[str]:
    """'a.grad = …, expected …', the local derivatives, and the hint, for input i of a one-operation run."""
    name, before, up = run.names[i], run.initial[i], run.upstream
    lines = [f"  {name}.grad = {_show(got)}, expected {_fmt(expected)}"]
    uses = run.uses(i) if not run.full else 1
    hint = diagnose(got, expected, up, before, uses=max(uses, 1), name=name,
                    values=run.seen_by_backward() if not run.full and uses == 1 else None)
    if not run.full and uses and _is_number(got) and up != 0 and not (hint and "lost it" in hint):
        over = f"({name}.grad - {_fmt(before)})" if before else f"{name}.grad"
        twice = f" ({name} is used {'twice' if uses == 2 else f'{uses} times'})" if uses > 1 else ""
        lines.append(f"  local derivative {over} / out.grad: yours {_fmt((float(got) - before) / up)}, "
                     f"expected {_fmt((expected - before) / up)}{twice}")
    if not run.full and not uses:
        lines.append(f"  {name} is not an input of the last operation: with full=False only the last "
                     "operation's _backward runs (use full=True for an expression)")
    if hint:
        lines.append(f"  hint: {hint}")
    return lines


def _is_number(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _show(x) -> str:
    try:
        return _fmt(float(x))
    except (TypeError, ValueError):
        return repr(x)


def _raised(exc: BaseException, what: str, run: _Run) -> list[str]:
    if isinstance(exc, NotImplementedError):
        text = str(exc)
        lines = [f"not implemented yet: {what}"]
        if text and "these two lines" not in text:  # a message of its own, not the stub's
            rest = text.removeprefix("not implemented yet: ").removeprefix(what).strip()
            lines.append(f"  {rest[:1].upper()}{rest[1:]}")
        else:
            lines.append("  Write it in place of `# YOUR CODE HERE` and `raise NotImplementedError(...)`.")
        return lines
    lines = [f"{what} raised {type(exc).__name__}", f"  {exc}", *(f"  {line}" for line in run.at())]
    if isinstance(exc, OverflowError):
        lines.append("  hint: recomputing from self.data overflows; use the forward result (out.data)")
    return lines


def _probe(node, value_cls) -> tuple[str, list[str]] | None:
    """Check one node's operation on its own, at the node's inputs: (what is wrong, lines) or None if it passes."""
    __tracebackhide__ = True
    shaped = _reapply(node)
    if shaped is None:
        return None
    g, distinct = shaped
    xs = [kid.data for kid in distinct]
    names = ["self", "other"] if len(distinct) == 2 else ["self"] if len(distinct) == 1 else None
    if names is None:
        return None
    for before in (0.0, 0.375):  # fresh inputs, then inputs that already hold a gradient
        try:
            run = _Run(g, xs, value_cls, upstream=1.5, full=False, initial=[before] * len(xs), names=names,
                       atol=1e-5, rtol=1e-3, shown=[f"{n}.data" for n in names])
        except Exception:  # its forward pass fails: not this probe's business
            return None
        what = _op_name(run.out)
        if run.error is not None:
            return what, _raised(run.error, what, run)[1:]
        if run.wrong:
            i, got, expected = run.wrong[0]
            at = run.at()
            lines = [f"  on its own {at[0]}" + (":" if len(at) == 1 else "")]
            lines += [f"  {line}:" for line in at[1:]]
            return what, lines + _local_lines(run, i, got, expected)
    return None


def check_gradients(
    f: Callable,
    inputs: Sequence[float],
    *,
    upstream: float = 1.5,
    full: bool = False,
    initial: float | Sequence[float] | None = None,
    names: str | Sequence[str] | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    value_cls: type | None = None,
) -> None:
    """Compare the gradients of ``f(*Values)`` with central differences; raise if they differ.

    By default only the last operation's ``_backward`` runs (``full=False``), with
    ``out.grad = upstream``: that tests one operator on its own, so ``f`` should be
    a single operation on its inputs (``a * b``, ``a ** 3``, ``a.tanh()``, ``a * a``).
    With ``full=True`` the whole expression is backpropagated with ``out.backward()``.

    ``initial`` gives the inputs a gradient before the check (one number for all, or one per
    input): they should end with that gradient plus the new contribution (``+=``, not ``=``).
    The inputs are named after ``f``'s own arguments (``lambda x1, w1: ...``), or ``names``.
    On a wrong gradient the error names the operation whose ``_backward`` is wrong (with
    ``full=True`` each operation of the graph is checked on its own to find it), shows its local
    derivative next to the numerical one, and a hint when the numbers show a classic slip.
    """
    __tracebackhide__ = True
    value = _value_class(value_cls)
    names = _names(f, len(inputs), names)
    run = _Run(f, inputs, value, upstream=upstream, full=full, initial=_initial(initial, len(inputs)),
               names=names, atol=atol, rtol=rtol)
    nodes = _trace(run.out)
    if run.error is not None:
        exc = run.error
        what = _culprit_of(exc, nodes)
        if what == "your code" and not full:
            what = _op_name(run.out)
        raise GradientCheckError(_wrap(_raised(exc, what, run))) from exc
    if not run.wrong:
        print(f"ok: gradients match {' '.join(run.at())}")
        return
    i, got, expected = run.wrong[0]
    if not full:
        lines = [f"wrong gradient from {_op_name(run.out)}", *(f"  {line}" for line in run.at()),
                 *_local_lines(run, i, got, expected)]
        raise GradientCheckError(_wrap(lines))
    name, before = names[i], run.initial[i]
    found = None
    for node in reversed(nodes):  # the order backward() calls them in: the root first
        found = _probe(node, value)
        if found:
            break
    at = run.at()
    lines = [f"wrong gradient from {found[0]}" if found else "wrong gradient after backward()",
             f"  after backward() {at[0]}", *(f"  {x}" for x in at[1:]),
             f"  {name}.grad = {_show(got)}, expected {_fmt(expected)}"]
    if found:
        lines += found[1]
    else:
        lines.append("  every operation's _backward is right on its own: look at backward() (the order in "
                     "which it calls them, the seed out.grad = 1.0)")
        hint = diagnose(got, expected, 1.0, before, name=name)
        if hint and "lost it" in hint:
            hint = (f"{name}.grad held {_fmt(before)} before backward() and lost it: backward() adds to "
                    "gradients, it never resets them (zero_grad does)")
        if hint:
            lines.append(f"  hint: {hint}")
    raise GradientCheckError(_wrap(lines))


def check(check_id: str) -> None:
    """Stands for a hidden check; the real one runs in the trusted grader, never in this kernel.

    If you see this error, the notebook was graded without zengrad-kit's
    trusted grader; ask your instructor.
    """
    raise RuntimeError(
        f"hidden check {check_id!r} is scored by the trusted grader (zengrad-kit), not in the notebook"
    )
