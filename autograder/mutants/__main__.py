"""``python -m autograder.mutants > docs/requirements.md``: the audit of the notebooks' requirements, as a table."""

from autograder.mutants import requirements_markdown

print(requirements_markdown(), end="")
