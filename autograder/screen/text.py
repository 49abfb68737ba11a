"""Student-derived strings in our own text, escaped for the sink they land in.

Anything a submission can influence (student ids and names from the exchange, messages that
quote the student's exception, counterexamples, file names) reaches an instructor through
Markdown reports, CSV files opened in a spreadsheet, and Gradescope's ``results.json``. Each
sink has one function here, and every writer of our reports uses it, so a student id such as
``<img src=x onerror=...>`` or ``=HYPERLINK(...)`` is shown as text everywhere.
"""

from __future__ import annotations

import html
import re

# inline markup characters (backslash-escaped); an underscore inside a word starts nothing (CommonMark's
# flanking rules), so ``ps1_operators`` stays readable in the raw file
_MD_SPECIAL = re.compile(r"([\\`*\[\]|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_MD_LINE_START = re.compile(r"^(\d*)([#+\-=.)])")
_MD_AUTOLINK = re.compile(r"(?i)\b(?:https?|ftp|mailto|file|javascript|data):|\bwww\.")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def plain_text(value: object, limit: int | None = None) -> str:
    """Text for a plain-text sink: no terminal escapes, no control or bidi-override characters.

    Newlines and tabs stay. Bidi overrides (U+202A..U+202E, U+2066..U+2069) are removed so a
    name cannot display reversed ("Trojan Source").
    """
    text = _CONTROL.sub("", _ANSI.sub("", str(value)))
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 16)] + "\n... (truncated)"
    return text


def md_text(value: object) -> str:
    """Inline Markdown text (a table cell, a list item) that renders as exactly these characters.

    ``& < >`` are escaped (no tag, no entity of the student's survives as markup), every inline
    Markdown metacharacter is backslash-escaped (no link, image, emphasis, code span or table
    column, no bare-URL autolink), a leading block marker too, and newlines become spaces (a table row stays one row).
    Safe in any CommonMark or GitHub renderer, sanitising or not.
    """
    text = plain_text(value).replace("\r", " ").replace("\n", " ")
    text = _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))
    text = _MD_AUTOLINK.sub(lambda m: m.group(0)[:-1] + "\\" + m.group(0)[-1], text)  # no bare-URL autolink
    return _MD_LINE_START.sub(r"\1\\\2", text)


def md_code(value: object) -> str:
    """A Markdown code span holding ``value`` as text (for identifiers such as a grade id)."""
    text = plain_text(value).replace("\r", " ").replace("\n", " ").replace("`", "'").replace("|", "\\|")
    return f"`{text}`" if text else ""


def csv_cell(value: object) -> str:
    """A CSV field a spreadsheet shows as text: a string that starts like a formula gets a leading ``'``.

    Excel, LibreOffice and Google Sheets evaluate a cell beginning with ``= + - @`` (or a tab or
    carriage return) as a formula (OWASP "CSV injection"). Numbers, including negative ones written
    as numbers, are left alone; ``None`` is empty.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = plain_text(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def html_text(value: object) -> str:
    """Text for an HTML element or a quoted attribute."""
    return html.escape(plain_text(value), quote=True)
