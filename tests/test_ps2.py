"""Assignment 2 through real nbgrader: what is particular to it (the contract every assignment keeps is
tests/test_assignments.py): its points, its timeout and recursion messages, its minimal examples."""

from __future__ import annotations

import pytest

from autograder.checks.ps2 import LADDER_CPU
from autograder.mutants.ps2 import MUTANTS
from tests.course_helpers import cell, max_points
from tests.graded import student

PS2 = "ps2_backprop"
POINTS = max_points(PS2)


def test_points() -> None:
    assert POINTS == {"topo_test": 3, "deep_test": 1, "backward_test": 3, "zero_grad_test": 1}


def hidden_messages(g, name: str) -> dict[str, str]:
    """grade_id -> the hidden check's verdict text in the autograded notebook."""
    nb = g.autograded(name)
    out = {}
    for grade_id in POINTS:
        outputs = cell(nb, grade_id).outputs
        errors = [o.evalue for o in outputs if o.output_type == "error"]
        out[grade_id] = errors[-1] if errors else "".join(o.get("text", "") for o in outputs)
    return out


def verdicts(g, name: str) -> dict[str, dict]:
    return {v["check_id"]: v for v in g.autograded(name).metadata["zengrad"]["verdicts"]}


@pytest.mark.slow  # a class graded through nbgrader: the contract tier (tests/graded.py)
def test_the_solution_is_checked_by_its_four_checks_quickly(graded) -> None:
    timings = verdicts(graded(PS2), "perfect")
    assert set(timings) == {"ps2.topo", "ps2.deep", "ps2.backward", "ps2.zero_grad"}
    assert all(v["passed"] for v in timings.values())
    assert sum(v["seconds"] for v in timings.values()) < 30  # ~2.5 s on a quiet machine


@pytest.mark.slow  # a class graded through nbgrader: the contract tier (tests/graded.py)
def test_missing_visited_set_is_a_bounded_timeout_with_a_clear_message(graded) -> None:
    topo = verdicts(graded(PS2), student("dedup_without_visited"))["ps2.topo"]
    assert topo["reason"] == "timeout"
    assert "2**30 paths" in topo["message"] and "visited" in topo["message"]
    assert topo["message"].count("too slow") == 1 and "CPU seconds" in topo["message"]
    assert topo["seconds"] < 5 * LADDER_CPU + 10  # a CPU budget; wall time only bounded by the backstop


@pytest.mark.slow  # a class graded through nbgrader: the contract tier (tests/graded.py)
def test_deep_chain_explains_the_recursion_error(graded) -> None:
    g = graded(PS2)
    deep = verdicts(g, student("recursive_sort"))["ps2.deep"]
    assert not deep["passed"]
    assert "RecursionError" in deep["message"] and "explicit stack" in deep["message"]
    assert verdicts(g, "perfect")["ps2.deep"]["passed"]


def test_minimal_examples_name_the_graph_and_both_results() -> None:
    """Each classic bug's hidden-check message, in process (the same checks nbgrader's pipeline runs)."""
    from tests.fast_grading import grade_fast, hidden_checks

    checks = hidden_checks(PS2)

    def messages_of(name: str) -> dict[str, str]:
        verdicts = grade_fast(PS2, MUTANTS[name])
        return {grade_id: " ".join(verdicts[c].message for c in ids if not verdicts[c].passed)
                for grade_id, ids in checks.items()}

    named = ("recursive_backward", "not_seeding", "seeding_after_walk", "no_visited_set", "reversed_order",
             "walk_not_reversed",
             "zero_grad_skips_leaves", "returns_generator", "visited_flag_on_nodes", "seed_accumulates")
    messages = {student(name): messages_of(name) for name in named}
    assert messages["recursive-backward"]["backward_test"].endswith(
        "On `a = Value(3.0); n1 = a + a; out = n1 + n1`, after out.backward() your a.grad = 8.0, expected 4.0 "
        "(call every node's _backward exactly once, in reverse topological order).")
    assert "your a.grad = 0.0, expected 1.0 (seed the root" in messages["not-seeding"]["backward_test"]
    assert "set the seed out.grad = 1.0 first" in messages["seeding-after-walk"]["backward_test"]
    assert "the walk went inputs first" in messages["walk-not-reversed"]["backward_test"]
    assert "a appears 5 times" in messages["no-visited-set"]["topo_test"]
    assert "returned [out, n3, n2, n1, a]" in messages["reversed-order"]["topo_test"]
    assert "leaves included" in messages["zero-grad-skips-leaves"]["zero_grad_test"]
    assert "returned a generator, expected a list" in messages["returns-generator"]["topo_test"]
    assert "called a second time, returned []" in messages["visited-flag-on-nodes"]["topo_test"]
    assert "do not add to the grad it holds" in messages["seed-accumulates"]["backward_test"]
