"""Gradescope: the bundle of ``zengrad-kit gradescope``, and its ``run_autograder`` on real submissions.

The bundle is built from the repository's course and unpacked into a temporary root laid out like
Gradescope's ``/autograder`` (``source/`` is the zip, ``run_autograder`` is copied next to it,
``submission/`` holds the student's files). ``setup.sh`` is not run: ``run_autograder`` uses this
interpreter (``ZENGRAD_GRADESCOPE_PYTHON``) and the root is moved with ``ZENGRAD_GRADESCOPE_ROOT``;
grading is real (nbgrader, kernels, bubblewrap). The grading code is the bundle's own copy
(``source/project`` first on the path, the checkout's editable install switched off), as a clean
installation in Gradescope's container would have it, so the checkout may change meanwhile. Every
results.json is checked against the fields of Gradescope's specification, and its per-cell scores
against ``zengrad-kit grade`` (the same copy of the code) on the same files.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import psutil
import pytest

from autograder import gradescope
from autograder.mutants import catalogue
from autograder.results import outcomes as oc
from tests.course_helpers import REPO, append_code, max_points, mutate, release_nb, solution_nb

PS1 = "ps1_operators"
POINTS = max_points(PS1)
MUTANT = "mul_swapped"
VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}
TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
            "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
             "visibility", "extra_data"}
FORMATS = {"text", "simple_format", "html", "md", "ansi"}
FORGED = "forged-by-the-student-7d1e"


# ------------------------------------------------------------------------------------------------ helpers


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate(results: dict) -> None:
    """results.json as Gradescope's autograder specification defines it, plus what this kit promises."""
    json.dumps(results, allow_nan=False)
    assert set(results) <= TOP_KEYS, set(results) - TOP_KEYS
    assert _number(results["score"]) and results["score"] >= 0
    assert isinstance(results["execution_time"], int) and results["execution_time"] >= 0
    assert isinstance(results["output"], str) and results["output"]
    assert results.get("output_format", "text") in FORMATS
    assert results["visibility"] in VISIBILITIES
    assert results["stdout_visibility"] in VISIBILITIES
    assert isinstance(results["extra_data"], dict) and results["extra_data"]["status"] in (oc.GRADED, oc.ERROR)
    tests = results["tests"]
    assert isinstance(tests, list) and tests
    for t in tests:
        assert set(t) <= TEST_KEYS, set(t) - TEST_KEYS
        assert isinstance(t["name"], str) and t["name"]
        assert isinstance(t["number"], str)
        assert isinstance(t["output"], str)
        assert t["status"] in ("passed", "failed")
        assert t["visibility"] in VISIBILITIES
        if "tags" in t:
            assert isinstance(t["tags"], list) and all(isinstance(x, str) for x in t["tags"])
        if "score" in t:
            assert _number(t["score"]) and _number(t["max_score"]) and 0 <= t["score"] <= t["max_score"]
            assert t["status"] == ("passed" if t["score"] >= t["max_score"] else "failed")
    check, cells = tests[0], tests[1:]
    assert check["name"] == gradescope.CHECK_NAME and "score" not in check and check["visibility"] == "visible"
    assert check["status"] == ("passed" if results["extra_data"]["status"] == oc.GRADED else "failed")
    assert len({t["number"] for t in tests}) == len(tests)
    assert all("score" in t for t in cells)
    assert math.isclose(results["score"], sum(t["score"] for t in cells)) or results["extra_data"]["status"] == oc.ERROR


def scores(results: dict) -> dict[str, float]:
    return {t["name"]: t["score"] for t in results["tests"] if "score" in t}


def unpack(bundle: Path, root: Path) -> Path:
    """``root`` laid out like Gradescope's /autograder after the image was built (without setup.sh)."""
    source = root / "source"
    source.mkdir(parents=True)
    with zipfile.ZipFile(bundle) as zf:
        for info in zf.infolist():
            zf.extract(info, source)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                (source / info.filename).chmod(mode)
    (root / "run_autograder").write_bytes((source / "run_autograder").read_bytes())
    (root / "run_autograder").chmod(0o755)
    (root / "submission").mkdir()
    return root


