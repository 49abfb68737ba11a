"""The misconception report: who failed which grade cell, grouped by the mistake they made.

A pass rate says *how many* students lost a cell; to plan the next lecture an instructor needs to
know *why*. The hidden checks already say it, one student at a time: every failed check leaves a
shrunk counterexample in the autograded notebook (``metadata.zengrad.verdicts``), and for a wrong
gradient the message ends with the hint of :func:`autograder.public.gradcheck.diagnose` (``=``
for ``+=``, a missing ``out.grad`` ...). This module reads those verdicts back, names the hint as a
misconception kind (or, for a message without a known hint, uses the message's first line with
its numbers replaced by ``#`` as the signature), and clusters the failing students of each grade
cell by (property, kind, signature). It writes ``reports/insights.md`` and ``reports/insights.png``.

Everything comes from data grading already wrote (nothing is re-run) and the output is
deterministic: clusters, students and the representative counterexample (the shortest message,
then the first student alphabetically) are sorted, and no clock reaches the Markdown. Submissions
that ended in an error are listed apart, never clustered: their grade could not be determined.
When the submit-time service ran (``<course>/service/state.db``) the report also says how many
graded submissions students needed before a cell passed.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.checks import load_all
from autograder.checks.kit import misconceptions
from autograder.checks.kit.misconceptions import (  # the engine's kinds, re-exported for the report
    EXPONENT,
    FORMULA,
    NO_CHAIN,
    NOT_NUMBER,
    NOTHING,
    OVERFLOW,
    OVERWRITE,
    SIGN,
    TWICE,
)
from autograder.preprocessors import metadata as zm
from autograder.results import outcomes as oc
from autograder.results.outcomes import Outcome
from autograder.screen.text import md_text

STUB = "not implemented (still the stub)"
OTHER = "other"
__all__ = ["EXPONENT", "FORMULA", "NOTHING", "NOT_NUMBER", "NO_CHAIN", "OTHER", "OVERFLOW", "OVERWRITE", "SIGN",
           "STUB", "TWICE", "classify", "cluster", "collect", "signature", "write_insights"]
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|\b(?:nan|inf)\b")


def signature(message: str) -> str:
    """The message's first line with every number replaced by ``#`` (what two students share)."""
    first = message.strip().splitlines()[0] if message.strip() else "(no message)"
    return NUMBER.sub("#", first)[:160]


def classify(message: str, reason: str = "") -> tuple[str, str]:
    """(kind, signature) of one failed check's message: a named misconception when a hint says so.

    The kinds are those the checks register next to their hints (``kit/misconceptions.py``): every
    assignment's check module is loaded first, so its kinds are known.
    """
    if reason == "not_implemented":
        return STUB, STUB
    load_all()
    kind = misconceptions.classify(message)
    return (kind, kind) if kind is not None else (OTHER, signature(message))


@dataclass(frozen=True)
class Failure:
    """One failed hidden check of one student."""

    assignment: str
    grade_id: str
    check_id: str
    student: str
    reason: str
    message: str


@dataclass
class Cluster:
    """The students of one grade cell who failed one property the same way."""

    assignment: str
    grade_id: str
    check_id: str
    kind: str
    signature: str
    failures: list[Failure] = field(default_factory=list)

    @property
    def students(self) -> list[str]:
        return sorted({f.student for f in self.failures})

    @property
    def representative(self) -> Failure:
        return min(self.failures, key=lambda f: (len(f.message), f.student, f.message))


def notebook_verdicts(nb: Any) -> list[dict[str, Any]]:
    """The verdict records of an autograded notebook (a NotebookNode or a dict); malformed entries dropped."""
    verdicts = ((nb.get("metadata") or {}).get(zm.NAMESPACE) or {}).get(zm.VERDICTS) or []
    if not isinstance(verdicts, list):
        return []
    return [v for v in verdicts if isinstance(v, dict) and isinstance(v.get("grade_id"), str)
            and isinstance(v.get("check_id"), str)]


def failures_of(assignment: str, student: str, nb: Any) -> list[Failure]:
    return [Failure(assignment, v["grade_id"], v["check_id"], student, str(v.get("reason", "")),
                    str(v.get("message", ""))) for v in notebook_verdicts(nb) if not v.get("passed")]


