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

__all__ = ["GradientCheckError", "RequirementError", "check", "check_gradients", "check_steps", "diagnose",
           "numerical_derivative", "raises", "requirement"]

WIDTH = 80  # message lines fit a notebook's output area and the Validate dialog
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _Explained(AssertionError):
    """A failed visible test whose message says what is wrong: shown first, then your own lines only."""

    def _render_traceback_(self) -> list[str]:
        lines = f"{type(self).__name__}: {self}".split("\n")
        try:
            lines += _student_traceback(self)
        except Exception:  # a display helper must never fail the display
            pass
        return lines


class GradientCheckError(_Explained):
    """A gradient differs from its numerical estimate (or is not implemented yet).

    In IPython (a notebook, Validate) the message comes first, then your own
    lines; the checker's frames are left out.
    """


class RequirementError(_Explained):
    """A requirement of the notebook's text is not met: the message names it, then what your code did."""


def _hidden(frame: types.FrameType) -> bool:
    try:
        return bool(frame.f_locals.get("__tracebackhide__"))
    except Exception:
        return False


def _student_traceback(exc: BaseException) -> list[str]:
    """Your frames (the cell's line, and where your code raised), formatted by IPython, without the checker's."""
    frames: list[tuple[types.FrameType, int, int]] = []
    own = not getattr(exc, "_cause_only", False)  # a requirement's block: the lines of its cause say where
    for err in (exc if own else None, exc.__cause__):
        tb = err.__traceback__ if err is not None else None
        while tb is not None:
            where = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
            seen = frames[-1] if frames else None  # a lambda on the line before it: the same line, once
            if not _hidden(tb.tb_frame) and (seen is None or (seen[0].f_code.co_filename, seen[2]) != where):
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
        try:
            self.out = f(*self.values)
        except NotImplementedError:
            raise  # a stub in a forward pass: its own "not implemented yet" says what to do
        except Exception as exc:  # the forward pass failed: say where, with the inputs, not a bare error
            lines = [f"your expression raised {type(exc).__name__}", f"  {str(exc)[:200]}",
                     *(f"  {line}" for line in self.at())]
            hint = next((h for t, h in _ERROR_HINTS.items() if isinstance(exc, t)), None)
            raise GradientCheckError(_wrap(lines + ([f"  hint: {hint}"] if hint else []))) from exc
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

        self.forward = forward
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


def _wrap(lines: list[str], error: type = GradientCheckError) -> str:
    """The message lines, each at most WIDTH wide; the first one after "GradientCheckError: "."""
    prefix = f"{error.__name__}: "
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
    if not hint and not run.full and uses == 1 and len(run.inputs) == 1 and _is_number(got) and up != 0:
        hint = _at_output_hint(run, (float(got) - before) / up)
    if hint:
        lines.append(f"  hint: {hint}")
    return lines


def _at_output_hint(run: _Run, mine: float) -> str | None:
    """One input, one operation: is yours the right derivative taken at the output instead of the input?"""
    __tracebackhide__ = True
    x, y = run.inputs[0], float(run.out.data)
    if not math.isfinite(y) or _close(x, y):
        return None
    try:
        at_output = numerical_derivative(run.forward, [y], 0)
        at_input = numerical_derivative(run.forward, [x], 0)
    except Exception:  # the forward pass is not defined at the output: not this slip
        return None
    if _close(mine, at_output, rel=1e-5, abs_=1e-9) and not _close(at_output, at_input, rel=1e-5, abs_=1e-9):
        return ("yours is the derivative at the output out.data; the notebook's formula is at the input x "
                "(self.data)")
    return None


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
        op = what.removeprefix("the _backward of ").strip("'")
        lines.append(f"  hint: {_OVERFLOW.get(op, _OVERFLOW[''])}")
    return lines


