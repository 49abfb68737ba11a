"""The hidden checks: every check is a function of an engine, registered by id.

A notebook's hidden test block only names a check (``check("ps1.mul")``); the logic lives in
``autograder/checks/<assignment>.py``, written with the check kit (``autograder/checks/kit``),
runs in the trusted grader, and reaches student code only through adapter programs of plain
numbers. :func:`run_check` turns every way a check can end into one :class:`Verdict`.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder.checks.kit.errors import CheckAborted, CheckFailure, StopCheck
from autograder.checks.kit.program import Engine
from autograder.reasons import UNDETERMINED, Reason

CheckFn = Callable[[Engine], None]

__all__ = ["UNDETERMINED", "Check", "CheckAborted", "CheckFailure", "Reason", "StopCheck", "Verdict", "load_all",
           "register", "run_check"]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    fn: CheckFn


@dataclass
class Verdict:
    """The trusted outcome of one check: what a grade cell's score is computed from."""

    check_id: str
    passed: bool
    reason: str  # a Reason: graded, or one of UNDETERMINED (the grade could not be determined)
    message: str
    programs: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)


REGISTRY: dict[str, Check] = {}


def register(check_id: str, title: str) -> Callable[[CheckFn], CheckFn]:
    def deco(fn: CheckFn) -> CheckFn:
        if check_id in REGISTRY:
            raise ValueError(f"duplicate check id {check_id}")
        REGISTRY[check_id] = Check(check_id, title, fn)
        return fn

    return deco


NOT_ASSIGNMENTS = {"kit", "pieces"}  # the packages of checks.* that hold no assignment's checks


def load_all() -> dict[str, Check]:
    """Import every assignment's check module (every module or package here but the kit and the pieces)."""
    import importlib
    import pkgutil

    import autograder.checks as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in NOT_ASSIGNMENTS and not mod.name.startswith("_"):
            importlib.import_module(f"autograder.checks.{mod.name}")
    return REGISTRY


def run_check(check_id: str, engine: Engine) -> Verdict:
    """Run one check against an engine and turn every way it can end into a Verdict."""
    checks = load_all()
    start = time.perf_counter()
    before = getattr(engine, "programs_run", 0)

    def verdict(passed: bool, reason: str, message: str) -> Verdict:
        return Verdict(check_id, passed, str(reason), message,
                       getattr(engine, "programs_run", 0) - before, round(time.perf_counter() - start, 3))

    if check_id not in checks:
        return verdict(False, Reason.GRADER_FAULT, f"unknown check {check_id!r} (a grader configuration error)")
    check = checks[check_id]
    try:
        check.fn(engine)
    except (CheckFailure, StopCheck, CheckAborted) as failure:
        return verdict(False, failure.reason, f"{check.title}: {failure.message}")
    except Exception as exc:  # noqa: BLE001 - a bug in the check itself: the instructor must know
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return verdict(False, Reason.GRADER_FAULT, f"{check.title}: not graded: a fault in the grader's check "
                                                   f"({type(exc).__name__} at {Path(where.filename).name}:"
                                                   f"{where.lineno})")
    return verdict(True, Reason.PASSED, f"{check.title}: all checks passed")
