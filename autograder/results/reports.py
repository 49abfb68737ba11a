"""Reports of a grading run: Gradescope ``results.json``, grades CSV, instructor summary and histogram.

Everything goes under ``<course>/reports/`` (gitignored):

* ``<assignment>/<student>/results.json`` (Gradescope autograder schema) and ``autograde.log``;
* ``outcomes.json``: one outcome per submission (read by ``autograder.results.export`` for the CSV);
* ``grades.csv``: ``nbgrader export`` with the course's plugin (status and error columns);
* ``summary.md`` and ``histogram.png``: pass rate per cell, score distribution, students who need a look;
  ``summary.html``: the same as a self-contained page (sanitised, under a policy that runs no script);
* ``insights.md`` and ``insights.png``: the failing students of each cell clustered by misconception
  (``autograder.results.insights``), linked from the summary.
"""

from __future__ import annotations

import contextlib
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from autograder.exchange import refused_submissions
from autograder.results import outcomes as oc
from autograder.results.insights import write_insights
from autograder.results.outcomes import Outcome
from autograder.results.results_json import write_results_json
from autograder.sandbox.backends import BACKENDS, DEFAULT_BACKEND, jailed
from autograder.screen.text import md_text, plain_text


def reports_dir(course: Path) -> Path:
    return Path(course) / "reports"


def gradescope_results(outcome: Outcome) -> dict[str, Any]:
    """The Gradescope autograder ``results.json`` of one submission: one test per grade cell."""
    tests = [{
        "name": plain_text(c.grade_id if c.notebook == outcome.assignment else f"{c.notebook}: {c.grade_id}"),
        "score": c.score,
        "max_score": c.max_score,
        "output": plain_text(c.output),
        "output_format": "text",  # shown escaped: a counterexample's repr is text, never markup
        "visibility": "visible",
    } for c in outcome.cells]
    data: dict[str, Any] = {"score": outcome.score, "tests": tests, "output_format": "text",
                            "test_output_format": "text", "execution_time": round(outcome.seconds, 3)}
    lines = []
    if outcome.status == oc.ERROR:
        lines.append(f"Autograding error ({outcome.error_kind}): {outcome.message}\n"
                     "The scores below are what could be graded; your instructor has been told.")
    if not jailed(outcome.sandbox):
        lines.append("Graded without the sandbox (Sandbox.backend = 'none').")
    if lines:
        data["output"] = plain_text("\n".join(lines))
    data["extra_data"] = {"status": outcome.status, "sandbox": outcome.sandbox}
    return data


def write_submission_reports(course: Path, outcomes: list[Outcome]) -> None:
    for o in outcomes:
        if o.error_kind == oc.INVALID_ID:
            continue  # no folder is named after what is not a student id; the summary lists it
        folder = reports_dir(course) / o.assignment / o.student
        folder.mkdir(parents=True, exist_ok=True)
        write_results_json(folder / "results.json", gradescope_results(o))
        (folder / "autograde.log").write_text(o.log)


def export_csv(course: Path, dest: Path) -> None:
    """``nbgrader export --to dest`` in-process, with the course's export plugin."""
    from nbgrader.apps.exportapp import ExportApp

    with contextlib.chdir(course):
        app = ExportApp()
        app.initialize(["--to", str(dest), "--log-level=WARN"])
        app.start()


def needs_a_look(outcomes: list[Outcome]) -> list[tuple[Outcome, str]]:
    """(outcome, why) for errors and integrity flags, errors first."""
    rows: list[tuple[Outcome, str]] = []
    for o in outcomes:
        if o.status == oc.ERROR:
            rows.append((o, f"error ({o.error_kind}): {o.message}"))
    for o in outcomes:
        if o.flags:
            kinds = sorted({f.get("kind", "?") for f in o.flags})
            details = sorted({f.get("detail", "") for f in o.flags})[:3]
            rows.append((o, f"integrity: {', '.join(kinds)} ({'; '.join(details)})"))
    return rows