SHIM = """
# Tests only: drop the checkout's editable install, so that the bundle's project/ alone is the grading code
import sys
sys.path[:] = [p for p in sys.path if "__editable__" not in p]
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path_hooks[:] = [h for h in sys.path_hooks if not getattr(h, "__module__", "").startswith("__editable__")]
sys.path_importer_cache.clear()
"""


def bundled_code(root: Path) -> dict[str, str]:
    """Environment in which Python imports the grading code from the bundle unpacked under ``root``."""
    shim = root.parent / "shim"
    shim.mkdir(exist_ok=True)
    (shim / "sitecustomize.py").write_text(SHIM)
    return {"PYTHONPATH": os.pathsep.join([str(shim), str(root / "source" / "project")])}


def test_the_bundled_code_is_the_only_grading_code_the_tests_import(bundle, tmp_path: Path) -> None:
    root = unpack(bundle[0], tmp_path / "autograder")
    proc = subprocess.run([sys.executable, "-P", "-c", "import autograder, zengrad_ref; "
                           "print(list(autograder.__path__) + list(zengrad_ref.__path__))"], cwd=tmp_path,
                          env=dict(os.environ, **bundled_code(root)), text=True, capture_output=True, timeout=120)
    project = root / "source" / "project"
    assert proc.stdout.strip() == repr([str(project / "autograder"), str(project / "zengrad_ref")]), proc.stderr


def env_for(root: Path, python: str = sys.executable) -> dict[str, str]:
    return dict(os.environ, ZENGRAD_GRADESCOPE_ROOT=str(root), ZENGRAD_GRADESCOPE_PYTHON=python,
                **bundled_code(root))