# What to do about an overflow in a _backward, in the words of the notebook that teaches the operator.
_OVERFLOW = {
    "exp": "recomputing math.exp(self.data) overflows; the derivative of exp is its output: use out.data",
    "tanh": "cosh and exp overflow at large |x|; reuse the forward pass's t: 1 - t**2",
    "sigmoid": "recomputing with math.exp overflows; reuse the forward pass's s: s * (1 - s)",
    "": ("math.exp overflows above 709.78: never give it a large positive argument. Keep the derivative at "
         "the input x, written so that exp only sees numbers <= 0 (the given sigmoid: one formula for x >= 0, "
         "another for x < 0)"),
}


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


# --- requirements that are not gradients: errors, and sequences of steps ----------------------

# A hint for an error raised inside a test, by its type, when the test gives none of its own.
_ERROR_HINTS: dict[type, str] = {
    OverflowError: ("math.exp overflows above 709.78: never give it a large positive argument (subtract the "
                    "largest value first, or pick the formula whose exponent is <= 0)"),
    RecursionError: "Python allows about 1,000 nested calls: use an explicit stack (a list) instead of recursion",
    ZeroDivisionError: ("a division by zero: which number can be 0 here? (Adam: 1 - b1 ** t is 0 while the "
                        "step count t is still 0)"),
    NameError: ("a name that is not defined here: if it is one the notebook asks you to write, run its cell "
                "(did it raise an error?); otherwise use the arguments and attributes you are given (self.params, "
                "model, X), not a variable of another cell"),
}


def _error_lines(requirement: str, exc: BaseException, did: str, hint: str | None) -> list[str]:
    text = str(exc).strip().split("\n")[0][:200]
    lines = [requirement, f"  {did} raised {type(exc).__name__}" + (f": {text}" if text else "")]
    if isinstance(exc, NotImplementedError):
        return [f"not implemented yet: {requirement}",
                "  Write it in place of `# YOUR CODE HERE` and `raise NotImplementedError(...)`."]
    hint = hint or next((h for t, h in _ERROR_HINTS.items() if isinstance(exc, t)), None)
    if hint:
        lines.append(f"  hint: {hint}")
    return lines


class requirement:  # noqa: N801 - used like a function: ``with requirement("..."):``
    """A block of a visible test that checks one requirement of the notebook's text.

    If your code raises inside the block, the error becomes a :class:`RequirementError` that names
    the requirement first, then what your code raised and where, instead of a bare
    ``OverflowError`` pointing at the test's line; a failing ``assert`` of the test keeps its own
    message, shown first too::

        with requirement("cross_entropy is finite for logits of +-1000 (subtract the largest logit)"):
            loss = cross_entropy([Value(1000.0), Value(-1000.0)], 1)
    """

    def __init__(self, text: str, hint: str | None = None, did: str = "your code") -> None:
        self.text, self.hint, self.did = text, hint, did

    def __enter__(self) -> requirement:
        return self

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> bool:
        __tracebackhide__ = True
        if exc is None or isinstance(exc, _Explained) or not isinstance(exc, Exception):
            return False  # passed, explained already, or KeyboardInterrupt and the like
        if isinstance(exc, AssertionError):  # the test's own message: first, wrapped, then the test's line
            error = RequirementError(_wrap(str(exc).split("\n") if str(exc) else [self.text], RequirementError))
        else:
            error = RequirementError(_wrap(_error_lines(self.text, exc, self.did, self.hint), RequirementError))
        error._cause_only = True  # not the `with` line: the line in the block, and the student's, say where
        raise error from exc


def raises(error: type[BaseException], call: Callable[[], object], what: str, requirement: str,
           hint: str | None = None) -> BaseException:
    """``call()`` must raise ``error``: return it (to check its message), else a RequirementError.

    ``what`` is the call as the student reads it (``Value(-2.5) ** Value(0.5)``), ``requirement``
    the sentence of the notebook it checks; ``hint`` is shown when another error comes out.
    """
    __tracebackhide__ = True
    try:
        made = call()
    except error as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - another error: say which requirement it breaks
        if isinstance(exc, NotImplementedError):
            raise RequirementError(_wrap(_error_lines(what, exc, what, hint), RequirementError)) from exc
        lines = _error_lines(requirement, exc, what, hint)
        lines.insert(2, f"  expected {error.__name__}")
        raise RequirementError(_wrap(lines, RequirementError)) from exc
    raise RequirementError(_wrap([requirement, f"  {what} raised nothing: it returned {_short(made)}, expected "
                                  f"{error.__name__}"], RequirementError))


