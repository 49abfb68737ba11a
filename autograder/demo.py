"""``zengrad-kit demo``: a synthetic class, graded end to end in a throwaway copy of the course.

It shows what ``zengrad-kit grade`` does with a realistic class: perfect and
partial answers, stubs, the classic bugs of ``autograder.mutants``, notebooks
that break stock nbgrader (bad JSON, a renamed file, ``os._exit``, an infinite
loop that ignores SIGINT, a memory hog) and cheats that beat in-kernel tests.
After grading it checks that every role ended as expected, so the demo is also
a smoke test of the whole pipeline.
"""

from __future__ import annotations

import contextlib
import copy
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode

from autograder.grading.config import Overrides
from autograder.mutants import Mutant
from autograder.release import STUB
from autograder.results import outcomes as oc

TIMESTAMP = "2026-11-20 10:00:00.000000 UTC"
# The demo's limits: short enough that the hostile notebooks cost seconds, not minutes. They are
# CPU seconds (load-proof): a class graded on a busy machine ends exactly as on a quiet one.
DEMO_OVERRIDES = ["--GuardedExecute.cell_cpu_seconds=8", "--GuardedExecute.memory_limit_mb=2048",
                  "--TrustedChecks.cell_cpu_seconds=8"]
QUICK_OVERRIDES = ["--GuardedExecute.cell_cpu_seconds=4", "--TrustedChecks.cell_cpu_seconds=4"]

SIGINT_LOOP = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
MEMORY_HOG = "hoard = []\nwhile True:\n    hoard.append(bytearray(64 * 2**20))"
KERNEL_EXIT = "import os\nos._exit(1)"
TRANSFORMER_CHEAT = "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])"
EQ_CHEAT = ("class Anything(float):\n    def __eq__(self, other):\n        return True\n"
            "    __le__ = __ge__ = __lt__ = __gt__ = __eq__\n    def __abs__(self):\n        return Anything(0.0)\n"
            "    def __sub__(self, other):\n        return Anything(0.0)\n    __rsub__ = __sub__\n")


class DemoError(Exception):
    """The demo cannot run (no course source next to the installed package)."""


def _solution_ids(nb: NotebookNode) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


