"""Neutralise a notebook from a submission before anything writes or renders it.

Every output and every markdown cell of a submission is untrusted content, and so is the
notebook's JSON around them: nbconvert's templates put output data, output metadata, cell
tags, attachment types and notebook metadata into pages without escaping (no Jinja
autoescape). :func:`neutralise` rewrites a notebook in place so that whatever template renders
it next (our feedback page, formgrader's view, a stock ``jupyter nbconvert``) gets only:

* outputs of the mime types a grader reads: ``text/plain``; ``text/html`` and ``text/markdown``
  through the allow-list of :mod:`.sanitize`; ``text/latex`` escaped (MathJax reads the text);
  PNG, JPEG and GIF as checked base64; SVG as an image of itself (no script, no fetches): the
  template's own ``<img>`` of a plain drawing, ours of one with anything active in it.
  JavaScript, widget views and state, and every other type are replaced by a plain-text note;
* output metadata reduced to numeric image sizes, stream names to stdout/stderr;
* markdown cells whose raw HTML or links would do anything (a tag with attributes, a comment,
  a script, a ``javascript:`` or fetching URL, a missing attachment) replaced by their rendered,
  sanitised HTML (honest markdown, math included, is left byte for byte);
* attachments only as checked images; cell tags and ids of safe characters; notebook metadata
  reduced to what nbgrader and the kernel need (no ``title``, no widget state).

It is idempotent and returns what it removed, for the instructor's report. The same function
runs as the ``NeutraliseUntrusted`` preprocessor in nbgrader's autograde pipeline (before the
autograded notebook is written), in ``GenerateFeedback``, and in formgrader's exporter.
"""

from __future__ import annotations

import copy
import html
import re
from typing import Any

from nbformat.notebooknode import NotebookNode, from_dict
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.preprocessors import metadata as zm
from autograder.screen.sanitize import TEXT_TAGS, clean_html, is_base64, svg_as_image

IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif"}
TEXT_TYPES = {"text/plain", "text/html", "text/markdown", "text/latex"}
STUDENT_RESOURCES = ("student", "first_name", "last_name")
KEPT_NOTEBOOK_METADATA = {"kernelspec", "language_info", "nbgrader", zm.NAMESPACE}
_SAFE_TAG = re.compile(r"^[\w\-]{1,64}$")
_CELL_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_BARE_TAG = re.compile(r"^</?([a-zA-Z][a-zA-Z0-9]*)\s*/?>$")
_TAG_OR_COMMENT = re.compile(r"<!--.*?(?:-->|$)|<[^>]*>?", re.S)
_SAFE_URL = re.compile(r"^(?:https?://|mailto:|#)[^\s\"'<>`]*$", re.I)
# what a graphviz or matplotlib drawing never holds: such an SVG is only ever shown as an image of itself
_ACTIVE_SVG = re.compile(r"<script|<foreignObject|<iframe|<set\b|<animate|<handler|<a\b|\son[a-z]+\s*=|javascript:"
                         r"|href\s*=\s*[\"'](?!#|data:image/(?:png|jpeg|gif);)|url\((?!\s*['\"]?#)|@import|<!ENTITY",
                         re.I)
_MARKUP_CHARS = re.compile(r"[<>\"'`]")
_MARKUP_IN_TEXT = re.compile(r"<[A-Za-z/!?]")
_LANGUAGE = re.compile(r"^[\w+#.\- ]{0,40}$")


def _note(what: str) -> str:
    return f"[{what} removed: active content from a submission is not shown in grading views]"


def _raw_html_is_inert(raw: str) -> bool:
    """Raw HTML in markdown that can do nothing: only bare tags of the allow-list (``<b>``, ``<br/>``…)."""
    for m in _TAG_OR_COMMENT.finditer(raw):
        bare = _BARE_TAG.match(m.group(0))
        if not bare or bare.group(1).lower() not in TEXT_TAGS or bare.group(1).lower() in {"a", "img"}:
            return False
    return True


def _markdown_tokens(source: str) -> list[dict]:
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    tokens, _ = MarkdownWithMath(renderer=None).parse(source)
    return tokens


def markdown_is_inert(source: str, attachments: dict | None = None) -> bool:
    """True when a markdown text renders to nothing active (checked on mistune's tokens, as nbconvert parses it)."""
    if _is_sanitised_block(source):
        return True  # what an earlier pass wrote (an HTML block the allow-list leaves as it is)
    try:
        stack = list(_markdown_tokens(source))
    except Exception:  # noqa: BLE001 - what nbconvert cannot parse is not shown as markdown
        return False
    while stack:
        tok = stack.pop()
        kind = tok.get("type")
        if kind in {"block_html", "inline_html"} and not _raw_html_is_inert(tok.get("raw", "")):
            return False
        # nbconvert renders text unescaped (escape=False): markup mistune did not take for HTML is HTML still
        if kind == "text" and _MARKUP_IN_TEXT.search(tok.get("raw", "")):
            return False
        url = (tok.get("attrs") or {}).get("url")
        if kind == "link" and url is not None and not _SAFE_URL.match(url):
            return False
        if kind == "image" and url is not None:
            name = url[len("attachment:"):] if url.startswith("attachment:") else None
            if name is None or name not in (attachments or {}):
                return False
        if kind == "block_code":
            info = (tok.get("attrs") or {}).get("info") or ""
            if not _LANGUAGE.match(info):
                return False
        stack.extend(tok.get("children") or [])
    return True


