"""Student ids: one rule for every road a submission comes by (the exchange, ``submitted/``, an LMS, a zip).

A student id becomes a path component and an argument of nbgrader's (``submitted/<id>/``,
``--student <id>``), which nbgrader treats as a glob; it is shown in formgrader and in every report.
So an id is plain ASCII: a letter or digit, then letters, digits and ``. _ @ -`` (at most 128).
That leaves out, by construction, glob characters (``* ? [ ]``), path separators and ``..``,
whitespace and control characters, bidirectional overrides and look-alike letters.
"""

from __future__ import annotations

import re
import unicodedata

STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")


def id_problem(student: str) -> str | None:
    """Why ``student`` cannot be a student id (a sentence), or None when it can."""
    if STUDENT_ID.fullmatch(student):
        return None
    shown = ascii(student)
    if not student:
        return "the student id is empty"
    if len(student) > 128:
        return f"the student id {shown[:60]}... is longer than 128 characters"
    odd = sorted({ch for ch in student if not re.fullmatch(r"[A-Za-z0-9._@-]", ch)})
    if odd:
        names = ", ".join(_describe(ch) for ch in odd[:5])
        return f"the student id {shown} holds characters a student id may not: {names}"
    return f"the student id {shown} must start with a letter or a digit"


def _describe(ch: str) -> str:
    if ch in "*?[]":
        return f"{ch!r} (a glob character)"
    if ch in "/\\":
        return f"{ch!r} (a path separator)"
    if unicodedata.category(ch) in ("Cf", "Cc"):
        return f"U+{ord(ch):04X} {unicodedata.name(ch, 'a control character')}"
    return f"{ch!r}" if ch.isprintable() and ch.isascii() else f"U+{ord(ch):04X}"