def run_autograder(root: Path, files: dict[str, bytes | str], python: str = sys.executable,
                   timeout: float = 900) -> tuple[dict, str]:
    """Place the submission and run ``run_autograder`` as Gradescope does (working directory: the root)."""
    for name, content in files.items():
        target = root / "submission" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
    proc = subprocess.run([str(root / "run_autograder")], cwd=root, env=env_for(root, python), text=True,
                          capture_output=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((root / "results" / "results.json").read_text()), proc.stdout


def nb_text(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb)


def digest_tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def attack_nb(root: Path) -> nbformat.NotebookNode:
    """The solution, plus a cell that goes after the grader's results and the bundle, then kills its kernel."""
    code = f'''
import json, os
found = []
for top in ({str(root)!r}, "/autograder", "/"):
    for dirpath, dirnames, filenames in os.walk(top, onerror=lambda e: None):
        if dirpath.startswith(("/proc", "/sys", "/dev")):
            dirnames[:] = []
            continue
        for name in filenames:
            if name in ("results.json", "zengrad-gradescope.json", "ps1.py", "run_autograder"):
                found.append(os.path.join(dirpath, name))
for top in ({str(root / "results")!r}, "/autograder/results"):
    try:
        os.makedirs(top, exist_ok=True)
        with open(os.path.join(top, "results.json"), "w") as fh:
            json.dump({{"score": 1000.0, "output": {FORGED!r}}}, fh)
    except OSError:
        pass
for path in found:
    try:
        secret = open(path).read()
        with open(path, "a") as fh:
            fh.write({FORGED!r})
    except OSError:
        pass
print("found", found)
os._exit(0)
'''
    return append_code(solution_nb(PS1), code)


def mutant_nb() -> nbformat.NotebookNode:
    bug = catalogue()[PS1][MUTANT]
    return mutate(solution_nb(PS1), bug.cell, bug.old, bug.new)


# ------------------------------------------------------------------------------------------------ the bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    config = gradescope.build_bundle(REPO, PS1, path)
    return path, config


def test_the_bundle_holds_the_scripts_the_project_the_assignment_and_its_config(bundle) -> None:
    path, config = bundle
    with zipfile.ZipFile(path) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        names = set(infos)
        for script in ("setup.sh", "run_autograder"):
            assert (infos[script].external_attr >> 16) & stat.S_IXUSR, script
            assert zf.read(script).startswith(b"#!/usr/bin/env bash\n")
        bundled = json.loads(zf.read(gradescope.CONFIG))
        pins = zf.read("constraints.txt").decode().split()
    assert bundled == config
    assert {k: config[k] for k in ("assignment", "visibility", "sandbox", "overrides")} == \
        {"assignment": PS1, "visibility": "after_due_date", "sandbox": "bwrap", "overrides": []}
    assert len(config["fingerprint"]) == 16 and config["time_limit"] == gradescope.DEFAULT_TIME_LIMIT
    assert {"project/pyproject.toml", "project/README.md", "project/autograder/gradescope/__init__.py",
            "project/autograder/gradescope/__main__.py", "project/autograder/gradescope/bundle.py",
            "project/autograder/gradescope/config.py", "project/autograder/gradescope/results.py",
            "project/autograder/gradescope/runner.py",
            "project/autograder/grading/private.py", "project/zengrad_ref/engine.py",
            "course/nbgrader_config.py", f"course/source/{PS1}/{PS1}.ipynb",
            f"course/source/{PS1}/gradcheck.py"} <= names
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-files", "autograder", "zengrad_ref"], text=True,
                             capture_output=True, check=True).stdout.split()
    assert {f"project/{n}" for n in tracked if (REPO / n).exists()} <= names
    for name in names:
        top = name.split("/")[0]
        assert top in {"setup.sh", "run_autograder", gradescope.CONFIG, "constraints.txt", "project", "course"}, name
        assert not {"__pycache__", ".venv", "tests", ".git"} & set(name.split("/")) and not name.endswith(".pyc")
        assert not name.startswith(("project/release", "project/solutions", "project/source", "course/source/ps2",
                                    "course/source/ps3", "course/release", "course/solutions")), name
    import nbgrader

    assert f"nbgrader=={nbgrader.__version__}" in pins and not any(p.startswith("zengrad-kit") for p in pins)


def test_the_scripts_are_valid_bash(bundle, tmp_path: Path) -> None:
    root = unpack(bundle[0], tmp_path / "autograder")
    for script in (root / "source" / "setup.sh", root / "run_autograder"):
        proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_the_cli_builds_a_bundle_and_records_sandbox_none_loudly(tmp_path: Path) -> None:
    out = tmp_path / "gs.zip"
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "gradescope", PS1, "-o", str(out), "--visibility",
                           "visible", "--sandbox", "none", "--course", str(REPO),
                           "--GuardedExecute.cell_cpu_seconds=30"], cwd=tmp_path, text=True, capture_output=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WITHOUT the sandbox" in proc.stderr
    with zipfile.ZipFile(out) as zf:
        config = json.loads(zf.read(gradescope.CONFIG))
        assert "visible" in zf.read("run_autograder").decode()
    assert config["sandbox"] == "none" and config["visibility"] == "visible"
    assert config["overrides"] == ["--GuardedExecute.cell_cpu_seconds=30"]
    for bad in (["no_such_assignment"], [PS1, "--Sandbox.backend=none"], [PS1, "--visibility", "sometimes"]):
        proc = subprocess.run([sys.executable, "-m", "autograder.cli", "gradescope", *bad, "-o",
                               str(tmp_path / "x.zip"), "--course", str(REPO)], cwd=tmp_path, text=True,
                              capture_output=True, timeout=600)
        assert proc.returncode == oc.EXIT_USAGE, (bad, proc.stdout + proc.stderr)
    assert not (tmp_path / "x.zip").exists()


# ------------------------------------------------------------------------------------------------ always a results.json


