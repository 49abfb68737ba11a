"""Jupyter server extension: formgrader's pages get the same Content-Security-Policy as feedback pages.

nbgrader's formgrader renders a student's autograded notebook on the instructor's own Jupyter
origin, where a script could call every formgrader and Jupyter API as the instructor (grades,
terminals, kernels: code outside every sandbox). The notebook itself is neutralised before it is
written and again by formgrader's exporter (``c.HTMLExporter.preprocessors`` in
``nbgrader_config.py``); this extension is the second wall. It adds a policy to every HTML
response under ``/formgrader/``, computed by :func:`autograder.screen.page.harden`:

* scripts only from formgrader's own ``/formgrader/static/`` and MathJax's pinned directory,
  inline scripts only those of the page's ``<head>`` (formgrader's template, by hash) and the
  constant ones of formgrader's templates, inline event handlers only the exact texts
  formgrader's templates contain (both read from the templates at start);
* connections to the server's own origin (formgrader's API needs them), nothing else;
* a file of a submission that formgrader serves as it is (``/formgrader/submissions/<id>/<file>``,
  whatever its type) gets ``sandbox; default-src 'none'`` and ``nosniff``: it is a document in an
  opaque origin where nothing runs and nothing loads, even if it were HTML with scripts in its head.

Enable it where formgrader runs (``.ci/setup`` does)::

    jupyter server extension enable --sys-prefix autograder.screen.server

It adds a second ``Content-Security-Policy`` header, so jupyter_server's own policy
(``frame-ancestors``) still applies: a browser enforces both.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from tornado.httputil import HTTPServerRequest
from tornado.web import OutputTransform

from autograder.screen.page import MATHJAX_URL, directory_of, harden, script_hash

_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*"([^"{}]*)\"""")
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)
# formgrader's SubmissionFilesHandler: a file under autograded/<student>/<assignment>/, served as it is
_SUBMISSION_FILE = re.compile(r"/formgrader/submissions/(?!components/)[^/]+/(?!(?:next|prev|next_incorrect|"
                              r"prev_incorrect)/?$)[^?]+$")
FILE_POLICY = "sandbox; default-src 'none'; form-action 'none'; base-uri 'none'"


@lru_cache(maxsize=1)
def _template_texts() -> tuple[str, ...]:
    try:
        import nbgrader.server_extensions.formgrader as fg
    except ImportError:
        return ()
    return tuple(path.read_text(errors="replace") for path in sorted(Path(fg.__file__).parent.joinpath(
        "templates").rglob("*")) if path.is_file() and path.suffix in {".tpl", ".j2", ".html"})


@lru_cache(maxsize=1)
def template_handlers() -> tuple[str, ...]:
    """Hashes of the inline event handlers formgrader's own templates contain (constant texts only)."""
    return tuple(sorted({script_hash(h) for text in _template_texts() for h in _HANDLER.findall(text)}))


@lru_cache(maxsize=1)
def template_scripts() -> tuple[str, ...]:
    """Hashes of the constant inline scripts of formgrader's templates (its body's tooltip set-up).

    A script with a Jinja expression in it is not constant and gets no hash; those formgrader has
    are in the page's ``<head>``, which :func:`harden` hashes as rendered.
    """
    return tuple(sorted({script_hash(body) for text in _template_texts() for body in _INLINE_SCRIPT.findall(text)
                         if "{{" not in body and "{%" not in body and body.strip()}))


class FormgraderPolicy(OutputTransform):
    """Adds the policy to formgrader's HTML pages (and rewrites their MathJax loading as feedback pages do)."""

    def __init__(self, request: HTTPServerRequest) -> None:
        super().__init__(request)
        self.request = request
        path = request.path or ""
        self.prefix = path[: path.index("/formgrader/") + 1] if "/formgrader/" in path else None

    def transform_first_chunk(self, status_code: int, headers: Any, chunk: bytes, finishing: bool
                              ) -> tuple[int, Any, bytes]:
        if self.prefix is None:
            return status_code, headers, chunk
        if _SUBMISSION_FILE.search(self.request.path or ""):
            headers.add("Content-Security-Policy", FILE_POLICY)
            headers["X-Content-Type-Options"] = "nosniff"
            return status_code, headers, chunk
        if not headers.get("Content-Type", "").startswith("text/html"):
            return status_code, headers, chunk
        origin = f"{self.request.protocol}://{self.request.host}"
        page, text = harden(chunk.decode("utf-8", "replace"),
                            script_sources=[f"{origin}{self.prefix}formgrader/static/", directory_of(MATHJAX_URL)],
                            handler_hashes=template_handlers(), connect=["'self'"], images=["'self'"], meta=False,
                            script_hashes=template_scripts())
        body = page.encode("utf-8")
        if "Content-Length" in headers:
            headers["Content-Length"] = str(len(body))
        headers.add("Content-Security-Policy", text)
        return status_code, headers, body


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "autograder.screen.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    serverapp.web_app.transforms.insert(0, FormgraderPolicy)  # before gzip: it reads the page, not its encoding
    serverapp.log.info("zengrad-kit: formgrader pages are served with a Content-Security-Policy")
