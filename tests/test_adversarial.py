"""An adversarial class against the real grader (bubblewrap, real kernels, real nbgrader).

Every attacker of ``tests/attacks.py`` submits the ps1 release with ``add`` answered honestly
(honest score: the add cell only) plus one hostile cell. The same honest bystanders are graded
once alone and once among the attackers: their grades, submitted files, gradebook rows and
feedback must be byte-identical, every attacker must earn exactly its honest part, no process
an attacker started may survive grading, and nothing outside the grading outputs may change.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from autograder.mutants import catalogue
from autograder.release import STUB as RELEASE_STUB
from autograder.results import outcomes as oc
from tests.attacks import ATTACKS, attack_cell
from tests.course_helpers import REPO, Course, append_code, cell, max_points, mutate, release_nb, solution_nb

PS1 = "ps1_operators"
POINTS = max_points(PS1)
STUB = textwrap.indent(RELEASE_STUB, " " * 8)  # in a _backward
HONEST_ADD = "        self.grad += out.grad\n        other.grad += out.grad"
LIMITS = ["--GuardedExecute.cell_cpu_seconds=10", "--TrustedChecks.cell_cpu_seconds=10"]
GRADING_OUTPUTS = {"autograded", "feedback", "reports", "gradebook.db", "gradebook.db-journal"}


def bystanders(course: Course) -> None:
    muts = catalogue()[PS1]
    course.submit("honest-perfect", PS1, solution_nb(PS1))
    course.submit("honest-stub", PS1, release_nb(PS1))
    bug = muts["mul_swapped"]
    course.submit("honest-bug", PS1, mutate(solution_nb(PS1), bug[0], bug[1], bug[2]))


def attacker_nb(name: str, port: int, marker: str):
    nb = mutate(release_nb(PS1), "add_solution", STUB, HONEST_ADD)
    at = next(i for i, c in enumerate(nb.cells) if c is cell(nb, "setup")) + 1
    return append_code(nb, attack_cell(name, port, marker), at=at)


def grade(course: Course) -> subprocess.CompletedProcess:
    env = dict(os.environ, ZENGRAD_TEST_SECRET="grader-secret-4242")
    return subprocess.run([sys.executable, "-m", "autograder.cli", "grade", PS1, "--workers", "2", "--no-progress",
                           *LIMITS], cwd=course.root, text=True, capture_output=True, timeout=1800, env=env)


def snapshot(root: Path) -> dict[str, str]:
    """Hash of every file of the course outside the grading outputs."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in GRADING_OUTPUTS or not path.is_file():
            continue
        out[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def gradebook_rows(course: Course, students: list[str]) -> dict:
    from nbgrader.api import Gradebook

    rows = {}
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        for student in students:
            sub = gb.find_submission(PS1, student)
            rows[student] = sorted((g.name, g.auto_score, g.manual_score, g.needs_manual_grade)
                                   for nb in sub.notebooks for g in nb.grades)
        rows["source_cells"] = sorted((c.name, c.source) for c in gb.find_notebook(PS1, PS1).source_cells)
    return rows


@pytest.fixture(scope="module")
def graded(course_template, tmp_path_factory):
    base = tmp_path_factory.mktemp("adversarial")
    marker = f"zengrad-attack-{os.getpid()}-{time.time_ns()}"
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    connections: list[object] = []
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            try:
                connections.append(server.accept())
            except OSError:
                pass

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    alone, crowd = course_template.copy_to(base / "alone"), course_template.copy_to(base / "crowd")
    for course in (alone, crowd):
        bystanders(course)
    for name in ATTACKS:
        crowd.submit(name, PS1, attacker_nb(name, port, marker))
    before = snapshot(crowd.root)
    run_alone = grade(alone)
    run_crowd = grade(crowd)
    time.sleep(2)
    survivors = [p.info for p in psutil.process_iter(["pid", "cmdline", "uids"])
                 if marker in " ".join(p.info["cmdline"] or [])
                 or (p.info["uids"] and p.info["uids"].real >= 2_100_000_000)]
    stop.set()
    listener.join()
    server.close()
    return alone, crowd, run_alone, run_crowd, before, survivors, connections, marker


@pytest.mark.slow
def test_bystanders_are_byte_identical_with_and_without_attackers(graded) -> None:
    alone, crowd, run_alone, run_crowd, *_ = graded
    assert run_alone.returncode == oc.EXIT_OK, run_alone.stdout[-3000:] + run_alone.stderr[-3000:]
    honest = ["honest-perfect", "honest-stub", "honest-bug"]
    assert gradebook_rows(crowd, honest) == gradebook_rows(alone, honest)
    for student in honest:
        for kind in ("submitted", "feedback"):
            a = sorted((p.relative_to(alone.root / kind / student), p.read_bytes())
                       for p in (alone.root / kind / student).rglob("*") if p.is_file())
            c = sorted((p.relative_to(crowd.root / kind / student), p.read_bytes())
                       for p in (crowd.root / kind / student).rglob("*") if p.is_file())
            assert c == a, (student, kind)
    outcomes = {o["student"]: o for o in json.loads((crowd.root / "reports" / "outcomes.json").read_text())
                ["outcomes"]}
    for student in honest:
        assert outcomes[student]["status"] == oc.GRADED, outcomes[student]
        assert not any(name in json.dumps(outcomes[student]) for name in ATTACKS)


SELF_DESTRUCTIVE = {"kills-itself", "huge-replies"}  # they break their own grading: nothing after it can count
# kill-everyone signals every pid it can name: in its sandbox those are its own (thread ids included), so it kills
# its own kernel (an error outcome, under its own name); the worker, single-threaded, survives and grades it
SELF_HARMING = SELF_DESTRUCTIVE | {"kill-everyone"}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_each_attacker_earns_only_its_honest_part(graded, name: str) -> None:
    crowd = graded[1]
    honest = 0.0 if name in SELF_DESTRUCTIVE else POINTS["add_test"]
    assert crowd.grades(PS1)[name] == dict({k: 0.0 for k in POINTS}, add_test=honest)


@pytest.mark.slow
def test_nothing_survives_and_nothing_outside_the_outputs_changed(graded) -> None:
    _, crowd, _, _, before, survivors, connections, _ = graded
    assert survivors == []
    assert connections == []
    assert snapshot(crowd.root) == before
    assert not list(crowd.root.rglob("filler.bin"))


@pytest.mark.slow
def test_nothing_hidden_leaks_into_an_attackers_feedback(graded) -> None:
    crowd = graded[1]
    html = (crowd.root / "feedback" / "read-hidden" / PS1 / f"{PS1}.html").read_text()
    assert "grader-secret-4242" not in html and "ZENGRAD_TEST_SECRET" not in html
    assert "def binary_check" not in html and "REGISTRY: dict" not in html, "the hidden checks leaked"
    leaked = re.findall(r"LEAK (/\S+)", html)  # public files (nbgrader's own test fixtures) may be readable
    ours = [p for p in leaked if p.startswith((str(crowd.root), str(REPO / "autograder")))
            or "/.venv/" not in p and p.startswith(str(REPO))]
    assert not ours, f"course or grader files visible to a student: {ours}"
    flood = crowd.root / "feedback" / "print-flood" / PS1 / f"{PS1}.html"
    assert flood.stat().st_size < 16 << 20
    # cut at the cap, or (when the kernel batched more than the transport accepts into one message) dropped
    assert re.search(r"\[output (truncated|lost): ", flood.read_text())


@pytest.mark.slow
def test_harm_is_blamed_on_the_harmer_only(graded) -> None:
    crowd, run_crowd = graded[1], graded[3]
    outcomes = {o["student"]: o for o in json.loads((crowd.root / "reports" / "outcomes.json").read_text())
                ["outcomes"]}
    victim = outcomes["kills-itself"]
    assert victim["status"] == oc.ERROR and victim["error_kind"] == oc.KERNEL_DIED, victim
    errors = {s for s, o in outcomes.items() if o["status"] == oc.ERROR}
    assert errors == SELF_HARMING, {s: outcomes[s]["message"] for s in errors}
    assert "cell 2" in outcomes["huge-replies"]["message"], outcomes["huge-replies"]["message"]
    assert run_crowd.returncode == oc.EXIT_SUBMISSION_ERRORS
