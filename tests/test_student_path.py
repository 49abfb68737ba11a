"""The student path without a browser: `nbgrader validate` and the public gradcheck helper.

What a student runs is the release folder (notebook + ``gradcheck.py``) in their own
workspace, with no course config next to it. These tests run exactly that: real
``nbgrader validate`` (the CLI, and the ``Validator`` that JupyterLab's Validate button
calls), and the shipped helper on the notebook's own ``Value`` class.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import re
import shutil
import sys
import textwrap
import tokenize
from pathlib import Path
from types import ModuleType

import nbformat
import pytest

from autograder.release import STUB
from tests.course_helpers import REPO, cell, mutate, nbgrader, release_nb, solution_nb

ASSIGNMENT = "ps1_operators"
# grade_id prefix -> Value._op the stub's error names
OPERATORS = {
    "add": "+",
    "mul": "*",
    "pow": "**2",
    "exp": "exp",
    "log": "log",
    "tanh": "tanh",
    "relu": "relu",
    "sigmoid": "sigmoid",
}
STUB_MESSAGE = "not implemented yet: the _backward of {op!r}\n"
REPLACE = "Write it in place of `# YOUR CODE HERE` and `raise NotImplementedError(...)`."


def student_copy(kind: str, tmp_path: Path) -> Path:
    """``release`` or ``solutions`` of ps1 copied into a student workspace (no nbgrader_config.py)."""
    work = tmp_path / "student"
    shutil.copytree(REPO / kind / ASSIGNMENT, work / ASSIGNMENT)
    assert not (work / "nbgrader_config.py").exists()
    return work / ASSIGNMENT


# --- nbgrader validate ----------------------------------------------------------------


def test_validate_release_fails_cleanly_with_not_implemented_messages(tmp_path: Path) -> None:
    folder = student_copy("release", tmp_path)
    proc = nbgrader(folder, "validate", f"{ASSIGNMENT}.ipynb", timeout=300)
    out = proc.stdout
    print(out[:1500])
    # nbgrader validate reports failures on stdout and still exits 0 (stock nbgrader behaviour).
    assert proc.returncode == 0, proc.stderr
    assert "VALIDATION FAILED ON 8 CELL(S)!" in out
    assert out.count("The following cell failed:") == 8
    for op in OPERATORS.values():
        # the CLI cuts lines at 90 columns: the message lines fit
        assert f"GradientCheckError: not implemented yet: the _backward of {op!r}\n" in out, op
    # fails *cleanly*: only the stubs' own message, no crash of the notebook or of nbgrader
    for bad in (
        "NameError",
        "ModuleNotFoundError",
        "ImportError",
        "You did not provide a response",
        "has changed",
        "RuntimeError",
        "hidden check",
    ):
        assert bad not in out, bad
    assert "Traceback" not in proc.stderr and "ERROR" not in proc.stderr, proc.stderr


def test_validate_solutions_passes(tmp_path: Path) -> None:
    folder = student_copy("solutions", tmp_path)
    proc = nbgrader(folder, "validate", f"{ASSIGNMENT}.ipynb", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Success! Your notebook passes all the tests." in proc.stdout, proc.stdout
    assert "VALIDATION FAILED" not in proc.stdout


def test_validate_button_backend_gives_full_messages_and_names_only_the_stubs_left(tmp_path: Path) -> None:
    """The Validator the JupyterLab Validate button calls: full (uncut) errors, one per stub left."""
    from nbgrader.validator import Validator

    folder = student_copy("release", tmp_path)
    done = mutate(
        release_nb(ASSIGNMENT),
        "mul_solution",
        textwrap.indent(STUB, " " * 8).lstrip(),
        "self.grad += other.data * out.grad\n        other.grad += self.data * out.grad",
    )
    nbformat.write(done, folder / f"{ASSIGNMENT}.ipynb")
    result = Validator().validate(str(folder / f"{ASSIGNMENT}.ipynb"))
    failed = result["failed"]
    errors = "\n".join(f["raw_error"] for f in failed)
    assert len(failed) == 7
    for name, op in OPERATORS.items():
        message = STUB_MESSAGE.format(op=op)
        assert (message in errors) == (name != "mul"), name
    assert REPLACE in errors
    assert not any("a * b" in f["source"] for f in failed)
    for f in failed:  # the message comes first, then the student's own line; never the checker's frames
        assert f["raw_error"].startswith("GradientCheckError: not implemented yet: the _backward of "), f["raw_error"]
        assert "gradcheck.py" not in f["raw_error"] and "check_gradients(" in f["raw_error"]


# --- the public gradcheck helper -----------------------------------------------------


def load_gradcheck() -> ModuleType:
    path = REPO / "release" / ASSIGNMENT / "gradcheck.py"
    spec = importlib.util.spec_from_file_location("student_gradcheck", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def notebook_namespace(nb, gradcheck: ModuleType, *grade_ids: str) -> dict:
    """Run the notebook's setup + ``value_class`` cells and the given cells, as the kernel would."""
    ns: dict = {"__name__": "__main__"}
    exec("import math", ns)
    ns.update(check_gradients=gradcheck.check_gradients, numerical_derivative=gradcheck.numerical_derivative)
    for grade_id in ("value_class", *grade_ids):
        exec(cell(nb, grade_id).source, ns)
    return ns