def test_our_own_failure_gives_score_0_and_says_so(bundle, tmp_path: Path, monkeypatch) -> None:
    root = unpack(bundle[0], tmp_path / "autograder")
    nbformat.write(solution_nb(PS1), root / "submission" / f"{PS1}.ipynb")

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the grader")

    monkeypatch.setattr(gradescope.runner, "_grade", broken)  # where run() looks it up
    data = gradescope.run(root)
    assert json.loads((root / "results" / "results.json").read_text()) == data
    validate(data)
    assert data["score"] == 0 and data["extra_data"]["status"] == oc.ERROR
    assert data["extra_data"]["error_kind"] == "internal"
    assert "could not be determined" in data["output"] and "Contact your instructor" in data["output"]
    assert "a bug in the grader" in data["output"]
    assert scores(data) == dict.fromkeys(POINTS, 0.0)


def test_a_sandbox_that_cannot_start_grades_nothing_and_says_so(bundle, tmp_path: Path, monkeypatch) -> None:
    root = unpack(bundle[0], tmp_path / "autograder")
    nbformat.write(solution_nb(PS1), root / "submission" / f"{PS1}.ipynb")
    jail = gradescope._jail()

    def unavailable(*args, **kwargs):
        raise jail.SandboxUnavailable("the sandbox cannot start: bwrap: No permissions to create new namespace")

    def never(*args, **kwargs):
        raise AssertionError("graded without the sandbox")

    monkeypatch.setattr(jail, "preflight", unavailable)
    monkeypatch.setattr("autograder.grading.private.grade_submission", never)
    data = gradescope.run(root)
    validate(data)
    assert data["score"] == 0 and data["extra_data"]["error_kind"] == "sandbox"
    assert "cannot start in this container" in data["output"] and "No permissions" in data["output"]


def test_a_broken_bundle_and_a_grader_that_cannot_start_still_leave_a_results_json(bundle, tmp_path: Path) -> None:
    root = unpack(bundle[0], tmp_path / "autograder")
    (root / "submission" / f"{PS1}.ipynb").write_text(nb_text(solution_nb(PS1)))
    (root / "source" / gradescope.CONFIG).write_text("{ not json")
    data, _ = run_autograder(root, {})
    validate(data)
    assert data["extra_data"]["error_kind"] == "bundle" and data["score"] == 0
    (root / "results" / "results.json").write_text(json.dumps({"score": 99.0}))  # a stale file is never reused
    data, stdout = run_autograder(root, {}, python="/bin/false")
    validate(data)
    assert data["score"] == 0 and data["extra_data"]["error_kind"] == "autograder-crashed"
    assert data["visibility"] == "after_due_date" and "exit status 1" in data["output"]
    assert "without writing results.json" in stdout


# ------------------------------------------------------------------------------------------------ five real submissions


SUBMISSIONS = ("solution", "stub", "mutant", "bad-json", "attack")


EXTRA = {"notes.HTML": "<script>alert(1)</script>", "mylib.py": "X = 1"}  # uploaded next to the notebook