def render_markdown(source: str, attachments: dict | None = None) -> str:
    """Markdown to sanitised HTML, the way nbconvert renders a markdown cell (math as MathML), never raising."""
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    from autograder.screen.math import MathMLRenderer

    try:
        renderer = MathMLRenderer(escape=False, attachments=attachments or {}, anchor_link_text="¶")
        rendered = MarkdownWithMath(renderer=renderer).render(source)
    except Exception:  # noqa: BLE001 - a missing attachment, a parser fault: show the text
        rendered = "<pre>" + html.escape(source) + "</pre>"
    return clean_html(rendered)


def _as_markdown_block(sanitised_html: str) -> str:
    """Sanitised HTML that a markdown renderer passes through unchanged: one HTML block, no blank line in it."""
    body = re.sub(r"\n[ \t]*(?=\n)", "\n&#32;", sanitised_html.strip())
    return f"<div>\n{body}\n</div>"


def _is_sanitised_block(source: str) -> bool:
    """``source`` is one HTML block of allow-listed HTML, as :func:`_as_markdown_block` writes it."""
    if not (source.startswith("<div>\n") and source.endswith("\n</div>")):
        return False
    return _as_markdown_block(clean_html(source[len("<div>\n"):-len("\n</div>")])) == source


def _clean_attachments(cell: NotebookNode, found: list[str]) -> None:
    attachments = cell.get("attachments")
    if not attachments:
        return
    kept = {}
    for name, bundle in attachments.items():
        images = {k: v for k, v in (bundle or {}).items() if k in IMAGE_TYPES and is_base64(v)}
        if images and _SAFE_TAG.match(str(name).replace(".", "_")):
            kept[name] = images
        else:
            found.append(f"attachment {str(name)[:40]!r}")
    cell["attachments"] = from_dict(kept)


def _clean_bundle(data: dict, found: list[str]) -> dict:
    """A mime bundle with only inert representations."""
    out: dict[str, Any] = {}
    for mime, value in data.items():
        text = "".join(value) if isinstance(value, list) else value
        if not isinstance(text, str):
            found.append(f"non-text {mime}")
            continue
        if mime == "text/plain":
            out[mime] = text
        elif mime == "text/html":
            cleaned = clean_html(text)
            if cleaned != text:
                found.append("text/html")
            out[mime] = cleaned
        elif mime == "text/markdown":
            if markdown_is_inert(text):
                out[mime] = text
            else:
                found.append("text/markdown")
                out["text/html"] = render_markdown(text)
        elif mime == "text/latex":
            # templates put LaTeX into the page raw for MathJax: no tag may form (entities only make text)
            escaped = text.replace("<", "&lt;").replace(">", "&gt;")
            if escaped != text:
                found.append("text/latex")
            out[mime] = escaped
        elif mime in IMAGE_TYPES:
            if is_base64(text):
                out[mime] = text
            else:
                found.append(f"{mime} that is not base64")
        elif mime == "image/svg+xml":
            # nbconvert's templates draw SVG as an <img> of itself (inert); one that could do anything inline
            # (were a template to inline it) is shown as that <img> by us, whatever the template does
            if _ACTIVE_SVG.search(text):
                found.append("image/svg+xml with script or links")
                out["text/html"] = svg_as_image(text)
            else:
                out[mime] = text
        else:
            found.append(mime)
    if not any(k in out for k in ("text/html", "text/markdown", "text/latex", *IMAGE_TYPES)):
        out.setdefault("text/plain", _note(", ".join(sorted(set(data) - set(out))) or "output"))
    if "text/html" in out and "text/markdown" in out and out["text/html"] != data.get("text/html"):
        out.pop("text/markdown")  # the sanitised rendering is what shows
    return out


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _strings(v)]
    return []


def _clean_output_metadata(meta: Any, found: list[str]) -> dict:
    kept: dict[str, Any] = {}
    if not isinstance(meta, dict):
        return kept
    if any(_MARKUP_CHARS.search(text) for text in _strings(meta)):  # honest metadata (sizes, matplotlib's) has none
        found.append("output metadata with markup")
    for mime, value in meta.items():
        if isinstance(value, dict):
            size = {k: v for k, v in value.items() if k in {"width", "height"} and isinstance(v, int)
                    and not isinstance(v, bool) and 0 < v < 100000}
            if size:
                kept[mime] = size
    return kept


