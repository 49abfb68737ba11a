"""Assignment 2 end to end through real nbgrader: release, solutions, stubs, classic bugs."""

from __future__ import annotations

import pytest

from autograder.checks.ps2 import LADDER_CPU
from autograder.mutants.ps2 import MUTANTS
from autograder.release import STUB, release
from tests.course_helpers import REPO, cell, max_points, mutate, release_nb, solution_nb

PS2 = "ps2_backprop"
POINTS = max_points(PS2)
STUB_RAISE = STUB.split("\n")[1]  # the stub's raise line (the given Value of ps1 raises too)


def student(name: str) -> str:
    return name.replace("_", "-")


def test_release_and_solutions_are_regenerated_exactly() -> None:
    assert release(check_only=True, only=[PS2]) == []


def test_release_has_no_hidden_tests_or_solutions() -> None:
    text = (REPO / "release" / PS2 / f"{PS2}.ipynb").read_text()
    assert "HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
    assert "ps2.topo" not in text and "stack.append((node, True))" not in text
    assert "for node in reversed(topo)" not in text
    stubs = [c for c in release_nb(PS2).cells if c.cell_type == "code" and STUB_RAISE in c.source]
    assert len(stubs) == 3
    solutions = solution_nb(PS2)
    assert not [c for c in solutions.cells if c.cell_type == "code" and STUB_RAISE in c.source]
    assert "HIDDEN TESTS" not in str(solutions) and "BEGIN SOLUTION" not in str(solutions)


def test_points() -> None:
    assert POINTS == {"topo_test": 3, "deep_test": 1, "backward_test": 3, "zero_grad_test": 1}


def hidden_messages(course, name: str) -> dict[str, str]:
    """grade_id -> the hidden check's verdict text in the autograded notebook."""
    nb = course.autograded(name, PS2)
    out = {}
    for grade_id in POINTS:
        outputs = cell(nb, grade_id).outputs
        errors = [o.evalue for o in outputs if o.output_type == "error"]
        out[grade_id] = errors[-1] if errors else "".join(o.get("text", "") for o in outputs)
    return out


@pytest.fixture(scope="module")
def graded_class(course_template, tmp_path_factory):
    """Perfect, stub and every mutant, graded twice, each time by one stock `nbgrader autograde` run."""
    course = course_template.copy_to(tmp_path_factory.mktemp("ps2") / "course")
    course.submit("perfect", PS2, solution_nb(PS2))
    course.submit("stub", PS2, release_nb(PS2))
    for name, (grade_id, old, new, _) in MUTANTS.items():
        course.submit(student(name), PS2, mutate(solution_nb(PS2), grade_id, old, new))
    names = ["perfect", "stub", *map(student, MUTANTS)]
    first = course.autograde(PS2)
    assert first.returncode == 0, first.stdout + first.stderr
    grades_first = course.grades(PS2)
    messages_first = {name: hidden_messages(course, name) for name in names}
    second = course.autograde(PS2)
    assert second.returncode == 0, second.stdout + second.stderr
    messages_second = {name: hidden_messages(course, name) for name in names}
    return course, grades_first, course.grades(PS2), messages_first, messages_second


def verdicts(course, name: str) -> dict[str, dict]:
    return {v["check_id"]: v for v in course.autograded(name, PS2).metadata["zengrad"]["verdicts"]}


def test_solutions_get_full_marks(graded_class) -> None:
    course, grades, *_ = graded_class
    assert grades["perfect"] == POINTS
    timings = verdicts(course, "perfect")
    assert set(timings) == {"ps2.topo", "ps2.deep", "ps2.backward", "ps2.zero_grad"}
    assert all(v["passed"] for v in timings.values())
    assert sum(v["seconds"] for v in timings.values()) < 30  # ~2.5 s on a quiet machine


def test_stub_gets_zero_with_not_implemented_message(graded_class) -> None:
    course, grades, *_ = graded_class
    assert set(grades["stub"].values()) == {0.0}
    nb = course.autograded("stub", PS2)
    for grade_id in POINTS:
        outputs = cell(nb, grade_id).outputs
        errors = [o for o in outputs if o.output_type == "error"]
        assert len(errors) == 1 and "not implemented yet" in errors[0].evalue, (grade_id, outputs)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_each_classic_bug_loses_exactly_its_cells(graded_class, name: str) -> None:
    course, grades, _, messages, _ = graded_class
    lost = MUTANTS[name].loses
    assert grades[student(name)] == dict(POINTS, **dict.fromkeys(lost, 0.0))
    for grade_id in lost:
        message = messages[student(name)][grade_id]
        assert "expected" in message or "RecursionError" in message or "visited" in message, message
        assert "zengrad_ref" not in message and "def " not in message and "autograder" not in message


def test_missing_visited_set_is_a_bounded_timeout_with_a_clear_message(graded_class) -> None:
    course, *_ = graded_class
    topo = verdicts(course, student("dedup_without_visited"))["ps2.topo"]
    assert topo["reason"] == "timeout"
    assert "2**30 paths" in topo["message"] and "visited" in topo["message"]
    assert topo["message"].count("too slow") == 1 and "CPU seconds" in topo["message"]
    assert topo["seconds"] < 5 * LADDER_CPU + 10  # a CPU budget; wall time only bounded by the backstop


def test_deep_chain_explains_the_recursion_error(graded_class) -> None:
    course, *_ = graded_class
    deep = verdicts(course, student("recursive_sort"))["ps2.deep"]
    assert not deep["passed"]
    assert "RecursionError" in deep["message"] and "explicit stack" in deep["message"]
    assert verdicts(course, "perfect")["ps2.deep"]["passed"]


def test_minimal_examples_name_the_graph_and_both_results(graded_class) -> None:
    _, _, _, messages, _ = graded_class
    assert messages["recursive-backward"]["backward_test"].endswith(
        "On `a = Value(3.0); n1 = a + a; out = n1 + n1`, after out.backward() your a.grad = 8.0, expected 4.0 "
        "(call every node's _backward exactly once, in reverse topological order).")
    assert "your a.grad = 0.0, expected 1.0 (seed the root" in messages["not-seeding"]["backward_test"]
    assert "before the walk, not after it" in messages["seeding-after-walk"]["backward_test"]
    assert "a appears 5 times" in messages["no-visited-set"]["topo_test"]
    assert "returned [out, n3, n2, n1, a]" in messages["reversed-order"]["topo_test"]
    assert "leaves included" in messages["zero-grad-skips-leaves"]["zero_grad_test"]
    assert "returned a generator, expected a list" in messages["returns-generator"]["topo_test"]
    assert "called a second time, returned []" in messages["visited-flag-on-nodes"]["topo_test"]
    assert "do not add to the grad it holds" in messages["seed-accumulates"]["backward_test"]


def test_grading_twice_gives_identical_scores_and_messages(graded_class) -> None:
    _, first, second, messages_first, messages_second = graded_class
    assert first == second
    assert messages_first == messages_second
