"""``zengrad-kit grade``: a class of submissions through nbgrader's pipeline, in the order the data flows.

1. ``discover``: find the submissions;
2. ``gradebook``: check nbgrader's gradebook, snapshot its definitions, verify every write afterwards;
3. ``session``: one submission through nbgrader's ``Autograde`` converter (the sandbox, the trusted
   checks and the outcome records happen in the course's preprocessors, ``autograder.preprocessors``);
   ``private``: that, in a private course, on a worker: :func:`private.grade_submission`, the one
   grading function of the local pool, Dask, ``serve`` and Gradescope;
4. ``coordinator``: jobs to workers (``pool``: on this machine, ``cluster``: on Dask), and each result
   recorded by the only writer of the gradebook (``recorder``);
5. ``run``: the whole run, and its reports (``autograder.results``).

``config`` reads the course's configuration (through the classes that declare it) and the
``--Class.trait=value`` overrides; ``resources`` carries each submission's data to the plugins.
"""

from autograder.grading.discover import Job, UsageError
from autograder.grading.run import GradeOptions, RunResult, SandboxError, grade

__all__ = ["GradeOptions", "Job", "RunResult", "SandboxError", "UsageError", "grade"]
