"""The notebooks' text is consistent and true, and their pictures are stable and fit.

One rule for the allowed modules, every intro says what Run All does, every stub fails the same
way, the ladder figures match the ladder's construction, and ``draw_dot`` (in every notebook that
defines it) names its nodes by position, so the same notebook gives byte-identical SVG in two
processes, labels every node and fits JupyterLab's output area.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest

from autograder.release import STUB, assignments
from tests.course_helpers import REPO, cell, release_nb, solution_nb

ASSIGNMENTS = assignments(REPO)  # every assignment of the course, from source/
DRAWN = {"ps1_operators": "draw_dot", "ps2_backprop": "helpers"}  # the cells that define draw_dot
OUTPUT_AREA_PX = 968  # JupyterLab 4's output area at a 1400 px wide window


def intro(assignment: str) -> str:
    return " ".join(release_nb(assignment).cells[0].source.split())


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_intro_says_what_run_all_does_and_the_one_rule_for_modules(assignment: str) -> None:
    text = intro(assignment)
    assert "*Run → Run All Cells* runs every cell until the first test cell" in text
    assert "not implemented yet" in text and "is fine at any time" not in text
    assert "Use the Python standard library only" in text and "plain Python process" in text
    assert "no packages" not in text and "modules only" not in text and "module only" not in text


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_stub_is_the_same_and_says_what_to_do(assignment: str) -> None:
    solutions = [c for c in release_nb(assignment).cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert solutions
    for c in solutions:
        assert textwrap.dedent(STUB) in textwrap.dedent("\n".join(
            line for line in c.source.split("\n") if "YOUR CODE HERE" in line or "raise NotImplementedError" in line))
    assert 'raise NotImplementedError("not implemented yet: ' in STUB


def test_the_ladders_figures_match_their_construction() -> None:
    text = " ".join(" ".join(c.source.split()) for c in release_nb("ps2_backprop").cells if c.cell_type == "markdown")

    def paths(root, memo=None) -> int:  # paths from root down to the leaves (memoised: shallow graphs only)
        memo = {} if memo is None else memo
        if id(root) not in memo:
            memo[id(root)] = sum(paths(k, memo) for k in root[1]) if root[1] else 1
        return memo[id(root)]

    def count(root) -> int:
        seen, stack = set(), [root]
        while stack:
            node = stack.pop()
            if id(node) not in seen:
                seen.add(id(node))
                stack.extend(node[1])
        return len(seen)

    y = ("y0", ())
    for _ in range(16):  # the visible ladder: y = y * y, sixteen times
        y = ("*", (y, y))
    assert (count(y), paths(y)) == (17, 2**16)
    assert "`y = y * y` sixteen times, has 17 nodes and $2^{16} = 65{,}536$ paths" in text
    assert "for i in range(16):" in cell(release_nb("ps2_backprop"), "topo_test").source
    x, y = ("x0", ()), ("y0", ())
    made = 2
    for _ in range(30):  # the hidden ladder: x, y = x * y, x + y, thirty times, from two leaves
        x, y = ("*", (x, y)), ("+", (x, y))
        made += 2
    assert (made, paths(x)) == (62, 2**30)
    assert "a ladder of 62 nodes with $2^{30}$" in text and "60 nodes" not in text


DRAW = r"""
import json, math, sys
import nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
ns = {"__name__": "__main__"}
exec("import math", ns)
for c in nb.cells:
    gid = c.metadata.get("nbgrader", {}).get("grade_id") or ""
    if gid in ("value_class", sys.argv[2]) or gid.endswith("_solution"):
        exec(c.source, ns)
exec('''
x1 = Value(2.0, label='x1'); x2 = Value(0.0, label='x2')
w1 = Value(-3.0, label='w1'); w2 = Value(1.0, label='w2')
b = Value(6.8813735870195432, label='b')
o = (x1 * w1 + x2 * w2 + b).tanh()
o.backward()
q = Value(1.7)
r = (q * q).log() - (2 - q).relu() + q / 3
r.backward()
''', ns)
print(json.dumps([ns["draw_dot"](v).pipe(format="svg").decode() for v in (ns["o"], ns["r"])]
                 + [ns["draw_dot"](ns["o"]).source]))
"""


@pytest.mark.parametrize("assignment", sorted(DRAWN))
def test_draw_dot_is_stable_labels_every_node_and_fits(assignment: str) -> None:
    pytest.importorskip("graphviz")
    path = REPO / "solutions" / assignment / f"{assignment}.ipynb"
    runs = [subprocess.run([sys.executable, "-c", DRAW, str(path), DRAWN[assignment]], capture_output=True,
                           text=True, check=True, cwd=REPO).stdout for _ in range(2)]
    assert runs[0] == runs[1]  # byte-identical SVG from two processes: no memory addresses
    *svgs, source = json.loads(runs[0])
    for svg in svgs:
        width = float(re.search(r'<svg width="([\d.]+)pt"', svg).group(1)) * 4 / 3
        assert width <= OUTPUT_AREA_PX, width
    records = re.findall(r'label="([^"|]*) \| data', source)
    assert len(records) == 10 and all(name.strip() for name in records), records  # 5 leaves, 5 results
    assert "x1*w1" in records  # an unlabelled result is named after its operation


def test_the_first_graph_is_drawn_again_after_backward_with_dL_da_6() -> None:
    nb = solution_nb("ps1_operators")
    again = [c for c in nb.cells if c.cell_type == "code" and "L = d * f" in c.source and "L.backward()" in c.source]
    assert len(again) == 1 and "draw_dot(L)" in again[0].source
    ns: dict = {"__name__": "__main__"}
    exec("import math", ns)
    for grade_id in ("value_class", "add_solution", "mul_solution"):
        exec(cell(nb, grade_id).source, ns)
    exec(again[0].source.replace("draw_dot(L)", ""), ns)
    assert (ns["a"].grad, ns["b"].grad, ns["c"].grad, ns["f"].grad) == (6.0, -4.0, -2.0, 4.0)