def cell_pass_rates(outcomes: list[Outcome]) -> dict[str, list[tuple[str, float, float, float]]]:
    """assignment -> [(cell, points, pass rate, mean score)], over every submission."""
    by_cell: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for o in outcomes:
        for c in o.cells:
            name = c.grade_id if c.notebook == o.assignment else f"{c.notebook}:{c.grade_id}"
            by_cell[o.assignment][name].append((c.score, c.max_score))
    out: dict[str, list[tuple[str, float, float, float]]] = {}
    for assignment, cells in by_cell.items():
        out[assignment] = [(name, vals[0][1], sum(s >= m for s, m in vals) / len(vals),
                            statistics.fmean(s for s, _ in vals)) for name, vals in sorted(cells.items())]
    return out


def histogram(outcomes: list[Outcome], path: Path) -> None:
    """Score distribution (percent of max) per assignment, as a PNG (matplotlib Agg, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_assignment: dict[str, list[float]] = defaultdict(list)
    for o in outcomes:
        by_assignment[o.assignment].append(100.0 * o.score / o.max_score if o.max_score else 0.0)
    names = sorted(by_assignment) or ["(none)"]
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        ax.hist(by_assignment.get(name, []), bins=[i * 10 for i in range(11)], color="#4c72b0", edgecolor="white")
        ax.set_title(name)
        ax.set_xlabel("score (% of max)")
        ax.set_ylabel("submissions")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def refused_markdown(refused: list[dict[str, Any]]) -> list[str]:
    """The section on submissions ``collect`` refused (forged owner, back-dated, links, oversize ...)."""
    if not refused:
        return []
    lines = ["", "## Refused at collect", "",
             "These inbound submissions were not collected and are not graded; the files stay in the exchange's "
             "`inbound/` (see `reports/collect.json`).", "",
             "| inbound name | owner | received | reason |", "|---|---|---|---|"]
    for e in refused:
        lines.append(f"| {md_text(e.get('name', ''))} | {md_text(e.get('owner', ''))} | "
                     f"{md_text(e.get('received', ''))} | {md_text(e.get('refused', ''))} |")
    return lines


def summary_markdown(outcomes: list[Outcome], run_note: str = "", refused: list[dict[str, Any]] | None = None) -> str:
    """The instructor summary: counts, per-cell pass rates, who needs a look, refused submissions."""
    lines = ["# Grading summary", ""]
    if run_note:
        lines += [run_note, ""]
    errors = [o for o in outcomes if o.status == oc.ERROR]
    lines += [f"{len(outcomes)} submissions: {len(outcomes) - len(errors)} graded, {len(errors)} errors, "
              f"{sum(1 for o in outcomes if o.flags)} with integrity flags.", ""]
    rates = cell_pass_rates(outcomes)
    for assignment in sorted({o.assignment for o in outcomes}):
        subs = [o for o in outcomes if o.assignment == assignment]
        scores = [o.score for o in subs]
        top = max((o.max_score for o in subs), default=0.0)
        kinds = defaultdict(int)
        for o in subs:
            if o.status == oc.ERROR:
                kinds[o.error_kind] += 1
        kind_text = ", ".join(f"{md_text(k)} {v}" for k, v in sorted(kinds.items())) or "none"
        lines += [f"## {md_text(assignment)}", "",
                  f"{len(subs)} submissions; errors: {kind_text}. Score (of {top:g}): mean "
                  f"{statistics.fmean(scores):.2f}, median {statistics.median(scores):g}, "
                  f"min {min(scores):g}, max {max(scores):g}.", "",
                  "| cell | points | pass rate | mean score |", "|---|---:|---:|---:|"]
        for name, points, rate, mean in rates.get(assignment, []):
            lines.append(f"| {md_text(name)} | {points:g} | {100 * rate:.0f}% | {mean:.2f} |")
        lines.append("")
    lines += ["![score histogram](histogram.png)", "", "## Outcomes", "",
              "*graded*: every cell has the score its code earned; a cell whose code was wrong, too slow (CPU "
              "time), crashed or ran out of memory inside a check earns 0 with a message that says so. "
              "*error*: the grade could not be determined and needs you: an unreadable or missing notebook, "
              "a kernel that died, hung or ran out of memory, code that blocked until a wall-clock backstop, or "
              "a fault in the grader. Cells that could be graded keep their scores.", "",
              "## Needs a look", ""]
    noted = [o for o in outcomes if o.notes]
    look = needs_a_look(outcomes)
    if not look:
        lines.append("Nobody: every submission was graded cleanly and nothing was flagged.")
    else:
        lines += ["| assignment | student | score | why |", "|---|---|---:|---|"]
        for o, why in look:
            lines.append(f"| {md_text(o.assignment)} | {md_text(o.student)} | {o.score:g}/{o.max_score:g} | "
                         f"{md_text(why)} |")
    if noted:
        lines += ["", "## Notes (graded, nothing to do)", "", "| assignment | student | note |", "|---|---|---|"]
        for o in noted:
            for note in o.notes:
                lines.append(f"| {md_text(o.assignment)} | {md_text(o.student)} | {md_text(note)} |")
    lines += refused_markdown(refused or [])
    return "\n".join(lines) + "\n"


SUMMARY_POLICY = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'none'; "
                  "base-uri 'none'")


def summary_page(markdown: str, histogram_png: bytes | None = None) -> str:
    """``summary.md`` as a page to open in a browser: through the allow-list, under a policy that runs nothing."""
    import base64
    import html

    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    from autograder.screen.sanitize import clean_html

    if histogram_png is not None:  # self-contained: the page loads nothing, not even its own folder
        url = "data:image/png;base64," + base64.b64encode(histogram_png).decode("ascii")
        markdown = markdown.replace("](histogram.png)", f"]({url})")
    body = clean_html(markdown2html_mistune(markdown))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{html.escape(SUMMARY_POLICY)}">\n'
            '<meta name="referrer" content="no-referrer"><title>Grading summary</title>\n'
            "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}</style>\n"
            f"</head><body>\n{body}\n</body></html>\n")


def write_all(course: Path, result: Any, overrides: list[str] | None = None) -> Path:
    """Every report of a run; returns the summary's path."""
    course = Path(course)
    out = reports_dir(course)
    out.mkdir(parents=True, exist_ok=True)
    write_submission_reports(course, result.outcomes)
    oc.save_outcomes(out, result.outcomes)
    everyone = sorted(oc.load_outcomes(out).values(), key=lambda o: o.key)
    export_csv(course, out / "grades.csv")
    histogram(everyone, out / "histogram.png")
    where = (f"on the Dask cluster at {result.scheduler}" if getattr(result, "scheduler", None)
             else f"on {result.workers} workers")
    note = (f"Last run: {len(result.outcomes)} submissions in {result.seconds:.1f} s {where}"
            + (f" (config overrides: {' '.join(overrides)})" if overrides else "") + ".")
    if getattr(result, "resumed", 0):
        note += f" Resumed: {result.resumed} outcomes kept from an earlier run (unchanged and verified)."
    if not jailed(getattr(result, "sandbox", DEFAULT_BACKEND)):
        note = (f"**WARNING: {BACKENDS[result.sandbox].warning}.** Grades of this run can be rewritten by a "
                "hostile submission.\n\n" + note)
    if not result.verified:
        note += "\n\n**Gradebook verification failed:** " + "; ".join(map(str, result.problems))
    summary = out / "summary.md"
    text = summary_markdown(everyone, note, refused_submissions(course))
    text += "\n" + "\n".join(write_insights(course, everyone))
    summary.write_text(text)
    (out / "summary.html").write_text(summary_page(text, (out / "histogram.png").read_bytes()))
    with contextlib.suppress(OSError):
        (out / "logs").mkdir(exist_ok=True)
    return summary