def _with_stubs(solution: NotebookNode, release: NotebookNode, ids: list[str]) -> NotebookNode:
    nb = copy.deepcopy(solution)
    stubs = {c.metadata["nbgrader"]["grade_id"]: c.source for c in release.cells
             if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in ids:
            cell.source = stubs.get(grade_id, STUB)
    return nb


def _insert_before_test(nb: NotebookNode, source: str, which: float = 0.5) -> NotebookNode:
    """A copy with a student-added code cell just before a test cell (``which``: 0 first .. 1 last)."""
    nb = copy.deepcopy(nb)
    tests = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
             and c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")]
    at = tests[min(len(tests) - 1, int(which * len(tests)))] if tests else len(nb.cells)
    nb.cells.insert(at, nbformat.v4.new_code_cell(source))
    return nb


def _mutate(nb: NotebookNode, mutant: Mutant) -> NotebookNode:
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == mutant.cell and mutant.old in cell.source:
            cell.source = cell.source.replace(mutant.old, mutant.new)
    return nb


def _edit_test(nb: NotebookNode) -> NotebookNode:
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            cell.source = "pass  # the student replaced this test"
            break
    return nb


def _delete_test(nb: NotebookNode) -> NotebookNode:
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            del nb.cells[i]
            break
    return nb


@dataclass(frozen=True)
class Role:
    """A kind of student: how their notebook is made and what grading must make of it."""

    name: str
    make: Callable[[NotebookNode, NotebookNode, list], Any]  # (solution, release, mutants) -> nb | bytes | None
    expect: str | tuple[str, ...]  # "full" | "zero" | "partial" | "flagged" | error kind(s)
    file_name: str | None = None


def roles(quick: bool = False) -> list[Role]:
    """About 30 roles (``quick``: one of each kind, for tests)."""
    def partial(fraction: float) -> Callable:
        def make(sol: NotebookNode, rel: NotebookNode, _m: list) -> NotebookNode:
            ids = _solution_ids(sol)
            return _with_stubs(sol, rel, ids[int(len(ids) * fraction):])
        return make

    bugs = 10

    def mutant(i: int) -> Callable:
        def make(sol: NotebookNode, rel: NotebookNode, muts: list[Mutant]) -> NotebookNode:
            # spread over the catalogue (it lists the bugs cell by cell); each loses only its own cells
            return _mutate(sol, muts[i * len(muts) // bugs]) if muts else partial(0.5)(sol, rel, muts)
        return make

    perfect = [Role(f"perfect-{i}", lambda s, r, m: copy.deepcopy(s), "full") for i in range(1, 6)]
    stub = [Role("stub-1", lambda s, r, m: copy.deepcopy(r), "zero"),
            Role("stub-2", lambda s, r, m: _insert_before_test(r, "print('I tried')", 0.0), "zero")]
    partials = [Role(f"partial-{int(f * 100)}", partial(f), "partial") for f in (0.25, 0.5, 0.6, 0.75)]
    mutants = [Role(f"bug-{i + 1:02d}", mutant(i), "partial") for i in range(bugs)]
    broken = [
        Role("bad-json", lambda s, r, m: nbformat.writes(s)[: len(nbformat.writes(s)) // 2].encode(), oc.BAD_JSON),
        Role("renamed", lambda s, r, m: copy.deepcopy(s), oc.MISSING_NOTEBOOK, file_name="{a} (1).ipynb"),
        Role("kernel-exit", lambda s, r, m: _insert_before_test(s, KERNEL_EXIT, 0.5), oc.KERNEL_DIED),
        Role("sigint-loop", lambda s, r, m: _insert_before_test(s, SIGINT_LOOP, 0.5), oc.TIMEOUT),
        # under the memory cap the kernel usually raises MemoryError, but a failed allocation
        # in C code (numpy, zmq) can kill it outright: both are explicit errors
        Role("memory-hog", lambda s, r, m: _insert_before_test(s, MEMORY_HOG, 0.5), (oc.MEMORY, oc.KERNEL_DIED)),
    ]
    cheats = [
        Role("cheat-transformer", lambda s, r, m: _insert_before_test(r, TRANSFORMER_CHEAT, 0.0), "flagged"),
        Role("cheat-eq", lambda s, r, m: _insert_before_test(r, EQ_CHEAT, 0.0), "flagged"),
        Role("edited-test", lambda s, r, m: _edit_test(s), "flagged"),
        Role("deleted-test", lambda s, r, m: _delete_test(s), "flagged"),
    ]
    everyone = perfect + stub + partials + mutants + broken + cheats
    if quick:
        keep = {"perfect-1", "stub-1", "bug-01", "cheat-transformer"}
        everyone = [r for r in everyone if r.name in keep] + broken
    return everyone


def source_course() -> Path:
    """The course directory to copy; a clear error when the package is installed without it."""
    from autograder.release import course_root

    root = course_root()
    if not (root / "nbgrader_config.py").exists() or not (root / "source").is_dir():
        raise DemoError(f"the course (nbgrader_config.py and source/) is not next to the installed package "
                        f"(looked in {root}); run the demo from a checkout: pip install -e <checkout>")
    return root


def build_course(dest: Path, root: Path | None = None, only: list[str] | None = None) -> list[str]:
    """Copy the course's config and source into ``dest`` and release every assignment (or ``only``)."""
    root = root or source_course()
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(root / "nbgrader_config.py", dest)
    known = sorted(p.name for p in (root / "source").iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [a for a in only or [] if a not in known]
    if unknown:
        raise DemoError(f"unknown assignment(s): {', '.join(unknown)} (known: {', '.join(known)})")
    names = only or known
    for name in names:
        shutil.copytree(root / "source" / name, dest / "source" / name,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    from nbgrader.apps.generateassignmentapp import GenerateAssignmentApp

    with contextlib.chdir(dest):
        for name in names:
            app = GenerateAssignmentApp()
            app.initialize([name, "--force", "--log-level=WARN"])
            app.start()
    from autograder.release import fill_solutions

    for name in names:
        for nb in sorted((dest / "source" / name).glob("*.ipynb")):
            fill_solutions(nb, dest / "release" / name / nb.name, dest / "solutions" / name / nb.name)
    return names


def synthesize(course: Path, assignments: list[str], quick: bool = False) -> dict[str, Role]:
    """Write every role's submission of every assignment into ``submitted/``; returns student -> role."""
    from autograder.mutants import catalogue

    mutants = catalogue()
    students: dict[str, Role] = {}
    for index, role in enumerate(roles(quick), start=1):
        student = f"s{index:02d}-{role.name}"
        students[student] = role
        for assignment in assignments:
            folder = course / "submitted" / student / assignment
            folder.mkdir(parents=True, exist_ok=True)
            for helper in (course / "release" / assignment).iterdir():
                if helper.is_file() and helper.suffix != ".ipynb":
                    shutil.copy(helper, folder)
            muts = list(mutants.get(assignment, {}).values())
            for nb_path in sorted((course / "solutions" / assignment).glob("*.ipynb")):
                sol = nbformat.read(nb_path, as_version=4)
                rel = nbformat.read(course / "release" / assignment / nb_path.name, as_version=4)
                made = role.make(sol, rel, muts)
                name = (role.file_name or "{a}.ipynb").format(a=nb_path.stem)
                if isinstance(made, bytes):
                    (folder / name).write_bytes(made)
                else:
                    nbformat.write(made, folder / name)
            (folder / "timestamp.txt").write_text(TIMESTAMP)
    return students


def check_expectations(outcomes: list[oc.Outcome], students: dict[str, Role]) -> list[str]:
    """Roles whose outcome is not what the demo promised (empty: the pipeline behaved)."""
    wrong = []
    for o in outcomes:
        role = students.get(o.student)
        if role is None:
            continue
        expect = role.expect
        ok = {
            "full": o.status == oc.GRADED and o.score == o.max_score,
            "zero": o.status == oc.GRADED and o.score == 0,
            "partial": o.status == oc.GRADED and 0 <= o.score < o.max_score,
            "flagged": o.status == oc.GRADED and bool(o.flags),
        }.get(expect, o.status == oc.ERROR and o.error_kind in (expect if isinstance(expect, tuple) else (expect,)))
        if not ok:
            wrong.append(f"{o.assignment}/{o.student}: expected {expect}, got {o.status} {o.error_kind or ''} "
                         f"{o.score:g}/{o.max_score:g} {o.message}".strip())
    return wrong


def service_round_trip(course: Path, overrides: Overrides) -> list[str]:
    """One submit-to-feedback round trip through ``zengrad-kit serve``: ps1 with a wrong ``mul``; problems."""
    import json
    import os
    import sqlite3
    import time

    from autograder.mutants import catalogue
    from autograder.service import serve
    from autograder.service.student import Student, release

    assignment = "ps1_operators"
    if not (course / "solutions" / assignment).is_dir():
        return []
    exchange = course / "exchange"
    old = os.environ.get("ZENGRAD_EXCHANGE")
    os.environ["ZENGRAD_EXCHANGE"] = str(exchange)
    try:
        release(course, assignment)
        student = Student("demo-student", course / "homes" / "demo-student", exchange)
        wrong = _mutate(nbformat.read(course / "solutions" / assignment / f"{assignment}.ipynb", as_version=4),
                        catalogue()[assignment]["mul_overwrites"])
        name = student.submit(assignment, wrong)
        start = time.perf_counter()
        serve(course, overrides, workers=1, until_idle=True)
        page = student.feedback_for(assignment, name)
        seconds = time.perf_counter() - start
    finally:
        if old is None:
            os.environ.pop("ZENGRAD_EXCHANGE", None)
        else:
            os.environ["ZENGRAD_EXCHANGE"] = old
    row = sqlite3.connect(course / "service" / "state.db").execute(
        "SELECT outcome FROM submissions WHERE name=?", (name,)).fetchone()
    cells = {c["grade_id"]: c for c in json.loads(row[0]).get("cells", [])} if row and row[0] else {}
    mul = cells.get("mul_test", {})
    print(f"\nsubmit-time feedback (zengrad-kit serve): {name.split('+')[0]} submitted ps1 with `=` for `+=` in "
          f"mul; Fetch Feedback found its page {seconds:.1f} s after the service started "
          f"(mul_test {mul.get('score', '?')}/{mul.get('max_score', '?')}):")
    print("  " + "\n  ".join((mul.get("output") or "").strip().splitlines()[:6]))
    problems = []
    if page is None or 'data-kind="graded"' not in page:
        problems.append("submit-time feedback: no graded page was fetched")
    if not mul or mul.get("score", 1) >= mul.get("max_score", 0):
        problems.append("submit-time feedback: the wrong mul was not caught")
    return problems


def run_demo(dest: Path | None = None, workers: int | None = None, quick: bool = False,
             overrides: Overrides | list[str] = (), progress: bool = True,
             only: list[str] | None = None) -> tuple[int, Path]:
    """Build, synthesize, grade and summarize; returns (exit status, course directory)."""
    from autograder.grading import GradeOptions, grade
    from autograder.results.reports import reports_dir

    course = Path(dest) if dest else Path(tempfile.mkdtemp(prefix="zengrad-demo-"))
    if course.exists() and any(course.iterdir()):
        raise DemoError(f"{course} is not empty; the demo needs a fresh directory")
    source_course()  # fail early and clearly when installed without the course
    print(f"demo course: {course}")
    assignments = build_course(course, only=only)
    students = synthesize(course, assignments, quick)
    print(f"released {', '.join(assignments)}; synthesized {len(students)} students "
          f"({len(students) * len(assignments)} submissions)")
    limits = Overrides.of([*DEMO_OVERRIDES, *(QUICK_OVERRIDES if quick else [])])
    result = grade(course, GradeOptions(workers=workers, overrides=limits + overrides, progress=progress))
    print((reports_dir(course) / "summary.md").read_text())
    wrong = check_expectations(result.outcomes, students)
    wrong += service_round_trip(course, limits)
    print(f"reports: {reports_dir(course)}  feedback: {course / 'feedback'}")
    print(f"graded {len(result.outcomes)} submissions in {result.seconds:.1f} s on {result.workers} workers")
    if wrong or not result.verified:
        print("DEMO EXPECTATIONS NOT MET:\n  " + "\n  ".join([*wrong, *map(str, result.problems)]))
        return oc.EXIT_INTERNAL, course
    print("demo: every role ended as expected (errors above are the deliberately broken notebooks)")
    return oc.EXIT_OK, course
