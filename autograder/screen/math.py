"""Math rendered on the server, as MathML: pages that need no script and look the same offline.

Notebook math (markdown's ``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``, ``\\begin{env}…\\end{env}``, and
``text/latex`` outputs) used to be left as TeX for MathJax, loaded from a CDN: raw LaTeX on an offline
hub, and raw LaTeX in JupyterLab's HTML viewer everywhere (it runs no script). Here latex2mathml
converts it when the page is rendered; browsers lay MathML out natively, so a page needs no script
and its policy can forbid every one.

The converter's output is not trusted: it copies ``\\href``/``\\style`` arguments into attributes and
``\\text{…}`` unescaped. Its element tree is serialised here (text escaped), then passes the allow-list
(:mod:`.sanitize`) like any HTML. TeX it cannot convert is shown as its source, as code.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any
from xml.etree.ElementTree import Element

from nbconvert.filters.markdown_mistune import IPythonRenderer
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode

from autograder.screen.sanitize import clean_html

# latex2mathml writes characters as numeric references inside its text ("&#x02202;"): keep those, escape the rest
_TEXT = re.compile(r"&#(?:x[0-9A-Fa-f]{1,6}|[0-9]{1,7});|[&<>\"]")
# the delimiters MathJax reads in a text/latex output (display first, so "$$" is not two "$")
_DELIMITED = re.compile(r"\$\$(?P<dd>.+?)\$\$|\\\[(?P<db>.+?)\\\]|\\begin\{(?P<env>[A-Za-z]+\*?)\}.*?\\end\{(?P=env)\}"
                        r"|(?<!\\)\$(?P<ii>.+?)(?<!\\)\$|\\\((?P<ib>.+?)\\\)", re.S)


def _escape(text: str) -> str:
    return _TEXT.sub(lambda m: m.group(0) if m.group(0).startswith("&#") else html.escape(m.group(0)), text)


def _serialise(el: Element) -> str:
    tag = el.tag.rsplit("}", 1)[-1]
    attrs = "".join(f' {k}="{_escape(str(v))}"' for k, v in el.attrib.items() if k != "xmlns")
    inner = _escape(el.text or "") + "".join(_serialise(child) + _escape(child.tail or "") for child in el)
    return f"<{tag}{attrs}>{inner}</{tag}>"


def source_as_code(tex: str, display: bool) -> str:
    """TeX shown as itself (what the page shows when the converter cannot make MathML of it)."""
    code = f"<code>{html.escape(('$$' if display else '$') + tex + ('$$' if display else '$'))}</code>"
    return f"<p>{code}</p>" if display else code


@lru_cache(maxsize=4096)
def tex_to_mathml(tex: str, display: bool = False) -> str:
    """``tex`` (without delimiters) as sanitised MathML; its source as code if it cannot be converted."""
    from latex2mathml.converter import convert_to_element

    try:
        tree = convert_to_element(tex.strip(), display="block" if display else "inline")
        mathml = clean_html(_serialise(tree))
    except Exception:  # noqa: BLE001 - the converter's failures are many and untyped; the source is shown
        return source_as_code(tex, display)
    return mathml if "<math" in mathml else source_as_code(tex, display)


def latex_text_to_html(text: str) -> str:
    """A ``text/latex`` output as sanitised HTML: its delimited math as MathML, the text around it as text."""
    text = text.replace("&lt;", "<").replace("&gt;", ">")  # what neutralise escaped for pages that keep TeX
    out, end = [], 0
    for m in _DELIMITED.finditer(text):
        out.append(html.escape(text[end:m.start()]))
        if m.group("env"):
            out.append(tex_to_mathml(m.group(0), display=True))
        else:
            display = m.group("dd") is not None or m.group("db") is not None
            out.append(tex_to_mathml(next(g for g in (m.group("dd"), m.group("db"), m.group("ii"), m.group("ib"))
                                          if g is not None), display))
        end = m.end()
    out.append(html.escape(text[end:]))
    return clean_html("".join(out))


class MathMLRenderer(IPythonRenderer):
    """nbconvert's markdown renderer with its math as MathML instead of TeX left for MathJax."""

    def block_math(self, body: str) -> str:
        return tex_to_mathml(body, display=True)

    def inline_math(self, body: str) -> str:
        return tex_to_mathml(body, display=False)

    def latex_environment(self, name: str, body: str) -> str:
        return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


class LatexAsMathML(Preprocessor):
    """Exporter preprocessor: a ``text/latex`` output becomes HTML with MathML (the page's copy only)."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict[str, Any], index: int
                        ) -> tuple[NotebookNode, dict[str, Any]]:
        for out in cell.get("outputs", []):
            data = out.get("data") or {}
            latex = data.get("text/latex")
            if isinstance(latex, list):
                latex = "".join(latex)
            if isinstance(latex, str) and "text/html" not in data:
                data["text/html"] = latex_text_to_html(latex)
                del data["text/latex"]
        return cell, resources
