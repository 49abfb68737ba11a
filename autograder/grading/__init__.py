"""``zengrad-kit grade``: a class of submissions through nbgrader's pipeline, in the order the data flows.

1. ``discover``: find the submissions;
2. ``gradebook``: prepare nbgrader's gradebook for many writers, verify every write afterwards;
3. ``session``: one submission through nbgrader's ``Autograde`` converter (the sandbox, the trusted
   checks and the outcome records happen in the course's preprocessors, ``autograder.preprocessors``);
4. ``pool``: many sessions in parallel on this machine;
5. ``run``: the whole run, and its reports (``autograder.results``).
"""

from autograder.grading.discover import Job, UsageError
from autograder.grading.run import RunResult, SandboxError, grade

__all__ = ["Job", "RunResult", "SandboxError", "UsageError", "grade"]
