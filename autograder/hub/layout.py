"""Which parts of a course directory are secret, and why: the names doctor reports and setup locks down.

A course directory holds everything a student must never read: the solutions, the source
notebooks (solutions and hidden tests), the hidden checks and the reference engine, the gradebook
and the reports, everyone's submissions, autograded notebooks and feedback, the submit-time
service's state and pages, and every ``submission_secret.txt`` (it names a student's feedback file).
"""

from __future__ import annotations

from pathlib import Path

# top-level entries of a course -> what a reader would get
SECRET_ENTRIES: dict[str, str] = {
    "solutions": "the solutions",
    "source": "the source notebooks (solutions and hidden tests)",
    "autograder": "the grading code and the hidden checks",
    "zengrad_ref": "the reference engine",
    "gradebook.db": "the gradebook (every grade)",
    "reports": "grades and reports",
    "feedback": "every student's feedback pages",
    "autograded": "autograded notebooks",
    "submitted": "every submission (with its submission secret)",
    "service": "the grading service's state and pages",
    "exchange": "the course-local exchange (submissions and their secrets)",
    ".nbgrader.log": "nbgrader's log (student names, paths)",
}
SECRET_NAMES = ("submission_secret.txt", "gradebook.db-journal", "gradebook.db-wal", "gradebook.db-shm")
SECRET_PACKAGES = ("autograder", "zengrad_ref")  # an installed copy (site-packages) is as secret as the original


def secret_reason(course: Path, path: Path, state_dir: str = "service") -> str | None:
    """Why ``path`` (inside ``course``) is secret, or None when a student may read it (e.g. ``release/``)."""
    parts = path.relative_to(course).parts
    if not parts:
        return "the course directory (its listing names every part of the course)"
    if parts[0] == state_dir and state_dir != "service":
        return SECRET_ENTRIES["service"]
    if parts[0] in SECRET_ENTRIES:
        return SECRET_ENTRIES[parts[0]]
    if "site-packages" in parts:  # an environment: only an installed copy of the grading code is secret
        i = parts.index("site-packages")
        if len(parts) > i + 1 and parts[i + 1] in SECRET_PACKAGES:
            return f"an installed copy of {parts[i + 1]} (hidden checks / reference engine)"
        return None
    if path.name in SECRET_NAMES:
        return "a submission secret" if path.name == "submission_secret.txt" else SECRET_ENTRIES["gradebook.db"]
    return None


def secret_entry(course: Path, path: Path) -> str:
    """The top-level entry a path belongs to (findings are grouped by it)."""
    parts = path.relative_to(course).parts
    return parts[0] if parts else "."
