"""The bundle's config (``zengrad-gradescope.json``) and what building, grading and reporting share.

Kept apart so that ``bundle``, ``results`` and ``runner`` import it and never each other in a circle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autograder.sandbox.backends import BACKENDS

CONFIG = "zengrad-gradescope.json"
VISIBILITIES = ("after_due_date", "visible", "hidden", "after_published")
SANDBOXES = tuple(BACKENDS)  # the sandbox backends a bundle can be built for
DEFAULT_VISIBILITY = "after_due_date"
DEFAULT_TIME_LIMIT = 600  # seconds: Gradescope's default autograder timeout (10 minutes)
CHECK_NAME = "Submission check"
SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints", ".git", "__MACOSX"}


def _jail() -> Any:
    """The sandbox module, looked up when needed (its ``preflight`` decides whether anything is graded)."""
    from autograder.sandbox import jail

    return jail


def unsafe_warning() -> str:
    """What grading without the sandbox means, in the grader's own words."""
    return _jail().UNSAFE_WARNING



def load_config(source: Path) -> dict[str, Any]:
    """The bundle's config, checked (a bundle that was edited by hand gets a clear error)."""
    cfg = json.loads((Path(source) / CONFIG).read_text())
    if cfg.get("visibility") not in VISIBILITIES or cfg.get("sandbox") not in SANDBOXES \
            or not isinstance(cfg.get("assignment"), str) or not isinstance(cfg.get("fingerprint"), str):
        raise ValueError(f"{CONFIG} is not a zengrad-kit Gradescope config")
    return cfg
