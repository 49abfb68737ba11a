"""How a check ends when the student's code is wrong, cannot go on, or took its worker down."""

from __future__ import annotations

from autograder.reasons import Reason


class CheckFailure(Exception):
    """The student's answer is wrong on some input; hypothesis shrinks it to the smallest one."""

    def __init__(self, message: str, reason: Reason = Reason.WRONG) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


class StopCheck(BaseException):  # noqa: N818 - BaseException: final, hypothesis does not shrink on it
    """The check cannot go on at all (not implemented, a name is missing, the graph cannot be built)."""

    def __init__(self, message: str, reason: Reason) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


class CheckAborted(BaseException):  # noqa: N818 - BaseException so hypothesis does not shrink on it
    """Student code overran, crashed or broke the worker's channel: stop this check now, do not shrink.

    A BaseException on purpose: hypothesis treats ``Exception`` as a test failure and would
    retry shrunk examples, each costing a full budget.
    """

    def __init__(self, reason: Reason | str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
