"""Which tier a test runs in: the per-change tier is ``pytest -m "not slow"``; CI runs every tier.

* **unit** (``not slow``): in process, or one small real process (a sandboxed worker, a jailed
  kernel, one ``nbgrader`` command on one notebook, the two real unix students of the exchange
  races); the whole mutant catalogue's sample through every hidden check. Minutes, for every change.
* **contract** (``slow``): real nbgrader over a course (``course_template`` and everything built on
  it: the contract classes of ``tests/graded.py``, ``zengrad-kit grade`` of a class, collect, serve).
* **end to end** (``slow``): the browser, the hub, Dask, kill -9, load, the adversarial class.

A test is ``slow`` when it is marked so in its file, when it drives a browser (``browser``), when it
needs a built course (``course_template`` in its fixtures), or when :data:`SLOW` names it here,
with the reason: a real component heavier than the unit tier allows that the rules above do not see.
"""

from __future__ import annotations

import pytest

COURSE_FIXTURES = {"course_template"}  # building a course runs nbgrader generate_assignment for every assignment

SLOW: dict[str, str] = {  # node id prefix -> why
    "tests/test_cli.py::test_demo_end_to_end": "the demo grades a whole synthesized class",
    "tests/test_cli.py::test_release": "zengrad-kit release runs nbgrader over every assignment",
    "tests/test_cli.py::test_validate": "nbgrader validate runs each notebook in a kernel",
    "tests/test_student_path.py::test_validate": "nbgrader validate runs each notebook in a kernel",
    "tests/test_assignments.py::test_release_and_solutions_are_regenerated_exactly":
        "nbgrader generate_assignment of each assignment",
    "tests/test_docs.py::test_the_assignment_list_fetches": "real nbgrader release and fetch",
    "tests/test_docs.py::test_the_docs_build": "the Sphinx build of the whole site",
    "tests/test_docs.py::test_every": "reads the built site",
    "tests/test_gradescope.py": "builds and runs Gradescope bundles (a grading run each)",
    "tests/test_insights.py::test_a_graded": "grades a class",
    "tests/test_lms.py::test_canvas_csv": "a graded class of 30",
    "tests/test_lms.py::test_the_numbers": "a graded class of 30",
    "tests/test_lms.py::test_moodle": "a graded class of 30",
    "tests/test_lms.py::test_brightspace": "a graded class of 30",
    "tests/test_lms.py::test_options": "a graded class of 30",
    "tests/test_lms.py::test_unknown_item": "a graded class of 30",
    "tests/test_lms.py::test_a_really_graded": "a graded class",
    "tests/test_doctor.py::test_doctor_names": "zengrad-kit doctor over a course copy, sandbox included",
    "tests/test_doctor.py::test_grade": "zengrad-kit grade as another user",
    "tests/test_doctor.py::test_hub_setup": "zengrad-kit hub setup",
    "tests/test_feedback_html.py::test_a_course_page": "nbgrader's feedback of a graded notebook",
    "tests/test_service.py::test_a_submission_in_someone_elses_name": "a real service grades two students",
    "tests/test_ps4.py::test_the_notebooks_demo_reaches": "trains the demo's spiral MLP (20 s)",
    "tests/test_ps4.py::test_reference_reaches_the_training_target": "trains the reference MLP",
    "tests/test_ps3.py::test_reference_reaches_the_training_target": "trains the reference MLP",
    "tests/test_ref_extras.py::test_seeded_moons_training": "trains the moons MLP",
    "tests/test_pieces.py::test_the_ps3_checks_pass_the_pieces": "every ps3 check on the reference pieces (20 s)",
}


def tier_is_slow(item: pytest.Item) -> bool:
    if item.get_closest_marker("slow") or item.get_closest_marker("browser"):
        return True
    if COURSE_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    return any(item.nodeid.startswith(prefix) for prefix in SLOW)


@pytest.hookimpl(tryfirst=True)  # before -m deselects: the marker must be there when it looks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if tier_is_slow(item) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
