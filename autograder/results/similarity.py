"""Similarity report: which pairs of students' solution code look copied, as evidence for a human.

Why this exists, and why it is shaped like this:

* Only what a student wrote is compared. The given code of a notebook, and the given lines of
  a solution cell (the released stub), are identical for every student; comparing them would
  flag everyone. So from each submitted notebook we take the cells whose nbgrader metadata says
  ``solution: true`` *and* whose ``grade_id`` is a solution cell of the release notebook (a cell a
  student flipped to ``solution`` is not theirs to claim), drop every line identical to a line
  of that cell's released stub, and also hand the stub to copydetect as ``boilerplate``.
* The matching is copydetect's (a maintained PyPI package implementing winnowing, the
  MOSS algorithm): its Python filter replaces identifiers by one symbol, so renamed variables do
  not hide a copy, and k-gram fingerprints are local, so reordered lines only lose the k-grams
  that span a moved boundary.
* A report never changes a grade. The page says so in a banner; nothing here writes to the
  gradebook. Student code is hostile: every character of it is escaped, and the page runs
  under the same no-script Content-Security-Policy as the grading summary.
* A notebook that is not valid JSON (or has no solution cells) is skipped and listed as "not
  compared", with the reason, rather than silently dropped.
"""
from __future__ import annotations

import html
import io
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: copydetect's ``noise_t``: matches shorter than this many filtered characters are ignored.
NOISE = 25
#: copydetect's ``guarantee_t``: a match at least this long is always found (window = G - N + 1).
#: Equal to NOISE, so the window is 1 and every k-gram is kept: copydetect hashes k-grams with
#: Python's per-process salted ``hash()``, so winnowing (window > 1) would pick different
#: fingerprints on every run and the same class could give a different report. Solution code is
#: a few hundred tokens per student, so keeping every k-gram costs little.
GUARANTEE = 25
#: A pair is reported when both similarities (each student's share of fingerprinted code
#: that matches the other's) are at least this.
THRESHOLD = 0.7

BANNER = "Evidence for a human to review — never changes a grade."


@dataclass
class StudentCode:
    """The code one student wrote in one assignment's solution cells."""
    student: str
    text: str


@dataclass
class Pair:
    """Two students whose solution code matches above the threshold."""
    a: str
    b: str
    similarity_a: float  # share of a's code that matches b's
    similarity_b: float
    matched_tokens: int
    slices_a: list[tuple[int, int]] = field(default_factory=list)
    slices_b: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class SimilarityResult:
    """One assignment's report: the flagged pairs, the students not compared and why, the paths written."""
    assignment: str
    threshold: float
    compared: int
    pairs: list[Pair]
    not_compared: dict[str, str]
    seconds: float = 0.0
    html_path: Path | None = None
    json_path: Path | None = None


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _solution_cells(nb: dict[str, Any]) -> dict[str, str]:
    cells: dict[str, str] = {}
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
        if isinstance(meta, dict) and meta.get("solution") and meta.get("grade_id"):
            cells[str(meta["grade_id"])] = _source(cell)
    return cells


def release_stubs(course: Path, assignment: str) -> dict[str, str]:
    """``grade_id`` → the released stub text of each solution cell of the assignment."""
    stubs: dict[str, str] = {}
    for path in sorted((course / "release" / assignment).glob("*.ipynb")):
        stubs.update(_solution_cells(json.loads(path.read_text(encoding="utf-8"))))
    return stubs


def student_code(nb: dict[str, Any], stubs: dict[str, str]) -> str:
    """The lines a student wrote in the release's solution cells, minus lines identical to the stub's."""
    theirs = _solution_cells(nb)
    parts = []
    for grade_id, stub in stubs.items():
        stub_lines = {line.strip() for line in stub.splitlines()}
        lines = [line for line in theirs.get(grade_id, "").splitlines()
                 if line.strip() and line.strip() not in stub_lines]
        if lines:
            parts.append("\n".join(lines))
    return "\n".join(parts) + ("\n" if parts else "")


def collect(course: Path, assignment: str, stubs: dict[str, str]) -> tuple[list[StudentCode], dict[str, str]]:
    """Every student's code from ``submitted/<student>/<assignment>/*.ipynb``, and who was not compared (why)."""
    codes: list[StudentCode] = []
    skipped: dict[str, str] = {}
    for folder in sorted((course / "submitted").glob(f"*/{assignment}")):
        student = folder.parent.name
        notebooks = sorted(folder.glob("*.ipynb"))
        if not notebooks:
            skipped[student] = "no notebook submitted"
            continue
        text, reasons = [], []
        for path in notebooks:
            try:
                nb = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(nb, dict):
                    raise ValueError("not a notebook object")
            except (ValueError, UnicodeDecodeError) as exc:
                reasons.append(f"{path.name} is not valid notebook JSON ({type(exc).__name__})")
                continue
            text.append(student_code(nb, stubs))
        if reasons and not any(text):
            skipped[student] = "; ".join(reasons)
        elif not "".join(text).strip():
            skipped[student] = "no code written in the solution cells"
        else:
            codes.append(StudentCode(student, "".join(text)))
    return codes, skipped


