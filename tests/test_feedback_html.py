"""The feedback exporter writes the page nbconvert's HTMLExporter writes, without its BeautifulSoup pass.

Three differences are meant, and each is checked: no MathJax loader (the math is MathML), a stylesheet
that wraps long lines, and a policy that allows no script.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from jinja2 import DictLoader
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from traitlets.config import Config

from autograder.results.feedback_html import NO_ALT, NO_MATHJAX, FeedbackExporter, add_accessibility
from autograder.screen.math import LatexAsMathML
from autograder.screen.notebook import NeutraliseUntrusted
from autograder.screen.page import READABLE_CSS, harden, with_style

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
    stock, _ = HTMLExporter(extra_loaders=[DictLoader(NO_MATHJAX)], **config).from_notebook_node(nb)
    ours, _ = FeedbackExporter(**config).from_notebook_node(nb)
    # the same page as stock HTMLExporter's without its MathJax loader, then made readable and hardened
    hardened, policy = harden(with_style(stock, READABLE_CSS), scripts=False)
    assert str(BeautifulSoup(ours, features="html.parser")) == str(BeautifulSoup(hardened, features="html.parser"))
    assert "script-src 'none'" in policy and "MathJax.js" not in ours and "x-mathjax-config" not in ours


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


def test_a_course_page_has_its_math_as_mathml_and_no_script(tmp_path: Path) -> None:
    """With the course's exporter settings (nbgrader_config.py): markdown and LaTeX outputs as MathML, no script."""
    config = Config({"HTMLExporter": {"preprocessors": [NeutraliseUntrusted, LatexAsMathML],
                                      "filters": {"markdown2html": "autograder.screen.page.markdown2html"}}})
    nb = nbformat.read(ROOT / "solutions" / "ps1_operators" / "ps1_operators.ipynb", as_version=4)
    nb.cells.append(new_code_cell("Math('x^2')", outputs=[new_output(
        "execute_result", data={"text/latex": "$x^{2}$", "text/plain": "x**2"}, execution_count=1)]))
    for template in ("lab", "classic"):
        html, _ = FeedbackExporter(config=config, template_name=template).from_notebook_node(nb)
        soup = BeautifulSoup(html, features="html.parser")
        assert not soup.find_all("script") and "script-src 'none'" in html
        assert len(soup.find_all("math")) > 30 and soup.find("mfrac") is not None
        assert "$" not in " ".join(p.get_text() for p in soup.select(".jp-MarkdownOutput, .text_cell_render"))
        assert soup.find_all("math")[-1].find("msup") is not None  # the text/latex output
        assert "white-space: pre-wrap" in html
