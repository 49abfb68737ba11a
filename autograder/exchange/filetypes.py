"""Which files of a submission travel on: an allow-list per assignment, and a deny-list as the second wall.

Whatever road a submission comes by (``nbgrader collect``, ``zengrad-kit serve``, ``submitted/``
filled by a zip or an LMS download, Gradescope's upload), only the files its assignment declares
travel on to grading, ``autograded/`` and ``feedback/``: the files of ``source/<assignment>/``
(the notebooks and the data files they name), any other notebook at the top (so the grader can
say "did you rename it?") and nbgrader's two bookkeeping files. An instructor may admit more with
``OwnerCheckedCollect.allowed_files`` (patterns, case-insensitive). Everything else is listed and
dropped, never read further.

A file type a browser runs (HTML, SVG, XML, scripts, PDF, web archives, ...: :data:`ACTIVE_SUFFIXES`
plus every suffix this machine's MIME table maps to such a type, which is what Jupyter's ``/files/``
would serve it as) never travels, even when a pattern admits it; :func:`ignore_globs` gives the
same list, case-insensitively, to stock nbgrader's ``CourseDirectory.ignore``.
"""

from __future__ import annotations

import fnmatch
import mimetypes
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

BOOKKEEPING = ("timestamp.txt", "submission_secret.txt")  # written by nbgrader submit
SKIPPED_PARTS = frozenset({".ipynb_checkpoints", "__pycache__"})

# suffixes a browser renders or runs when served inline (lower case, without the dot)
ACTIVE_SUFFIXES = frozenset({
    "html", "htm", "xhtml", "xht", "xhtm", "shtml", "shtm", "stm", "mht", "mhtml", "eml", "svg", "svgz",
    "xml", "xsl", "xslt", "xul", "rdf", "rss", "atom", "mml", "js", "mjs", "cjs", "es", "jsx", "vbs", "hta",
    "htc", "swf", "pdf", "wasm", "appcache", "webmanifest",
})
_ACTIVE_TYPE = re.compile(r"html|xml|javascript|ecmascript|svg|^application/pdf$|flash|^message/|^multipart/|xsl")


@cache
def active_suffixes() -> frozenset[str]:
    """:data:`ACTIVE_SUFFIXES` and every suffix this machine's MIME table maps to an active type."""
    mimetypes.init()
    table = {ext.lstrip(".").lower() for ext, kind in mimetypes.types_map.items() if _ACTIVE_TYPE.search(kind)}
    return ACTIVE_SUFFIXES | frozenset(s for s in table if s.isalnum())


def is_active(name: str) -> bool:
    """A file a browser would run or render actively, by any of its suffixes, in any case."""
    parts = name.lower().split(".")[1:]
    return any(p in active_suffixes() for p in parts)


def ignore_globs() -> list[str]:
    """The active suffixes as case-insensitive globs (``*.[hH][tT][mM][lL]``) for ``CourseDirectory.ignore``."""
    def insensitive(suffix: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in suffix)

    return sorted(f"*.{insensitive(s)}" for s in active_suffixes())


@dataclass(frozen=True)
class FileTypes:
    """What may travel on from a submission of one assignment."""

    declared: frozenset[str]  # relative paths the assignment's source/ folder holds
    extra: tuple[str, ...] = field(default=())  # the instructor's patterns (case-insensitive), never active types

    @classmethod
    def of_source(cls, folder: Path, extra: Iterable[str] = ()) -> FileTypes:
        """The files of ``source/<assignment>/`` (checkpoints and caches left out)."""
        folder = Path(folder)
        names = frozenset(str(p.relative_to(folder)) for p in folder.rglob("*")
                          if p.is_file() and not SKIPPED_PARTS & set(p.relative_to(folder).parts))
        return cls(names, tuple(extra))

    @classmethod
    def of_names(cls, names: Iterable[str], extra: Iterable[str] = ()) -> FileTypes:
        return cls(frozenset(names), tuple(extra))

    def travels(self, rel: str) -> bool:
        """True when the file at ``rel`` (relative, ``/``-separated) goes on to grading."""
        name = rel.rsplit("/", 1)[-1]
        if is_active(name) or SKIPPED_PARTS & set(rel.split("/")):
            return False
        if rel in self.declared or rel in BOOKKEEPING:
            return True
        if "/" not in rel and name.endswith(".ipynb"):
            return True  # another notebook: the grader names it ("renamed?") but grades only the declared ones
        return any(fnmatch.fnmatchcase(name.lower(), p.lower()) for p in self.extra)

    def split(self, names: Iterable[str]) -> tuple[list[str], list[str]]:
        """(travels, dropped), each sorted."""
        kept, dropped = [], []
        for rel in sorted(names):
            (kept if self.travels(rel) else dropped).append(rel)
        return kept, dropped
