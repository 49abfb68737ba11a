"""The one allow-list for HTML that comes from a submission, on nh3 (Rust's ammonia).

What survives is what a grader needs to read a notebook: text and its structure (paragraphs,
headings, lists, code, quotes, tables), emphasis, links a person may click (http, https,
mailto, in-page anchors), images embedded as data (PNG, JPEG, GIF, WebP, SVG-as-image, which
cannot run script), and presentation MathML (what :mod:`.math` makes of LaTeX: the browser lays it
out, no script needed). Everything else is removed: scripts and their content, event handlers,
``style`` elements and attributes, ``id``/``name`` attributes (DOM clobbering), classes except
those markdown and pygments produce, iframes, objects, forms, meta, base, link, SVG, the MathML
elements that load or embed anything (``mglyph``, ``annotation-xml``, ``maction``, ``semantics``)
and MathML ``href``, and every URL that would make the page fetch anything by itself.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache

import nh3

TEXT_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del", "details",
    "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var",
}
# presentation MathML: layout only (MathML Core); no element that loads (mglyph) or embeds (annotation-xml) anything
MATHML_TAGS = {
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "mfrac", "msqrt", "mroot", "msub", "msup",
    "msubsup", "munder", "mover", "munderover", "mmultiscripts", "mprescripts", "none", "mtable", "mtr", "mtd",
    "mstyle", "mpadded", "mphantom", "menclose", "merror",
}
# layout attributes; values are lengths, numbers, keywords and colours (no URL, no style: see _attribute)
MATHML_ATTRIBUTES = {
    "display", "displaystyle", "scriptlevel", "mathvariant", "mathsize", "mathcolor", "mathbackground",
    "stretchy", "fence", "separator", "form", "lspace", "rspace", "minsize", "maxsize", "largeop",
    "movablelimits", "symmetric", "accent", "accentunder", "linethickness", "width", "height", "depth", "voffset",
    "notation", "columnalign", "rowalign", "columnspacing", "rowspacing", "columnlines", "rowlines", "frame",
    "columnspan", "rowspan",
}
# removed together with everything inside them (never shown as text either)
DROPPED_WITH_CONTENT = {"script", "style", "template", "noscript", "xmp", "noembed", "noframes", "iframe", "object",
                        "embed", "applet", "svg", "title", "textarea", "select", "option", "mglyph",
                        "annotation-xml", "annotation", "maction", "semantics"}
ATTRIBUTES = {
    "*": {"title", "lang", "dir", "class"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "reversed", "type"},
    "table": {"border"},
    "details": {"open"},
    **{tag: MATHML_ATTRIBUTES for tag in MATHML_TAGS},
}
# classes a renderer of ours puts in (markdown code blocks, pygments tokens, heading anchors, pandas tables)
_CLASS = re.compile(r"^(?:highlight|hl-[\w+-]+|anchor-link|dataframe|language-[\w+-]+|[a-z]{1,3}[0-9]?)$")
_NUMBER = re.compile(r"^\d{1,5}%?$")
_SAFE_LINK = re.compile(r"^(?:https?://|mailto:|#)", re.I)
_IMAGE_DATA = re.compile(r"^data:image/(png|jpeg|gif|webp|svg\+xml);base64,([A-Za-z0-9+/=\s]+)$", re.I)
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]*$")
# a MathML value: a length, number, keyword or colour; no ':' or '(' (so no URL, no url(), no expression)
_MATHML_VALUE = re.compile(r"^[A-Za-z0-9#.%+\- ]{0,64}$")


def _attribute(tag: str, attr: str, value: str) -> str | None:
    """Per-value rules nh3's allow-list cannot express."""
    if tag in MATHML_TAGS and attr in MATHML_ATTRIBUTES:
        return value if _MATHML_VALUE.match(value) else None
    if attr == "class":
        kept = [c for c in value.split() if _CLASS.match(c)]
        return " ".join(kept) or None
    if attr == "href":
        value = value.strip()
        return value if _SAFE_LINK.match(value) and not re.search(r"[\x00-\x20\"'<>`]", value) else None
    if attr == "src":
        return value if is_image_data_url(value) else None
    if attr in {"width", "height", "colspan", "rowspan", "span", "start", "border"}:
        return value if _NUMBER.match(value.strip()) else None
    if attr == "align":
        return value if value.lower() in {"left", "right", "center", "justify"} else None
    if attr == "scope":
        return value if value.lower() in {"row", "col", "rowgroup", "colgroup"} else None
    if attr == "type":
        return value if value in {"1", "a", "A", "i", "I"} else None
    if attr == "dir":
        return value if value.lower() in {"ltr", "rtl", "auto"} else None
    if attr == "lang":
        return value if re.match(r"^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$", value) else None
    return value


def is_image_data_url(value: str) -> bool:
    """A ``data:`` URL of a raster or SVG image with valid base64 (an ``<img>`` of it cannot run script)."""
    m = _IMAGE_DATA.match(value.strip())
    return bool(m) and is_base64(m.group(2))


def is_base64(text: str) -> bool:
    """Base64 and nothing else: what a template may put between the quotes of ``src="data:…"``."""
    if not isinstance(text, str) or not _BASE64.match(text):
        return False
    try:
        base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


@lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=TEXT_TAGS | MATHML_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ATTRIBUTES,
        attribute_filter=_attribute,
        strip_comments=True,
        link_rel="noopener noreferrer nofollow",
        url_schemes={"http", "https", "mailto", "data"},
    )


def clean_html(html: str) -> str:
    """``html`` with only the allow-listed tags and attributes left: inert in any page."""
    return _cleaner().clean(str(html))


_SVG_ROOT = re.compile(r"<svg\b([^>]*)>", re.I | re.S)
_SVG_SIZE = re.compile(r"""\b(width|height)\s*=\s*["']?\s*([0-9.]+)\s*(pt|px)?\s*["']?""", re.I)


def svg_as_image(svg: str) -> str:
    """An SVG document as an ``<img>`` of itself: drawn the same, but as an image (no script, no fetches).

    A browser renders SVG referenced from ``<img>`` in "secure animated mode": scripts do not run and
    external resources are not loaded, whatever the SVG contains. The size is read from the root
    element so a graphviz drawing keeps its size.
    """
    data = base64.b64encode(svg.encode("utf-8", "replace")).decode("ascii")
    size = ""
    root = _SVG_ROOT.search(svg[:4096])
    if root:
        for name, number, unit in _SVG_SIZE.findall(root.group(1)):
            try:
                px = float(number) * (4 / 3 if unit.lower() == "pt" else 1)
            except ValueError:
                continue
            if 0 < px < 20000:
                size += f' {name.lower()}="{round(px)}"'
    return f'<img src="data:image/svg+xml;base64,{data}"{size} alt="SVG image">'
