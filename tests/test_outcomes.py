"""The outcome rule, one record at a time (no kernel): graded with a 0 and a message, or an error for the instructor.

A cell whose check failed because the student's code was wrong, too slow (CPU time), crashed
or ran out of memory *inside a check* is graded; the submission is an error only when its grade
could not be determined (a kernel that died or hung, a worker the notebook itself took down,
a wall-clock backstop, a fault in the grader).
"""

from __future__ import annotations

import nbformat
import pytest

from autograder.results import outcomes as oc


def notebook(**zengrad: object) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nb.metadata["zengrad"] = dict({"integrity": [], "kernel_fault": None, "verdicts": [],
                                   "worker_cell_errors": [], "sandbox": "bwrap"}, **zengrad)
    return nb


def verdict(check_id: str, reason: str) -> dict:
    return {"check_id": check_id, "passed": reason == "passed", "reason": reason, "message": f"{check_id}: ..."}


def classify(nb: nbformat.NotebookNode) -> oc.Outcome:
    outcome = oc.Outcome("ps2_backprop", "ada")
    oc.classify_notebook(outcome, nb, "ps2_backprop")
    return outcome


@pytest.mark.parametrize("reason", ["wrong", "error", "not_implemented", "timeout", "memory", "crashed", "protocol"])
def test_a_check_that_fails_on_the_students_code_is_graded(reason: str) -> None:
    outcome = classify(notebook(verdicts=[verdict("ps2.topo", reason), verdict("ps2.deep", "passed")]))
    assert outcome.status == oc.GRADED and outcome.error_kind is None


@pytest.mark.parametrize(("reason", "kind"), [("stalled", oc.TIMEOUT), ("grader-fault", oc.CHECK_FAILED),
                                              ("not-graded", oc.KERNEL_DIED)])
def test_a_check_whose_result_could_not_be_determined_is_an_error(reason: str, kind: str) -> None:
    outcome = classify(notebook(verdicts=[verdict("ps2.topo", reason)]))
    assert outcome.status == oc.ERROR and outcome.error_kind == kind and "ps2.topo" in outcome.message


@pytest.mark.parametrize(("fault", "kind"), [("kernel-died", oc.KERNEL_DIED), ("kernel-hung", oc.TIMEOUT),
                                             ("notebook-timeout", oc.TIMEOUT)])
def test_a_kernel_that_died_or_hung_is_an_error(fault: str, kind: str) -> None:
    outcome = classify(notebook(kernel_fault={"kind": fault, "cell": 7, "message": "..."}))
    assert outcome.status == oc.ERROR and outcome.error_kind == kind and "cell 7" in outcome.message


def test_a_cell_interrupted_at_its_cpu_limit_is_a_note_not_an_error() -> None:
    outcome = classify(notebook(cpu_limited=[{"cell": 3, "limit": "cell"}], output_truncated=[4]))
    assert outcome.status == oc.GRADED
    assert any("cell 3" in n and "CPU-time limit" in n for n in outcome.notes)
    assert any("cell 4" in n for n in outcome.notes)


@pytest.mark.parametrize(("fatal", "kind"), [("hung", oc.TIMEOUT), ("crashed", oc.KERNEL_DIED),
                                             ("memory", oc.MEMORY), ("protocol", oc.CHECK_FAILED)])
def test_a_cell_that_took_the_worker_down_is_an_error(fatal: str, kind: str) -> None:
    outcome = classify(notebook(worker_cell_errors=[{"cell": 5, "error": {"message": "boom"}, "fatal": fatal}]))
    assert outcome.status == oc.ERROR and outcome.error_kind == kind and "cell 5" in outcome.message


def test_a_cell_error_in_the_worker_that_did_not_take_it_down_is_graded() -> None:
    outcome = classify(notebook(worker_cell_errors=[{"cell": 5, "error": {"message": "NameError"}, "fatal": ""}]))
    assert outcome.status == oc.GRADED


def test_the_wall_clock_backstop_of_a_kernel_cell_is_an_error() -> None:
    nb = notebook()
    nb.cells[0].outputs = [nbformat.v4.new_output("error", ename="CellTimeoutError", evalue="", traceback=[])]
    outcome = classify(nb)
    assert outcome.status == oc.ERROR and outcome.error_kind == oc.TIMEOUT and "backstop" in outcome.message


def test_grading_without_the_sandbox_is_recorded() -> None:
    outcome = classify(notebook(sandbox="none"))
    assert outcome.sandbox == "none" and any("WITHOUT the sandbox" in n for n in outcome.notes)


def test_the_first_error_is_kept() -> None:
    outcome = classify(notebook(kernel_fault={"kind": "kernel-died", "cell": 2, "message": "..."},
                                verdicts=[verdict("ps2.topo", "grader-fault")]))
    assert outcome.error_kind == oc.KERNEL_DIED


def test_the_metadata_schema_names_the_keys_already_on_disk_and_loads_no_nbgrader() -> None:
    """metadata.zengrad is the format of every autograded notebook written so far: its key names never change."""
    import subprocess
    import sys

    from autograder.preprocessors import metadata as zm

    assert zm.NAMESPACE == "zengrad"
    assert zm.NOTEBOOK_KEYS == {"integrity", "kernel_fault", "cpu_limited", "output_truncated", "memory_errors",
                                "sandbox", "timings", "verdicts", "worker_cell_errors", "trusted_seconds",
                                "neutralised"}
    assert zm.CELL_KEYS == {"trusted", "kernel_output_types"}
    code = ("import sys, autograder.results.outcomes, autograder.preprocessors.metadata; "
            "print([m for m in sys.modules if m.startswith(('nbgrader', 'nbclient'))])")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]", loaded
