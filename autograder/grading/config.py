"""The course's configuration as one grading run reads it: ``nbgrader_config.py`` plus overrides.

``--Class.trait=value`` arguments are parsed here and nowhere else (:class:`Overrides`), and every
value a run needs is read from the traitlets class that declares it (``GuardedExecute``,
``TrustedChecks``, ``Sandbox``, ...), so each knob has one default: the class's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from traitlets.config import Application, Config

    from autograder.sandbox.backends import Backend

OVERRIDE = re.compile(r"^--[A-Za-z_]\w*\.[A-Za-z_]\w*=.*$", re.S)


@dataclass(frozen=True)
class Overrides:
    """``--Class.trait=value`` arguments, in the order given: kept as text (reports and bundles show them) and
    parsed once into a traitlets ``Config`` (:attr:`config`) that outranks ``nbgrader_config.py``, as nbgrader's
    own command line does. A later argument for the same trait replaces an earlier one."""

    args: tuple[str, ...] = ()

    @classmethod
    def of(cls, args: Overrides | Iterable[str] = ()) -> Overrides:
        """The overrides ``args`` name (already an Overrides: itself); ValueError for an argument of another shape."""
        if isinstance(args, Overrides):
            return args
        merged: dict[str, str] = {}
        for arg in args:
            if not OVERRIDE.match(arg):
                raise ValueError(f"{arg!r} is not a config override (they look like --Class.trait=value)")
            key = arg.split("=", 1)[0]
            merged.pop(key, None)
            merged[key] = arg
        return cls(tuple(merged.values()))

    def __add__(self, other: Overrides | Iterable[str]) -> Overrides:
        """These overrides, then ``other``'s (which win)."""
        return Overrides.of([*self.args, *Overrides.of(other).args])

    def __bool__(self) -> bool:
        return bool(self.args)

    @cached_property
    def config(self) -> Config:
        """The arguments as a traitlets ``Config`` (values still text: each trait parses its own)."""
        from traitlets.config import Config
        from traitlets.config.loader import KVArgParseConfigLoader

        cfg = Config()
        for arg in self.args:  # one at a time: traitlets refuses a trait given twice on one command line
            cfg.merge(KVArgParseConfigLoader([arg]).load_config())
        return cfg

    def __getstate__(self) -> dict[str, Any]:  # the text travels (to Dask workers); each side parses it once
        return {"args": self.args}


NO_OVERRIDES = Overrides()


def course_config(course: Path, overrides: Overrides | Iterable[str] = ()) -> Config:
    """The course's ``nbgrader_config.py`` plus the overrides, as nbgrader would load them."""
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    cfg.merge(Overrides.of(overrides).config)
    return cfg


def initialize_app(app: Application, overrides: Overrides, argv: list[str] | None = None) -> None:
    """nbgrader's own app initialisation with ``overrides`` where its command line's go (they outrank the
    config files), without printing them back into an argument list to be parsed again."""
    parse = app.parse_command_line

    def parse_with_overrides(args: list[str] | None = None) -> None:
        parse(args)
        app.cli_config.merge(overrides.config)
        app.update_config(overrides.config)

    app.parse_command_line = parse_with_overrides  # type: ignore[method-assign]
    try:
        app.initialize(list(argv or []))
    finally:
        del app.parse_command_line


def sandbox_backend(cfg: Config) -> Backend:
    """The sandbox backend a configuration chooses (``c.Sandbox``: backend and its options), as an object."""
    from traitlets import TraitError

    from autograder.grading.discover import UsageError
    from autograder.sandbox.jail import Sandbox

    try:
        return Sandbox(config=cfg).chosen()
    except (TraitError, ValueError) as exc:
        raise UsageError(f"c.Sandbox.backend: {exc}") from None


def default_job_timeout(cfg: Config) -> float:
    """Wall-clock backstop per submission: the notebook's backstop plus room for the checks and start-up.

    It only catches a grading run that is stuck; every limit that decides a score counts CPU time.
    """
    from autograder.preprocessors import GuardedExecute, TrustedChecks

    notebook = float(GuardedExecute(config=cfg).notebook_timeout)
    checks = float(TrustedChecks(config=cfg).cpu_seconds)
    return notebook + 2 * checks + 120.0
