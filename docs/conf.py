"""Sphinx configuration of the zengrad-kit docs (build: see docs/README.md).

Sphinx + MyST: the tools nbgrader and otter-grader publish their docs with, so an instructor finds the same kind of
site, and the configuration reference is generated from the traitlets classes the way nbgrader's is. Pages are
Markdown (MyST), readable as they are on a forge and in a terminal. Everything runs offline: the architecture
diagram is drawn by graphviz's ``dot`` at build time (``.ci/setup`` installs graphviz), the theme ships with Sphinx.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

project = "zengrad-kit"
author = "the zengrad-kit authors"
copyright = "the zengrad-kit authors"  # noqa: A001 - Sphinx's name

extensions = [
    "myst_parser",
    "sphinx.ext.graphviz",
    "zengrad_sphinx",  # the references generated from the code, and the roles {knob} {default} {cli} {src}
]
source_suffix = {".md": "markdown"}
root_doc = "index"
# README.md says how to build the site; _generated/ holds the reference bodies the reference pages include
exclude_patterns = ["_build", "_generated", "README.md", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3  # [text](page.md#a-heading) links are checked at build time
suppress_warnings: list[str] = []  # nothing: the build runs with -W and every warning is an error
nitpicky = True
smartquotes = False  # --flags, 'quoted' defaults and code-like help text stay as the code has them

graphviz_output_format = "svg"
html_theme = "alabaster"
html_theme_options = {
    "description": "graded autodiff notebooks on nbgrader",
    "fixed_sidebar": True,
    "show_relbars": True,
    "page_width": "1280px",  # the reference tables are wide
    "sidebar_width": "230px",
    "body_max_width": "none",
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
html_title = "zengrad-kit"
html_copy_source = False
html_show_sourcelink = False
