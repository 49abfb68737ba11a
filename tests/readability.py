"""What a feedback page shows a person, measured in the browser: its math laid out, its longest message whole.

Used by the plain-tab check (tests/test_screen.py) and by the one inside JupyterLab's HTML viewer
(tests/test_browser.py), so both judge the same things.
"""

from __future__ import annotations

# what a feedback page shows of its math and its longest message, measured in the page (tests/test_browser.py too)
READABILITY_JS = """() => {
  const out = {scripts: document.scripts.length, math: document.querySelectorAll('math').length, fractions: 0};
  for (const frac of document.querySelectorAll('mfrac')) {  // laid out as math: numerator above denominator
    const [top, bottom] = Array.from(frac.children).map(e => e.getBoundingClientRect());
    if (top && bottom && top.height > 0 && top.bottom <= bottom.top + 1) out.fractions++;
  }
  out.display = document.querySelector('math') ? getComputedStyle(document.querySelector('math')).display : '';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node; while ((node = walker.nextNode())) { if (node.textContent.includes('your a.grad = ')) break; }
  if (node) {
    const range = document.createRange(); range.selectNodeContents(node);
    const rects = Array.from(range.getClientRects());
    out.line = {text: node.textContent, right: Math.max(...rects.map(r => r.right)),
                left: Math.min(...rects.map(r => r.left)), width: document.documentElement.clientWidth,
                clipped: []};
    for (let e = node.parentElement; e; e = e.parentElement) {  // a box that cuts off or scrolls what overflows
      if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible')
        out.line.clipped.push(`${e.tagName}.${e.className} ${e.scrollWidth} > ${e.clientWidth}`);
    }
  }
  return out; }"""


def assert_readable(found: dict) -> None:
    """The page's math is MathML laid out as math, its counterexample line all visible, and it has no script."""
    assert found["scripts"] == 0, found
    assert found["math"] > 10 and found["fractions"] >= 3 and "math" in found["display"], found
    line = found["line"]
    assert line and "expected" in line["text"] and "(chain rule))" in line["text"], found
    assert line["left"] >= 0 and line["right"] <= line["width"] and not line["clipped"], line
