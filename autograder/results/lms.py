"""Gradebook CSVs in the import formats of Canvas, Moodle and Brightspace, matched against an LMS roster.

nbgrader has no LMS export (nbgrader#530, #797). Here the grades come from the same rows as
``nbgrader export`` (``autograder.results.export.export_rows``: ``score = max(0, raw -
late penalty)``, with the status of ``reports/outcomes.json``), and each student is matched
to a row of a file the LMS itself exported (the "roster"), so the LMS recognises every row.

The formats, as documented (sources consulted 2026-12, stored copies):

**Canvas** (Grades → Export gives the roster; Grades → Import takes the file back). Columns
``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per assignment named
``Name (assignment_id)``; a column without an id creates a new assignment. The export's second
row starts ``    Points Possible`` and holds each assignment's points; read-only columns
(``Current Score`` ...) are ignored on import. Sources: Ohio State, "Import a CSV file into
Carmen grades" (teaching.resources.osu.edu, CarmenCanvas guide: the required Student/ID/SIS
User ID, SIS Login ID, Section and assignment columns); VCU, "Gradebook action menu"
(ts.vcu.edu: export notes, read-only columns). Instructure's own guide "How do I import grades
in the Gradebook?" says the same.

**Moodle** (Grades → Export → Plain text file gives the roster; Import → CSV file takes the file
back). The export has ``First name, Last name``, the profile fields the site exports (default
``ID number, Institution, Department, Email address``; ``Username`` where configured), one
column per grade item named ``<Type>: <Item> (Real)`` and ``Last downloaded from this course``.
On import the teacher maps one column to the user (``Map from`` → ``Map to``: user id, ID
number, email or username) and each grade column to a grade item (or "new grade item"). An
empty cell (or ``-``) means *no grade*, and a row whose user is not found aborts the whole
import, so only roster users are written. Sources: MoodleDocs "Grade import"
(docs.moodle.org/311/en/Grade_import) and Moodle's importer,
``grade/import/csv/classes/load_data.php`` (``map_user_data_with_value``,
``update_grade_item``).

**Brightspace / D2L** (Grades → Export with key field "Both" gives the roster; Grades → Import
takes the file back). ``OrgDefinedId`` and/or ``Username``, one column per numeric item named
``<Item Name> Points Grade``, and a last column ``End-of-Line Indicator`` holding ``#``. The
export writes identifiers as ``#value`` (so a spreadsheet keeps leading zeros; the ``#`` is not
part of the data) and grade headers with a suffix such as ``<Numeric MaxPoints:10>``. Names,
emails and other columns must not be imported. Sources: D2L Community, "Importing grades"
(community.d2l.com/brightspace/kb/articles/3538-importing-grades); UW–Madison KB 4330
"Function of pound signs (#) in Grades File Records" (kb.wisc.edu/page.php?id=4330).

Choices where the formats say nothing about nbgrader (also in the README):

* an **errored** submission never becomes a number: its cell is left empty (``errors="blank"``,
  the default), or its student's row is left out (``"omit-row"``), or nothing is written
  (``"fail"``); every one is listed in the problems report. Moodle reads an empty cell as "no
  grade" (it clears one entered by hand); Canvas's and Brightspace's documentation say nothing
  about empty cells, so check the import preview, or use ``omit-row``;
* a student **without a submission**, or a roster student with no nbgrader record, gets an empty
  cell (``missing="blank"``, the default: nothing in the LMS is overwritten by a guess) or 0
  (``missing="zero"``), and is listed; a row with no number at all is not written (in Moodle an
  empty cell would clear a grade entered there by hand);
* matching is by the nbgrader student id against one roster column (``match_key``; defaults per
  LMS in ``DEFAULT_KEYS``), case-insensitive, ``#`` and surrounding spaces ignored; an email
  column also matches its local part (``alice@uni.example`` ↔ ``alice``) when that is unique;
  unmatched students are listed both ways, ambiguous ones too, and never guessed;
* every string that comes from a student or the roster goes through ``csv_cell`` (a cell that
  starts like a formula gets a leading ``'``); scores are written as plain decimals.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.screen.text import csv_cell

LMSES = ("canvas", "moodle", "brightspace")
# the roster column matched against the nbgrader student id, first one present wins
DEFAULT_KEYS = {
    "canvas": ["SIS Login ID", "SIS User ID"],
    "moodle": ["Username", "Email address", "ID number"],
    "brightspace": ["Username", "OrgDefinedId"],
}
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS = "    Points Possible"
BRIGHTSPACE_IDS = ["OrgDefinedId", "Username"]
BRIGHTSPACE_EOL = "End-of-Line Indicator"
MOODLE_NAMES = ["First name", "Last name"]
ERRORS = ("blank", "omit-row", "fail")
MISSING = ("blank", "zero")

_CANVAS_ITEM = re.compile(r"^(?P<name>.*\S)\s+\((?P<id>\d+)\)$")
_MOODLE_ITEM = re.compile(r"^(?:[^:]+:\s*)?(?P<name>.*\S)\s+\((?:Real|Percentage|Letter)[^)]*\)$")
_BRIGHTSPACE_ITEM = re.compile(r"^(?P<name>.*\S)\s+Points Grade(?:\s*<.*>)?$")
_ITEM_PATTERNS = {"canvas": _CANVAS_ITEM, "moodle": _MOODLE_ITEM, "brightspace": _BRIGHTSPACE_ITEM}

# problem kinds that mean "a person should look" (exit 1); the others are information
SERIOUS = ("error", "not-in-roster", "no-record", "ambiguous", "points-possible")


class LmsError(Exception):
    """A roster or an option that cannot be used (the CLI's usage error)."""


@dataclass
class Problem:
    """One line of the problems report: what happened to whom, and what was written instead."""

    kind: str  # error | not-in-roster | no-record | missing | ambiguous | no-key | new-item | points-possible
    student: str = ""  # nbgrader student id
    roster_key: str = ""  # the roster's value of the match key
    assignment: str = ""
    detail: str = ""


@dataclass
class Roster:
    """An LMS export: its header and its student rows (Canvas's points row kept apart)."""

    path: Path
    header: list[str]
    rows: list[dict[str, str]]
    points: dict[str, str] = field(default_factory=dict)  # Canvas: column -> points possible

    def column(self, name: str) -> str | None:
        """The header spelled as in the file for ``name`` (case- and space-insensitive), if any."""
        wanted = name.strip().casefold()
        return next((h for h in self.header if h.strip().casefold() == wanted), None)


@dataclass
class Grade:
    """One (assignment, student) row of ``export_rows``, reduced to what an LMS needs."""

    assignment: str
    student: str
    status: str  # graded | error | missing
    score: float
    max_score: float
    error: str = ""


@dataclass
class LmsExport:
    """What was written and what the instructor should know."""

    path: Path | None
    problems_path: Path | None
    rows: int
    problems: list[Problem]

    @property
    def serious(self) -> list[Problem]:
        return [p for p in self.problems if p.kind in SERIOUS]


def read_roster(path: Path) -> Roster:
    """Read an LMS export (UTF-8 with or without BOM; comma, semicolon or tab separated)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LmsError(f"cannot read the roster {path}: {exc}") from exc
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise LmsError(f"the roster {path} is empty")
    header = [h.strip() for h in header]
    rows: list[dict[str, str]] = []
    points: dict[str, str] = {}
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        row = dict(zip(header, (v.strip() for v in values), strict=False))
        first_cell = (values[0] if values else "").strip()
        if first_cell.casefold() == "points possible":
            points = {k: v for k, v in row.items() if v}
            continue
        if not any(row.get(h) for h in header[:5]):  # Canvas's "Manual Posting" row and the like
            continue
        rows.append(row)
    return Roster(Path(path), header, rows, points)


def norm_key(value: str) -> str:
    """The form both sides are compared in: stripped, without Brightspace's leading ``#``, casefolded."""
    value = value.strip()
    if value.startswith("#"):
        value = value[1:].strip()
    return value.casefold()


def match_column(roster: Roster, lms: str, match_key: str | None) -> str:
    """The roster column to match nbgrader ids against: ``match_key``, else the LMS's default."""
    candidates = [match_key] if match_key else DEFAULT_KEYS[lms]
    for name in candidates:
        column = roster.column(name)
        if column is not None:
            return column
    raise LmsError(f"the roster {roster.path.name} has no column {' or '.join(map(repr, candidates))} to match "
                   f"students by (its columns: {', '.join(roster.header[:12])}); pass --match-key COLUMN")


def match_students(roster: Roster, column: str,
                   students: list[str]) -> tuple[dict[str, int], set[int], list[Problem]]:
    """nbgrader id -> roster row index, the rows that must get nothing (ambiguous), and the problems.

    Problems: unmatched both ways, ambiguous matches, roster rows without a key. An ambiguous
    row is never guessed, not even as a "no record" 0.
    """
    problems: list[Problem] = []
    blocked: set[int] = set()
    full: dict[str, list[int]] = {}
    local: dict[str, list[int]] = {}
    for i, row in enumerate(roster.rows):
        key = norm_key(row.get(column, ""))
        if not key:
            problems.append(Problem("no-key", roster_key="", detail=f"roster row {i + 1} ({_who(row)}) has no "
                                                                     f"{column}: it cannot be matched"))
            continue
        full.setdefault(key, []).append(i)
        if "@" in key:
            local.setdefault(key.split("@", 1)[0], []).append(i)
    by_norm: dict[str, list[str]] = {}
    for student in students:
        by_norm.setdefault(norm_key(student), []).append(student)
    matched: dict[str, int] = {}
    for key, ids in sorted(by_norm.items()):
        rows = full.get(key) or ([] if "@" in key else local.get(key, []))
        if len(ids) > 1:
            blocked.update(rows)
            for s in ids:
                problems.append(Problem("ambiguous", s, detail=f"nbgrader ids {', '.join(ids)} differ only by case: "
                                                               "none is written"))
            continue
        (student,) = ids
        if not rows:
            problems.append(Problem("not-in-roster", student, detail=f"no roster row has {column} = {student!r}: "
                                                                     "nothing is written for this student"))
        elif len(rows) > 1:
            blocked.update(rows)
            problems.append(Problem("ambiguous", student, detail=f"{len(rows)} roster rows match {student!r} by "
                                                                 f"{column}: none is written"))
        else:
            matched[student] = rows[0]
    taken = set(matched.values())
    for i, row in enumerate(roster.rows):
        if i not in taken and i not in blocked and norm_key(row.get(column, "")):
            problems.append(Problem("no-record", roster_key=row.get(column, ""),
                                    detail=f"{_who(row)}: no nbgrader student matches"))
    return matched, blocked, problems


def _who(row: dict[str, str]) -> str:
    for keys in (("Student",), ("First name", "Last name"), ("First Name", "Last Name"), ("Username",)):
        parts = [row.get(k, "") for k in keys if row.get(k)]
        if parts:
            return " ".join(parts)
    return "?"


def load_grades(course: Path, assignments: list[str] | None = None) -> tuple[list[str], list[str], dict]:
    """(assignments, students, {(assignment, student): Grade}) from the course's gradebook and outcomes."""
    from autograder.grading.gradebook import open_gradebook
    from autograder.results.export import export_rows

    if not (course / "gradebook.db").exists():
        raise LmsError(f"no gradebook in {course} (nothing was generated or graded yet)")
    grades: dict[tuple[str, str], Grade] = {}
    with open_gradebook(course) as gb:
        known = [a.name for a in gb.assignments]
        unknown = [a for a in assignments or [] if a not in known]
        if unknown:
            raise LmsError(f"unknown assignment(s): {', '.join(unknown)} (the gradebook has {', '.join(known)})")
        wanted = assignments or known
        students = sorted(s.id for s in gb.students)
        for row in export_rows(gb, course, wanted):
            grades[(row["assignment"], row["student_id"])] = Grade(
                row["assignment"], row["student_id"], row["status"], float(row["score"] or 0.0),
                float(row["max_score"] or 0.0), row["error"] or "")
    return [a for a in known if a in wanted], students, grades


def score_text(value: float) -> str:
    """A score as LMS importers read it: a plain decimal, at most 4 places, no exponent (``7.5``, ``10``)."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def item_columns(roster: Roster, lms: str, assignments: list[str],
                 items: dict[str, str]) -> tuple[dict[str, str], list[Problem]]:
    """assignment -> the header to write for it: ``items[assignment]``, a roster column naming it, or a new item."""
    pattern = _ITEM_PATTERNS[lms]
    out: dict[str, str] = {}
    problems: list[Problem] = []
    for assignment in assignments:
        wanted = items.get(assignment, assignment)
        column = roster.column(wanted)
        if column is None:
            for h in roster.header:
                m = pattern.match(h)
                if m and m.group("name").strip().casefold() == wanted.strip().casefold():
                    column = h
                    break
        if column is not None and lms == "brightspace":
            m = pattern.match(column)
            column = f"{m.group('name') if m else column} Points Grade"
        if column is None:
            column = {"brightspace": f"{wanted} Points Grade"}.get(lms, wanted)
            problems.append(Problem("new-item", assignment=assignment,
                                    detail=f"no roster column for {wanted!r}: written as {column!r}, a new item "
                                           "at import (pass --item NAME=COLUMN to use an existing one)"))
        out[assignment] = column
    return out, problems


def build_rows(lms: str, roster: Roster, assignments: list[str], students: list[str],
               grades: dict[tuple[str, str], Grade], match_key: str | None = None,
               items: dict[str, str] | None = None, errors: str = "blank",
               missing: str = "blank") -> tuple[list[str], list[list[str]], list[Problem]]:
    """(header, rows, problems) of the LMS file; rows in roster order, every cell already a CSV string."""
    if lms not in LMSES:
        raise LmsError(f"unknown LMS {lms!r} (one of {', '.join(LMSES)})")
    if errors not in ERRORS or missing not in MISSING:
        raise LmsError(f"errors must be one of {ERRORS}, missing one of {MISSING}")
    column = match_column(roster, lms, match_key)
    matched, blocked, problems = match_students(roster, column, students)
    cols, item_problems = item_columns(roster, lms, assignments, items or {})
    problems += item_problems
    if lms == "canvas":
        for a in assignments:
            listed = roster.points.get(cols[a])
            if listed and _number(listed) is not None and abs(_number(listed) - _max(grades, a)) > 1e-6:
                problems.append(Problem("points-possible", assignment=a,
                                        detail=f"Canvas says {cols[a]!r} is worth {listed} points, nbgrader "
                                               f"{score_text(_max(grades, a))}: the scores written are nbgrader's"))
    identity = _identity_columns(lms, roster, column)
    header = [*identity, *(cols[a] for a in assignments)]
    if lms == "brightspace":
        header.append(BRIGHTSPACE_EOL)
    out: list[list[str]] = []
    if lms == "canvas":
        out.append([CANVAS_POINTS] + [""] * (len(identity) - 1) + [score_text(_max(grades, a)) for a in assignments])
    by_row = {i: s for s, i in matched.items()}
    for i, row in enumerate(roster.rows):
        student = by_row.get(i)
        if student is None and (i in blocked or not norm_key(row.get(column, ""))):
            continue
        cells: list[str] = []
        omit = False
        for a in assignments:
            grade = grades.get((a, student)) if student else None
            if grade is None or grade.status == "missing":
                if student is not None:
                    problems.append(Problem("missing", student, row.get(column, ""), a,
                                            "no submission: " + ("0" if missing == "zero" else "left empty")))
                cells.append("0" if missing == "zero" else "")
            elif grade.status == "error":
                problems.append(Problem("error", student, row.get(column, ""), a,
                                        f"{grade.error} ({'row left out' if errors == 'omit-row' else 'left empty'})"))
                cells.append("")
                omit = omit or errors == "omit-row"
            else:
                cells.append(score_text(grade.score))
        if omit or not any(cells):
            continue
        values = [_identity_value(lms, name, row) for name in identity]
        out.append([*values, *cells, *(["#"] if lms == "brightspace" else [])])
    return header, out, problems


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _max(grades: dict[tuple[str, str], Grade], assignment: str) -> float:
    return next((g.max_score for (a, _), g in grades.items() if a == assignment), 0.0)


def _identity_columns(lms: str, roster: Roster, column: str) -> list[str]:
    if lms == "canvas":
        return [roster.column(c) or c for c in CANVAS_IDENTITY]
    if lms == "brightspace":
        present = [roster.column(c) for c in BRIGHTSPACE_IDS if roster.column(c)]
        return present or [column]
    names = [roster.column(c) for c in MOODLE_NAMES if roster.column(c)]
    return [column, *(n for n in names if n != column)]


def _identity_value(lms: str, name: str, row: dict[str, str]) -> str:
    value = row.get(name, "")
    if lms == "brightspace" and value and not value.startswith("#"):
        value = "#" + value  # as Brightspace exports it: the '#' keeps leading zeros, it is not data
    return csv_cell(value)


def write_report(path: Path, problems: list[Problem]) -> None:
    """The problems report: one line per student/assignment that did not become a plain number."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["kind", "nbgrader_student", "roster_key", "assignment", "detail"])
        for p in problems:
            writer.writerow([csv_cell(v) for v in (p.kind, p.student, p.roster_key, p.assignment, p.detail)])


def export_lms(course: Path, lms: str, roster_path: Path, out: Path | None = None,
               assignments: list[str] | None = None, match_key: str | None = None,
               items: dict[str, str] | None = None, errors: str = "blank", missing: str = "blank") -> LmsExport:
    """Write ``out`` (default ``reports/<lms>-grades.csv``) and ``<out>.problems.csv`` for ``course``."""
    roster = read_roster(roster_path)
    names, students, grades = load_grades(course, assignments)
    header, rows, problems = build_rows(lms, roster, names, students, grades, match_key, items, errors, missing)
    out = Path(out) if out else course / "reports" / f"{lms}-grades.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    problems_path = out.with_name(out.stem + ".problems.csv")
    if errors == "fail" and any(p.kind == "error" for p in problems):
        write_report(problems_path, problems)
        return LmsExport(None, problems_path, 0, problems)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([csv_cell(h) for h in header])
        writer.writerows(rows)
    write_report(problems_path, problems)
    students_written = len(rows) - (1 if lms == "canvas" else 0)
    return LmsExport(out, problems_path, students_written, problems)


def summary(result: LmsExport) -> str:
    """A few lines for the terminal: what was written, and the counts of each problem kind."""
    counts: dict[str, int] = {}
    for p in result.problems:
        counts[p.kind] = counts.get(p.kind, 0) + 1
    lines = [f"wrote {result.path} ({result.rows} students)" if result.path
             else "wrote nothing: at least one submission ended in an error (--errors fail)"]
    if counts:
        lines.append("problems: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
                     + f"; listed in {result.problems_path}")
    for p in result.serious[:20]:
        who = p.student or p.roster_key or "-"
        lines.append(f"  {p.kind}: {who}{' / ' + p.assignment if p.assignment else ''}: {p.detail}")
    if len(result.serious) > 20:
        lines.append(f"  ... {len(result.serious) - 20} more in {result.problems_path}")
    return "\n".join(lines)


def parse_items(values: list[str] | None) -> dict[str, Any]:
    """``--item NAME=COLUMN`` pairs."""
    items: dict[str, str] = {}
    for value in values or []:
        name, sep, column = value.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise LmsError(f"--item takes ASSIGNMENT=COLUMN, not {value!r}")
        items[name.strip()] = column.strip()
    return items
