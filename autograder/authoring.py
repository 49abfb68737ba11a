"""``zengrad-kit new psN_name``: a new assignment, complete and green, to edit rather than write from nothing.

It writes the four pieces of an assignment (``docs/adding-an-assignment.md`` explains each):

* ``source/psN_name/psN_name.ipynb``: the notebook, with nbgrader's markers: the intro every notebook
  has (what *Run All* does, the one rule for modules), the given engine, and two graded parts, an
  operator (``sin``: a solution cell with its ``_backward`` and a test cell of visible tests and a
  hidden ``check("psN.sin")``) and a plain function (``mean(xs)``, likewise);
* ``autograder/checks/psN.py``: their hidden checks, the kit's generic ones (``one_input_check``,
  ``function_check``);
* ``autograder/mutants/psN.py``: the classic bugs of both parts, the audit of the requirements the
  text states, and correct variants;

then releases it (``release/``, ``solutions/``) and registers it in the course's gradebook. The
contract tests (``tests/test_assignments.py``, ``test_mutants.py``, ``test_visible.py``,
``test_requirements.py``, ``test_notebook_text.py``) pick it up from ``source/`` and pass as
generated; replace the example parts with the assignment's own, keeping them green.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

NAME = re.compile(r"^(?P<prefix>[a-z][a-z0-9]*)_[a-z0-9_]+$")


class AuthoringError(Exception):
    """The assignment cannot be created (a bad name, or it exists already)."""


def _md(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(source.strip("\n"))


def _code(source: str, grade_id: str | None = None, *, solution: bool = False, points: float | None = None,
          ) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source.strip("\n") + ("\n" if source.endswith("### END SOLUTION\n") else ""))
    if grade_id is not None:
        grade = points is not None
        cell.metadata["nbgrader"] = {"grade": grade, "grade_id": grade_id, "locked": not solution,
                                     "schema_version": 3, "solution": solution, "task": False}
        if grade:
            cell.metadata["nbgrader"]["points"] = points
    return cell


INTRO = """
# Problem set {number} — {title}

In this problem set you extend **zengrad**, the scalar autograd engine of the earlier problem sets:
you write the `_backward` of a new operator, `sin`, and a plain function, `mean(xs)`.

You write, in this order:

| section | what | graded cell |
|---|---|---|
| 2 | the `_backward` of `sin` | `sin_test` |
| 3 | `mean(xs)` | `mean_test` |

**How this notebook works**

* The engine (`Value`, with its operators and `backward()`) is given, complete and correct, in a
  read-only cell.
* Run the cells from top to bottom. *Run → Run All Cells* runs every cell until the first test cell
  whose part you have not written yet, and stops there with
  `GradientCheckError: not implemented yet: …` (or `RequirementError: not implemented yet: …`):
  that is expected; write that part, then carry on from there, cell by cell.
* Cells that say `# YOUR CODE HERE` / `raise NotImplementedError(...)` are yours: replace those two lines.
  Keep the names and signatures: the tests call them.
* Each part is followed by a **test cell**. Its visible tests catch the common mistakes. When you
  submit, hidden tests check the same part on many more inputs, against a reference
  implementation, and name the smallest case on which you are wrong.
* Use the Python standard library only (`math` is all you need; no numpy): your code is graded in
  a plain Python process.
