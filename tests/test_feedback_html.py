"""The feedback exporter writes the page nbconvert's HTMLExporter writes, without its BeautifulSoup pass."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from autograder.results.feedback_html import NO_ALT, FeedbackExporter, add_accessibility
from autograder.screen.page import MATHJAX_URL, directory_of, harden

ROOT = Path(__file__).resolve().parent.parent
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
# What a student's cell may put in its own feedback page: tags the edits must find, and text that only looks like them
TRICKY_HTML = (
    '<IMG SRC="x.png"><img src=y.png/><img alt="" src="z.png"><img data-x="a>b" src="w.png">'
    '<div class="jp-Cell-inputWrapper extra">in</div><div class=\'jp-OutputArea-output\' tabindex="-1">o</div>'
    '<div class="jp-Cell-inputWrapperX">not</div><div data-class="jp-OutputArea-output">not</div>'
    "<p>&lt;img src=q.png&gt; as text</p><script>var s = \"<img src=s.png>\";</script><!-- <img src=c.png> -->"
    "<style>/* <div class=\"jp-Cell-inputWrapper\"> */</style>"
)


def _notebook() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [
        new_markdown_cell("An image ![with alt](a.png) and <img src='b.png'> without, and `<img src=c>` as code."),
        new_code_cell("plot()", outputs=[new_output("display_data",
                                                    data={"image/png": PNG, "text/plain": "<Figure>"})]),
        new_code_cell("show()", outputs=[new_output("display_data", data={"text/html": TRICKY_HTML})]),
        new_code_cell("print('<img src=d.png>')",
                      outputs=[new_output("stream", name="stdout", text="<img src=d.png>\n")]),
    ]
    return nb


def _same_page(nb: nbformat.NotebookNode, **config: object) -> None:
    config.setdefault("mathjax_url", MATHJAX_URL)
    stock, _ = HTMLExporter(**config).from_notebook_node(nb)
    ours, _ = FeedbackExporter(**config).from_notebook_node(nb)
    # the same page as stock HTMLExporter's, then hardened (a policy in <head>, MathJax pinned)
    hardened, _ = harden(stock, [directory_of(MATHJAX_URL)])
    assert str(BeautifulSoup(ours, features="html.parser")) == str(BeautifulSoup(hardened, features="html.parser"))


@pytest.mark.parametrize("template", ["lab", "classic", "basic"])
def test_the_page_is_htmlexporters_page(template: str) -> None:
    _same_page(_notebook(), template_name=template)


@pytest.mark.parametrize("path", sorted((ROOT / "solutions").glob("*/*.ipynb")), ids=lambda p: p.stem)
def test_every_solution_page_is_htmlexporters_page(path: Path) -> None:
    _same_page(nbformat.read(path, as_version=4), template_name="lab")


def test_the_edits() -> None:
    html, missing = add_accessibility('<main class="jp-Notebook">' + TRICKY_HTML + "</main>")
    assert missing == 3
    assert html.count(f'alt="{NO_ALT}"') == 3 and 'alt=""' in html
    assert '<div class="jp-Cell-inputWrapper extra" tabindex="0">' in html
    assert "<div class='jp-OutputArea-output' tabindex=\"0\">" in html  # an existing tabindex becomes 0
    assert html.count('tabindex="0"') == 2
    assert add_accessibility('<div class="jp-OutputArea-output">x</div>')[0].count("tabindex") == 0  # not in a notebook
