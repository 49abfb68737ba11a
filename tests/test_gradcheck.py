"""The public gradcheck helper: ``diagnose`` (the classic slips, from numbers) and what a failing test cell shows.

``diagnose`` is pure and stdlib-only: the hidden checks reuse it for their feedback, so its
hints are pinned here one by one. The cell outputs are rendered by a real IPython shell, as in
a notebook and in the Validate dialog: the message first, then the student's own line, never
the checker's frames.
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
import textwrap
from types import ModuleType

import pytest

from autograder.mutants import catalogue
from autograder.release import STUB
from tests.course_helpers import REPO, cell, mutate, solution_nb

PS1 = "ps1_operators"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def load_gradcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gradcheck", REPO / "autograder" / "public" / "gradcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gc = load_gradcheck()
diagnose = gc.diagnose


# --- diagnose: one pattern at a time ----------------------------------------------------


def test_right_answers_and_unrecognised_numbers_give_no_hint() -> None:
    assert diagnose(4.5, 4.5, 1.5) is None
    assert diagnose(4.5, 4.5 + 1e-9, 1.5) is None
    assert diagnose(1.234, 4.5, 1.5) is None
    assert diagnose(math.inf, math.inf) is None


def test_nothing_added() -> None:
    assert diagnose(0.0, 1.5, 1.5, name="b") == "your _backward adds nothing to b.grad (it should add 1.5)"
    assert diagnose(0.5, 2.0, 1.5, 0.5, name="b") == "your _backward adds nothing to b.grad (it should add 1.5)"


def test_a_gradient_held_before_and_overwritten() -> None:
    # a.grad was 0.5; the contribution -4.5 replaced it instead of being added to it
    assert diagnose(-4.5, -4.0, 1.5, 0.5, name="a") == (
        "a.grad held 0.5 and lost it: add to it (+=), do not assign (=)")


def test_a_reused_input_that_kept_one_contribution() -> None:
    assert diagnose(4.5, 9.0, 1.5, uses=2, name="a") == "a is used twice but kept only 1 contribution: use +=, not ="
    assert diagnose(2.0, 6.0, 1.0, uses=3, name="x") == "x is used 3 times but kept only 1 contribution: use +=, not ="
    assert diagnose(4.0, 6.0, 1.0, uses=3, name="x") == "x is used 3 times but kept only 2 contributions: use +=, not ="


def test_the_chain_rule_factor_missing_or_twice() -> None:
    assert diagnose(1.0, 1.5, 1.5) == "out.grad is missing: multiply your local derivative by it (chain rule)"
    assert diagnose(0.25 + 2.0, 0.25 + 3.0, 1.5, 0.25) == (
        "out.grad is missing: multiply your local derivative by it (chain rule)")
    assert diagnose(2.0, 3.25, 1.5, 0.25) == (  # the factor missing, and what a.grad held overwritten
        "out.grad is missing (chain rule), and = replaced what the gradient held (use +=)")
    assert diagnose(2.25, 1.5, 1.5) == "out.grad is multiplied in twice: once is the chain rule"
    assert diagnose(1.0, 1.0 * 1.0 + 0.0, 1.0) is None  # out.grad = 1 cannot tell


def test_the_sign_flipped() -> None:
    assert diagnose(-3.0, 3.0, 1.5) == "the sign is flipped"


def test_a_local_derivative_of_the_wrong_form() -> None:
    # tanh at 0.5 with out.grad = 1.5: 1 - t instead of 1 - t**2
    t = math.tanh(0.5)
    seen = {"self.data": 0.5, "out.data": t}
    assert diagnose(1.5 * (1 - t), 1.5 * (1 - t * t), 1.5, values=seen) == (
        "yours is 1 - out.data; the numerical one is 1 - out.data**2")
    # log at 2.0: x instead of 1 / x
    assert diagnose(1.5 * 2.0, 1.5 * 0.5, 1.5, values={"self.data": 2.0, "out.data": math.log(2.0)}) == (
        "yours is self.data; the numerical one is 1 / self.data")


def test_the_right_formula_at_the_wrong_point() -> None:
    s = 1 / (1 + math.exp(-0.3))  # sigmoid at 0.3: x * (1 - x) instead of s * (1 - s)
    seen = {"self.data": 0.3, "out.data": s}
    assert diagnose(1.5 * 0.3 * 0.7, 1.5 * s * (1 - s), 1.5, values=seen) == (
        "yours is self.data * (1 - self.data): use out.data, not self.data")
    # a * b: a's local derivative is b, not a
    assert diagnose(1.5 * 2.0, 1.5 * -3.0, 1.5, values={"self.data": 2.0, "other.data": -3.0, "out.data": -6.0}) == (
        "yours is self.data: use other.data, not self.data")


def test_a_coincidence_gives_no_form_hint() -> None:
    # tanh at 0.881374: t = 0.7071, so 1 - t**2 = t**2 = 0.5: the numerical one reads two ways
    x = math.atanh(math.sqrt(0.5))
    t = math.tanh(x)
    assert diagnose(1.5 * (1 - t), 1.5 * 0.5, 1.5, values={"self.data": x, "out.data": t}) is None


def test_off_by_a_factor_of_the_input() -> None:
    # a ** 2 at 3.0: n * a ** n instead of n * a ** (n - 1)
    assert diagnose(1.5 * 18.0, 1.5 * 6.0, 1.5, values={"self.data": 3.0, "out.data": 9.0}) == (
        "yours is self.data (3.0) times too large: an exponent off by one?")


def test_not_a_number_and_not_finite() -> None:
    assert diagnose(object(), 1.5, name="a").startswith("a.grad is a object, not a number")
    assert diagnose(math.inf, 1.5, name="a") == (
        "a.grad is inf: an overflow? compute the local derivative from out.data")
    assert diagnose(math.nan, 1.5, name="a").startswith("a.grad is nan")


def test_diagnose_is_pure_and_documented() -> None:
    import inspect

    sig = inspect.signature(diagnose)
    assert list(sig.parameters) == ["got", "expected", "upstream", "initial", "uses", "name", "values"]
    assert [p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY] == ["uses", "name", "values"]
    assert "diagnose" in gc.__all__ and len(diagnose.__doc__) > 500


# --- what a failing test cell shows, rendered by IPython --------------------------------


@pytest.fixture
def shell(monkeypatch):
    """A real IPython shell whose tracebacks are captured as the notebook would show them."""
    from IPython.core.interactiveshell import InteractiveShell

    shown: list[str] = []
    sh = InteractiveShell.instance()
    monkeypatch.setattr(sh, "_showtraceback", lambda etype, evalue, stb: shown.append(ANSI.sub("", "\n".join(stb))))
    monkeypatch.syspath_prepend(str(REPO / "solutions" / PS1))
    monkeypatch.delitem(sys.modules, "gradcheck", raising=False)
    sh.shown = shown
    yield sh
    InteractiveShell.clear_instance()


def run_cells(sh, nb, *grade_ids: str) -> None:
    for grade_id in ("setup", "value_class", *grade_ids):
        sh.run_cell(cell(nb, grade_id).source)


def cell_output(mutant: str, test: str, sh) -> str:
    m = catalogue()[PS1][mutant]
    nb = mutate(solution_nb(PS1), m.cell, m.old, m.new)
    run_cells(sh, nb, m.cell)
    sh.shown.clear()
    sh.run_cell(cell(nb, test).source)
    (out,) = sh.shown
    return out


def test_mul_overwrites_in_its_test_cell(shell) -> None:
    out = cell_output("mul_overwrites", "mul_test", shell)
    print(out)
    assert out.split("\n")[:5] == [
        "GradientCheckError: wrong gradient from the _backward of '*'",
        "  at a = 2.0, b = -3.0, with out.grad = 1.5",
        "  (before: a.grad = 0.5, b.grad = -1.0)",
        "  a.grad = -4.5, expected -4.0",
        "  hint: a.grad held 0.5 and lost it: add to it (+=), do not assign (=)",
    ]
    rest = out.split("\n", 5)[5]
    assert "----> 4 check_gradients(lambda a, b: a * b, [2.0, -3.0], initial=[0.5, -1.0])" in rest  # the student's line
    assert "gradcheck" not in rest and "Traceback" not in rest and "hidden" not in rest


def test_tanh_one_minus_t_in_its_test_cell(shell) -> None:
    out = cell_output("tanh_one_minus_t", "tanh_test", shell)
    print(out)
    assert out.split("\n")[:6] == [
        "GradientCheckError: wrong gradient from the _backward of 'tanh'",
        "  at a = 0.5, with out.grad = 1.5",
        "  a.grad = 0.806824, expected 1.17967",
        "  local derivative a.grad / out.grad: yours 0.537883, expected 0.786448",
        "  hint: yours is 1 - out.data; the numerical one is 1 - out.data**2",
        "",
    ]
    assert "----> 1 check_gradients(lambda a: a.tanh(), [0.5])" in out


def test_every_message_line_fits_the_output_area(shell) -> None:
    for name, m in catalogue()[PS1].items():
        if m.cell == "relu_solution" and name == "relu_at_zero":
            continue  # the notebook's own assert, not gradcheck
        out = cell_output(name, m.cell.replace("_solution", "_test"), shell)
        message = out.split("\n\n")[0]
        assert message.startswith("GradientCheckError: "), (name, out)
        assert max(len(line) for line in message.split("\n")) <= gc.WIDTH, (name, message)


def test_a_stub_deep_in_an_expression_is_named(shell) -> None:
    """With ** still a stub, (a ** 2).tanh() names '**2', not the last operation."""
    from tests.course_helpers import release_nb

    stub = textwrap.indent(STUB, " " * 8)
    nb = mutate(release_nb(PS1), "tanh_solution", stub, "        self.grad += (1 - t**2) * out.grad")
    run_cells(shell, nb, "pow_solution", "tanh_solution")
    shell.run_cell("check_gradients(lambda a: (a ** 2).tanh(), [0.5], full=True)")
    (out,) = shell.shown
    lines = out.split("\n")
    assert lines[:2] == [
        "GradientCheckError: not implemented yet: the _backward of '**2'",
        "  Write it in place of `# YOUR CODE HERE` and `raise NotImplementedError(...)`.",
    ]
    assert "raise NotImplementedError(\"not implemented yet" in out  # the stub's own line is shown
    assert "gradcheck.py" not in out


def test_an_error_in_the_students_forward_pass_comes_first_with_the_inputs_and_hides_the_checkers_frames(shell) -> None:
    run_cells(shell, solution_nb(PS1), "log_solution")
    shell.run_cell("check_gradients(lambda a: a.log(), [-1.0])")
    (out,) = shell.shown
    print(out)
    assert out.split("\n")[:3] == ["GradientCheckError: your expression raised ValueError",
                                   "  log is only defined for positive numbers, got log(-1.0)",
                                   "  at a = -1.0, with out.grad = 1.5"]
    assert 'raise ValueError(f"log is only defined' in out  # the student's own line that raised
    assert "def check_gradients" not in out and "numerical_derivative" not in out and "Traceback" not in out


def test_a_stub_shows_the_message_the_cells_line_and_the_stubs_line_once(shell) -> None:
    from tests.course_helpers import release_nb

    run_cells(shell, release_nb(PS1), "add_solution")
    shell.run_cell(cell(release_nb(PS1), "add_test").source)
    (out,) = shell.shown
    print(out)
    assert out.startswith("GradientCheckError: not implemented yet: the _backward of '+'\n")
    assert out.count("NotImplementedError") == 2  # the message's second line and the stub's own line
    assert "----> 1 check_gradients(lambda a, b: a + b, [2.0, -3.0])" in out
    assert "direct cause" not in out and "hidden" not in out and "Traceback" not in out


def test_overwrite_that_reads_as_nothing_added_and_a_gradient_passed_through_a_zero_out_grad() -> None:
    # a.grad held 1.0, the operation should add 1.0, and `=` wrote 1.0: both slips give 1.0
    assert diagnose(1.0, 2.0, 1.0, 1.0, name="a") == "a.grad is still 1.0: add this operation's 1.0 to it (+=, not =)"
    assert diagnose(1.0, 0.0, 0.0, name="a").startswith("out.grad is 0 here, so nothing may reach a.grad")


@pytest.mark.parametrize(("mutant", "words"), [
    ("mul_overwrites", "(a.grad held 1.0 and lost it: add to it (+=), do not assign (=))"),
    ("add_overwrites", "(a.grad is still 1.0: add this operation's 1.0 to it (+=, not =))"),
    ("add_no_chain_rule", "(out.grad is 0 here, so nothing may reach a.grad"),
    ("mul_no_chain_rule", "(out.grad is 0 here, so nothing may reach b.grad"),  # (a * b) * c: the inner out.grad
    ("exp_no_chain_rule", "(out.grad is missing: multiply your local derivative by it (chain rule))"),
    ("log_wrong", "(yours is self.data; the numerical one is 1 / self.data)"),
])
def test_the_hidden_checks_name_a_bug_in_the_visible_tests_words(mutant: str, words: str) -> None:
    from tests.fast_grading import grade_fast

    failed = [v.message for v in grade_fast("ps1_operators", catalogue()["ps1_operators"][mutant]).values()
              if not v.passed]
    assert len(failed) == 1 and words in failed[0], failed


# --- messages that teach: a requirement named first, then what the student's code did ----------------


def output_of(sh, assignment: str, mutant: str, test: str) -> str:
    """What a test cell of ``assignment`` shows, run after every cell before it, with ``mutant`` applied."""
    m = catalogue()[assignment][mutant]
    nb = mutate(solution_nb(assignment), m.cell, m.old, m.new)
    sys.path.insert(0, str(REPO / "solutions" / assignment))
    try:
        for c in nb.cells:
            grade_id = c.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id == test:
                break
            if c.cell_type == "code" and grade_id not in ("training_demo", "plot"):
                sh.run_cell(c.source)  # test cells too: a later one may use what an earlier one defines
        sh.shown.clear()
        sh.run_cell(cell(nb, test).source)
    finally:
        sys.path.remove(str(REPO / "solutions" / assignment))
    (out,) = sh.shown
    print(out)
    return out


def test_an_overflow_inside_a_test_names_the_requirement_and_the_students_line(shell) -> None:
    out = output_of(shell, "ps4_extend", "ce_max_not_subtracted", "cross_entropy_test")
    lines = out.split("\n")
    assert lines[0].startswith("RequirementError: cross_entropy is finite for logits of +-1000: subtract")
    assert "  your code raised OverflowError: math range error" in lines[:4]
    assert any(line.startswith("  hint: math.exp overflows") for line in lines[:6])
    assert "exps = [math.exp(z) for z in zs]" in out  # the student's line that raised
    assert "gradcheck" not in out and "Traceback" not in out and "__exit__" not in out


def test_the_wrong_error_for_a_domain_names_the_requirement_not_the_tests_except_line(shell) -> None:
    out = output_of(shell, "ps4_extend", "pow_no_domain_check", "pow_test")
    assert out.split("\n")[:4] == [
        "RequirementError: a ** b with a Value exponent needs a base > 0: raise a",
        "  ValueError that shows the base",
        "  Value(-2.5) ** Value(0.5) raised TypeError: float() argument must be a string",
        "    or a real number, not 'complex'",
    ]
    assert "  expected ValueError" in out and "hint: check self.data <= 0 first" in out
    assert "except ValueError" not in out and "def raises" not in out


def test_an_overflow_in_softplus_is_not_told_to_use_the_output(shell) -> None:
    out = output_of(shell, "ps4_extend", "softplus_naive_sigmoid_overflows", "softplus_test")
    assert out.startswith("GradientCheckError: the _backward of 'softplus' raised OverflowError")
    assert "out.data" not in out.split("\n\n")[0] and "at the input x" in out


def test_softplus_at_the_output_gets_the_notebooks_words(shell) -> None:
    out = output_of(shell, "ps4_extend", "softplus_wrong_point", "softplus_test")
    assert "hint: yours is the derivative at the output out.data; the notebook's formula" in out


def test_an_optimizer_that_differs_by_eps_placement_is_told_so(shell) -> None:
    out = output_of(shell, "ps4_extend", "adam_eps_inside_sqrt", "adam_test")
    assert out.split("\n")[:5] == [
        "RequirementError: Adam(lr=0.1): after step 1 the data is [0.9000000005,",
        "  -0.400000000125], expected [0.900000001, -0.4000000005]",
        "  they differ by 5.0e-10: more than rounding (the tolerance is 1e-12)",
        "  hint: eps goes outside the square root: sqrt(v_hat) + eps",
        "",
    ]


def test_a_training_loop_is_told_where_the_losses_part_and_why(shell) -> None:
    out = output_of(shell, "ps3_mlp", "train_no_zero_grad", "train_test")
    first = out.split("\n\n")[0]
    assert "steps 0..1 match; the loss of step 2 is 0.6024358333333333" in " ".join(first.split())
    assert "hint: model.zero_grad() before loss.backward()" in first
    out = output_of(shell, "ps3_mlp", "train_lr_off_by_one", "train_test")
    assert "(k, not k + 1)" in out.split("\n\n")[0]


def test_a_sort_without_a_visited_set_shows_the_message_without_the_harness(shell) -> None:
    out = output_of(shell, "ps2_backprop", "dedup_without_visited", "topo_test")
    assert out.startswith("RequirementError: topological_sort read the inputs (_prev) of a 17-node graph\n")
    assert "hint: mark each node visited when you first reach it" in out.split("\n\n")[0]
    assert "def _prev" not in out and "CountingValue.reads" not in out and "Traceback" not in out
    assert "for child in node._prev:" in out  # the student's line that reads the inputs again


def test_backward_in_forward_order_gets_an_order_hint(shell) -> None:
    out = output_of(shell, "ps2_backprop", "walk_not_reversed", "backward_test")
    assert "hint: a.grad is 0.0: b's _backward ran before b had its gradient" in out


def test_check_steps_names_a_length_mismatch_and_passes_equal_sequences() -> None:
    gc.check_steps("train", [1.0, 2.0], [1.0, 2.0 + 1e-13])
    with pytest.raises(gc.RequirementError, match="expected 2 steps, got 3 steps"):
        gc.check_steps("train", [1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(gc.RequirementError, match="hint: later"):
        gc.check_steps("train", [1.0, 2.5], [1.0, 2.0], causes=("first", "later"))


def test_raises_and_requirement_pass_through_what_they_should() -> None:
    error = gc.raises(ValueError, lambda: int("x"), "int('x')", "int of a word raises ValueError")
    assert isinstance(error, ValueError)
    with pytest.raises(gc.RequirementError, match="raised nothing: it returned 1"):
        gc.raises(ValueError, lambda: 1, "one", "must raise")
    with pytest.raises(gc.RequirementError, match="^the test's own$"), gc.requirement("anything"):
        raise AssertionError("the test's own")  # the test's own message, shown first
    explained = gc.GradientCheckError("explained already")
    with pytest.raises(gc.GradientCheckError) as caught, gc.requirement("anything"):
        raise explained
    assert caught.value is explained
    with pytest.raises(gc.RequirementError, match="a requirement\n  your code raised KeyError: 'k'"), \
            gc.requirement("a requirement"):
        {}["k"]
