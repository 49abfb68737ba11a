"""Assignment 1 through real nbgrader: what is particular to it (the contract every assignment keeps,
release, solutions, stubs, classic bugs and regrades, is tests/test_assignments.py)."""

from __future__ import annotations

import pytest

from tests.course_helpers import cell, max_points

PS1 = "ps1_operators"
POINTS = max_points(PS1)


@pytest.mark.slow  # a class graded through nbgrader: the contract tier (tests/graded.py)
def test_warnings_on_stderr_do_not_zero_a_cell(graded) -> None:
    g = graded(PS1)
    assert g.first["noisy"] == POINTS
    kernel_saw = cell(g.autograded("noisy"), "mul_test").metadata["zengrad"]["kernel_output_types"]
    assert "stream:stderr" in kernel_saw  # the warning really reached the kernel's stderr
