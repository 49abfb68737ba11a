"""The pages a student fetches from the service: a notice above the graded feedback, or a page of its own.

Every submission ends with exactly one page per notebook it holds: the graded feedback (with a
notice: when it was received and graded, how many feedbacks are left in the window, that the final
grade comes later), or, while it waits, its queue position, expected wait and when to fetch again,
or why it got no grading (superseded, over the rate limit, refused, not a notebook of the
assignment, set aside for the batch grading because it used more than the submit-time CPU budget). Every
student-derived string is escaped (:func:`~autograder.screen.text.html_text`); the notice pages carry a
policy that runs nothing, and a graded page keeps the policy the feedback exporter gave it.
"""

from __future__ import annotations

import datetime as dt
import re

from autograder.screen.text import html_text

POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'"
# overflow-wrap: a long reason (a path, an error) wraps instead of being cut off in JupyterLab's HTML viewer
STYLE = ("border:2px solid #4c72b0;border-radius:6px;background:#eef3fb;padding:.8em 1.2em;margin:1em auto;"
         "max-width:60em;font-family:sans-serif;color:#111;white-space:normal;overflow-wrap:anywhere")
_BODY = re.compile(r"<body[^>]*>", re.I)


def when(iso: str) -> str:
    """A time for a person: ``2026-12-06 14:03 UTC``."""
    if not iso:
        return ""
    return dt.datetime.fromisoformat(iso).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def notice(paragraphs: list[str], kind: str = "info") -> str:
    """A notice box; ``paragraphs`` are already-escaped HTML fragments."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<div id="zengrad-service" data-kind="{kind}" style="{STYLE}">'
            f"<strong>Submit-time feedback</strong>{body}</div>")


def page(title: str, box: str) -> str:
    """A self-contained page around a notice."""
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">\n'
            f'<meta name="referrer" content="no-referrer"><title>{html_text(title)}</title></head>\n'
            f"<body>\n{box}\n</body></html>\n")


def with_notice(feedback_html: str, box: str) -> str:
    """The graded feedback page with the notice as the first thing in its body."""
    m = _BODY.search(feedback_html)
    if m is None:
        return box + feedback_html
    return feedback_html[: m.end()] + "\n" + box + feedback_html[m.end():]


def received_line(assignment: str, received: str) -> str:
    return f"Your submission of <code>{html_text(assignment)}</code> was received at {html_text(when(received))}."


def graded_notice(assignment: str, received: str, graded_at: str, left: int | None, window: float,
                  hidden_levels: set[str]) -> str:
    lines = [received_line(assignment, received) + f" It was graded at {html_text(when(graded_at))}."]
    if hidden_levels:
        lines.append("Before the due date some checks show " + " / ".join(sorted(
            {"pass-fail": "only whether they passed", "none": "nothing"}[k] for k in hidden_levels)) + ".")
    if left is not None:
        lines.append(f"You can get {left} more hidden-check feedback{'s' if left != 1 else ''} for this assignment "
                     f"within {window:g} minutes of this submission.")
    lines.append("This is feedback, not your grade: the final grade is computed after the due date from the "
                 "submission your instructor collects.")
    return notice(lines, "graded")


def duration(seconds: float) -> str:
    """A wait for a person, rounded as a person would say it: ``about 25 seconds``, ``about 3 minutes``."""
    if seconds < 90:
        return f"about {max(5, round(seconds / 5) * 5):.0f} seconds"
    return f"about {round(seconds / 60):.0f} minutes"


def waiting_page(assignment: str, received: str, position: int, wait_seconds: float, grading: bool,
                 fetch_at: str, busy: int = 0, workers: int = 1) -> str:
    """The placeholder while a submission waits: where it is, the expected wait, and when to fetch again.

    ``wait_seconds`` is the service's estimate from the gradings running now (see ``Service.expected_waits``);
    ``fetch_at`` (ISO time) is when its feedback should be there.
    """
    if grading:
        state = f"It is being graded now; expected to be done in {duration(wait_seconds)}."
    else:
        plural = position != 1
        ahead = f"{position} submission{'s' if plural else ''} of other students {'are' if plural else 'is'}"
        graders = f"{busy} of {workers} grader{'s' if workers != 1 else ''} {'are' if busy != 1 else 'is'} busy"
        state = (f"It is waiting to be graded: {ahead} ahead of it and {graders}; "
                 f"expected wait {duration(wait_seconds)}.")
    again = (f"Press <em>Fetch Feedback</em> again after {html_text(when(fetch_at))}; until then this page is "
             "what you get.")
    return page("Feedback: waiting", notice([received_line(assignment, received), state, again], "waiting"))


def deferred_page(assignment: str, received: str, reason: str) -> str:
    """A submission set aside at submit time: no feedback now, graded with everyone's after the due date.

    ``reason`` is the service's sentence (our text, never the student's): which budget it went over.
    """
    return page("Feedback: set aside for grading after the due date", notice([
        received_line(assignment, received),
        f"{html_text(reason)}, so it was set aside: there is no feedback for it now. It is kept, and it is graded "
        "with everyone's submissions after the due date; that grading gives your grade, this feedback never did.",
        "This usually means a loop that never ends or a computation much slower than needed. Run your notebook "
        "from the top (Kernel &rarr; Restart Kernel and Run All Cells), see which cell takes long, fix it and "
        "submit again. It counted as one of your hidden-check feedbacks for this window."], "deferred"))


def superseded_page(assignment: str, received: str, reason: str) -> str:
    return page("Feedback: superseded", notice([
        received_line(assignment, received),
        html_text(reason[:1].upper() + reason[1:]) + "; the feedback is on that one.",
        "Every submission is kept; the final grade uses the one your instructor collects after the due date."],
        "superseded"))


def over_limit_page(assignment: str, received: str, per_window: int, window: float, next_at: str) -> str:
    later = (f"The next hidden-check feedback is available for a submission received after "
             f"{html_text(when(next_at))}." if next_at else
             "Hidden-check feedback for this assignment is available only after the due date.")
    return page("Feedback: rate limit", notice([
        received_line(assignment, received),
        f"It was collected and counts for your final grade, but it gets no hidden-check feedback: you have had "
        f"{per_window} in the last {window:g} minutes.", later], "rate-limited"))


def refused_page(assignment: str, reason: str) -> str:
    return page("Feedback: not accepted", notice([
        f"Your submission of <code>{html_text(assignment)}</code> was not accepted: {html_text(reason)}.",
        "Nothing of it was graded. Fix the problem and submit again; ask your instructor if this looks wrong."],
        "refused"))


def error_page(assignment: str, received: str, reason: str) -> str:
    return page("Feedback: not graded", notice([
        received_line(assignment, received),
        f"It could not be graded: {html_text(reason)}",
        "Your instructor sees this too. Check that you submitted the assignment's own notebook, saved, "
        "and that it opens in JupyterLab; then submit again."], "error"))


def stray_page(assignment: str, notebook: str, expected: list[str]) -> str:
    names = ", ".join(f"<code>{html_text(n)}.ipynb</code>" for n in expected)
    return page("Feedback: not part of the assignment", notice([
        f"<code>{html_text(notebook)}.ipynb</code> is not a notebook of <code>{html_text(assignment)}</code> "
        f"(it has {names}), so it was not graded. Did you rename the notebook?"], "stray"))
