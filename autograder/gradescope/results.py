"""Gradescope's ``results.json`` of one submission: its shape, and the once-only writer the runner uses."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

from autograder.gradescope.config import CHECK_NAME, DEFAULT_VISIBILITY, unsafe_warning
from autograder.results.results_json import write_results_json
from autograder.sandbox.backends import DEFAULT_BACKEND, jailed
from autograder.screen.text import plain_text


def _visibility_phrase(visibility: str) -> str:
    return {"visible": "are listed below",
            "after_due_date": "are shown here after the due date",
            "after_published": "are shown here when your instructor publishes the grades",
            "hidden": "are not shown here; your instructor releases them"}[visibility]


class Results:
    """results.json: written once, atomically, by whoever gets there first (the grading or the watchdog)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.written = False

    def write(self, data: dict[str, Any]) -> bool:
        if not self.lock.acquire(timeout=30):  # the other writer is writing (a signal arrived meanwhile)
            return False
        try:
            if self.written:
                return False
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_results_json(self.path, data)
            self.written = True
            return True
        finally:
            self.lock.release()


def _grade_cells(source: Path, assignment: str) -> list[tuple[str, str, float]]:
    """(notebook, grade_id, points) of every graded cell, in notebook order."""
    import nbformat

    cells = []
    for path in sorted((source / "course" / "source" / assignment).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and meta.get("grade_id"):
                cells.append((path.stem, meta["grade_id"], float(meta.get("points", 0.0))))
    return cells


def _test_name(notebook: str, grade_id: str, assignment: str) -> str:
    return grade_id if notebook == assignment else f"{notebook}: {grade_id}"


def results_json(cfg: dict[str, Any], status: str, summary: str, check_passed: bool, score: float,
                 cells: list[dict[str, Any]], seconds: float, extra: dict[str, Any]) -> dict[str, Any]:
    """Gradescope's results.json: the top-level output and the submission check are visible; the cells follow
    the bundle's visibility."""
    visibility = cfg.get("visibility", DEFAULT_VISIBILITY)
    lines = []
    if not jailed(cfg.get("sandbox", DEFAULT_BACKEND)):
        lines.append(f"WARNING: graded WITHOUT the sandbox (the bundle was built with --sandbox none). "
                     f"{unsafe_warning()}.")
    lines.append(summary)
    # every output is plain text and declared so: Gradescope renders "text" escaped, never as HTML/Markdown
    output = plain_text("\n".join(lines))
    tests: list[dict[str, Any]] = [{"name": CHECK_NAME, "number": "0", "status": "passed" if check_passed else "failed",
                                    "output": output, "output_format": "text", "visibility": "visible"}]
    for i, c in enumerate(cells, start=1):
        tests.append({"name": plain_text(c["name"]), "number": str(i), "score": c["score"],
                      "max_score": c["max_score"], "status": "passed" if c["score"] >= c["max_score"] else "failed",
                      "output": plain_text(c["output"]), "output_format": "text",
                      "tags": [plain_text(t) for t in c["tags"]], "visibility": visibility})
    return {"score": score, "execution_time": int(round(seconds)), "output": output, "output_format": "text",
            "test_output_format": "text", "visibility": visibility, "stdout_visibility": "hidden",
            "extra_data": {"status": status, "sandbox": cfg.get("sandbox", DEFAULT_BACKEND),
                           "assignment": cfg.get("assignment"), "fingerprint": cfg.get("fingerprint"), **extra},
            "tests": tests}


def failure_results(cfg: dict[str, Any], source: Path, kind: str, reason: str, seconds: float) -> dict[str, Any]:
    """Nothing could be graded: score 0, every cell at 0, and a message that says so."""
    cells: list[dict[str, Any]] = []
    with contextlib.suppress(Exception):  # the cells are a courtesy; the error must be written regardless
        for notebook, grade_id, points in _grade_cells(source, cfg["assignment"]):
            cells.append({"name": _test_name(notebook, grade_id, cfg["assignment"]), "score": 0.0,
                          "max_score": points, "output": "not graded (see the submission check)",
                          "tags": [notebook]})
    summary = f"The grade could not be determined: {reason}\nContact your instructor."
    return results_json(cfg, "error", summary, False, 0.0, cells, seconds,
                        {"error_kind": kind, "error": reason[:2000]})


def outcome_results(cfg: dict[str, Any], source: Path, outcome: Any, seconds: float) -> dict[str, Any]:
    """results.json of one graded submission (status graded or error), one test per graded cell."""
    assignment = cfg["assignment"]
    try:
        order = {(nb, gid): i for i, (nb, gid, _) in enumerate(_grade_cells(source, assignment))}
    except Exception:  # noqa: BLE001 - the gradebook's order (by name) then
        order = {}
    ordered = sorted(outcome.cells, key=lambda c: (order.get((c.notebook, c.grade_id), len(order)), c.notebook,
                                                   c.grade_id))
    cells = []
    for c in ordered:
        text = c.output or ("no verdict: the grade could not be determined (see the submission check)"
                            if outcome.status == "error" else "")
        cells.append({"name": _test_name(c.notebook, c.grade_id, assignment), "score": float(c.score),
                      "max_score": float(c.max_score), "output": text, "tags": [c.notebook]})
    notebooks = sorted({c.notebook for c in outcome.cells}) or [assignment]
    names = ", ".join(f"{n}.ipynb" for n in notebooks)
    if outcome.status == "error":
        hint = ""
        if outcome.error_kind in ("bad-json", "missing-notebook"):
            hint = (f"\nSubmit {names} exactly as the assignment names it, saved from Jupyter, and resubmit; "
                    "if that does not help, contact your instructor.")
        summary = (f"The grade could not be determined ({outcome.error_kind}): {outcome.message[:1500]}{hint}\n"
                   f"Contact your instructor. Cells that could be graded keep their scores; they "
                   f"{_visibility_phrase(cfg['visibility'])}.")
        extra = {"error_kind": outcome.error_kind, "error": outcome.message[:2000]}
    else:
        summary = (f"{names}: received, readable and graded ({len(cells)} graded cells). Your score and the "
                   f"result of each cell, with the hidden tests' verdicts, {_visibility_phrase(cfg['visibility'])}.")
        extra = {"error_kind": None, "error": None}
    extra["notes"] = list(outcome.notes)
    return results_json(cfg, outcome.status, summary, outcome.status != "error", float(outcome.score), cells,
                        seconds, extra)
