"""The feedback HTML exporter: nbconvert's ``HTMLExporter`` without its BeautifulSoup pass.

After rendering, ``HTMLExporter.from_notebook_node`` parses the whole page with BeautifulSoup's
pure-Python ``html.parser`` to make three accessibility edits (alt text on images without one,
``tabindex="0"`` on input wrappers and output areas) and serialises it again: about half of
the CPU of a feedback page. This exporter makes the same three edits on the rendered text
itself, tag by tag, so the page is the same page (``tests/test_feedback_html.py`` parses both
and compares them). ``nbgrader_config.py`` selects it for ``GenerateFeedback``, so stock
``nbgrader generate_feedback`` and ``zengrad-kit grade`` write the same feedback.

A feedback page is read offline too (exam-room hubs) and in JupyterLab's HTML viewer, which runs
no script: its math is MathML made on the server (:mod:`autograder.screen.math`, through the
``markdown2html`` filter and ``LatexAsMathML``), the templates' MathJax loader is replaced by
nothing, and long lines wrap (a hidden check's counterexample is one line). It is rendered from a
submission, so it is hardened last (:func:`autograder.screen.page.harden`): a
Content-Security-Policy that allows no script at all.
"""

from __future__ import annotations

import re
from typing import Any

from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbformat import NotebookNode
from traitlets import default

from autograder.screen.page import READABLE_CSS, harden, with_style

# the templates import their MathJax loader from this file: ours loads nothing (the math is MathML already)
NO_MATHJAX = {"mathjax.html.j2": "{%- macro mathjax(url='') -%}{%- endmacro %}"}

NO_ALT = "No description has been provided for this image"
_TAG_BODY = r"""(?:[^>"']|"[^"]*"|'[^']*')*>"""
# one pass over the page: text a browser never reads as tags (comments, script and style bodies) is
# matched whole and kept as is; <img ...> and <div ...> start tags are the ones to edit
_TOKEN = re.compile(r"<!--.*?(?:-->|\Z)|<(?:script|style)\b" + _TAG_BODY + r".*?(?:</(?:script|style)\s*>|\Z)"
                    r"|<(img|div)\b" + _TAG_BODY, re.IGNORECASE | re.DOTALL)
_ATTR = re.compile(r"""\s([^\s=/>"']+)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>"']+))?""")
_CLASS = re.compile(r"""\sclass\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", re.IGNORECASE)
_TABINDEX = re.compile(r"""\stabindex(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>"']+))?(?=[\s/>])""", re.IGNORECASE)
_FOCUSABLE = ("jp-Cell-inputWrapper", "jp-OutputArea-output")


def _names(tag: str) -> set[str]:
    return {m.group(1).lower() for m in _ATTR.finditer(tag[4:])}


def _with(tag: str, attribute: str) -> str:
    # "/>" closes the tag only after a space or a quote: in <img src=a.png/> the slash is part of the value
    end = len(tag) - (2 if tag.endswith("/>") and tag[-3] in " \t\n\r\f\"'" else 1)
    return tag[:end].rstrip() + " " + attribute + tag[end:]


def add_accessibility(html: str) -> tuple[str, int]:
    """HTMLExporter's three edits on rendered HTML; returns the page and how many images lacked alt text."""
    missing = 0
    scoped = "jp-Notebook" in html  # the tabindex selector is scoped to the notebook's container

    def edit(m: re.Match[str]) -> str:
        nonlocal missing
        tag, name = m.group(0), (m.group(1) or "").lower()
        if name == "img" and "alt" not in _names(tag):
            missing += 1
            return _with(tag, f'alt="{NO_ALT}"')
        if name == "div" and scoped:
            found = _CLASS.search(tag)
            classes = (found.group(1) or found.group(2) or found.group(3) or "").split() if found else []
            if any(c in classes for c in _FOCUSABLE):
                if "tabindex" in _names(tag):  # set to 0 in its place, like ``elem.attrs["tabindex"] = "0"``
                    return _TABINDEX.sub(' tabindex="0"', tag, count=1)
                return _with(tag, 'tabindex="0"')
        return tag

    return _TOKEN.sub(edit, html), missing


class FeedbackExporter(HTMLExporter):
    """``HTMLExporter`` with its post-render BeautifulSoup pass replaced by :func:`add_accessibility`, no MathJax,
    wrapping lines, hardened to run no script."""

    @default("extra_loaders")
    def _no_mathjax(self) -> list[Any]:
        from jinja2 import DictLoader

        return [DictLoader(NO_MATHJAX)]

    def from_notebook_node(  # type: ignore[override]
        self, nb: NotebookNode, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        html, resources = self.render(nb, resources, **kw)
        html, _ = harden(with_style(html, READABLE_CSS), scripts=False)
        return html, resources

    def render(self, nb: NotebookNode, resources: dict[str, Any] | None = None, **kw: Any
               ) -> tuple[str, dict[str, Any]]:
        """The page before it is hardened (the tests' control: what the template alone makes of a notebook)."""
        # HTMLExporter.from_notebook_node up to the render (nbconvert 7), then our edits instead of the soup
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        highlight_code = self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self))
        resources = self._init_resources(resources)
        filter_data_type = WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self,
                                                 resources=resources)
        self.register_filter("highlight_code", highlight_code)
        self.register_filter("filter_data_type", filter_data_type)
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        html, missing = add_accessibility(html)
        if missing:
            self.log.warning("Alternative text is missing on %s image(s).", missing)
        return html, resources
