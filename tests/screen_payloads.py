"""A catalogue of hostile content a submission can put in front of a person's browser, by category.

Every payload, if a page ran it, would do something the test can see from outside: set the top
document's title to ``PWNED-<name>``, and/or make a request to a listener on 127.0.0.1 (a
fetch, an image, a stylesheet, a navigation). ``ACTION`` is written without quotes or spaces
(a regex literal's source for the title, character codes for the URL), so it works in an
unquoted attribute, a quoted one and a script; and without backslashes or percent signs, which
markdown and ``javascript:`` URLs would decode.

A payload reaches the notebook in one of three ways, as a student can:

* ``code``: a code cell the student added; the jailed kernel runs it and its outputs are what
  the grader keeps (outputs in the submitted file itself are cleared before execution);
* ``markdown``: a markdown cell the student added (kept verbatim by nbgrader);
* ``json``: an edit of the notebook's JSON (cell tags, attachments, notebook metadata), which
  survives nbgrader's sanitising preprocessors.

``fires_in_stock`` says whether the payload runs in the page nbconvert's template makes of the
raw notebook, no sanitiser and no policy (the control that proves the detector sees it);
``False`` for those nbconvert 7.17 already renders inert (it escapes LaTeX and markdown text and
draws SVG as an image) or that need the network (widgets): kept as regression guards.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from nbformat.notebooknode import NotebookNode, from_dict
from nbformat.v4 import new_code_cell, new_markdown_cell

TITLE = "PWNED-"


def action(name: str, port: int) -> str:
    """JavaScript that marks the page as run: title of the top document and a request to the listener."""
    codes = ",".join(str(ord(ch)) for ch in hit(name, port))  # digits and commas survive every context
    return f"top.document.title=/{TITLE}{name}/.source;fetch(String.fromCharCode({codes}))"


def hit(name: str, port: int) -> str:
    """A URL of the listener: loading it is a request the page should never make."""
    return f"http://127.0.0.1:{port}/hit/{name}"


@dataclass(frozen=True)
class Payload:
    name: str
    category: str
    via: str  # code | markdown | json
    make: Callable[[str, str], Any]  # (action js, listener url) -> cell source, or a notebook edit
    fires_in_stock: bool = True
    clicks: bool = False  # runs only when a person clicks a link (the test clicks every link)
    notes: str = field(default="", compare=False)


def _html(markup: str) -> str:
    return f"from IPython.display import HTML, display\ndisplay(HTML({markup!r}))"


def _raw(bundle: dict, metadata: dict | None = None) -> str:
    return ("from IPython.display import display\n"
            f"display({bundle!r}, raw=True, metadata={(metadata or {})!r})")


PNG_1PX = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _tag_edit(js: str, url: str) -> Callable[[NotebookNode], None]:
    def edit(nb: NotebookNode) -> None:
        c = new_code_cell("1 + 1")
        title_only = js.split(";")[0]  # nbformat's schema allows no comma in a tag
        c.metadata["tags"] = [f'x"><img src=x onerror={title_only}>']
        nb.cells.append(c)
    return edit


def _title_edit(js: str, url: str) -> Callable[[NotebookNode], None]:
    def edit(nb: NotebookNode) -> None:
        nb.metadata["title"] = f"</title><script>{js}</script><title>"
    return edit


def _attachment_edit(js: str, url: str) -> Callable[[NotebookNode], None]:
    def edit(nb: NotebookNode) -> None:
        c = new_markdown_cell("An attachment: ![figure](attachment:fig.png)")
        c["attachments"] = from_dict({"fig.png": {"image/png": f'{PNG_1PX}" onerror="{js}" x="'}})
        nb.cells.append(c)
    return edit


def _attachment_svg_edit(js: str, url: str) -> Callable[[NotebookNode], None]:
    def edit(nb: NotebookNode) -> None:
        svg = f'<svg xmlns="http://www.w3.org/2000/svg" onload="{js}"><script>{js}</script></svg>'
        c = new_markdown_cell("![drawing](attachment:d.svg)")
        c["attachments"] = from_dict({"d.svg": {"image/svg+xml": base64.b64encode(svg.encode()).decode()}})
        nb.cells.append(c)
    return edit


def _widget_state_edit(js: str, url: str) -> Callable[[NotebookNode], None]:
    def edit(nb: NotebookNode) -> None:
        nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
            "state": {"x": {"model_name": "HTMLModel", "model_module": "@jupyter-widgets/controls",
                            "model_module_version": "2.0.0",
                            "state": {"value": f"<img src=x onerror={js}>"}}}, "version_major": 2,
            "version_minor": 0}}
        c = new_code_cell("")
        c.outputs = []
        nb.cells.append(c)
    return edit


PAYLOADS: list[Payload] = [
    # --- scripts in HTML output --------------------------------------------------------------
    Payload("script", "script", "code", lambda js, url: _html(f"<script>{js}</script>")),
    Payload("script_mixed_case", "script", "code", lambda js, url: _html(f"<ScRiPt>{js}</sCrIpT>")),
    Payload("script_split", "script", "code",
            lambda js, url: _html(f"<scr<script>x</script>ipt>{js}</script>"), fires_in_stock=False,
            notes="a filter that removes <script> once would leave a script"),
    Payload("script_src_data", "script", "code",
            lambda js, url: _html(f'<script src="data:text/javascript,{js}"></script>')),
    Payload("repr_html", "script", "code",
            lambda js, url: "class Shown:\n    def _repr_html_(self):\n"
                            f"        return {('<script>' + js + '</script>')!r}\nShown()"),
    Payload("value_repr_html", "script", "code",
            lambda js, url: "def shown():\n    class Value:\n        def __init__(self, data): self.data = data\n"
                            f"        def __repr__(self): return {('<img src=x onerror=' + js + '>')!r}\n"
                            "        def _repr_html_(self): return repr(self)\n    return Value(2.0)\nshown()",
            notes="a student's Value whose repr is HTML"),
    Payload("javascript_output", "script", "code",
            lambda js, url: f"from IPython.display import Javascript, display\ndisplay(Javascript({js!r}))"),
    Payload("javascript_mime", "script", "code", lambda js, url: _raw({"application/javascript": js})),
    # --- event handlers ---------------------------------------------------------------------
    Payload("img_onerror", "handler", "code", lambda js, url: _html(f"<img src=x onerror={js}>")),
    Payload("img_slash", "handler", "code", lambda js, url: _html(f'<img/src="x"/onerror={js}>')),
    Payload("img_entities", "handler", "code",
            lambda js, url: _html("<img src=x onerror=\"" + "".join(f"&#{ord(ch)};" for ch in js) + "\">")),
    Payload("svg_onload", "handler", "code", lambda js, url: _html(f"<svg onload={js}></svg>")),
    Payload("svg_nested", "svg", "code", lambda js, url: _html(f"<svg><svg onload={js}></svg></svg>")),
    Payload("svg_script", "svg", "code", lambda js, url: _html(f"<svg><script>{js}</script></svg>")),
    Payload("svg_animate", "svg", "code",
            lambda js, url: _html(f"<svg><animate onbegin={js} attributeName=x dur=1s></animate></svg>")),
    Payload("svg_output", "svg", "code",
            lambda js, url: _raw({"image/svg+xml": f'<svg xmlns="http://www.w3.org/2000/svg" onload="{js}">'
                                                   f"<script>{js}</script><rect width='9' height='9'/></svg>"})),
    Payload("mathml_mxss", "mathml", "code",
            lambda js, url: _html(f"<math><mtext><table><mglyph><style><img src=x onerror={js}>")),
    Payload("details_ontoggle", "handler", "code",
            lambda js, url: _html(f"<details open ontoggle={js}><summary>x</summary></details>")),
    Payload("input_autofocus", "handler", "code", lambda js, url: _html(f"<input autofocus onfocus={js}>")),
    Payload("video_source", "handler", "code",
            lambda js, url: _html(f"<video><source onerror={js}></video>")),
    Payload("noscript_mxss", "handler", "code",
            lambda js, url: _html(f'<noscript><p title="</noscript><img src=x onerror={js}>">')),
    # --- URLs that run or fetch ---------------------------------------------------------------
    Payload("javascript_link", "url", "code", lambda js, url: _html(f'<a href="javascript:{js}">details</a>'),
            clicks=True),
    Payload("javascript_link_encoded", "url", "code",
            lambda js, url: _html(f'<a href="jav&#x09;ascript&#58;{js}">details</a>'), clicks=True),
    Payload("iframe_srcdoc", "frame", "code",
            lambda js, url: _html(f'<iframe srcdoc="<script>{js}</script>"></iframe>')),
    Payload("iframe_javascript", "frame", "code", lambda js, url: _html(f'<iframe src="javascript:{js}"></iframe>')),
    Payload("object_data", "frame", "code",
            lambda js, url: _html(f'<object data="{url}"></object><embed src="{url}-embed">')),
    Payload("form_autosubmit", "form", "code",
            lambda js, url: _html(f'<form action="{url}"><input autofocus onfocus=this.form.submit()></form>')),
    Payload("meta_refresh", "navigation", "code",
            lambda js, url: _html(f'<meta http-equiv="refresh" content="0;url={url}">')),
    Payload("base_href", "navigation", "code",
            lambda js, url: _html(f'<base href="{url}/"><img src="relative.png">')),
    Payload("css_url", "css", "code", lambda js, url: _html(f'<div style="background:url({url})">x</div>')),
    Payload("css_import", "css", "code", lambda js, url: _html(f"<style>@import url({url});</style>")),
    Payload("link_stylesheet", "css", "code",
            lambda js, url: _html(f'<link rel="stylesheet" href="{url}"><link rel="prefetch" href="{url}-p">')),
    Payload("img_remote", "url", "code", lambda js, url: _html(f'<img src="{url}" srcset="{url}-set 2x">')),
    # --- other mime types --------------------------------------------------------------------
    Payload("latex_raw_html", "mime", "code", lambda js, url: _raw({"text/latex": f"<img src=x onerror={js}>"})),
    Payload("markdown_output", "mime", "code",
            lambda js, url: f"from IPython.display import Markdown, display\n"
                            f"display(Markdown({('<img src=x onerror=' + js + '>')!r}))"),
    Payload("png_breakout", "mime", "code",
            lambda js, url: _raw({"image/png": f'{PNG_1PX}" onerror="{js}" x="'})),
    Payload("metadata_breakout", "mime", "code",
            lambda js, url: _raw({"image/png": PNG_1PX}, {"image/png": {"width": f'1" onerror="{js}" x="'}})),
    Payload("widget_view", "widget", "code",
            lambda js, url: _raw({"application/vnd.jupyter.widget-view+json":
                                  {"model_id": "x", "version_major": 2, "version_minor": 0},
                                  "text/plain": "widget"}), fires_in_stock=False,
            notes="stock pages load the widget manager from a CDN (offline here)"),
    Payload("stream_html", "text", "code", lambda js, url: f"print({('<script>' + js + '</script>')!r})",
            fires_in_stock=False, notes="stock escapes streams; a regression guard"),
    Payload("error_html", "text", "code",
            lambda js, url: f"raise ValueError({('<img src=x onerror=' + js + '>')!r})", fires_in_stock=False),
    # --- markdown cells ------------------------------------------------------------------------
    Payload("markdown_raw_html", "markdown", "markdown", lambda js, url: f"Look: <img src=x onerror={js}>"),
    Payload("markdown_block_script", "markdown", "markdown", lambda js, url: f"<div>\n<script>{js}</script>\n</div>"),
    Payload("markdown_js_link", "markdown", "markdown", lambda js, url: f"[my notes](javascript:{js})",
            clicks=True),
    Payload("markdown_autolink", "markdown", "markdown", lambda js, url: f"<javascript:{js}>", clicks=True),
    Payload("markdown_image_url", "markdown", "markdown", lambda js, url: f"![plot]({url})"),
    Payload("markdown_math_html", "markdown", "markdown",
            lambda js, url: f"$x$ and $$<img src=x onerror={js}>$$", fires_in_stock=False,
            notes="nbconvert escapes math; MathJax must not make markup of it either"),
    # --- the notebook's JSON ---------------------------------------------------------------------
    Payload("cell_tag", "json", "json", _tag_edit),
    Payload("notebook_title", "json", "json", _title_edit),
    Payload("attachment_breakout", "json", "json", _attachment_edit),
    Payload("attachment_svg", "json", "json", _attachment_svg_edit, fires_in_stock=False,
            notes="an SVG drawn by <img> cannot run script: kept as a regression guard"),
    Payload("widget_state", "json", "json", _widget_state_edit, fires_in_stock=False,
            notes="stock pages load the widget manager from a CDN (offline here)"),
]


# what nbconvert >= 7.17.1 (which pyproject requires) already renders inert in its own templates: attribute
# values, tags and the title escaped, LaTeX and markdown text escaped, SVG drawn as an image; the mXSS vector is
# harmful only once a sanitiser re-serialises it. They stay in the catalogue as regression guards.
NBCONVERT_ESCAPES = {"svg_output", "mathml_mxss", "latex_raw_html", "markdown_output", "png_breakout",
                     "metadata_breakout", "markdown_raw_html", "cell_tag", "notebook_title", "attachment_breakout"}
PAYLOADS = [replace(p, fires_in_stock=False) if p.name in NBCONVERT_ESCAPES else p for p in PAYLOADS]


def add_payloads(nb: NotebookNode, port: int, payloads: list[Payload] | None = None) -> dict[str, list[int]]:
    """Append every payload to ``nb`` as a student would add it (cells, JSON edits): name -> its cells' indices."""
    where: dict[str, list[int]] = {}
    for p in payloads or PAYLOADS:
        before = len(nb.cells)
        made = p.make(action(p.name, port), hit(p.name, port))
        if p.via == "code":
            nb.cells.append(new_code_cell(made))
        elif p.via == "markdown":
            nb.cells.append(new_markdown_cell(made))
        else:
            made(nb)
        where[p.name] = list(range(before, len(nb.cells)))
    return where
