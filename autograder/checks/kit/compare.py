"""How a check compares numbers, and how it writes them: tolerances, ``close``, and the words of messages."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

REF_ATOL, REF_RTOL = 1e-9, 1e-7  # student vs reference: the same formula, rounding only
FD_ATOL, FD_RTOL = 1e-5, 1e-3  # student vs central differences (gradcheck-style)
KINK = 1e-9  # a ReLU input, hinge margin or decision score closer to 0 than this hinges on rounding


def close(a: float, b: float, atol: float = REF_ATOL, rtol: float = REF_RTOL) -> bool:
    """|a - b| <= atol + rtol * |b|, with infinities equal to themselves and NaN equal to nothing."""
    if math.isnan(a) or math.isnan(b):
        return False
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * abs(b)


def all_close(xs: Sequence[float], ys: Sequence[float], atol: float = REF_ATOL, rtol: float = REF_RTOL) -> bool:
    return len(xs) == len(ys) and all(close(x, y, atol, rtol) for x, y in zip(xs, ys, strict=True))


def fmt(x: float) -> str:
    """One number, as a student reads it: repr for ordinary sizes, 6 significant digits beyond."""
    return repr(float(x)) if abs(x) < 1e6 else f"{x:.6g}"


def fmts(xs: Iterable[float]) -> str:
    return "[" + ", ".join(fmt(x) for x in xs) + "]"


def points(xs: Iterable[Sequence[float]]) -> str:
    return "[" + ", ".join(fmts(x) for x in xs) + "]"


def short(xs: Sequence[float], n: int = 6) -> str:
    return fmts(xs) if len(xs) <= n else fmts(xs[:n])[:-1] + f", ... ({len(xs)} in all)]"


def a(kind: str) -> str:
    """'a float', 'an int', 'None': a type name read back from the worker, for messages."""
    if kind == "NoneType":
        return "None"
    return ("an " if kind[:1].lower() in "aeiou" else "a ") + kind


def kinds(names: Sequence[str]) -> str:
    """The distinct type names of a list's items, e.g. 'Value' or 'float and Value'."""
    seen = sorted(set(names))
    return " and ".join(seen) if seen else "nothing"