* Press **Validate** before you submit.
"""

ENGINE = '''
class Value:
    """A scalar node of a computation graph: its value, its gradient, and how it was made."""

    def __init__(self, data, _children=(), _op='', label=''):
        self.data = float(data)
        self.grad = 0.0
        self._backward = lambda: None   # a leaf has nothing to pass on
        self._prev = tuple(_children)
        self._op = _op
        self.label = label

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), '+')
        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), '*')
        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, n):
        assert isinstance(n, (int, float)), "only int or float exponents are supported"
        out = Value(self.data ** n, (self,), f'**{n}')
        def _backward():
            self.grad += n * self.data ** (n - 1) * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), 'tanh')
        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

    def __neg__(self):             # -self
        return self * -1

    def __sub__(self, other):      # self - other
        return self + (-other)

    def __truediv__(self, other):  # self / other
        return self * other**-1

    def __radd__(self, other):     # other + self
        return self + other

    def __rmul__(self, other):     # other * self
        return self * other

    def backward(self):
        """Backpropagate from this node: reverse topological order, the root seeded with 1.0."""
        topo, visited, stack = [], set(), [(self, False)]
        while stack:
            v, expanded = stack.pop()
            if expanded:
                topo.append(v)
            elif v not in visited:
                visited.add(v)
                stack.append((v, True))
                stack.extend((child, False) for child in reversed(v._prev))
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()
'''

SIN_TEXT = r"""
## 2. `sin`

$\frac{d}{dx}\sin x = \cos x$. The forward pass is given; write the `_backward`: add `math.cos(x)`
times `out.grad` to `self.grad`, at the input `x` (not at the output), with `+=`: an input used
twice, as in `a.sin() + a.sin()`, receives both contributions, and an input keeps the gradient it
already holds.
"""

SIN_SOLUTION = """
def sin(self):
    x = self.data
    out = Value(math.sin(x), (self,), 'sin')

    def _backward():
        ### BEGIN SOLUTION
        self.grad += math.cos(x) * out.grad
        ### END SOLUTION

    out._backward = _backward
    return out

Value.sin = sin
"""

SIN_TEST = """
check_gradients(lambda a: a.sin(), [0.5])                                # out.grad = 1.5
check_gradients(lambda a: a.sin(), [-1.2], upstream=-2.0, initial=0.75)  # a already holds a gradient
check_gradients(lambda a: a.sin() + a.sin(), [2.0], full=True)           # a is used twice
check_gradients(lambda a: a.sin(), [1000.0])                             # far from 0 too
print("ok: sin")

### BEGIN HIDDEN TESTS
check("{prefix}.sin")
### END HIDDEN TESTS
"""

MEAN_TEXT = """
## 3. `mean(xs)`

Write `mean(xs)`: the mean of the numbers of the list `xs` (one or more plain floats),
`sum(xs) / len(xs)`, returned as a plain float.
"""

MEAN_SOLUTION = '''
def mean(xs):
    """The mean of the numbers xs."""
    ### BEGIN SOLUTION
    return sum(xs) / len(xs)
    ### END SOLUTION
'''

MEAN_TEST = """
with requirement("mean(xs) is sum(xs) / len(xs), a plain float"):
    m = mean([1.0, 2.0, 6.0])
    one = mean([2.5])
assert isinstance(m, float), f"mean returns a plain float, got {{type(m).__name__}}"
assert abs(m - 3.0) < 1e-12, f"mean([1.0, 2.0, 6.0]) = {{m!r}}, expected 3.0" + (
    " (divide by len(xs), not len(xs) - 1)" if abs(m - 4.5) < 1e-12 else "")
assert one == 2.5, f"mean([2.5]) = {{one!r}}, expected 2.5 (a plain float: /, not //)"
print("ok: mean")

### BEGIN HIDDEN TESTS
check("{prefix}.mean")
### END HIDDEN TESTS
"""

DONE = """
**Done?** Restart the kernel and run all cells, then press **Validate**.
"""


def notebook(name: str, prefix: str, title: str) -> nbformat.NotebookNode:
    """The source notebook of a new assignment: intro, given cells, the two example parts."""
    number = prefix.removeprefix("ps") if prefix.startswith("ps") else prefix
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _md(INTRO.format(number=number, title=title)),
        _code("import math\nfrom gradcheck import check, check_gradients, requirement", "setup"),
        _md("## 1. The engine (given)\n\n`Value` is the engine of the earlier problem sets, complete. Read it if "
            "you like; do not change it (the cell is read-only, and the grader uses its own copy)."),
        _code(ENGINE, "engine"),
        _md(SIN_TEXT),
        _code(SIN_SOLUTION, "sin_solution", solution=True),
        _code(SIN_TEST.format(prefix=prefix), "sin_test", points=2),
        _md(MEAN_TEXT),
        _code(MEAN_SOLUTION, "mean_solution", solution=True),
        _code(MEAN_TEST.format(prefix=prefix), "mean_test", points=1),
        _md(DONE),
    ]
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}-{'md' if cell.cell_type == 'markdown' else 'code'}"
    return nb


CHECKS = '''"""Assignment {number} checks: the ``_backward`` of ``sin`` and ``mean(xs)``.