def _clean_output(out: NotebookNode, found: list[str]) -> NotebookNode | None:
    kind = out.get("output_type")
    if kind == "stream":
        name = out.get("name") if out.get("name") in {"stdout", "stderr"} else "stdout"
        text = out.get("text", "")
        return from_dict({"output_type": "stream", "name": name,
                          "text": "".join(text) if isinstance(text, list) else str(text)})
    if kind == "error":
        return from_dict({"output_type": "error", "ename": str(out.get("ename", "Error")),
                          "evalue": str(out.get("evalue", "")),
                          "traceback": [str(line) for line in (out.get("traceback") or [])]})
    if kind in {"display_data", "execute_result"}:
        clean = {"output_type": kind, "data": _clean_bundle(dict(out.get("data") or {}), found),
                 "metadata": _clean_output_metadata(out.get("metadata"), found)}
        if kind == "execute_result":
            count = out.get("execution_count")
            clean["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
        return from_dict(clean)
    found.append(f"output of type {str(kind)[:40]!r}")
    return None


def neutralise(nb: NotebookNode) -> list[dict[str, Any]]:
    """Make ``nb`` inert in place (see the module doc); what was removed, one entry per cell."""
    findings: list[dict[str, Any]] = []
    dropped_meta = sorted(k for k in nb.metadata if k not in KEPT_NOTEBOOK_METADATA)
    for key in dropped_meta:
        del nb.metadata[key]
    if "widgets" in dropped_meta:  # other keys (a title, toolbar settings) are dropped without a word
        findings.append({"cell": None, "removed": ["widget state"]})
    for index, cell in enumerate(nb.cells):
        found: list[str] = []
        tags = (cell.get("metadata") or {}).get("tags")
        if tags is not None:
            safe = [t for t in tags if isinstance(t, str) and _SAFE_TAG.match(t)] if isinstance(tags, list) else []
            if safe != tags:
                found.append("cell tags")
                cell.metadata["tags"] = safe
        if "id" in cell and not (isinstance(cell.id, str) and _CELL_ID.match(cell.id)):
            found.append("cell id")
            cell.id = f"cell-{index}"
        grade_id = ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id")
        if grade_id is not None and not (isinstance(grade_id, str) and _CELL_ID.match(grade_id)):
            found.append("nbgrader metadata")  # templates put grade ids into ids and attributes unescaped
            cell.metadata.pop("nbgrader", None)
        _clean_attachments(cell, found)
        if cell.cell_type == "markdown":
            if not markdown_is_inert(cell.source, cell.get("attachments")):
                found.append("markdown")
                cell.source = _as_markdown_block(render_markdown(cell.source, cell.get("attachments")))
        elif cell.cell_type == "code":
            outputs = []
            for out in cell.get("outputs", []):
                clean = _clean_output(out, found)
                if clean is not None:
                    outputs.append(clean)
            cell.outputs = outputs
        elif cell.cell_type == "raw":
            mime = (cell.get("metadata") or {}).get("format") or (cell.get("metadata") or {}).get("raw_mimetype")
            if mime and mime not in {"text/plain", "text/x-python"}:
                found.append(f"raw cell of format {str(mime)[:40]!r}")
                cell.metadata.pop("format", None)
                cell.metadata.pop("raw_mimetype", None)
        if found:
            findings.append({"cell": index, "removed": sorted(set(found))})
    return findings


def neutralised(nb: NotebookNode) -> NotebookNode:
    """A neutralised copy of ``nb`` (the original is left as it is)."""
    nb = copy.deepcopy(nb)
    neutralise(nb)
    return nb


class NeutraliseUntrusted(NbGraderPreprocessor):
    """nbgrader preprocessor: :func:`neutralise` the notebook; record what was removed in ``metadata.zengrad``.

    In the autograde pipeline it runs after the trusted checks (they read no output of the
    student's), so the autograded notebook on disk, the feedback page and formgrader's view all
    come from the neutralised notebook. Findings accumulate across passes (autograde, feedback).
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        findings = neutralise(nb)
        for key in STUDENT_RESOURCES:  # formgrader's template puts the student's id and names in unescaped
            value = resources.get(key) if isinstance(resources, dict) else None
            if isinstance(value, str) and value != html.escape(value):
                resources[key] = html.escape(value)
        if findings:
            meta = nb.metadata.setdefault(zm.NAMESPACE, from_dict({}))
            previous = list(meta.get(zm.NEUTRALISED) or [])
            meta[zm.NEUTRALISED] = previous + [f for f in findings if f not in previous]
            self.log.warning("active content removed from the submission: %s",
                             "; ".join(f"cell {f['cell']}: {', '.join(f['removed'])}" for f in findings)[:500])
        return nb, resources
