"""Gradescope: ``zengrad-kit gradescope ASSIGNMENT -o autograder.zip`` builds an autograder bundle; ``run`` grades.

Gradescope unpacks the zip into ``/autograder/source/``, runs ``setup.sh`` once (as root, on its Ubuntu
image) and ``run_autograder`` once per submission, with the student's files in
``/autograder/submission/``; the result goes to ``/autograder/results/results.json``.

The bundle::

    setup.sh                  apt: bubblewrap, util-linux, graphviz, a Python >= 3.11 with venv; pip: the project
    run_autograder            python -m autograder.gradescope run; writes a fallback results.json if that dies
    zengrad-gradescope.json   assignment, visibility, sandbox, time limit, config overrides, fingerprint
    constraints.txt           the exact versions of every runtime dependency on the machine that built it
    project/                  pyproject.toml, README.md, autograder/, zengrad_ref/ (source only)
    course/                   nbgrader_config.py, source/<assignment>/

A submission is graded by :func:`autograder.grading.private.grade_submission`, the pipeline and the
sandbox of ``zengrad-kit grade``, in a private course built from ``course/``. The bundled grading
code's ``fingerprint()`` (computed from ``project/`` alone when building) is in the config; the code
installed in the container must have it (checked by ``setup.sh`` and on every submission).

What students see (Gradescope's ``visibility``): every cell's score is decided by its hidden checks,
so the cells (score, verdict) and the total are shown ``after_due_date`` by default (``--visibility``
changes it). Always visible, at once: a "Submission check" entry without points and the top-level
output, which say whether the notebook arrived, could be read and was graded, or why not, so a
student can fix a missing, renamed or unreadable notebook before the deadline. Neither says whether
a hidden check passed. The grader's log, the scores and integrity flags go to stdout, shown to
instructors only (``stdout_visibility: hidden``).

``run`` always writes a results.json: for a broken or hostile submission, for a sandbox that cannot
start (nothing is graded then; no fallback to unjailed grading), when grading runs into the time
limit, and when our own code fails (score 0, "the grade could not be determined").
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from pathlib import Path
from typing import Any

from autograder.results.results_json import write_results_json
from autograder.screen.text import plain_text

CONFIG = "zengrad-gradescope.json"
VISIBILITIES = ("after_due_date", "visible", "hidden", "after_published")
SANDBOXES = ("bwrap", "none")
DEFAULT_VISIBILITY = "after_due_date"
DEFAULT_TIME_LIMIT = 600  # seconds: Gradescope's default autograder timeout (10 minutes)
STUDENT = "student"  # the private course's only student
ROOT_ENV = "ZENGRAD_GRADESCOPE_ROOT"  # tests only: a directory laid out like /autograder
PYTHON_ENV = "ZENGRAD_GRADESCOPE_PYTHON"  # tests only: the interpreter run_autograder uses
PACKAGE_PATHS = ("pyproject.toml", "README.md", "autograder", "zengrad_ref")
NOT_INSTALLED = {"zengrad-kit", "pip", "setuptools", "wheel"}  # never pinned in constraints.txt
CHECK_NAME = "Submission check"
SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints", ".git", "__MACOSX"}
ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # a fixed timestamp: the same inputs give the same zip


def _jail() -> Any:
    """The sandbox module, looked up when needed (its ``preflight`` decides whether anything is graded)."""
    from autograder.sandbox import jail

    return jail


def unsafe_warning() -> str:
    """What grading without the sandbox means, in the grader's own words."""
    return _jail().UNSAFE_WARNING


class BundleError(Exception):
    """The bundle cannot be built (unknown assignment, no source tree, code that would not reproduce)."""


# ================================================================================================ building