Made by ``zengrad-kit new``; each check is one of the kit's generic ones (``autograder/checks/kit/generic.py``):

* ``{prefix}.sin``: ``sin(a)``, ``sin(sin(a))`` and ``sin(a) + sin(a)`` from generated inputs, upstream gradients
  and gradients already held, against the reference and central differences, then extreme inputs;
* ``{prefix}.mean``: ``mean(xs)`` on generated lists against ``sum(xs) / len(xs)``, with the classic bugs
  replayed for hints.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from autograder.checks import register
from autograder.checks.kit.generic import function_check, one_input_check
from autograder.checks.kit.misconceptions import misconception
from autograder.checks.kit.operators import formula_operator
from autograder.checks.kit.operators import register as register_operator
from autograder.checks.kit.strategies import NUMBERS, reals

# sin is not in zengrad_ref: its formulas are the reference (central differences of math.sin check the derivative)
register_operator(formula_operator("sin", math.sin, math.cos))

MEAN_BUGS = {{  # hint -> the classic bug, replayed on the same numbers
    misconception("mean: divided by n - 1", "divide by len(xs), not len(xs) - 1"): lambda xs: sum(xs) / (len(xs) - 1),
    misconception("mean: floor division", "a plain float: /, not //"): lambda xs: sum(xs) // len(xs),
}}

register("{prefix}.sin", "sin(a)")(one_input_check("{prefix}", "sin", reals(-6.0, 6.0)))
register("{prefix}.mean", "mean(xs)")(function_check(
    "{prefix}", "mean", lambda xs: sum(xs) / len(xs), st.tuples(st.lists(NUMBERS, min_size=1, max_size=6)),
    regression=[([1.0, 2.0, 6.0],), ([2.5],)], bugs=MEAN_BUGS))
'''

MUTANTS = '''"""Classic bugs in assignment {number} (``sin``'s ``_backward``, ``mean``), the audit of its requirements,
and correct variants (made by ``zengrad-kit new``: replace them with your parts' own)."""

from autograder.mutants import Edit, bug, req

ASSIGNMENT = "{name}"

_SIN = "self.grad += math.cos(x) * out.grad"
MUTANTS = {{
    # sin (sin_test)
    "sin_wrong_point": bug("sin_solution", "math.cos(x)", "math.cos(out.data)", "sin_test"),
    "sin_derivative_is_sin": bug("sin_solution", "math.cos(x)", "math.sin(x)", "sin_test"),
    "sin_sign": bug("sin_solution", _SIN, "self.grad += -math.cos(x) * out.grad", "sin_test"),
    "sin_no_chain_rule": bug("sin_solution", _SIN, "self.grad += math.cos(x)", "sin_test"),
    "sin_overwrites": bug("sin_solution", _SIN, "self.grad = math.cos(x) * out.grad", "sin_test"),
    # mean (mean_test)
    "mean_divides_by_n_minus_1": bug("mean_solution", "sum(xs) / len(xs)", "sum(xs) / (len(xs) - 1)", "mean_test"),
    "mean_skips_first": bug("mean_solution", "sum(xs) / len(xs)", "sum(xs[1:]) / len(xs)", "mean_test"),
    "mean_floor_division": bug("mean_solution", "sum(xs) / len(xs)", "sum(xs) // len(xs)", "mean_test"),
}}

