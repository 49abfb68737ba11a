"""What the course's configuration sets for the hub's checks, read through the classes that declare it.

Each value comes from an instance of its Configurable (so its default is the class's own, never typed again).
"""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config


def exchange_root(cfg: Config) -> Path:
    """The exchange root the course's configuration sets (nbgrader's ``Exchange`` reads it, with its default)."""
    from nbgrader.exchange.default.exchange import Exchange

    return Path(Exchange(config=cfg).root)


def state_dir(cfg: Config) -> str:
    """The submit-time service's state folder, relative to the course (its ``GradingService`` reads it)."""
    from autograder.service.policy import GradingService

    return str(GradingService(config=cfg).state_dir)


def course_id(cfg: Config, unset: str = "course") -> str:
    """The course id of the configuration (what nbgrader's exchange folders are named after), or ``unset``."""
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(config=cfg).course_id or unset