SOLVED = tuple(f"{name}_solution" for name in OPERATORS)


@pytest.fixture(scope="module")
def gradcheck() -> ModuleType:
    return load_gradcheck()


def test_helper_is_the_shipped_public_copy_and_holds_no_reference_code(gradcheck: ModuleType) -> None:
    text = (REPO / "release" / ASSIGNMENT / "gradcheck.py").read_text()
    assert text == (REPO / "autograder" / "public" / "gradcheck.py").read_text()
    assert text == (REPO / "solutions" / ASSIGNMENT / "gradcheck.py").read_text()
    # it never computes a gradient itself: no derivative formula, no import of the grader or reference
    assert not re.search(r"\.grad\s*\+=", text)
    imported = {
        alias.name if isinstance(node, ast.Import) else node.module
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"__future__", "math", "collections.abc", "__main__", "inspect", "re", "sys", "textwrap",
                        "types"}, imported  # the standard library only
    # its hints may name a formula in words; its code (strings and comments left out) never computes one
    code = " ".join(tok.string for tok in tokenize.generate_tokens(io.StringIO(text).readline)
                    if tok.type not in (tokenize.STRING, tokenize.COMMENT, getattr(tokenize, "FSTRING_MIDDLE", -1)))
    for formula in ("math . tanh", "math . exp", "math . log", "1 - t"):
        assert formula not in code, formula
    assert "1 - t" in text  # the hint that names it is still there: the scan above looks at code only


@pytest.mark.parametrize("name", list(OPERATORS))
def test_stub_says_not_implemented_yet(gradcheck: ModuleType, name: str) -> None:
    ns = notebook_namespace(release_nb(ASSIGNMENT), gradcheck, f"{name}_solution")
    expr = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "pow": lambda a: a**2}.get(
        name, lambda a: getattr(a, name)()
    )
    inputs = [2.0, -3.0] if name in ("add", "mul") else [0.5]
    with pytest.raises(gradcheck.GradientCheckError) as err:
        gradcheck.check_gradients(expr, inputs, value_cls=ns["Value"])
    assert isinstance(err.value, AssertionError)  # a failing test cell, as nbgrader expects
    message = str(err.value)
    assert message.startswith(STUB_MESSAGE.format(op=OPERATORS[name]))
    assert REPLACE in message


def test_wrong_gradient_names_the_operation_and_shows_the_local_derivative(gradcheck: ModuleType) -> None:
    # b's gradient forgets the chain rule (no * out.grad); a's is right
    nb = mutate(
        solution_nb(ASSIGNMENT), "mul_solution", "other.grad += self.data * out.grad", "other.grad += self.data"
    )
    ns = notebook_namespace(nb, gradcheck, "mul_solution")
    with pytest.raises(gradcheck.GradientCheckError) as err:
        gradcheck.check_gradients(lambda a, b: a * b, [2.0, -3.0], value_cls=ns["Value"])
    message = str(err.value)
    print(message)
    assert message.split("\n") == [
        "wrong gradient from the _backward of '*'",
        "  at a = 2.0, b = -3.0, with out.grad = 1.5",
        "  b.grad = 2.0, expected 3.0",
        "  local derivative b.grad / out.grad: yours 1.33333, expected 2.0",
        "  hint: out.grad is missing: multiply your local derivative by it (chain rule)",
    ]