REQUIREMENTS = [
    req("sin_test", "add `math.cos(x)` times `out.grad` to `self.grad`", "check_gradients(lambda a: a.sin(), [0.5])",
        "one_input_graph", "sin_derivative_is_sin", "sin_sign"),
    req("sin_test", "times `out.grad`", "upstream=-2.0", "UPSTREAM", "sin_no_chain_rule"),
    req("sin_test", "at the input `x` (not at the output)", "check_gradients(lambda a: a.sin(), [0.5])",
        "one_input_graph", "sin_wrong_point"),
    req("sin_test", "with `+=`: an input used twice, as in `a.sin() + a.sin()`, receives both contributions",
        "check_gradients(lambda a: a.sin() + a.sin(), [2.0], full=True)", '"f(a) + f(a)"', "sin_overwrites"),
    req("mean_test", "`sum(xs) / len(xs)`", "assert abs(m - 3.0) < 1e-12", "function_check(",
        "mean_divides_by_n_minus_1", "mean_skips_first"),
    req("mean_test", "returned as a plain float", "assert one == 2.5", "function_check(", "mean_floor_division"),
]

# Correct solutions written differently: no visible test and no hidden check may call them wrong.
VARIANTS = {{
    "shifted_sine": (
        Edit("sin_solution", _SIN, "self.grad += math.sin(x + math.pi / 2) * out.grad"),
        Edit("mean_solution", "    return sum(xs) / len(xs)",
             "    total = 0.0\\n    for x in xs:\\n        total += x\\n    return total / len(xs)"),
    ),
    "exact_sum": (
        Edit("sin_solution", _SIN, "self.grad = self.grad + out.grad * math.cos(self.data)"),
        Edit("mean_solution", "    return sum(xs) / len(xs)", "    return math.fsum(xs) / len(xs)"),
    ),
}}
'''


def new_assignment(course: Path, name: str, title: str = "a new operator and a function",
                   release_it: bool = True) -> list[Path]:
    """Write a new assignment ``name`` into ``course`` (and the grader's package next to it); the files made.

    ``release_it``: also regenerate its ``release/`` and ``solutions/`` and register it in the
    course's gradebook (``autograder.release``).
    """
    m = NAME.match(name)
    if not m:
        raise AuthoringError(f"{name!r}: an assignment is named like ps5_trig (lower case, a prefix, an underscore "
                             "and a word); the prefix (ps5) names its checks")
    prefix = m.group("prefix")
    package = Path(__file__).resolve().parent
    targets = {"notebook": course / "source" / name / f"{name}.ipynb",
               "checks": package / "checks" / f"{prefix}.py",
               "mutants": package / "mutants" / f"{prefix}.py"}
    taken = [p for p in targets.values() if p.exists()]
    taken += [course / "source" / name] if (course / "source" / name).exists() else []
    taken += [package / "checks" / prefix] if (package / "checks" / prefix).is_dir() else []
    for other in (course / "source").iterdir() if (course / "source").is_dir() else []:
        if other.name != name and other.name.split("_")[0] == prefix:
            taken.append(other)
    if taken:
        raise AuthoringError(f"{name}: exists already, or its prefix {prefix} is taken: "
                             + ", ".join(str(p) for p in taken))
    number = prefix.removeprefix("ps") if prefix.startswith("ps") else prefix
    targets["notebook"].parent.mkdir(parents=True)
    nbformat.write(notebook(name, prefix, title), targets["notebook"])
    targets["checks"].write_text(CHECKS.format(prefix=prefix, number=number))
    targets["mutants"].write_text(MUTANTS.format(name=name, number=number))
    made = list(targets.values())
    table = course / "docs" / "requirements.md"
    if table.is_file():  # the audit of every notebook's requirements, now with this one's
        from autograder.mutants import requirements_markdown

        table.write_text(requirements_markdown())
        made.append(table)
    if release_it:
        from autograder.release import register, release

        release(course, only=[name])
        made += [course / "release" / name, course / "solutions" / name]
        problems = register(course, [name])
        if problems:
            raise AuthoringError("made, but not registered in the gradebook: " + "; ".join(problems))
    return made