def project_root() -> Path:
    """The source tree of the running zengrad-kit (the bundle pip-installs it in Gradescope's container)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file() or not (root / "zengrad_ref").is_dir():
        raise BundleError(f"zengrad-kit is not running from its source tree ({root} has no pyproject.toml): "
                          "install it with `pip install -e` from a checkout to build Gradescope bundles")
    return root


def project_files(root: Path) -> list[str]:
    """The project's source files (relative paths): git's tracked and not-ignored files, never tests or .venv.

    Untracked files that are not ignored are included, because the fingerprint covers every module
    the running code has; build junk (``__pycache__``, ``*.egg-info``) is ignored by git. Without git,
    the same directories are walked without junk.
    """
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                              "--", *PACKAGE_PATHS], capture_output=True, check=True, timeout=60).stdout
        names = sorted({n for n in out.decode().split("\0") if n})
    except (OSError, subprocess.SubprocessError):
        names = []
        for top in PACKAGE_PATHS:
            path = root / top
            if path.is_file():
                names.append(top)
            for p in sorted(path.rglob("*")) if path.is_dir() else []:
                if p.is_file() and not SKIP_PARTS & set(p.parts) and p.suffix != ".pyc" \
                        and not any(part.endswith(".egg-info") for part in p.parts):
                    names.append(str(p.relative_to(root)))
    return [n for n in names if (root / n).is_file() and not SKIP_PARTS & set(Path(n).parts)]


def constraints() -> str:
    """``name==version`` for every runtime dependency of zengrad-kit installed here (its extras excluded)."""
    import importlib.metadata as md

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    todo, seen = ["zengrad-kit"], set()
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        if name not in NOT_INSTALLED:
            pins[name] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def _bundled_fingerprint(project: Path) -> str:
    """``fingerprint()`` of the grading code in ``project`` alone, as a clean installation of it computes it.

    A fresh interpreter without ``site`` (so no editable install of this checkout joins the namespace
    package ``autograder``) and without the working directory, that imports the project and the
    installed dependencies (nbgrader) only.
    """
    import site

    paths = [str(project), *[p for p in site.getsitepackages() if Path(p).is_dir()]]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join(paths)
    code = ("import autograder, zengrad_ref; from autograder.grading.private import fingerprint; "
            "print(list(autograder.__path__) + list(zengrad_ref.__path__)); print(fingerprint())")
    proc = subprocess.run([sys.executable, "-S", "-P", "-c", code], cwd=project, env=env, capture_output=True,
                          text=True, timeout=300)
    lines = proc.stdout.strip().splitlines()
    expected = [str(project / "autograder"), str(project / "zengrad_ref")]
    if proc.returncode != 0 or len(lines) != 2 or lines[0] != repr(expected):
        raise BundleError(f"the bundled grading code does not import on its own: "
                          f"{(proc.stderr or proc.stdout).strip()[-800:]}")
    return lines[1]


def _unbundled_modules(root: Path, names: list[str]) -> list[str]:
    """Modules of the running grading packages that the bundle would lack (e.g. ignored by git)."""
    bundled = set(names)
    return sorted(str(p.relative_to(root)) for package in ("autograder", "zengrad_ref")
                  for p in (root / package).rglob("*.py")
                  if "__pycache__" not in p.parts and str(p.relative_to(root)) not in bundled)


SETUP_SH = r"""#!/usr/bin/env bash
# zengrad-kit Gradescope autograder, build step: Gradescope runs this once, as root, on its Ubuntu image
# (22.04 or 24.04). It installs the sandbox (bubblewrap), graphviz, a Python >= 3.11 and, in a virtualenv
# under /autograder/source/venv, the bundled zengrad-kit with the exact dependency versions it was built with.
set -euo pipefail
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$SRC"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends bubblewrap util-linux graphviz ca-certificates python3 python3-venv
PY=""
for cand in python3 python3.13 python3.12 python3.11; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    PY="$(command -v "$cand")"; break
  fi
done
if [ -z "$PY" ]; then  # Ubuntu 22.04: python3 is 3.10
  apt-get install -y -qq --no-install-recommends python3.11 python3.11-venv
  PY="$(command -v python3.11)"