def collect(course: Path, outcomes: Iterable[Outcome]) -> tuple[list[Failure], list[str]]:
    """Every failed check of every graded submission, and the notebooks that could not be read."""
    import nbformat

    failures: list[Failure] = []
    unreadable: list[str] = []
    for o in sorted(outcomes, key=lambda o: o.key):
        if o.status == oc.ERROR:
            continue
        folder = Path(course) / "autograded" / o.student / o.assignment
        for path in sorted(folder.glob("*.ipynb")):
            try:
                nb = nbformat.read(path, as_version=4)
            except (OSError, ValueError, nbformat.ValidationError) as exc:  # NotJSONError is a ValueError
                unreadable.append(f"{o.assignment}/{o.student}/{path.name}: {type(exc).__name__}")
                continue
            failures += failures_of(o.assignment, o.student, nb)
    return failures, unreadable


def cluster(failures: Iterable[Failure]) -> list[Cluster]:
    """Failures grouped by (assignment, grade cell, property, kind, signature); biggest first per cell."""
    groups: dict[tuple[str, str, str, str, str], Cluster] = {}
    for f in failures:
        kind, sig = classify(f.message, f.reason)
        key = (f.assignment, f.grade_id, f.check_id, kind, sig)
        groups.setdefault(key, Cluster(*key)).failures.append(f)
    return sorted(groups.values(), key=lambda c: (c.assignment, c.grade_id, -len(c.students), c.check_id,
                                                  c.kind == OTHER, c.kind, c.signature))


def across_cells(clusters: Iterable[Cluster], assignment: str) -> list[tuple[str, list[str], list[str]]]:
    """(kind, students, cells) of every named kind in an assignment, over all its cells; biggest first."""
    who: dict[str, set[str]] = defaultdict(set)
    where: dict[str, set[str]] = defaultdict(set)
    for c in clusters:
        if c.assignment == assignment and c.kind != OTHER:
            who[c.kind].update(c.students)
            where[c.kind].add(c.grade_id)
    return sorted(((k, sorted(who[k]), sorted(where[k])) for k in who),
                  key=lambda r: (r[0] == STUB, -len(r[1]), r[0]))  # unanswered parts last: no misconception


def attempts_to_pass(course: Path) -> dict[tuple[str, str], dict[str, int | None]]:
    """(assignment, grade_id) -> student -> graded submissions until the cell first passed (None: never),
    from the submit-time service's state file; empty when the service never ran."""
    path = Path(course) / "service" / "state.db"
    if not path.is_file():
        return {}
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT student, assignment, received, name, outcome FROM submissions "
                              "WHERE state = 'graded' AND outcome != '' ORDER BY received, name").fetchall()
    except sqlite3.Error:
        return {}
    seen: dict[tuple[str, str, str], int] = defaultdict(int)
    out: dict[tuple[str, str], dict[str, int | None]] = defaultdict(dict)
    for student, assignment, _received, _name, outcome in rows:
        try:
            cells = json.loads(outcome).get("cells") or []
        except (ValueError, AttributeError):
            continue
        for c in cells:
            if not isinstance(c, dict) or not isinstance(c.get("grade_id"), str):
                continue
            key = (assignment, c["grade_id"])
            seen[(assignment, c["grade_id"], student)] += 1
            if out[key].get(student) is not None:
                continue  # passed earlier
            passed = float(c.get("score") or 0) >= float(c.get("max_score") or 0) > 0
            out[key][student] = seen[(assignment, c["grade_id"], student)] if passed else None
    return dict(out)


def _attempt_text(by_student: dict[str, int | None]) -> str:
    passed = sorted(n for n in by_student.values() if n is not None)
    never = sum(n is None for n in by_student.values())
    if not passed:
        return f"nobody passed yet ({never} tried)"
    counts = defaultdict(int)
    for n in passed:
        counts[n] += 1
    spread = ", ".join(f"{k} attempt{'s' * (k > 1)}: {v}" for k, v in sorted(counts.items()))
    return f"{len(passed)} passed ({spread}; median {passed[len(passed) // 2]})" + (
        f", {never} not yet" if never else "")


