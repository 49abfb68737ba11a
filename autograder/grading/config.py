"""The course's configuration as one grading run reads it: ``nbgrader_config.py`` plus overrides.

Every part of a run (the local pool, the Dask coordinator, the service) reads the course's
configuration through here, so an override means the same thing everywhere, and nothing in
``grading/`` has to import the run to learn it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autograder.sandbox.backends import Backend


def course_config(course: Path, overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """The course's ``nbgrader_config.py`` plus ``--Class.trait=value`` overrides, as nbgrader would load them."""
    from traitlets.config.loader import KVArgParseConfigLoader, PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    cfg.merge(KVArgParseConfigLoader(list(overrides)).load_config())
    return cfg


def merge_overrides(overrides: list[str] | tuple[str, ...]) -> list[str]:
    """``--Class.trait=value`` arguments with later ones replacing earlier ones for the same trait.

    traitlets rejects a trait given twice on one command line; the demo's limits
    and the user's own overrides may name the same trait.
    """
    merged: dict[str, str] = {}
    for arg in overrides:
        key = arg.split("=", 1)[0]
        merged.pop(key, None)
        merged[key] = arg
    return list(merged.values())


def sandbox_backend(cfg: Any) -> Backend:
    """The sandbox backend a configuration names (``Sandbox.backend``; bubblewrap unless told), as an object
    with its options (``Sandbox.bwrap``, ``Sandbox.setpriv``), so no caller compares the name."""
    from autograder.grading.discover import UsageError
    from autograder.sandbox.backends import DEFAULT_BACKEND, backend_named

    options = {key: str(value) for key, value in cfg.Sandbox.items() if key != "backend"}
    try:
        return backend_named(str(cfg.Sandbox.get("backend", DEFAULT_BACKEND)), **options)
    except ValueError as exc:
        raise UsageError(f"c.Sandbox.backend: {exc}") from None


def default_job_timeout(cfg: Any) -> float:
    """Wall-clock backstop per submission: the notebook's backstop plus room for the checks and start-up.

    It only catches a grading run that is stuck; every limit that decides a score counts CPU time.
    """
    notebook = float(cfg.GuardedExecute.get("notebook_timeout", 1800))
    checks = float(cfg.TrustedChecks.get("cpu_seconds", 600))
    return notebook + 2 * checks + 120.0