fi
VER="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
apt-get install -y -qq --no-install-recommends "python${VER}-venv" || true
"$PY" -m venv "$SRC/venv"
"$SRC/venv/bin/python" -m pip install -q --upgrade pip
"$SRC/venv/bin/python" -m pip install -q -c "$SRC/constraints.txt" "$SRC/project"
# the installed grading code must be the code the bundle was built from (fails the build otherwise);
# says whether the sandbox can start here
"$SRC/venv/bin/python" -m autograder.gradescope check --source "$SRC"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# zengrad-kit Gradescope autograder: grades /autograder/submission into /autograder/results/results.json.
# It always leaves a results.json, even when the grader cannot start or is killed.
ROOT="${ZENGRAD_GRADESCOPE_ROOT:-/autograder}"
PY="${ZENGRAD_GRADESCOPE_PYTHON:-$ROOT/source/venv/bin/python}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
export PATH="$(dirname "$PY"):$PATH"
cd "$ROOT" || exit 0
"$PY" -P -m autograder.gradescope run --root "$ROOT" 2>&1  # -P: nothing from the working directory
code=$?
if [ ! -s "$RESULTS" ]; then
  echo "zengrad-kit: the grader exited with status $code without writing results.json; writing an error result"
  why="the autograder stopped unexpectedly (exit status $code) before it wrote its results"
  why="$why (it may have run out of memory or time)"
  cat > "$RESULTS" <<EOF
{"score": 0.0, "execution_time": $SECONDS,
 "output": "The grade could not be determined: $why. Contact your instructor.",
 "output_format": "text", "visibility": "@VISIBILITY@", "stdout_visibility": "hidden",
 "extra_data": {"status": "error", "error_kind": "autograder-crashed", "error": "exit status $code"},
 "tests": [{"name": "@CHECK@", "number": "0", "status": "failed", "visibility": "visible",
            "output": "The grade could not be determined: $why. Contact your instructor."}]}