def insights_markdown(clusters: list[Cluster], errors: list[Outcome], unreadable: list[str],
                      attempts: dict[tuple[str, str], dict[str, int | None]], assignments: list[str]) -> str:
    lines = ["# Misconceptions", "",
             "The students who failed each grade cell, grouped by the property (hidden check) that failed and "
             "the mistake its message names. *kind* is the hint of the counterexample (`other`: no known hint; "
             "the signature is the message's first line with numbers as `#`). The example is the shortest "
             "counterexample of the cluster.", ""]
    if not attempts:
        lines += ["No submit-time service state (`service/state.db`): attempts to pass are not known.", ""]
    for assignment in assignments:
        lines += [f"## {md_text(assignment)}", ""]
        mine = [c for c in clusters if c.assignment == assignment]
        if not mine:
            lines += ["No failed hidden check.", ""]
        rollup = across_cells(mine, assignment)
        if rollup:
            lines += ["### Across cells", "", "| kind | students | who | cells |", "|---|---:|---|---|"]
            lines += [f"| {md_text(kind)} | {len(who)} | {', '.join(md_text(s) for s in who)} | "
                      f"{', '.join(md_text(g) for g in cells)} |" for kind, who, cells in rollup]
            lines.append("")
        for grade_id in sorted({c.grade_id for c in mine}):
            cells = [c for c in mine if c.grade_id == grade_id]
            total = len({s for c in cells for s in c.students})
            lines += [f"### {md_text(grade_id)}", "", f"{total} student{'s' * (total != 1)} failed.", ""]
            if (assignment, grade_id) in attempts:
                lines += [f"Attempts to pass (submit-time service): {_attempt_text(attempts[(assignment, grade_id)])}.",
                          ""]
            lines += ["| property | kind | students | who | example |", "|---|---|---:|---|---|"]
            for c in cells:
                kind = md_text(c.kind) if c.kind != OTHER else f"other: {md_text(c.signature)}"
                lines.append(f"| {md_text(c.check_id)} | {kind} | {len(c.students)} | "
                             f"{', '.join(md_text(s) for s in c.students)} | "
                             f"{md_text(c.representative.student)}: {md_text(c.representative.message)} |")
            lines.append("")
        errs = [o for o in errors if o.assignment == assignment]
        if errs:
            lines += ["### Errors (not clustered: the grade could not be determined)", "",
                      "| student | error | message |", "|---|---|---|"]
            lines += [f"| {md_text(o.student)} | {md_text(o.error_kind)} | {md_text(o.message)} |" for o in errs]
            lines.append("")
    if unreadable:
        lines += ["## Autograded notebooks that could not be read", ""]
        lines += [f"* {md_text(u)}" for u in unreadable]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def plot(clusters: list[Cluster], path: Path, top: int = 20) -> None:
    """The biggest misconceptions as horizontal bars (matplotlib Agg): per assignment each named kind over
    all its cells, and each unnamed cluster; the unanswered stubs are left out (no misconception)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = [(len(who), f"{a.split('_')[0]}: {kind}") for a in sorted({c.assignment for c in clusters})
            for kind, who, _cells in across_cells(clusters, a) if kind != STUB]
    bars += [(len(c.students), f"{c.assignment.split('_')[0]} {c.grade_id}: {c.signature[:40]}")
             for c in clusters if c.kind == OTHER]
    bars = sorted(bars, key=lambda b: (-b[0], b[1]))[:top] or [(0, "(no misconception)")]
    labels, sizes = [b[1] for b in bars], [b[0] for b in bars]
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(labels) + 1.2))
    ax.barh(range(len(labels)), sizes, color="#c44e52")
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("students")
    ax.set_title("misconceptions: students per kind")
    fig.tight_layout()
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)


def summary_lines(clusters: list[Cluster], top: int = 3) -> list[str]:
    """A few lines for ``summary.md``: per assignment the biggest named misconceptions, and a link to the report."""
    lines = ["## Misconceptions", "", "See [insights.md](insights.md) (and `insights.png`) for every cluster, "
             "per cell, with the students and a counterexample."]
    rows = [(a, kind, who, cells) for a in sorted({c.assignment for c in clusters})
            for kind, who, cells in [r for r in across_cells(clusters, a) if r[0] != STUB][:top]]
    if rows:
        lines += ["", "| assignment | kind | students | cells |", "|---|---|---:|---|"]
        lines += [f"| {md_text(a)} | {md_text(kind)} | {len(who)} | {', '.join(md_text(g) for g in cells)} |"
                  for a, kind, who, cells in rows]
    return [*lines, ""]


def write_insights(course: Path, outcomes: list[Outcome]) -> list[str]:
    """Write ``reports/insights.md`` and ``insights.png``; returns the lines for ``summary.md``."""
    course = Path(course)
    out = course / "reports"
    out.mkdir(parents=True, exist_ok=True)
    failures, unreadable = collect(course, outcomes)
    clusters = cluster(failures)
    errors = sorted((o for o in outcomes if o.status == oc.ERROR), key=lambda o: o.key)
    assignments = sorted({o.assignment for o in outcomes})
    (out / "insights.md").write_text(insights_markdown(clusters, errors, unreadable, attempts_to_pass(course),
                                                       assignments))
    plot(clusters, out / "insights.png")
    return summary_lines(clusters)
