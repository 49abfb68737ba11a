"""The sandbox backends, as objects: the one place that knows which names exist and what each means.

Code outside ``autograder/sandbox/`` asks a :class:`Backend` (``jailed``, ``preflight()``,
``warning``) instead of comparing the configured string, so a new backend (a container runtime)
is one class and one row in :data:`BACKENDS`. The names are what is stored on disk
(``c.Sandbox.backend``, ``"sandbox"`` in results.json and notebook metadata) and do not change.

The classes are defined in :mod:`autograder.sandbox.jail`, next to the jail that bubblewrap's
preflight starts and the ``c.Sandbox`` settings that choose one (defining them here made the two
modules import each other); this is the name the rest of the grader imports them by.
"""

from __future__ import annotations

from autograder.sandbox.jail import (
    BACKENDS,
    DEFAULT_BACKEND,
    UNSAFE_WARNING,
    Backend,
    Bubblewrap,
    SandboxUnavailable,
    Unjailed,
    backend_named,
    jailed,
)

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "UNSAFE_WARNING", "Backend", "Bubblewrap", "SandboxUnavailable",
           "Unjailed", "backend_named", "jailed"]