EOF
fi
exit 0
"""


def _zip_write(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
    zf.writestr(info, data)


def build_bundle(course: Path, assignment: str, out_zip: Path, visibility: str = DEFAULT_VISIBILITY,
                 sandbox: str = "bwrap", time_limit: int = DEFAULT_TIME_LIMIT,
                 overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Write the Gradescope autograder zip for ``assignment`` of ``course``; its config (as bundled)."""
    from autograder.grading.private import Material

    course = Path(course).resolve()
    if visibility not in VISIBILITIES:
        raise BundleError(f"--visibility must be one of {', '.join(VISIBILITIES)}")
    if sandbox not in SANDBOXES:
        raise BundleError(f"--sandbox must be one of {', '.join(SANDBOXES)}")
    if time_limit < 60:
        raise BundleError("--time-limit must be at least 60 seconds")
    if any(o.startswith("--Sandbox.backend=") for o in overrides):
        raise BundleError("choose the sandbox with --sandbox, not --Sandbox.backend")
    if not (course / "nbgrader_config.py").is_file():
        raise BundleError(f"{course} is not a course directory (no nbgrader_config.py)")
    if not list((course / "source" / assignment).glob("*.ipynb")):
        known = sorted(p.name for p in (course / "source").iterdir() if p.is_dir()) \
            if (course / "source").is_dir() else []
        raise BundleError(f"unknown assignment {assignment!r} (known: {', '.join(known) or 'none'})")
    material = Material.from_course(course, assignment)
    root = project_root()
    names = project_files(root)
    missing = _unbundled_modules(root, names)
    if missing:
        raise BundleError(f"these modules of the grading code would not be bundled (ignored by git?): "
                          f"{', '.join(missing[:10])}")
    files: dict[str, bytes] = {f"project/{name}": (root / name).read_bytes() for name in names}
    files["course/nbgrader_config.py"] = material.config.encode()
    for name, content in material.source:
        files[f"course/source/{assignment}/{name}"] = content
    with tempfile.TemporaryDirectory(prefix="zengrad-gradescope-") as tmp:
        stage = Path(tmp)
        for name, content in files.items():
            if name.startswith("project/"):
                (stage / name).parent.mkdir(parents=True, exist_ok=True)
                (stage / name).write_bytes(content)
        fp = _bundled_fingerprint(stage / "project")
    config = {"assignment": assignment, "visibility": visibility, "sandbox": sandbox, "time_limit": int(time_limit),
              "overrides": list(overrides), "fingerprint": fp, "built": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    out_zip = Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    run_script = RUN_AUTOGRADER.replace("@VISIBILITY@", visibility).replace("@CHECK@", CHECK_NAME)
    tmp_zip = out_zip.with_name(out_zip.name + ".tmp")
    with zipfile.ZipFile(tmp_zip, "w") as zf:
        _zip_write(zf, "setup.sh", SETUP_SH.encode(), executable=True)
        _zip_write(zf, "run_autograder", run_script.encode(), executable=True)
        _zip_write(zf, CONFIG, (json.dumps(config, indent=1, sort_keys=True) + "\n").encode())
        _zip_write(zf, "constraints.txt", constraints().encode())
        for name, content in sorted(files.items()):
            _zip_write(zf, name, content)
    tmp_zip.replace(out_zip)
    return config


# ================================================================================================ grading


def load_config(source: Path) -> dict[str, Any]:
    """The bundle's config, checked (a bundle that was edited by hand gets a clear error)."""
    cfg = json.loads((Path(source) / CONFIG).read_text())
    if cfg.get("visibility") not in VISIBILITIES or cfg.get("sandbox") not in SANDBOXES \
            or not isinstance(cfg.get("assignment"), str) or not isinstance(cfg.get("fingerprint"), str):
        raise ValueError(f"{CONFIG} is not a zengrad-kit Gradescope config")
    return cfg


def _visibility_phrase(visibility: str) -> str:
    return {"visible": "are listed below",
            "after_due_date": "are shown here after the due date",
            "after_published": "are shown here when your instructor publishes the grades",
            "hidden": "are not shown here; your instructor releases them"}[visibility]


class Results:
    """results.json: written once, atomically, by whoever gets there first (the grading or the watchdog)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.written = False

    def write(self, data: dict[str, Any]) -> bool:
        if not self.lock.acquire(timeout=30):  # the other writer is writing (a signal arrived meanwhile)
            return False
        try:
            if self.written:
                return False
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_results_json(self.path, data)
            self.written = True
            return True
        finally:
            self.lock.release()


def _grade_cells(source: Path, assignment: str) -> list[tuple[str, str, float]]:
    """(notebook, grade_id, points) of every graded cell, in notebook order."""
    import nbformat

    cells = []
    for path in sorted((source / "course" / "source" / assignment).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and meta.get("grade_id"):
                cells.append((path.stem, meta["grade_id"], float(meta.get("points", 0.0))))
    return cells


def _test_name(notebook: str, grade_id: str, assignment: str) -> str:
    return grade_id if notebook == assignment else f"{notebook}: {grade_id}"


def results_json(cfg: dict[str, Any], status: str, summary: str, check_passed: bool, score: float,
                 cells: list[dict[str, Any]], seconds: float, extra: dict[str, Any]) -> dict[str, Any]:
    """Gradescope's results.json: the top-level output and the submission check are visible; the cells follow
    the bundle's visibility."""
    visibility = cfg.get("visibility", DEFAULT_VISIBILITY)
    lines = []
    if cfg.get("sandbox") == "none":
        lines.append(f"WARNING: graded WITHOUT the sandbox (the bundle was built with --sandbox none). "
                     f"{unsafe_warning()}.")
    lines.append(summary)
    # every output is plain text and declared so: Gradescope renders "text" escaped, never as HTML/Markdown
    output = plain_text("\n".join(lines))
    tests: list[dict[str, Any]] = [{"name": CHECK_NAME, "number": "0", "status": "passed" if check_passed else "failed",
                                    "output": output, "output_format": "text", "visibility": "visible"}]
    for i, c in enumerate(cells, start=1):
        tests.append({"name": plain_text(c["name"]), "number": str(i), "score": c["score"],
                      "max_score": c["max_score"], "status": "passed" if c["score"] >= c["max_score"] else "failed",
                      "output": plain_text(c["output"]), "output_format": "text",
                      "tags": [plain_text(t) for t in c["tags"]], "visibility": visibility})
    return {"score": score, "execution_time": int(round(seconds)), "output": output, "output_format": "text",
            "test_output_format": "text", "visibility": visibility, "stdout_visibility": "hidden",
            "extra_data": {"status": status, "sandbox": cfg.get("sandbox", "bwrap"),
                           "assignment": cfg.get("assignment"), "fingerprint": cfg.get("fingerprint"), **extra},
            "tests": tests}


def failure_results(cfg: dict[str, Any], source: Path, kind: str, reason: str, seconds: float) -> dict[str, Any]:
    """Nothing could be graded: score 0, every cell at 0, and a message that says so."""
    cells: list[dict[str, Any]] = []
    with contextlib.suppress(Exception):  # the cells are a courtesy; the error must be written regardless
        for notebook, grade_id, points in _grade_cells(source, cfg["assignment"]):
            cells.append({"name": _test_name(notebook, grade_id, cfg["assignment"]), "score": 0.0,
                          "max_score": points, "output": "not graded (see the submission check)",
                          "tags": [notebook]})
    summary = f"The grade could not be determined: {reason}\nContact your instructor."
    return results_json(cfg, "error", summary, False, 0.0, cells, seconds,
                        {"error_kind": kind, "error": reason[:2000]})


def outcome_results(cfg: dict[str, Any], source: Path, outcome: Any, seconds: float) -> dict[str, Any]:
    """results.json of one graded submission (status graded or error), one test per graded cell."""
    assignment = cfg["assignment"]
    try:
        order = {(nb, gid): i for i, (nb, gid, _) in enumerate(_grade_cells(source, assignment))}
    except Exception:  # noqa: BLE001 - the gradebook's order (by name) then
        order = {}
    ordered = sorted(outcome.cells, key=lambda c: (order.get((c.notebook, c.grade_id), len(order)), c.notebook,
                                                   c.grade_id))
    cells = []
    for c in ordered:
        text = c.output or ("no verdict: the grade could not be determined (see the submission check)"
                            if outcome.status == "error" else "")
        cells.append({"name": _test_name(c.notebook, c.grade_id, assignment), "score": float(c.score),
                      "max_score": float(c.max_score), "output": text, "tags": [c.notebook]})
    notebooks = sorted({c.notebook for c in outcome.cells}) or [assignment]
    names = ", ".join(f"{n}.ipynb" for n in notebooks)
    if outcome.status == "error":
        hint = ""
        if outcome.error_kind in ("bad-json", "missing-notebook"):
            hint = (f"\nSubmit {names} exactly as the assignment names it, saved from Jupyter, and resubmit; "
                    "if that does not help, contact your instructor.")
        summary = (f"The grade could not be determined ({outcome.error_kind}): {outcome.message[:1500]}{hint}\n"
                   f"Contact your instructor. Cells that could be graded keep their scores; they "
                   f"{_visibility_phrase(cfg['visibility'])}.")
        extra = {"error_kind": outcome.error_kind, "error": outcome.message[:2000]}
    else:
        summary = (f"{names}: received, readable and graded ({len(cells)} graded cells). Your score and the "
                   f"result of each cell, with the hidden tests' verdicts, {_visibility_phrase(cfg['visibility'])}.")
        extra = {"error_kind": None, "error": None}
    extra["notes"] = list(outcome.notes)
    return results_json(cfg, outcome.status, summary, outcome.status != "error", float(outcome.score), cells,
                        seconds, extra)


def submission_files(submission: Path, assignment: str) -> dict[str, bytes]:
    """The student's files, as ``submitted/<student>/<assignment>/`` holds them.

    The notebook may sit in a sub-folder (an uploaded folder or repository): the folder that holds
    ``<assignment>.ipynb`` is the submission then. A missing or renamed notebook is left to the
    pipeline's own check, which names what it found.
    """
    folder = submission
    if not (submission / f"{assignment}.ipynb").is_file():
        found = [p.parent for p in submission.rglob(f"{assignment}.ipynb")
                 if p.is_file() and not SKIP_PARTS & set(p.relative_to(submission).parts)]
        if len(found) == 1:
            folder = found[0]
    files: dict[str, bytes] = {}
    for p in sorted(folder.rglob("*")) if folder.is_dir() else []:
        rel = p.relative_to(folder)
        if p.is_file() and not p.is_symlink() and not SKIP_PARTS & set(rel.parts):
            files[str(rel)] = p.read_bytes()
    return files


def _kill_children() -> None:
    """Kill every process this one started (the jails; each takes its namespace with it)."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child.kill()


def _cleanup_private_courses(before: set) -> None:
    """Remove the throwaway courses this run created (Gradescope's container is thrown away; a test's is not)."""
    from autograder.grading import private

    for key in set(private._COURSES) - before:  # noqa: SLF001 - the private courses of this process
        course, _ = private._COURSES.pop(key)  # noqa: SLF001
        shutil.rmtree(course, ignore_errors=True)


def _private_keys() -> set:
    from autograder.grading import private

    return set(private._COURSES)  # noqa: SLF001


def _print_report(data: dict[str, Any], flags: list[dict] | None = None) -> None:
    """What the instructor sees in Gradescope's stdout box."""
    print(f"\nzengrad-kit: {data['extra_data']['status']}, score {data['score']:g}"
          + (f" ({data['extra_data'].get('error_kind')})" if data["extra_data"].get("error_kind") else ""))
    for t in data["tests"][1:]:
        print(f"  {t['name']}: {t['score']:g} / {t['max_score']:g}")
    for f in flags or []:
        print(f"  integrity flag: {json.dumps(f, sort_keys=True)}")
    print(data["output"])
    sys.stdout.flush()


def run(root: str | Path = "/autograder") -> dict[str, Any]:
    """Grade ``<root>/submission`` and write ``<root>/results/results.json`` (always); the results written."""
    start = time.monotonic()
    root = Path(root)
    source = root / "source"
    courses = _private_keys()
    results = Results(root / "results" / "results.json")
    cfg: dict[str, Any] = {"assignment": "?", "visibility": DEFAULT_VISIBILITY, "sandbox": "bwrap",
                           "time_limit": DEFAULT_TIME_LIMIT, "overrides": [], "fingerprint": "?"}
    try:
        cfg = load_config(source)
    except Exception as exc:  # noqa: BLE001 - a broken bundle: say so
        data = failure_results(cfg, source, "bundle", f"the autograder bundle is broken ({type(exc).__name__}: "
                                                      f"{exc}).", time.monotonic() - start)
        results.write(data)
        with contextlib.suppress(Exception):
            _print_report(data)
        return data

    def give_up(kind: str, reason: str) -> None:
        data = failure_results(cfg, source, kind, reason, time.monotonic() - start)
        if results.write(data):
            with contextlib.suppress(Exception):
                _print_report(data)
        with contextlib.suppress(Exception):
            _kill_children()
        with contextlib.suppress(Exception):
            _cleanup_private_courses(courses)
        os._exit(0)

    limit = float(cfg.get("time_limit") or DEFAULT_TIME_LIMIT)
    deadline = limit - max(10.0, 0.05 * limit)
    done = threading.Event()

    def watchdog() -> None:
        if not done.wait(max(1.0, deadline - (time.monotonic() - start))):
            give_up("timeout", f"grading did not finish within the autograder's time limit ({deadline:.0f} s): "
                               "code that blocks (sleep, input()) or runs for very long.")

    threading.Thread(target=watchdog, daemon=True, name="zengrad-gradescope-watchdog").start()
    previous = None
    with contextlib.suppress(ValueError):  # not in the main thread: no handler
        previous = signal.signal(signal.SIGTERM, lambda *_: give_up("terminated", "the autograder was stopped "
                                                                                  "(SIGTERM) before grading finished."))
    try:
        try:
            data = _grade(root, source, cfg, start)
        except BaseException as exc:  # noqa: BLE001 - our own failure: never without a results.json
            traceback.print_exc()
            data = failure_results(cfg, source, "internal", f"the autograder itself failed ({type(exc).__name__}: "
                                                            f"{str(exc)[:500]}).", time.monotonic() - start)
        done.set()
        flags = data["extra_data"].pop("flags", [])
        if results.write(data):
            with contextlib.suppress(Exception):
                _print_report(data, flags)
    finally:
        done.set()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        with contextlib.suppress(Exception):
            _cleanup_private_courses(courses)
    return data


def _grade(root: Path, source: Path, cfg: dict[str, Any], start: float) -> dict[str, Any]:
    from autograder.grading.private import Material, VersionMismatch, grade_submission

    jail = _jail()
    if cfg["sandbox"] == "bwrap":
        try:
            jail.preflight()
        except jail.SandboxUnavailable as exc:
            return failure_results(cfg, source, "sandbox", f"the sandbox that student code runs in cannot start in "
                                                           f"this container, so nothing was graded ({exc})",
                                   time.monotonic() - start)
    else:
        print(f"WARNING: {jail.UNSAFE_WARNING}", flush=True)
    assignment = cfg["assignment"]
    material = dataclasses.replace(Material.from_course(source / "course", assignment), fingerprint=cfg["fingerprint"])
    files = submission_files(root / "submission", assignment)
    overrides = (*cfg.get("overrides", []), f"--Sandbox.backend={cfg['sandbox']}")
    try:
        graded = grade_submission(material, STUDENT, files, overrides)
    except VersionMismatch as exc:
        return failure_results(cfg, source, "version", f"the grading code installed in this container is not the "
                                                       f"code the autograder was built with ({exc}).",
                               time.monotonic() - start)
    outcome = graded.outcome
    print(outcome.log[-20000:], flush=True)
    data = outcome_results(cfg, source, outcome, time.monotonic() - start)
    data["extra_data"]["flags"] = list(outcome.flags)
    return data


def check(source: Path) -> int:
    """At build time (setup.sh): the installed grading code is the bundle's; whether the sandbox starts here."""
    from autograder.grading.private import fingerprint

    jail = _jail()

    cfg = load_config(source)
    found = fingerprint()
    if found != cfg["fingerprint"]:
        print(f"zengrad-kit: error: the installed grading code ({found}) is not the code this bundle was built "
              f"with ({cfg['fingerprint']}); rebuild the bundle with the same zengrad-kit and nbgrader versions")
        return 1
    print(f"zengrad-kit: grading code {found} installed for {cfg['assignment']}")
    if cfg["sandbox"] == "none":
        print(f"WARNING: this bundle grades WITHOUT the sandbox (--sandbox none): {jail.UNSAFE_WARNING}")
        return 0
    try:
        jail.preflight()
    except jail.SandboxUnavailable as exc:
        print(f"WARNING: the sandbox cannot start in the build container ({exc}). If it cannot start when "
              "submissions are graded either, every submission gets an error result saying so.")
    else:
        print("zengrad-kit: the sandbox starts in this container")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.gradescope run|check``: what run_autograder and setup.sh call."""
    bindir = str(Path(sys.executable).parent)  # nbgrader shells out to alembic
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="grade <root>/submission into <root>/results/results.json")
    r.add_argument("--root", default=os.environ.get(ROOT_ENV, "/autograder"), help=argparse.SUPPRESS)
    c = sub.add_parser("check", help="check the installation (setup.sh)")
    c.add_argument("--source", default="/autograder/source")
    args = parser.parse_args(argv)
    if args.command == "check":
        return check(Path(args.source))
    run(args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