@pytest.fixture(scope="module")
def graded(bundle, tmp_path_factory: pytest.TempPathFactory, course_template):
    """The five submissions through run_autograder, and through ``zengrad-kit grade`` in a course copy."""
    base = tmp_path_factory.mktemp("gradescope")
    roots = {name: unpack(bundle[0], base / name / "autograder") for name in SUBMISSIONS}
    notebooks = {"solution": nb_text(solution_nb(PS1)), "stub": nb_text(release_nb(PS1)),
                 "mutant": nb_text(mutant_nb()), "bad-json": '{"cells": [',
                 "attack": nb_text(attack_nb(roots["attack"]))}
    before = {name: digest_tree(root / "source") for name, root in roots.items()}
    results, stdouts, seconds = {}, {}, {}
    for name in SUBMISSIONS:
        start = time.monotonic()
        upload = {f"{PS1}.ipynb": notebooks[name], **(EXTRA if name == "solution" else {})}
        results[name], stdouts[name] = run_autograder(roots[name], upload)
        seconds[name] = time.monotonic() - start
    course = course_template.copy_to(base / "course")
    for name in SUBMISSIONS:
        course.submit(name, PS1, notebooks[name])
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", PS1, "--workers", "2", "--no-progress",
                           "--no-feedback"], cwd=course.root, text=True, capture_output=True, timeout=1800,
                          env=dict(os.environ, **bundled_code(roots["solution"])))
    assert proc.returncode in (oc.EXIT_OK, oc.EXIT_SUBMISSION_ERRORS), proc.stdout + proc.stderr
    local = {name: json.loads((course.root / "reports" / PS1 / name / "results.json").read_text())
             for name in SUBMISSIONS}
    recorded = json.loads((course.root / "reports" / "outcomes.json").read_text())["outcomes"]
    outcomes = {o["student"]: o for o in recorded}
    return {"roots": roots, "results": results, "stdout": stdouts, "seconds": seconds, "local": local,
            "outcomes": outcomes, "before": before, "course": course}


@pytest.mark.slow
def test_every_results_json_follows_the_specification(graded) -> None:
    for name in SUBMISSIONS:
        validate(graded["results"][name])


@pytest.mark.slow
def test_per_cell_scores_and_status_match_zengrad_kit_grade(graded) -> None:
    for name in SUBMISSIONS:
        remote, local, outcome = graded["results"][name], graded["local"][name], graded["outcomes"][name]
        assert remote["extra_data"]["error_kind"] != "version", remote["output"]
        assert scores(remote) == scores(local), name
        assert set(scores(remote)) == set(POINTS)
        assert {t["name"]: t["max_score"] for t in remote["tests"][1:]} == POINTS
        assert remote["score"] == local["score"] == outcome["score"], name
        assert remote["extra_data"]["status"] == outcome["status"], name
        assert remote["extra_data"]["error_kind"] == outcome["error_kind"], name


@pytest.mark.slow
def test_only_the_assignment_s_files_of_an_upload_are_graded(graded) -> None:
    notes = graded["results"]["solution"]["extra_data"]["notes"]
    assert notes == [f"left out, not files of {PS1}: mylib.py, notes.HTML"], notes


@pytest.mark.slow
def test_solution_stub_and_mutant_get_their_grades(graded) -> None:
    res = graded["results"]
    assert scores(res["solution"]) == POINTS and res["solution"]["extra_data"]["status"] == oc.GRADED
    assert scores(res["stub"]) == dict.fromkeys(POINTS, 0.0) and res["stub"]["extra_data"]["status"] == oc.GRADED
    loses = catalogue()[PS1][MUTANT].loses
    assert scores(res["mutant"]) == {k: (0.0 if k in loses else v) for k, v in POINTS.items()}
    (failed,) = [t for t in res["mutant"]["tests"] if t["name"] in loses]
    assert failed["status"] == "failed" and "HiddenCheckFailed" in failed["output"] and "expected" in failed["output"]
    assert "NotImplementedError" in next(t for t in res["stub"]["tests"] if t["name"] == "add_test")["output"]


@pytest.mark.slow
def test_hidden_check_output_is_visible_after_the_due_date_only(graded) -> None:
    for name in SUBMISSIONS:
        data = graded["results"][name]
        assert data["visibility"] == "after_due_date" and data["stdout_visibility"] == "hidden"
        check, cells = data["tests"][0], data["tests"][1:]
        assert check["visibility"] == "visible"
        assert all(t["visibility"] == "after_due_date" for t in cells)
        for t in cells:  # nothing a hidden check said reaches what is visible at once
            if t["output"].strip():
                for line in t["output"].strip().splitlines():
                    assert line not in data["output"] and line not in check["output"]
    solution = graded["results"]["solution"]
    assert "after the due date" in solution["output"] and solution["tests"][0]["status"] == "passed"


