"""nbgrader preprocessors that make autograding trustworthy and fault-tolerant.

They are wired into ``nbgrader autograde`` by ``nbgrader_config.py``, so stock
nbgrader and ``zengrad-kit grade`` run the same pipeline:

* ``IntegrityScan`` (first sanitize step) flags suspicious code and edited or
  deleted read-only cells before nbgrader restores them;
* ``GuardedExecute`` (instead of ``Execute``) turns a kernel that dies, hangs or
  overruns the notebook time limit into explicit errors on the affected cells
  instead of a failed, silently-zero submission, and caps the kernel's memory;
* ``TrustedChecks`` (before ``SaveAutoGrades``) computes every hidden check in
  this process against ``zengrad_ref``, with student code confined to a
  sandboxed worker, and writes the verdict as the grade cell's only scored output.

One module per preprocessor (``integrity_scan``, ``guarded_execute``, ``trusted_checks``), what
they share in ``common``, and ``metadata``: the keys of the ``metadata.zengrad`` records they
write and ``autograder.results`` reads. The names below are imported on first use, so that
``autograder.preprocessors.metadata`` can be read without loading nbgrader and the kernels.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autograder.preprocessors.common import error_output, is_test_cell, stdout_output, submission_files, zmeta
    from autograder.preprocessors.guarded_execute import GuardedExecute
    from autograder.preprocessors.integrity_scan import HIDDEN_BLOCK, IntegrityScan
    from autograder.preprocessors.trusted_checks import CHECK_CALL, TrustedChecks

_EXPORTS = {  # name -> the module that defines it
    "GuardedExecute": "guarded_execute",
    "IntegrityScan": "integrity_scan",
    "HIDDEN_BLOCK": "integrity_scan",
    "TrustedChecks": "trusted_checks",
    "CHECK_CALL": "trusted_checks",
    "error_output": "common",
    "is_test_cell": "common",
    "stdout_output": "common",
    "submission_files": "common",
    "zmeta": "common",
}

__all__ = [
    "CHECK_CALL",
    "GuardedExecute",
    "HIDDEN_BLOCK",
    "IntegrityScan",
    "TrustedChecks",
    "error_output",
    "is_test_cell",
    "stdout_output",
    "submission_files",
    "zmeta",
]


def __getattr__(name: str) -> Any:
    """``autograder.preprocessors.X`` and ``from autograder.preprocessors import X``: imported from its module."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
