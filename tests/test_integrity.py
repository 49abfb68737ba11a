"""The adversarial suite: known attacks on in-kernel grading, through real nbgrader.

Every attack is a real submission graded by stock ``nbgrader autograde`` with the
course config. Each must earn nothing for the part it cheats on and be flagged
for the instructor; honest parts of the same notebook are still graded.
"""

from __future__ import annotations

import copy
import textwrap

import pytest

from autograder.release import STUB as RELEASE_STUB
from tests.course_helpers import append_code, cell, max_points, mutate, release_nb, solution_nb

PS1 = "ps1_operators"
POINTS = max_points(PS1)
STUB = textwrap.indent(RELEASE_STUB, " " * 8)  # in a _backward

ANYTHING = '''
class Anything(float):
    """Compares equal and close to everything."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __le__ = __ge__ = __lt__ = __gt__ = __eq__
    def __sub__(self, other): return Anything(0.0)
    __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __truediv__ = __sub__
    def __abs__(self): return Anything(0.0)
    def __bool__(self): return True
    def __hash__(self): return 0
'''


def with_setup_cell(nb, source):
    """Insert a student cell right after the given setup cell."""
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    return append_code(nb, source, at=index + 1)


def deleted(nb, grade_id):
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


def after(nb, grade_id, source):
    """Insert a student cell right after the cell ``grade_id``."""
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return append_code(nb, source, at=index + 1)


# name -> (submission, cells that must score 0, flag kinds that must be raised, cells that must keep full marks)
def attacks() -> dict:
    stub, sol = release_nb(PS1), solution_nb(PS1)
    everything = set(POINTS)
    return {
        # 1. a gradient object that compares equal and close to anything
        "equal-to-anything": (
            with_setup_cell(
                mutate(stub, "mul_solution", STUB,
                       "        self.grad += Anything(0.0)\n        other.grad += Anything(0.0)"),
                ANYTHING),
            {"mul_test"}, {"comparison-override"}, set()),
        # 2. replacing hypothesis.given with a no-op
        "hypothesis-given-noop": (
            with_setup_cell(stub, "import hypothesis\n"
                                  "hypothesis.given = lambda *a, **k: (lambda f: (lambda *x, **y: None))"),
            everything, {"suspicious-import", "monkeypatching"}, set()),
        # 3. an input transformer that turns every later cell into `pass`
        "input-transformer": (
            with_setup_cell(stub, "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])"),
            everything, {"monkeypatching"}, set()),
        # 4. the reference engine itself
        "imports-reference": (
            after(stub, "value_class", "from zengrad_ref import Value"),
            everything, {"suspicious-import"}, set()),
        # 5. the in-kernel check helpers replaced
        "patches-check": (
            with_setup_cell(stub, "def check(*args, **kwargs):\n    print('hidden check passed')\n"
                                  "def check_gradients(*args, **kwargs):\n    print('ok: gradients match')"),
            everything, {"monkeypatching"}, set()),
        # 6. shadowing AssertionError and silencing tracebacks in the kernel
        "silences-errors": (
            with_setup_cell(stub, "AssertionError = type('AssertionError', (Exception,), {})\n"
                                  "import IPython\nget_ipython().showtraceback = lambda *a, **k: None\n"
                                  "get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)"),
            everything, {"monkeypatching", "suspicious-import"}, set()),
        # 7. sys.modules games: a fake gradcheck module
        "fake-module": (
            with_setup_cell(stub, "import sys, types\nfake = types.ModuleType('gradcheck')\n"
                                  "fake.check = fake.check_gradients = lambda *a, **k: None\n"
                                  "sys.modules['gradcheck'] = fake"),
            everything, {"monkeypatching"}, set()),
        # 8. forging the trusted worker's reply from inside the worker
        "forges-worker-reply": (
            with_setup_cell(sol, "import os, sys, json, struct\ntry:\n"
                                 "    msg = json.dumps({'ok': True, 'reads': [[0.0, 0.0]] * 9, 'seq': 1}).encode()\n"
                                 "    os.write(int(sys.argv[2]), struct.pack('>I', len(msg)) + msg)\n"
                                 "except Exception:\n    pass"),
            everything, set(), set()),
        # 9. a test cell edited to do nothing, and one deleted: nbgrader restores both
        "edits-and-deletes-tests": (
            deleted(mutate(mutate(stub, "mul_test", "check_gradients(lambda a, b: a * b, [2.0, -3.0])", "pass"),
                           "add_solution", STUB, "        self.grad += out.grad\n        other.grad += out.grad"),
                    "exp_test"),
            everything - {"add_test"}, {"edited-read-only-cell", "deleted-test-cell"}, {"add_test"}),
        # 10. printing fake success from a solution cell
        "prints-success": (
            mutate(stub, "tanh_solution", "Value.tanh = tanh",
                   "Value.tanh = tanh\nprint('hidden check ps1.tanh passed (50 generated cases)')"),
            everything, set(), set()),
        # 11. os._exit after two honest answers: the kernel dies, the honest part still counts
        "exits-midway": (
            after(sol, "mul_test", "import os\nos._exit(0)"),
            everything - {"add_test", "mul_test"}, {"process-exit"}, {"add_test", "mul_test"}),
        # 12. a loop that ignores SIGINT after two honest answers
        "ignores-sigint": (
            after(sol, "mul_test",
                  "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"),
            everything - {"add_test", "mul_test"}, {"suspicious-import"}, {"add_test", "mul_test"}),
    }


