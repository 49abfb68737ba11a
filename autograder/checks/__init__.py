"""The hidden check library: every check is a function of an engine, registered by id.

A notebook's hidden test block only names a check (``check("ps1.mul")``); the
logic lives here, runs in the trusted grader, and reaches student code only
through ``autograder.adapter`` programs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder.checks.kit.program import CheckAborted, Engine

CheckFn = Callable[[Engine], None]


class CheckFailure(Exception):
    """The student's answer is wrong on some input; hypothesis shrinks it to the smallest one."""

    def __init__(self, message: str, reason: str = "wrong") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


class StopCheck(BaseException):  # noqa: N818 - BaseException: final, no shrinking
    """The check cannot go on at all (not implemented, a name is missing)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


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
    # graded: "passed" | "wrong" | "not_implemented" | "error" (the student's code raised) | "timeout" (CPU)
    #         | "memory" | "crashed" | "protocol"; undetermined (an error outcome): see UNDETERMINED
    reason: str
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


def load_all() -> dict[str, Check]:
    """Import every assignment's check module so the registry is complete."""
    import importlib
    import pkgutil

    import autograder.checks as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name.startswith("ps"):
            importlib.import_module(f"autograder.checks.{mod.name}")
    return REGISTRY


def run_check(check_id: str, engine: Engine) -> Verdict:
    """Run one check against an engine and turn every way it can end into a Verdict."""
    checks = load_all()
    start = time.perf_counter()
    before = getattr(engine, "programs_run", 0)

    def verdict(passed: bool, reason: str, message: str) -> Verdict:
        return Verdict(check_id, passed, reason, message,
                       getattr(engine, "programs_run", 0) - before, round(time.perf_counter() - start, 3))

    if check_id not in checks:
        return verdict(False, GRADER_FAULT, f"unknown check {check_id!r} (a grader configuration error)")
    check = checks[check_id]
    try:
        check.fn(engine)
    except CheckFailure as failure:
        return verdict(False, failure.reason, f"{check.title}: {failure.message}")
    except StopCheck as stop:
        return verdict(False, stop.reason, f"{check.title}: {stop.message}")
    except CheckAborted as aborted:
        return verdict(False, aborted.reason, f"{check.title}: {aborted.message}")
    except Exception as exc:  # noqa: BLE001 - a bug in the check itself: the instructor must know
        import traceback

        where = traceback.extract_tb(exc.__traceback__)[-1]
        return verdict(False, GRADER_FAULT, f"{check.title}: not graded: a fault in the grader's check "
                                            f"({type(exc).__name__} at {Path(where.filename).name}:{where.lineno})")
    return verdict(True, "passed", f"{check.title}: all checks passed")


# Verdict reasons that mean "the grade could not be determined": the submission needs the
# instructor (an error outcome), not a 0 for the student. Every other failed reason is graded.
GRADER_FAULT = "grader-fault"  # the check itself failed, or is unknown
STALLED = "stalled"  # the worker blocked without computing until the wall-clock backstop
NOT_GRADED = "not-graded"  # an earlier cell took the worker down (as a dead kernel would)
UNDETERMINED = frozenset({GRADER_FAULT, STALLED, NOT_GRADED})
