"""Building the Gradescope autograder zip: ``zengrad-kit gradescope ASSIGNMENT -o autograder.zip``.

The project's own source goes in by path (``PACKAGE_PATHS``: the whole ``autograder`` package,
this one included, and ``zengrad_ref``), so the bundle's code fingerprints like the code that built it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import autograder.gradescope.config as shared  # the config file and the names the runner shares
from autograder.sandbox.backends import DEFAULT_BACKEND

if TYPE_CHECKING:
    from autograder.grading.config import Overrides

PACKAGE_PATHS = ("pyproject.toml", "README.md", "autograder", "zengrad_ref")
NOT_INSTALLED = {"zengrad-kit", "pip", "setuptools", "wheel"}  # never pinned in constraints.txt
ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # a fixed timestamp: the same inputs give the same zip


class BundleError(Exception):
    """The bundle cannot be built (unknown assignment, no source tree, code that would not reproduce)."""


# ================================================================================================ building


def project_root() -> Path:
    """The source tree of the running zengrad-kit (the bundle pip-installs it in Gradescope's container)."""
    root = Path(__file__).resolve().parents[2]  # autograder/gradescope/bundle.py -> the checkout
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
                if p.is_file() and not shared.SKIP_PARTS & set(p.parts) and p.suffix != ".pyc" \
                        and not any(part.endswith(".egg-info") for part in p.parts):
                    names.append(str(p.relative_to(root)))
    return [n for n in names if (root / n).is_file() and not shared.SKIP_PARTS & set(Path(n).parts)]


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


def build_bundle(course: Path, assignment: str, out_zip: Path, visibility: str = shared.DEFAULT_VISIBILITY,
                 sandbox: str = DEFAULT_BACKEND, time_limit: int = shared.DEFAULT_TIME_LIMIT,
                 overrides: Overrides | list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Write the Gradescope autograder zip for ``assignment`` of ``course``; its config (as bundled)."""
    from autograder.grading.config import Overrides
    from autograder.grading.private import Material

    course = Path(course).resolve()
    if visibility not in shared.VISIBILITIES:
        raise BundleError(f"--visibility must be one of {', '.join(shared.VISIBILITIES)}")
    if sandbox not in shared.SANDBOXES:
        raise BundleError(f"--sandbox must be one of {', '.join(shared.SANDBOXES)}")
    if time_limit < 60:
        raise BundleError("--time-limit must be at least 60 seconds")
    try:
        overrides = Overrides.of(overrides)
    except ValueError as exc:
        raise BundleError(str(exc)) from None
    if "backend" in overrides.config.get("Sandbox", {}):
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
              "overrides": list(overrides.args), "fingerprint": fp, "built": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    out_zip = Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    run_script = RUN_AUTOGRADER.replace("@VISIBILITY@", visibility).replace("@CHECK@", shared.CHECK_NAME)
    tmp_zip = out_zip.with_name(out_zip.name + ".tmp")
    with zipfile.ZipFile(tmp_zip, "w") as zf:
        _zip_write(zf, "setup.sh", SETUP_SH.encode(), executable=True)
        _zip_write(zf, "run_autograder", run_script.encode(), executable=True)
        _zip_write(zf, shared.CONFIG, (json.dumps(config, indent=1, sort_keys=True) + "\n").encode())
        _zip_write(zf, "constraints.txt", constraints().encode())
        for name, content in sorted(files.items()):
            _zip_write(zf, name, content)
    tmp_zip.replace(out_zip)
    return config