FAST_LIMITS = ("--GuardedExecute.cell_cpu_seconds=4", "--TrustedChecks.cell_cpu_seconds=4")


@pytest.fixture(scope="module")
def graded_attacks(course_template, tmp_path_factory):
    course = course_template.copy_to(tmp_path_factory.mktemp("attacks") / "course")
    table = attacks()
    for name, (nb, *_rest) in table.items():
        course.submit(name, PS1, nb)
    result = course.autograde(PS1, options=FAST_LIMITS)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return course, table, course.grades(PS1)


@pytest.mark.parametrize("name", sorted(attacks()))
def test_attack_earns_nothing_for_what_it_cheats(graded_attacks, name: str) -> None:
    course, table, grades = graded_attacks
    _, zeroed, _, kept = table[name]
    for grade_id in zeroed:
        assert grades[name][grade_id] == 0.0, (grade_id, grades[name])
    for grade_id in kept:
        assert grades[name][grade_id] == POINTS[grade_id], (grade_id, grades[name])


@pytest.mark.parametrize("name", sorted(attacks()))
def test_attack_is_flagged_for_the_instructor(graded_attacks, name: str) -> None:
    course, table, _ = graded_attacks
    _, _, flags, _ = table[name]
    nb = course.autograded(name, PS1)
    raised = {f["kind"] for f in nb.metadata["zengrad"]["integrity"]}
    assert flags <= raised, (flags, raised)


def test_kernel_faults_are_recorded_not_silent(graded_attacks) -> None:
    course, _, grades = graded_attacks
    died = course.autograded("exits-midway", PS1).metadata["zengrad"]["kernel_fault"]
    assert died["kind"] == "kernel-died"
    hung = course.autograded("ignores-sigint", PS1).metadata["zengrad"]["kernel_fault"]
    assert hung["kind"] == "kernel-hung"
    for student in ("exits-midway", "ignores-sigint"):
        nb = course.autograded(student, PS1)
        message = next(o.evalue for o in cell(nb, "exp_test").outputs if o.output_type == "error")
        assert "not graded" in message and "cell" in message, message
        assert set(grades[student]) == set(POINTS)  # every cell has a recorded score


def test_honest_submissions_are_not_flagged(course_template, tmp_path) -> None:
    from autograder import scan

    for nb in (solution_nb(PS1), release_nb(PS1)):
        for c in nb.cells:
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution"):
                assert scan.scan_source(c.source) == [], c.source


def test_worker_cannot_import_the_reference_or_the_checks() -> None:
    from autograder.sandbox.engine import StudentEngine

    scrubbed = ("import os\nassert not [k for k in os.environ if 'ZENGRAD' in k or 'PYENV' in k or 'VIRTUAL' in k "
                "or k.startswith(('SSL', 'PIP', 'AWS'))], sorted(os.environ)\n"
                "assert os.listdir('.') == [], os.listdir('.')")
    engine = StudentEngine([(0, "import zengrad_ref"), (1, "import autograder"), (2, "import hypothesis"),
                            (3, "import nbgrader"), (4, scrubbed)])
    try:
        engine.advance_to(5)
        errors = {r.index: r.error["type"] for r in engine.cell_errors()}
    finally:
        engine.close()
    assert errors == {0: "ModuleNotFoundError", 1: "ModuleNotFoundError", 2: "ModuleNotFoundError",
                      3: "ModuleNotFoundError"}