def test_value_used_twice_is_caught_when_grad_is_overwritten(gradcheck: ModuleType) -> None:
    nb = mutate(
        solution_nb(ASSIGNMENT),
        "mul_solution",
        "other.grad += self.data * out.grad",
        "other.grad = self.data * out.grad",
    )  # overwrites instead of accumulating
    ns = notebook_namespace(nb, gradcheck, "mul_solution")
    gradcheck.check_gradients(lambda a, b: a * b, [2.0, -3.0], value_cls=ns["Value"])  # still fine
    with pytest.raises(gradcheck.GradientCheckError) as err:
        gradcheck.check_gradients(lambda a: a * a, [3.0], value_cls=ns["Value"])
    assert "  a.grad = 4.5, expected 9.0\n" in str(err.value)
    assert "hint: a is used twice but kept only 1 contribution: use +=, not =" in str(err.value)


def test_students_own_expression_with_full_backward(gradcheck: ModuleType, capsys) -> None:
    ns = notebook_namespace(solution_nb(ASSIGNMENT), gradcheck, *SOLVED)
    gradcheck.check_gradients(
        lambda a, b: (a * b + b**2).sigmoid() / (1 + a.exp()), [0.5, -1.5], full=True, value_cls=ns["Value"]
    )
    gradcheck.check_gradients(  # the inputs are named after the lambda's own arguments
        lambda x, y, z: (x * y - z / y).tanh() + (x * x).log(), [1.2, -0.7, 2.0], full=True, value_cls=ns["Value"]
    )
    gradcheck.check_gradients(lambda a: a * 2, [1.0], names="q", value_cls=ns["Value"])
    out = capsys.readouterr().out
    assert "ok: gradients match at a = 0.5, b = -1.5" in out
    assert "ok: gradients match at x = 1.2, y = -0.7, z = 2.0" in out
    assert "ok: gradients match at q = 1.0" in out

    # a bug deep inside an expression: tanh's local derivative uses 1 - t instead of 1 - t**2
    buggy = mutate(solution_nb(ASSIGNMENT), "tanh_solution", "(1 - t**2)", "(1 - t)")
    ns = notebook_namespace(buggy, gradcheck, *SOLVED)
    with pytest.raises(gradcheck.GradientCheckError) as err:
        gradcheck.check_gradients(lambda x, y: (x * y).tanh(), [1.2, -0.7], full=True, value_cls=ns["Value"])
    message = str(err.value)
    assert message.startswith("wrong gradient from the _backward of 'tanh'\n  after backward() at x = 1.2, y = -0.7\n")
    assert "  on its own at self.data = -0.84, with out.grad = 1.5:\n" in message
    assert message.endswith("  hint: yours is 1 - out.data; the numerical one is 1 - out.data**2")


def test_value_is_found_in_the_notebook_namespace(gradcheck: ModuleType, monkeypatch, capsys) -> None:
    """In the notebook, ``Value`` lives in the kernel's ``__main__``: no ``value_cls`` needed."""
    main = sys.modules["__main__"]
    monkeypatch.delattr(main, "Value", raising=False)
    with pytest.raises(gradcheck.GradientCheckError, match="no class named Value is defined yet: run the cells above"):
        gradcheck.check_gradients(lambda a: a * 2, [1.0])
    ns = notebook_namespace(solution_nb(ASSIGNMENT), gradcheck, *SOLVED)
    monkeypatch.setattr(main, "Value", ns["Value"], raising=False)
    gradcheck.check_gradients(lambda a: a * 2, [1.0])
    assert "ok: gradients match at a = 1.0" in capsys.readouterr().out