@pytest.mark.slow
def test_broken_and_hostile_submissions_get_an_explicit_error(graded) -> None:
    bad = graded["results"]["bad-json"]
    assert bad["extra_data"]["error_kind"] == oc.BAD_JSON and bad["score"] == 0
    assert "could not be determined" in bad["output"] and "not a readable notebook" in bad["output"]
    assert bad["tests"][0]["status"] == "failed"
    attack = graded["results"]["attack"]
    assert attack["extra_data"]["status"] == oc.ERROR and attack["extra_data"]["error_kind"] == oc.KERNEL_DIED
    assert "Contact your instructor" in attack["output"]


@pytest.mark.slow
def test_the_attack_reaches_neither_the_results_nor_the_bundle(graded, bundle) -> None:
    root = graded["roots"]["attack"]
    text = (root / "results" / "results.json").read_text()
    assert FORGED not in text and graded["results"]["attack"]["extra_data"]["fingerprint"] == bundle[1]["fingerprint"]
    assert graded["results"]["attack"]["score"] <= sum(POINTS.values())
    assert sorted(p.name for p in (root / "results").iterdir()) == ["results.json"]
    for name in SUBMISSIONS:
        assert digest_tree(graded["roots"][name] / "source") == graded["before"][name], name
    for p in root.rglob("*"):
        if p.is_file() and p.suffix != ".ipynb":
            assert FORGED.encode() not in p.read_bytes(), p


@pytest.mark.slow
def test_the_instructor_sees_the_log_and_the_scores_in_stdout(graded) -> None:
    out = graded["stdout"]["mutant"]
    assert "zengrad-kit: graded" in out and "mul_test: 0 / 1" in out
    assert "zengrad-kit: error" in graded["stdout"]["attack"] and "kernel" in graded["stdout"]["attack"]


# ------------------------------------------------------------------------------------------------ more choices


@pytest.mark.slow
def test_a_notebook_that_blocks_gets_a_timeout_result_before_gradescopes_limit(bundle, tmp_path: Path) -> None:
    root = unpack(bundle[0], tmp_path / "autograder")
    config = json.loads((root / "source" / gradescope.CONFIG).read_text())
    config["time_limit"] = 30  # the watchdog fires at 20 s; the cell would block for 600 s
    (root / "source" / gradescope.CONFIG).write_text(json.dumps(config))
    marker = "8642097531"
    nb = append_code(solution_nb(PS1), f"import subprocess, time\nsubprocess.Popen(['sleep', '{marker}'])\n"
                                       "time.sleep(100000)")
    start = time.monotonic()
    data, _ = run_autograder(root, {f"{PS1}.ipynb": nb_text(nb)}, timeout=300)
    assert time.monotonic() - start < 60
    validate(data)
    assert data["extra_data"]["error_kind"] == "timeout" and data["score"] == 0
    assert "time limit" in data["output"] and "could not be determined" in data["output"]
    time.sleep(1)
    left = [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]
    assert not left, left


@pytest.mark.slow
def test_a_bundle_without_the_sandbox_says_so_in_every_result(tmp_path: Path) -> None:
    path = tmp_path / "none.zip"
    gradescope.build_bundle(REPO, PS1, path, visibility="visible", sandbox="none")
    root = unpack(path, tmp_path / "autograder")
    data, stdout = run_autograder(root, {f"{PS1}.ipynb": nb_text(solution_nb(PS1))})
    validate(data)
    assert data["output"].startswith("WARNING: graded WITHOUT the sandbox")
    assert data["tests"][0]["output"].startswith("WARNING: graded WITHOUT the sandbox")
    assert data["extra_data"]["sandbox"] == "none" and "SANDBOX DISABLED" in stdout
    assert scores(data) == POINTS
    assert data["visibility"] == "visible" and all(t["visibility"] == "visible" for t in data["tests"])
    assert "listed below" in data["output"]
