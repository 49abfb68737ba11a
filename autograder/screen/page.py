"""A Content-Security-Policy for every page rendered from a submission: a sanitiser miss still runs nothing.

The rule is one function, :func:`harden`, used for the feedback pages we write (as a ``<meta>``
policy, allowing no script at all: their math is MathML) and for formgrader's pages (as a header,
by :mod:`.server`):

* the only inline scripts allowed are those of the page's ``<head>``, which the instructor's
  template writes (a submission's content is only ever rendered into ``<body>``); each is
  allowed by its SHA-256 hash, so the same page always gets the same policy (feedback pages: none);
* external scripts only from the locations the caller names (formgrader's own
  ``/formgrader/static/`` and MathJax's pinned directory, which formgrader's own script needs),
  and inline event handlers only if their exact text is one the template uses (``'unsafe-hashes'``);
* no ``eval`` (MathJax's ``text/x-mathjax-config`` block, which it would ``eval``, becomes a hashed
  ordinary script), no plugins, frames, forms, workers, ``<base>``; images and fonts from ``data:``
  (and MathJax's fonts), connections only where the caller allows (formgrader's own API).

A script a student managed to slip past the sanitiser has no hash in the policy and does not run;
an image of theirs cannot fetch a URL. What CSP cannot stop (a ``<meta http-equiv=refresh>``
navigation, a link a person clicks) is the sanitiser's job alone.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from jinja2 import pass_context

MATHJAX_URL = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
_HEAD_END = re.compile(r"</head\s*>", re.I)
_HEAD_START = re.compile(r"<head\b[^>]*>", re.I)
_CHARSET = re.compile(r"<meta\s+charset=[^>]*>", re.I)
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.I | re.S)
_TYPE = re.compile(r"""\btype\s*=\s*["']?([^"'\s>]+)""", re.I)
_SRC = re.compile(r"""\bsrc\s*=\s*["']([^"']+)["']""", re.I)
_MATHJAX_CONFIG = re.compile(r"""(<script\b[^>]*?)\s+type\s*=\s*["']text/x-mathjax-config["']""", re.I)
_MATHJAX_LATEST = re.compile(r"(/mathjax/\d+(?:\.\d+)*/)latest\.js", re.I)
# a page's long lines wrap: a hidden check's message (counterexample, hint) is one line, and JupyterLab's HTML
# viewer cuts what overflows; wide display math scrolls in its own box instead of widening the page
READABLE_CSS = """
pre, .output_area pre, .jp-OutputArea-output pre, .jp-RenderedText pre, div.input_area pre {
  white-space: pre-wrap; overflow-wrap: anywhere; word-break: normal; }
div.output_subarea, .jp-OutputArea-output { overflow-x: visible; max-width: 100%; }
math[display="block"] { overflow-x: auto; max-width: 100%; }
"""
_NOT_JS = {"text/x-mathjax-config", "application/json", "application/ld+json", "text/template", "text/plain",
           "application/vnd.jupyter.widget-state+json", "application/vnd.jupyter.widget-view+json"}


def script_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def directory_of(url: str) -> str:
    """The directory a script URL lives in (``https://host/a/b/c.js?x`` -> ``https://host/a/b/``), a CSP source."""
    return url.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[0] + "/"


def policy(script_hashes: Iterable[str], script_sources: Iterable[str] = (), handler_hashes: Iterable[str] = (),
           connect: Iterable[str] = (), images: Iterable[str] = (), styles: Iterable[str] = ()) -> str:
    """The policy text; sources are CSP source expressions (``'self'``, a URL prefix)."""
    scripts = sorted(set(script_hashes)) + sorted(set(script_sources))
    handlers = sorted(set(handler_hashes))
    if handlers:
        scripts += ["'unsafe-hashes'", *handlers]
    directives = [
        "default-src 'none'",
        "script-src " + (" ".join(scripts) or "'none'"),
        "style-src 'unsafe-inline' " + " ".join(sorted(set(styles) | set(script_sources))),
        "img-src data: " + " ".join(sorted(set(images))),
        "font-src data: " + " ".join(sorted(set(script_sources))),
        "connect-src " + (" ".join(sorted(set(connect))) or "'none'"),
        "media-src 'none'", "object-src 'none'", "frame-src 'none'", "worker-src 'none'",
        "manifest-src 'none'", "form-action 'none'", "base-uri 'none'",
    ]
    return "; ".join(d.strip() for d in directives)


def with_style(html: str, css: str) -> str:
    """The page with ``css`` as the last stylesheet of its ``<head>`` (so it wins over the template's)."""
    end = _HEAD_END.search(html)
    tag = f"<style>{css}</style>\n"
    return html[: end.start()] + tag + html[end.start():] if end else tag + html


def harden(html: str, script_sources: Iterable[str] = (), handler_hashes: Iterable[str] = (),
           connect: Iterable[str] = (), images: Iterable[str] = (), meta: bool = True,
           script_hashes: Iterable[str] = (), scripts: bool = True) -> tuple[str, str]:
    """(page, policy): the page with MathJax's config block made a plain script, and its policy.

    ``script_hashes``: further inline scripts the caller vouches for (constant texts of its templates).
    Without ``scripts`` the head's scripts (the template's: loaders a page without script does not
    need) are removed and none is allowed (with no ``script_sources``: ``script-src 'none'``). With
    ``meta`` the policy is inserted as the ``<head>``'s first element after the charset, before any
    script and any content; otherwise the caller sends it as a header.
    """
    end = _HEAD_END.search(html)
    head_end = end.start() if end else 0
    # MathJax's config block becomes an ordinary (hashed) script; its latest.js loader, which would look
    # up and load another version from elsewhere, becomes that directory's own MathJax.js
    head = _MATHJAX_LATEST.sub(r"\1MathJax.js", _MATHJAX_CONFIG.sub(r"\1", html[:head_end]))
    if not scripts:
        head = _SCRIPT.sub("", head)
    hashes = []
    for m in _SCRIPT.finditer(head):
        attrs, body = m.group(1), m.group(2)
        kind = _TYPE.search(attrs)
        if _SRC.search(attrs) or (kind and kind.group(1).lower() in _NOT_JS):
            continue
        hashes.append(script_hash(body))
    text = policy([*hashes, *script_hashes], script_sources, handler_hashes, connect, images)
    html = head + html[head_end:]
    if meta:
        tag = (f'<meta http-equiv="Content-Security-Policy" content="{text}">\n'
               '<meta name="referrer" content="no-referrer">')
        anchor = _CHARSET.search(html, 0, head_end) or _HEAD_START.search(html, 0, head_end or len(html))
        if anchor is not None:
            html = html[: anchor.end()] + "\n" + tag + html[anchor.end():]
        else:
            html = tag + "\n" + html
    return html, text


@pass_context
def markdown2html(context: dict, source: str) -> str:
    """nbconvert's ``markdown2html`` filter, with its output through the allow-list (``c.HTMLExporter.filters``)."""
    from autograder.screen.notebook import render_markdown

    cell = context.get("cell", {}) or {}
    return render_markdown(source, cell.get("attachments", {}) or {})
