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

Modules: ``config`` (the bundle's config and shared names), ``bundle`` (building the zip),
``results`` (Gradescope's results.json shape), ``runner`` (``run`` and ``check`` in the container).
Every name of the former single module is re-exported here.
"""

from __future__ import annotations

from autograder.gradescope.bundle import (
    NOT_INSTALLED,
    PACKAGE_PATHS,
    RUN_AUTOGRADER,
    SETUP_SH,
    ZIP_DATE,
    BundleError,
    _bundled_fingerprint,
    _unbundled_modules,
    _zip_write,
    build_bundle,
    constraints,
    project_files,
    project_root,
)
from autograder.gradescope.config import (
    CHECK_NAME,
    CONFIG,
    DEFAULT_TIME_LIMIT,
    DEFAULT_VISIBILITY,
    SANDBOXES,
    SKIP_PARTS,
    VISIBILITIES,
    _jail,
    load_config,
    unsafe_warning,
)
from autograder.gradescope.results import (
    Results,
    _grade_cells,
    _test_name,
    _visibility_phrase,
    failure_results,
    outcome_results,
    results_json,
)
from autograder.gradescope.runner import (
    PYTHON_ENV,
    ROOT_ENV,
    STUDENT,
    _grade,
    _kill_children,
    _print_report,
    check,
    main,
    run,
    submission_files,
)

__all__ = [
    "BundleError",
    "CHECK_NAME",
    "CONFIG",
    "DEFAULT_TIME_LIMIT",
    "DEFAULT_VISIBILITY",
    "NOT_INSTALLED",
    "PACKAGE_PATHS",
    "PYTHON_ENV",
    "ROOT_ENV",
    "RUN_AUTOGRADER",
    "Results",
    "SANDBOXES",
    "SETUP_SH",
    "SKIP_PARTS",
    "STUDENT",
    "VISIBILITIES",
    "ZIP_DATE",
    "_bundled_fingerprint",
    "_grade",
    "_grade_cells",
    "_jail",
    "_kill_children",
    "_print_report",
    "_test_name",
    "_unbundled_modules",
    "_visibility_phrase",
    "_zip_write",
    "build_bundle",
    "check",
    "constraints",
    "failure_results",
    "load_config",
    "main",
    "outcome_results",
    "project_files",
    "project_root",
    "results_json",
    "run",
    "submission_files",
    "unsafe_warning",
]