def find_pairs(codes: list[StudentCode], boilerplate: str, threshold: float = THRESHOLD,
               noise: int = NOISE, guarantee: int = GUARANTEE) -> list[Pair]:
    """Fingerprint each student's code with copydetect and return the pairs at or above ``threshold``."""
    from copydetect import CodeFingerprint, compare_files

    window = guarantee - noise + 1
    base = CodeFingerprint("stub.py", noise, window, fp=io.StringIO(boilerplate))
    prints = [CodeFingerprint(f"{c.student}.py", noise, window, boilerplate=list(base.hashes),
                              fp=io.StringIO(c.text)) for c in codes]
    pairs: list[Pair] = []
    for (i, ca), (j, cb) in itertools.combinations(enumerate(codes), 2):
        if not prints[i].hashes & prints[j].hashes:
            continue
        tokens, (sim_a, sim_b), (sl_a, sl_b) = compare_files(prints[i], prints[j])
        if min(sim_a, sim_b) >= threshold:
            pairs.append(Pair(ca.student, cb.student, float(sim_a), float(sim_b), int(tokens),
                              [(int(s), int(e)) for s, e in zip(*sl_a, strict=True)],
                              [(int(s), int(e)) for s, e in zip(*sl_b, strict=True)]))
    pairs.sort(key=lambda p: -min(p.similarity_a, p.similarity_b))
    return pairs


def _highlighted(text: str, slices: list[tuple[int, int]]) -> str:
    out, at = [], 0
    for start, end in sorted(slices):
        start = max(start, at)
        if end <= start:
            continue
        out.append(html.escape(text[at:start]) + "<mark>" + html.escape(text[start:end]) + "</mark>")
        at = end
    return "".join(out) + html.escape(text[at:])


def report_page(result: SimilarityResult, codes: dict[str, str]) -> str:
    """The self-contained, escaped HTML page of one assignment's similarity report."""
    from autograder.results.reports import SUMMARY_POLICY

    e = html.escape
    rows = "".join(f"<tr><td>{e(p.a)}</td><td>{e(p.b)}</td><td>{p.similarity_a:.0%}</td>"
                   f"<td>{p.similarity_b:.0%}</td><td>{p.matched_tokens}</td></tr>\n" for p in result.pairs)
    sides = "".join(
        f"<h3>{e(p.a)} ↔ {e(p.b)}</h3>\n<div class=pair><pre>{_highlighted(codes[p.a], p.slices_a)}</pre>"
        f"<pre>{_highlighted(codes[p.b], p.slices_b)}</pre></div>\n" for p in result.pairs)
    skipped = "".join(f"<li>{e(s)}: {e(r)}</li>\n" for s, r in sorted(result.not_compared.items()))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{e(SUMMARY_POLICY)}\">\n"
            f"<meta name=\"referrer\" content=\"no-referrer\"><title>Similarity: {e(result.assignment)}</title>\n"
            "<style>body{font-family:sans-serif;max-width:90em;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}"
            ".banner{background:#fff3cd;border:1px solid #e0c060;padding:.6em 1em;font-weight:bold}"
            ".pair{display:flex;gap:1em}.pair pre{flex:1;overflow:auto;background:#f6f6f6;padding:.5em}"
            "mark{background:#ffd27f}</style>\n</head><body>\n"
            f"<p class=banner>{e(BANNER)}</p>\n<h1>Similarity: {e(result.assignment)}</h1>\n"
            f"<p>{result.compared} submissions compared (solution-cell code only, released stub excluded) with "
            f"copydetect, noise {NOISE}, guarantee {GUARANTEE}; pairs where both similarities are at least "
            f"{result.threshold:.0%}: {len(result.pairs)}.</p>\n"
            "<table><tr><th>student A</th><th>student B</th><th>A matched</th><th>B matched</th>"
            f"<th>matched tokens</th></tr>\n{rows}</table>\n{sides}"
            f"<h2>Not compared</h2>\n<ul>\n{skipped or '<li>none</li>'}</ul>\n</body></html>\n")


def similarity_report(course: Path, assignment: str, threshold: float = THRESHOLD,
                      out_dir: Path | None = None) -> SimilarityResult:
    """Compare every submission of ``assignment``; write ``reports/similarity/<assignment>.{html,json}``."""
    started = time.perf_counter()
    stubs = release_stubs(course, assignment)
    if not stubs:
        raise ValueError(f"release/{assignment}/ has no notebook with solution cells")
    codes, skipped = collect(course, assignment, stubs)
    boilerplate = "\n".join(stubs.values())
    pairs = find_pairs(codes, boilerplate, threshold)
    result = SimilarityResult(assignment, threshold, len(codes), pairs, skipped)
    out = out_dir or course / "reports" / "similarity"
    out.mkdir(parents=True, exist_ok=True)
    result.html_path = out / f"{assignment}.html"
    result.json_path = out / f"{assignment}.json"
    result.html_path.write_text(report_page(result, {c.student: c.text for c in codes}), encoding="utf-8")
    result.json_path.write_text(json.dumps({
        "assignment": assignment, "note": BANNER, "threshold": threshold, "noise": NOISE,
        "guarantee": GUARANTEE, "compared": len(codes), "not_compared": skipped,
        "pairs": [{"a": p.a, "b": p.b, "similarity_a": round(p.similarity_a, 4),
                   "similarity_b": round(p.similarity_b, 4), "matched_tokens": p.matched_tokens}
                  for p in pairs]}, indent=2) + "\n", encoding="utf-8")
    result.seconds = time.perf_counter() - started
    return result
