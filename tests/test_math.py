"""Math as MathML made on the server: every formula of the course converts, and nothing active gets through."""

from __future__ import annotations

import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from autograder.screen.math import LatexAsMathML, latex_text_to_html, tex_to_mathml
from autograder.screen.notebook import render_markdown
from autograder.screen.sanitize import MATHML_TAGS, clean_html
from tests.course_helpers import REPO

_MATH = re.compile(r"\$\$(.+?)\$\$|(?<!\$)\$([^$]+?)\$(?!\$)", re.S)


def _course_formulas() -> list[str]:
    found = []
    for path in sorted((REPO / "source").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                found += [a or b for a, b in _MATH.findall(cell.source)]
    return found


def test_every_formula_of_the_course_becomes_mathml() -> None:
    formulas = _course_formulas()
    assert len(formulas) > 60
    failed = [f for f in formulas if not tex_to_mathml(f).startswith("<math")]
    assert not failed, failed


def test_markdown_math_renders_as_mathml_and_the_text_around_it_stays() -> None:
    html = render_markdown("The slope $\\frac{d}{dx} e^x = e^x$ and\n\n$$\\sum_i x_i$$\n\n"
                           "\\begin{align} a &= b \\\\ c &= d \\end{align}\n\nprice: 5 dollars")
    assert html.count("<math") == 3 and "$" not in html.replace("5 dollars", "")
    assert '<math display="block">' in html and "<mfrac>" in html and "<mtable" in html
    assert "The slope" in html and "price: 5 dollars" in html


def test_the_output_is_stable_under_the_allow_list() -> None:
    """What the converter makes survives the sanitiser unchanged (a neutralised block is recognised as such)."""
    for tex in _course_formulas()[:40] + ["\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\sqrt[3]{x}", "\\hat{y}"]:
        mathml = tex_to_mathml(tex)
        assert clean_html(mathml) == mathml, tex


@pytest.mark.parametrize("tex", [
    "\\href{javascript:alert(1)}{x}", "\\style{background:url(http://127.0.0.1/x)}{x}",
    "\\text{<img src=x onerror=alert(1)>}", "\\text{</math><script>alert(1)</script>}",
    "\\color{red;background:url(http://127.0.0.1/)}{x}", "\\mathbin{<a href=javascript:1>}",
])
def test_what_the_converter_copies_from_the_tex_is_text_or_gone(tex: str) -> None:
    mathml = tex_to_mathml(tex)
    tags = re.findall(r"<([a-zA-Z-]+)([^>]*)>", mathml)
    assert tags and {t for t, _ in tags} <= MATHML_TAGS, mathml
    assert not any(re.search(r"href|style|url\(|\bon\w+\s*=", attrs, re.I) for _, attrs in tags), mathml


def test_active_mathml_from_a_submission_is_removed() -> None:
    html = clean_html('<math><mglyph src="http://127.0.0.1/x"></mglyph>'
                      '<maction actiontype="toggle"><mi>a</mi></maction>'
                      '<semantics><mi>b</mi><annotation-xml encoding="text/html"><img src=x onerror=alert(1)>'
                      '</annotation-xml></semantics>'
                      '<mi href="javascript:alert(1)" style="color:red" mathvariant="bold">c</mi></math>')
    assert html == '<math><mi mathvariant="bold">c</mi></math>', html


def test_tex_the_converter_cannot_read_is_shown_as_its_source() -> None:
    assert tex_to_mathml("\\frac{") == "<code>$\\frac{$</code>"
    assert tex_to_mathml("<b>", display=True).startswith("<math")  # letters and relations, as math


def test_a_latex_output_becomes_mathml_on_the_page_only() -> None:
    nb = new_notebook(cells=[new_code_cell("Math('x^2')", outputs=[new_output(
        "execute_result", data={"text/latex": "$\\displaystyle x^{2}$", "text/plain": "x**2"}, execution_count=1)]),
        new_markdown_cell("no math")])
    out, _ = LatexAsMathML().preprocess(nb, {})
    data = out.cells[0].outputs[0].data
    assert "text/latex" not in data and data["text/html"].startswith("<math") and "<msup>" in data["text/html"]
    assert latex_text_to_html("we have &lt;b&gt; $x$ and $$y$$") == (
        'we have &lt;b&gt; <math display="inline"><mrow><mi>x</mi></mrow></math> and '
        '<math display="block"><mrow><mi>y</mi></mrow></math>')
