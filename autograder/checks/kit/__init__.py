"""The check kit: everything an assignment's hidden checks are written with.

An assignment's checks (``autograder/checks/psN.py``, or the package ``psN/``) hold only what
is specific to it: its cases, what it expects of them, and its hints. The rest is here, once:

* ``operators``: the one operator table (the engine's operators; an assignment registers its
  own, one line each);
* ``interpreter``: the instruction set of adapter programs, stdlib-only, run by the reference in
  the grader and, as source, by the jailed worker;
* ``program``: :class:`Program` (build a program, with descriptions for messages), the engines,
  :class:`Reads`, :func:`student_error` (the one translation of a failure), and the known-good
  pieces that make a bug cost only its own cell (:meth:`Program.use_known_good`);
* ``graph``: :class:`Graph`, the one graph type (formula, statements, programs, central
  differences); ``gradients``: :func:`compare` / :func:`compare_batch`, an operator's gradients
  against the reference;
* ``strategies``: the hypothesis strategies every check draws from (reals, gradients, DAGs);
* ``runner``: deterministic hypothesis settings, :func:`run_property`, :func:`batched`;
* ``compare``: tolerances and the words of messages; ``nets``: networks in programs (weights
  through attributes, ``parameters()`` read twice); ``training``: a ``train`` cell against the
  reference's loop (one :class:`~autograder.checks.kit.training.Training` per assignment);
  ``errors``: how a check ends.
"""

from autograder.checks.kit.compare import (
           FD_ATOL,
           FD_RTOL,
           KINK,
           REF_ATOL,
           REF_RTOL,
           a,
           all_close,
           close,
           fmt,
           fmts,
           kinds,
           points,
           short,
)
from autograder.checks.kit.errors import CheckAborted, CheckFailure, StopCheck
from autograder.checks.kit.gradients import compare
from autograder.checks.kit.graph import Graph
from autograder.checks.kit.program import (
           Engine,
           Operand,
           Program,
           ProgramResult,
           Reads,
           ReferenceEngine,
           const,
           reference,
           run,
           student_error,
)
from autograder.checks.kit.runner import SETTINGS, batched, batches, run_property

__all__ = ["FD_ATOL", "FD_RTOL", "KINK", "REF_ATOL", "REF_RTOL", "SETTINGS", "CheckAborted", "CheckFailure",
           "Engine", "Graph", "Operand", "ProgramResult", "Program", "Reads", "ReferenceEngine", "StopCheck", "a",
           "all_close", "batched", "batches", "close", "compare", "const", "fmt", "fmts", "kinds", "points",
           "reference", "run", "run_property", "short", "student_error"]
