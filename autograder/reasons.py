"""Every reason the grader gives, in one place: why a check failed, and why a submission is an error.

Two vocabularies, on purpose apart:

* :class:`Reason` is why one hidden check ended (a ``Verdict``): most are the student's
  code's doing and the cell is *graded* 0; the ones in :data:`UNDETERMINED` mean the check's
  result could not be determined.
* :class:`ErrorKind` is why a whole submission is an *error* outcome (the instructor is needed).
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """How one hidden check ended."""

    PASSED = "passed"
    WRONG = "wrong"  # a value differs from the reference
    NOT_IMPLEMENTED = "not_implemented"  # the stub still raises NotImplementedError
    ERROR = "error"  # the student's code raised
    TIMEOUT = "timeout"  # the student's code used more than its CPU-time budget
    MEMORY = "memory"  # ... ran out of memory
    CRASHED = "crashed"  # ... ended the worker process (os._exit, a segfault)
    PROTOCOL = "protocol"  # ... broke the worker's channel (a forged or oversized reply)
    # the result could not be determined: an error outcome, not the student's 0
    STALLED = "stalled"  # blocked without computing until the wall-clock backstop
    GRADER_FAULT = "grader-fault"  # the check itself failed, or does not exist
    NOT_GRADED = "not-graded"  # an earlier cell took the worker down, as a dead kernel would


UNDETERMINED = frozenset({Reason.STALLED, Reason.GRADER_FAULT, Reason.NOT_GRADED})


class ErrorKind(StrEnum):
    """Why a submission is an error outcome (see ``autograder.results.outcomes.classify_notebook``)."""

    BAD_JSON = "bad-json"  # the notebook cannot be read
    MISSING_NOTEBOOK = "missing-notebook"  # an expected notebook is missing (renamed?)
    KERNEL_DIED = "kernel-died"  # the kernel, or the worker replaying the notebook, died
    TIMEOUT = "timeout"  # a kernel that ignored the interrupt, the notebook's CPU budget, or a backstop
    MEMORY = "memory"  # memory exhausted while running the notebook
    CHECK_FAILED = "check-crashed"  # a fault in the grader's check, or a broken worker channel
    AUTOGRADE_FAILED = "autograde-failed"  # nbgrader's converter failed
    DATABASE = "database"  # the gradebook stayed locked (runs before the gradebook had one writer; kept to read them)
    WORKER_CRASHED = "worker-crashed"  # the grading process itself died
    SANDBOX = "sandbox"  # the sandbox could not start
    INVALID_ID = "invalid-student-id"  # the submission's folder name is no student id (never given to nbgrader)