def _short(x: object) -> str:
    try:
        text = repr(x)
    except Exception:  # a hostile or broken __repr__
        text = f"a {type(x).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."


def _row(x: object) -> list[float] | None:
    """A step's numbers as a list of floats (one number or a list of them), None if it is not that."""
    try:
        return [float(x)] if isinstance(x, int | float) else [float(v) for v in x]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None


def _show_row(r: list[float]) -> str:
    """A step's numbers in full (a difference in the tenth digit must show)."""
    return repr(r[0]) if len(r) == 1 else "[" + ", ".join(repr(v) for v in r) + "]"


def _same_row(a: list[float] | None, b: list[float], tol: float) -> bool:
    return a is not None and len(a) == len(b) and all(
        math.isfinite(x) and abs(x - y) <= tol * max(1.0, abs(y)) for x, y in zip(a, b, strict=True))


def check_steps(
    what: str,
    got: Sequence[object],
    want: Sequence[object],
    *,
    name: str = "after step {k} the data is",
    start: int = 1,
    known: Mapping[str, Sequence[object]] | None = None,
    causes: tuple[str, str] | None = None,
    tol: float = 1e-12,
) -> None:
    """Compare a sequence of steps (an optimizer's trajectory, a training loop's losses) with the right one.

    ``got[k]`` and ``want[k]`` are the numbers of step ``start + k`` (one number or a list). On the
    first step where they part, the message says which steps still match, the numbers of that
    step, by how much they differ when that is small (not rounding: ``tol``), and why: the hint
    of ``known`` whose sequence yours matches (the numbers a classic bug gives, computed once),
    else ``causes``: what usually makes the first step wrong, and what makes a later one wrong
    (something carried over from step to step).
    """
    __tracebackhide__ = True
    rows = [_row(x) for x in got] if isinstance(got, list | tuple) else None
    if rows is None or len(rows) != len(want):
        count = f"{len(got)} steps" if isinstance(got, list | tuple) else _short(got)
        raise RequirementError(_wrap([f"{what}: expected {len(want)} steps, got {count}"], RequirementError))
    for k, (mine, right) in enumerate(zip(rows, want, strict=True)):
        right_row = _row(right) or []
        if _same_row(mine, right_row, tol):
            continue
        step = start + k
        lines = [f"{what}: " + (f"steps {start}..{step - 1} match; " if k > 1 else f"step {start} matches; "
                                if k == 1 else "") + name.format(k=step) + " "
                 + (_show_row(mine) if mine is not None else _short(got[k])) + f", expected {_show_row(right_row)}"]
        if mine is not None and len(mine) == len(right_row):
            gap = max(abs(x - y) for x, y in zip(mine, right_row, strict=True))
            if gap < 1e-6:
                lines.append(f"  they differ by {gap:.1e}: more than rounding (the tolerance is {tol:g})")
        why = next((hint for hint, seq in (known or {}).items()
                    if len(seq) >= len(rows) and all(_same_row(r, _row(b) or [], tol)
                                                     for r, b in zip(rows, seq, strict=False))), None)
        if why is None and causes is not None:
            why = causes[0] if k == 0 else causes[1]
        if why:
            lines.append(f"  hint: {why}")
        raise RequirementError(_wrap(lines, RequirementError))


def check(check_id: str) -> None:
    """Stands for a hidden check; the real one runs in the trusted grader, never in this kernel.

    If you see this error, the notebook was graded without zengrad-kit's
    trusted grader; ask your instructor.
    """
    raise RuntimeError(
        f"hidden check {check_id!r} is scored by the trusted grader (zengrad-kit), not in the notebook"
    )
