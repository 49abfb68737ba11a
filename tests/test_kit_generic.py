"""The kit's generic checks (``autograder/checks/kit/generic.py``) on small student code, in process.

``function_check`` and ``module_check`` are what a new assignment calls instead of writing a check;
here they pass correct code and fail each classic bug with the message a student would read.
(``one_input_check`` and ``unary_check`` are ps4's and ps1's: ``tests/test_mutants.py`` grades them.)
"""

from __future__ import annotations

import math

import pytest
from hypothesis import strategies as st

import zengrad_ref
from autograder.checks.kit import CheckFailure, ReferenceEngine
from autograder.checks.kit.generic import ModuleCase, function_check, module_check
from autograder.checks.kit.operators import formula_operator
from autograder.checks.kit.strategies import NUMBERS

MEAN = function_check("kittest", "mean", lambda xs: sum(xs) / len(xs), st.tuples(st.lists(NUMBERS, min_size=1,
                                                                                           max_size=5)),
                      examples=10, regression=[([1.0, 2.0, 6.0],)],
                      bugs={"divide by len(xs), not len(xs) - 1": lambda xs: sum(xs) / (len(xs) - 1)})
SPLIT = function_check("kittest", "split", lambda x: [math.floor(x), x - math.floor(x)],
                       st.tuples(NUMBERS), examples=10)


def engine(**names: object) -> ReferenceEngine:
    return ReferenceEngine({"Value": zengrad_ref.Value, **names})


def failure(check, eng: ReferenceEngine) -> str:
    with pytest.raises(CheckFailure) as caught:
        check(eng)
    return caught.value.message


def test_function_check_passes_a_correct_function_and_names_a_replayed_bug() -> None:
    MEAN(engine(mean=lambda xs: math.fsum(xs) / len(xs)))
    message = failure(MEAN, engine(mean=lambda xs: sum(xs) / max(len(xs) - 1, 1)))
    assert message.startswith("mean([") and "(divide by len(xs), not len(xs) - 1)" in message, message
    assert failure(MEAN, engine(mean=lambda xs: str(sum(xs)))).endswith("returned a str, expected a number")


def test_function_check_of_a_list_result_wants_a_list_of_numbers() -> None:
    SPLIT(engine(split=lambda x: [float(math.floor(x)), x - math.floor(x)]))
    assert "returned a tuple, expected a list of 2 numbers" in failure(
        SPLIT, engine(split=lambda x: (math.floor(x), x - math.floor(x))))
    assert "expected [" in failure(SPLIT, engine(split=lambda x: [x, 0.0]))


class Line:
    """A student's module: score = w * x + b."""

    def __init__(self) -> None:
        self.w, self.b = zengrad_ref.Value(0.5), zengrad_ref.Value(0.0)

    def __call__(self, x: float) -> zengrad_ref.Value:
        return self.w * x + self.b

    def parameters(self) -> list:
        return [self.w, self.b]


LINE = module_check("kittest", "Line", lambda args: [("w", None), ("b", None)], lambda ws, x: ws[0] * x + ws[1],
                    st.builds(ModuleCase, st.just(()), st.tuples(NUMBERS, NUMBERS), NUMBERS), examples=8,
                    regression=[ModuleCase((), (2.0, -1.0), 3.0)])


def test_module_check_passes_a_correct_module_and_fails_each_classic_bug() -> None:
    LINE(engine(Line=Line))

    class Copies(Line):
        def parameters(self) -> list:
            return [zengrad_ref.Value(self.w.data), zengrad_ref.Value(self.b.data)]

    class Detached(Line):
        def __call__(self, x: float) -> zengrad_ref.Value:
            return zengrad_ref.Value(self.w.data * x) + self.b

    class Swapped(Line):
        def parameters(self) -> list:
            return [self.b, self.w]

    class Grows(Line):
        def parameters(self) -> list:
            self.kept = [*getattr(self, "kept", []), self.w, self.b]  # a list that grows at every call
            return self.kept

    assert "Line().parameters() returned new Values" in failure(LINE, engine(Line=Copies))
    assert "after backward(), w.grad = 0.0" in failure(LINE, engine(Line=Detached))
    assert "Line().parameters()[0] is b, expected w" in failure(LINE, engine(Line=Swapped))
    assert "Values the second time, expected 2" in failure(LINE, engine(Line=Grows))


def test_a_formula_operator_is_known_to_the_reference_and_keeps_an_existing_one() -> None:
    op = formula_operator("kittest_cube", lambda x: x ** 3, lambda x: 3 * x * x)
    a = zengrad_ref.Value(2.0)
    out = a.kittest_cube()
    out.grad = 1.5
    out._backward()
    assert (out.data, a.grad, op.derivative(2.0)) == (8.0, 18.0, 12.0)
    tanh = zengrad_ref.Value.tanh
    formula_operator("tanh", math.tanh, lambda x: 0.0)  # zengrad_ref's own tanh stays
    assert zengrad_ref.Value.tanh is tanh
