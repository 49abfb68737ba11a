"""One explicit outcome per submission: graded, or an error with its reason.

Stock nbgrader reports a broken submission as an ordinary 0 (or not at all).
``zengrad-kit grade`` classifies every submission from three sources: a cheap
pre-check of the submitted files (missing/renamed notebook, invalid JSON), the
result of nbgrader's Autograde converter, and the ``metadata.zengrad`` records
that the course's preprocessors leave in the autograded notebook
(``kernel_fault``, ``memory_errors``, ``verdicts``, ``integrity``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autograder.preprocessors import metadata as zm
from autograder.reasons import UNDETERMINED, ErrorKind, Reason
from autograder.sandbox.backends import BACKENDS, DEFAULT_BACKEND

# Exit statuses of ``zengrad-kit`` (documented in ``zengrad-kit --help``).
EXIT_OK = 0  # every submission graded cleanly (integrity flags do not change this)
EXIT_SUBMISSION_ERRORS = 1  # at least one submission ended in an explicit error
EXIT_USAGE = 2  # bad arguments, no course, unknown assignment
EXIT_INTERNAL = 3  # the grader itself failed (e.g. a gradebook write could not be verified)
EXIT_SANDBOX = 4  # the sandbox cannot start: nothing was graded

GRADED = "graded"
ERROR = "error"

# Error kinds (see autograder.reasons.ErrorKind); module names kept for readable call sites.
BAD_JSON = ErrorKind.BAD_JSON
MISSING_NOTEBOOK = ErrorKind.MISSING_NOTEBOOK
SANDBOX = ErrorKind.SANDBOX
KERNEL_DIED = ErrorKind.KERNEL_DIED
TIMEOUT = ErrorKind.TIMEOUT
MEMORY = ErrorKind.MEMORY
CHECK_FAILED = ErrorKind.CHECK_FAILED
AUTOGRADE_FAILED = ErrorKind.AUTOGRADE_FAILED
DATABASE = ErrorKind.DATABASE
WORKER_CRASHED = ErrorKind.WORKER_CRASHED
INVALID_ID = ErrorKind.INVALID_ID

OUTCOMES_FILE = "outcomes.json"


@dataclass
class CellResult:
    """One grade cell of one submission, as the gradebook scored it."""

    grade_id: str
    notebook: str
    score: float
    max_score: float
    output: str = ""


@dataclass
class Outcome:
    """What happened to one submission; exactly one per (assignment, student)."""

    assignment: str
    student: str
    status: str = GRADED  # GRADED | ERROR
    error_kind: str | None = None
    message: str = ""
    score: float = 0.0
    max_score: float = 0.0
    cells: list[CellResult] = field(default_factory=list)
    flags: list[dict] = field(default_factory=list)  # integrity flags (never change the status)
    notes: list[str] = field(default_factory=list)  # worth knowing, not an error (a cell hit its CPU limit, ...)
    sandbox: str = DEFAULT_BACKEND  # the name of the sandbox backend the submission was graded with
    digest: str = ""  # of the submitted files (a resumed run keeps an outcome only if they did not change)
    autograded: bool = False  # an autograded notebook exists (grades may be partial)
    attempts: int = 1
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    log: str = ""  # nbgrader's captured log (written next to results.json, not into outcomes.json)

    @property
    def key(self) -> tuple[str, str]:
        return (self.assignment, self.student)

    def fail(self, kind: ErrorKind, message: str) -> None:
        """Mark this outcome an error unless an earlier, more specific one was already recorded."""
        if self.status != ERROR:
            self.status, self.error_kind, self.message = ERROR, str(kind), message

    def to_json(self, with_log: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_log:
            data.pop("log")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        data = dict(data)
        data["cells"] = [CellResult(**c) for c in data.get("cells", [])]
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def precheck(folder: Path, expected: list[str]) -> tuple[ErrorKind, str] | None:
    """(kind, message) when the submitted files alone make the submission an error.

    ``expected`` are the notebook names (without ``.ipynb``) of the assignment.
    """
    import nbformat

    found = sorted(p.name for p in folder.glob("*.ipynb"))
    missing = [name for name in expected if not (folder / f"{name}.ipynb").exists()]
    if missing:
        extra = [f for f in found if f[:-6] not in expected]
        hint = f"; found {', '.join(extra)} (renamed?)" if extra else "; no notebook was submitted"
        return MISSING_NOTEBOOK, f"missing notebook {', '.join(m + '.ipynb' for m in missing)}{hint}"
    for name in expected:
        path = folder / f"{name}.ipynb"
        try:
            nbformat.read(path, as_version=4)
        except Exception as exc:  # noqa: BLE001 - NotJSONError, validation and decoding errors alike
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return BAD_JSON, f"{name}.ipynb is not a readable notebook: {first[:200]}"
    return None


def classify_notebook(outcome: Outcome, nb: Any, notebook: str) -> None:
    """Read the ``metadata.zengrad`` records of one autograded notebook into ``outcome``.

    The rule (README, "Outcomes"): a cell whose check failed because the student's code was
    wrong, too slow (CPU), crashed or ran out of memory *inside a check* is graded 0 with a
    message; the submission stays *graded*. An *error* outcome is reserved for what needs the
    instructor, because the grade could not be determined: the kernel died, hung or exhausted
    its memory while running the notebook, the worker replaying the notebook did, something
    only hit a wall-clock backstop (blocked, not computing), or the grader itself failed.
    """
    meta = nb.metadata.get(zm.NAMESPACE, {})
    for key, value in (meta.get(zm.TIMINGS) or {}).items():
        outcome.timings[key] = round(outcome.timings.get(key, 0.0) + float(value), 4)
    for flag in meta.get(zm.INTEGRITY, []) or []:
        outcome.flags.append({"notebook": notebook, **dict(flag)})
    for found in meta.get(zm.NEUTRALISED, []) or []:
        outcome.flags.append({"notebook": notebook, "cell": found.get("cell"), "kind": "active-content",
                              "detail": "active content removed before any page showed it: "
                                        + ", ".join(found.get("removed", []))})
    if meta.get(zm.SANDBOX):
        outcome.sandbox = meta[zm.SANDBOX]
    note = BACKENDS[meta[zm.SANDBOX]].note if meta.get(zm.SANDBOX) in BACKENDS else None
    if note:
        outcome.notes.append(f"{notebook}: {note}")
    fault = meta.get(zm.KERNEL_FAULT)
    if fault:
        kind = {"kernel-died": KERNEL_DIED}.get(fault.get("kind"), TIMEOUT)
        where = f" at cell {fault.get('cell')}" if fault.get("cell") is not None else ""
        outcome.fail(kind, f"{notebook}: {fault.get('kind')}{where}: {fault.get('message', '')}")
    memory = meta.get(zm.MEMORY_ERRORS) or []
    if memory:
        outcome.fail(MEMORY, f"{notebook}: memory exhausted (MemoryError) in cell(s) {', '.join(map(str, memory))}")
    timed_out = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                 and any(o.get("ename") == "CellTimeoutError" for o in c.get("outputs", []))]
    if timed_out:
        outcome.fail(TIMEOUT, f"{notebook}: cell(s) {', '.join(map(str, timed_out))} hit the wall-clock backstop "
                              "(blocked without computing)")
    for limited in meta.get(zm.CPU_LIMITED, []) or []:
        outcome.notes.append(f"{notebook}: cell {limited['cell']} was interrupted at the {limited['limit']} "
                             "CPU-time limit")
    for cell in meta.get(zm.OUTPUT_TRUNCATED, []) or []:
        outcome.notes.append(f"{notebook}: the output of cell {cell} was cut at the grader's limit")
    for err in meta.get(zm.WORKER_CELL_ERRORS, []) or []:
        fatal = err.get("fatal")
        if not fatal:
            continue
        kind = {"hung": TIMEOUT, Reason.TIMEOUT: TIMEOUT, Reason.STALLED: TIMEOUT, Reason.MEMORY: MEMORY,
                Reason.PROTOCOL: CHECK_FAILED}.get(fatal, KERNEL_DIED)
        message = (err.get("error") or {}).get("message", fatal)
        outcome.fail(kind, f"{notebook}: replaying the notebook for the hidden checks, cell {err.get('cell')} "
                           f"took the sandboxed worker down ({message}); the checks after it could not run")
    by_reason: dict[str, list[str]] = {}
    for verdict in meta.get(zm.VERDICTS, []) or []:
        if verdict.get("reason") in UNDETERMINED:
            by_reason.setdefault(verdict["reason"], []).append(verdict.get("check_id", "?"))
    if Reason.GRADER_FAULT in by_reason:
        outcome.fail(CHECK_FAILED, f"{notebook}: hidden check(s) {', '.join(by_reason[Reason.GRADER_FAULT])} failed "
                                   "in the grader itself (a bug in the check, not the student's code)")
    if Reason.STALLED in by_reason:
        outcome.fail(TIMEOUT, f"{notebook}: hidden check(s) {', '.join(by_reason[Reason.STALLED])}: the student's "
                              "code blocked without computing until the wall-clock backstop")
    if Reason.NOT_GRADED in by_reason:
        outcome.fail(KERNEL_DIED, f"{notebook}: hidden check(s) {', '.join(by_reason[Reason.NOT_GRADED])} could not "
                                  "run (an earlier cell took the worker down)")


def cell_output_text(cell: Any, limit: int = 4000) -> str:
    """The student-visible text of a grade cell's outputs (stdout and errors), for Gradescope."""
    parts: list[str] = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") == "error":
            parts.append(f"{out.get('ename', 'Error')}: {out.get('evalue', '')}\n")
        elif out.get("output_type") == "execute_result":
            parts.append(str(out.get("data", {}).get("text/plain", "")) + "\n")
    text = "".join(parts)
    return text if len(text) <= limit else text[: limit - 20] + "\n... (truncated)\n"


def load_outcomes(reports: Path) -> dict[tuple[str, str], Outcome]:
    """The outcomes the last ``zengrad-kit grade`` recorded under ``reports/`` (empty if none)."""
    path = reports / OUTCOMES_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return {}
    outcomes = [Outcome.from_json(d) for d in data.get("outcomes", [])]
    return {o.key: o for o in outcomes}


def save_outcomes(reports: Path, outcomes: list[Outcome]) -> None:
    """Merge ``outcomes`` into ``reports/outcomes.json`` (a rerun of some students keeps the others)."""
    merged = load_outcomes(reports)
    for o in outcomes:
        merged[o.key] = o
    reports.mkdir(parents=True, exist_ok=True)
    ordered = [merged[k].to_json() for k in sorted(merged)]
    tmp = reports / (OUTCOMES_FILE + ".tmp")
    tmp.write_text(json.dumps({"outcomes": ordered}, indent=1, sort_keys=True) + "\n")
    tmp.replace(reports / OUTCOMES_FILE)
