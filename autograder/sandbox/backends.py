"""The sandbox backends, as objects: the one place that knows which names exist and what each means.

Code outside ``autograder/sandbox/`` asks a :class:`Backend` (``jailed``, ``preflight()``,
``warning``) instead of comparing the configured string, so a new backend (a container runtime)
is one class and one row in :data:`BACKENDS`. The names are what is stored on disk
(``c.Sandbox.backend``, ``"sandbox"`` in results.json and notebook metadata) and do not change.

This module imports nothing heavy: reports and outcomes read it without loading the jail.
"""

from __future__ import annotations

from typing import ClassVar

DEFAULT_BACKEND = "bwrap"
UNSAFE_WARNING = ("SANDBOX DISABLED (Sandbox.backend = 'none'): student code runs unjailed, as the grader's "
                  "user, and can read the course, the gradebook and the reference engine")


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot start: nothing may be graded (there is no silent fallback to "unjailed")."""


class Backend:
    """How student code is isolated; subclasses name one backend and say whether it jails at all."""

    name: ClassVar[str] = ""
    jailed: ClassVar[bool] = True
    warning: ClassVar[str | None] = None  # said loudly on every run with this backend (None: nothing to say)
    note: ClassVar[str | None] = None  # the per-notebook note an outcome carries (None: nothing to note)
    options: ClassVar[tuple[str, ...]] = ()  # the ``c.Sandbox`` keys this backend is built with

    def preflight(self) -> None:
        """Check once that a sandbox can start here; raise :class:`SandboxUnavailable` with the fix if not."""

    def problem(self) -> str | None:
        """Why the sandbox cannot start here (None: it can); for reporting from a remote worker."""
        try:
            self.preflight()
        except SandboxUnavailable as exc:
            return str(exc)
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class Bubblewrap(Backend):
    """bubblewrap (plus setpriv when grading as root): namespaces, an unprivileged uid, no network."""

    name = "bwrap"
    jailed = True
    options = ("bwrap", "setpriv")

    def __init__(self, bwrap: str = "bwrap", setpriv: str = "setpriv") -> None:
        self.bwrap = bwrap  # c.Sandbox.bwrap
        self.setpriv = setpriv  # c.Sandbox.setpriv

    def preflight(self) -> None:
        """Start one trivial bubblewrap sandbox (once per process and executables)."""
        from autograder.sandbox.jail import preflight

        preflight(self.bwrap, self.setpriv)


class Unjailed(Backend):
    """No isolation (rlimits only): only when configured, and every run says so."""

    name = "none"
    jailed = False
    warning = UNSAFE_WARNING
    note = "graded WITHOUT the sandbox (Sandbox.backend = 'none')"


BACKENDS: dict[str, type[Backend]] = {cls.name: cls for cls in (Bubblewrap, Unjailed)}


def backend_named(name: str, **options: str) -> Backend:
    """The backend called ``name``, built with those of ``options`` it takes (its :attr:`Backend.options`; the
    others are ignored, so a caller can pass every ``c.Sandbox`` key); ValueError if the name is unknown."""
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown sandbox backend {name!r} (choose one of: {', '.join(BACKENDS)})") from None
    return cls(**{key: value for key, value in options.items() if key in cls.options})


def jailed(name: str) -> bool:
    """Whether the backend a run recorded (results.json, metadata) jailed it; only a known unjailed name is not,
    so an old or foreign record is never reported as unsafe by mistake."""
    cls = BACKENDS.get(name)
    return cls is None or cls.jailed


__all__ = ["BACKENDS", "DEFAULT_BACKEND", "UNSAFE_WARNING", "Backend", "Bubblewrap", "SandboxUnavailable",
           "Unjailed", "backend_named", "jailed"]
