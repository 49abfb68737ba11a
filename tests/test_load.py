"""The same class, graded on a quiet machine and with every core saturated: identical gradebooks.

Every limit that decides a score counts CPU time (the kernel's cells, the worker's cells and
check programs), so load cannot turn a pass into a timeout or the reverse. The class holds the
cases that depend on a limit: a topological sort without a visited set (its check runs out of
CPU time and earns 0, graded), an infinite loop in a scratch cell (interrupted at its CPU limit,
graded), next to honest work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.mutants import catalogue
from autograder.results import outcomes as oc
from tests.course_helpers import Course, append_code, cell, mutate, release_nb, solution_nb

PS1, PS2 = "ps1_operators", "ps2_backprop"
LIMITS = ["--GuardedExecute.cell_cpu_seconds=3", "--TrustedChecks.cell_cpu_seconds=3"]
SPIN = "x = 0\nwhile True:\n    x += 1"


def submit_class(course: Course) -> None:
    muts = catalogue()
    no_visited = muts[PS2]["dedup_without_visited"]  # right orders, exponential time
    course.submit("perfect", PS2, solution_nb(PS2))
    course.submit("no-visited-set", PS2, mutate(solution_nb(PS2), no_visited[0], no_visited[1], no_visited[2]))
    course.submit("stub", PS2, release_nb(PS2))
    nb = solution_nb(PS1)
    index = next(i for i, c in enumerate(nb.cells) if c is cell(nb, "tanh_test"))
    course.submit("spinner", PS1, append_code(nb, SPIN, at=index))


def grade(course: Course) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder.cli", "grade", "--workers", "2", "--no-progress",
                           "--no-feedback", *LIMITS], cwd=course.root, text=True, capture_output=True, timeout=900)


def essence(course: Course) -> dict:
    data = json.loads((course.root / "reports" / "outcomes.json").read_text())
    return {(o["assignment"], o["student"]): (o["status"], o["error_kind"], [(c["grade_id"], c["score"])
                                                                           for c in o["cells"]])
            for o in data["outcomes"]}


@pytest.mark.slow
def test_same_gradebook_quiet_and_under_a_cpu_hog(course_template, tmp_path: Path) -> None:
    quiet, loaded = course_template.copy_to(tmp_path / "quiet"), course_template.copy_to(tmp_path / "loaded")
    for course in (quiet, loaded):
        submit_class(course)
    first = grade(quiet)
    assert first.returncode == oc.EXIT_OK, first.stdout[-3000:] + first.stderr[-3000:]
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        second = grade(loaded)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert second.returncode == oc.EXIT_OK, second.stdout[-3000:] + second.stderr[-3000:]
    for assignment in (PS1, PS2):
        assert loaded.grades(assignment) == quiet.grades(assignment)
    assert essence(loaded) == essence(quiet)
    outcomes = essence(quiet)
    # the exponential sort is graded: its topo cell earns 0, with a CPU-time message
    status, kind, cells = outcomes[(PS2, "no-visited-set")]
    assert status == oc.GRADED and dict(cells)["topo_test"] == 0 and dict(cells)["backward_test"] == 3
    nb = quiet.autograded("no-visited-set", PS2)
    topo = next(v for v in nb.metadata["zengrad"]["verdicts"] if v["check_id"] == "ps2.topo")
    assert topo["reason"] == "timeout" and "CPU seconds" in topo["message"], topo
    # the infinite loop in a scratch cell was interrupted at its CPU limit; everything else is graded
    status, kind, cells = outcomes[(PS1, "spinner")]
    assert status == oc.GRADED and all(score > 0 for _, score in cells), cells
    notes = json.loads((quiet.root / "reports" / "outcomes.json").read_text())["outcomes"]
    spinner = next(o for o in notes if o["student"] == "spinner")
    assert any("CPU-time limit" in n for n in spinner["notes"]), spinner["notes"]
