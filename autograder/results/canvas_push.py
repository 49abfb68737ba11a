"""Push nbgrader scores to a Canvas course through its REST API (``canvasapi``), idempotently.

The CSV route (``autograder.results.lms``) needs an instructor to upload a file; this one
writes the scores itself, with the same rules: the scores of ``nbgrader export`` (after late
penalties), an errored submission is never written (listed instead), a student without a
submission or without an nbgrader record is skipped or gets 0 (``missing``), students are
matched by the nbgrader id against one Canvas user field (``login_id`` by default;
``sis_user_id``, ``email``, ``id`` also work), case-insensitive, unmatched ones listed both ways.

Idempotent by reading first: for each assignment the current submissions are read
(``GET .../assignments/:id/submissions``) and only scores that differ are written, one
``PUT .../submissions/:user_id`` with ``submission[posted_grade]`` each (a PUT is itself
idempotent, so a retried one is safe). A second run reads and writes nothing. After writing,
the submissions are read again and every written score compared (``verified``).

Throttling: Canvas answers 429 (and, in older versions, ``403 Forbidden (Rate Limit
Exceeded)``) when a token's quota is spent. Every call is retried with the delay the response's
``Retry-After`` asks for (seconds or an HTTP date), else exponential backoff, up to
``max_retries`` times. 401 (bad token) and 404 (no such course or assignment) stop at once with
a message that says which.

Choices: a submission Canvas marks *excused* is never overwritten (listed); assignments are
found by name (case-insensitive) or by ``items`` (``NAME=ID`` or ``NAME=Canvas name``); a Canvas
assignment whose points differ from nbgrader's is listed, and the nbgrader points are written as
they are (Canvas keeps scores above its points possible).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from autograder.results import outcomes as oc
from autograder.results.lms import SERIOUS, Problem, Roster, load_grades, match_students, score_text, write_report

T = TypeVar("T")
USER_FIELDS = ("login_id", "sis_user_id", "email", "id")
SAME = 5e-5  # two scores closer than this are equal (Canvas keeps scores as floats; we write 4 decimals)


class CanvasPushError(Exception):
    """The push cannot go on (bad token, no such course, Canvas unreachable or still throttling)."""

    def __init__(self, message: str, exit_code: int = oc.EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Change:
    """One score written (or, in a dry run, that would be)."""

    assignment: str
    student: str
    user_id: int
    old: float | None
    new: float


@dataclass
class PushResult:
    """What the push did: the scores written, those already right, and the problems."""

    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    verified: bool = True
    dry_run: bool = False
    retries: int = 0
    problems_path: Path | None = None

    @property
    def serious(self) -> list[Problem]:
        return [p for p in self.problems if p.kind in (*SERIOUS, "no-assignment", "not-verified")]


def retry_after(headers: Any) -> float | None:
    """The delay a ``Retry-After`` header asks for, in seconds (delta-seconds or an HTTP date), if any."""
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class CanvasClient:
    """``canvasapi.Canvas`` with every call retried on throttling and 401/404 turned into clear errors."""

    def __init__(self, url: str, token: str, max_retries: int = 6, backoff: float = 1.0, max_delay: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        from canvasapi import Canvas

        self.url = url.rstrip("/")
        self.canvas = Canvas(self.url, token)
        self.max_retries, self.backoff, self.max_delay, self.sleep = max_retries, backoff, max_delay, sleep
        self.retries = 0
        self.delays: list[float] = []

    def _last_headers(self) -> Any:
        # canvasapi raises on 429 without the response; its requester keeps the last ones (a private cache)
        requester = getattr(self.canvas, "_Canvas__requester", None)
        cache = getattr(requester, "_cache", None) or []
        return cache[0].headers if cache else {}

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """``fn()`` (a canvasapi call, or ``list()`` of a paginated one), retried while Canvas throttles."""
        import requests
        from canvasapi.exceptions import (
            Forbidden,
            InvalidAccessToken,
            RateLimitExceeded,
            ResourceDoesNotExist,
            Unauthorized,
        )

        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except (RateLimitExceeded, Forbidden) as exc:
                if not isinstance(exc, RateLimitExceeded) and "rate limit" not in str(exc).lower():
                    raise CanvasPushError(f"Canvas refused {what} (403 Forbidden): the token's user may not grade "
                                          "this course") from exc
                if attempt == self.max_retries:
                    raise CanvasPushError(f"Canvas still throttles {what} after {self.max_retries} retries "
                                          "(429); try again later", oc.EXIT_INTERNAL) from exc
                asked = retry_after(self._last_headers())
                delay = min(self.max_delay, asked if asked is not None else self.backoff * 2 ** attempt)
                self.retries += 1
                self.delays.append(delay)
                self.sleep(delay)
            except (InvalidAccessToken, Unauthorized) as exc:
                raise CanvasPushError(f"Canvas rejected the API token (401 Unauthorized) for {what} at {self.url}: "
                                      "check the token in --token-env and that it is not expired") from exc
            except ResourceDoesNotExist as exc:
                raise CanvasPushError(f"Canvas has no {what} (404 Not Found) at {self.url}: check --course-id, "
                                      "--item and --url") from exc
            except requests.RequestException as exc:
                raise CanvasPushError(f"cannot reach Canvas at {self.url} for {what}: {exc}",
                                      oc.EXIT_INTERNAL) from exc
        raise AssertionError("unreachable")


def _find_assignment(assignment: str, wanted: str | None, canvas_assignments: list[Any]) -> Any | None:
    target = (wanted or assignment).strip()
    if target.isdigit():
        return next((c for c in canvas_assignments if int(c.id) == int(target)), None)
    matches = [c for c in canvas_assignments if str(getattr(c, "name", "")).strip().casefold() == target.casefold()]
    return matches[0] if len(matches) == 1 else None


def push_to_canvas(course: Path, url: str, token: str, course_id: int, assignments: list[str] | None = None, *,
                   match_key: str = "login_id", items: dict[str, str] | None = None, missing: str = "blank",
                   dry_run: bool = False, client: CanvasClient | None = None) -> PushResult:
    """Write the changed scores of ``assignments`` (default: all) into Canvas course ``course_id``."""
    from autograder.results.lms import LmsError

    if match_key not in USER_FIELDS:
        raise LmsError(f"--match-key for canvas-push is a Canvas user field: one of {', '.join(USER_FIELDS)}")
    if missing not in ("blank", "zero"):
        raise LmsError("missing must be blank or zero")
    names, students, grades = load_grades(course, assignments)
    client = client or CanvasClient(url, token)
    result = PushResult(dry_run=dry_run)
    canvas_course = client.call(f"course {course_id}", lambda: client.canvas.get_course(course_id))
    users = client.call("the course's students",
                        lambda: list(canvas_course.get_users(enrollment_type=["student"], include=["email"],
                                                                    per_page=100)))
    roster = Roster(Path(f"canvas course {course_id}"), list(USER_FIELDS),
                    [{f: str(getattr(u, f, "") or "") for f in USER_FIELDS} | {"Student": getattr(u, "name", "")}
                     for u in users])
    matched, blocked, problems = match_students(roster, match_key, students)
    result.problems += problems
    user_of = {s: int(roster.rows[i]["id"]) for s, i in matched.items()}
    unrecorded = [int(r["id"]) for i, r in enumerate(roster.rows)
                  if i not in set(matched.values()) and i not in blocked and r.get(match_key)]
    canvas_assignments = client.call("the course's assignments",
                                     lambda: list(canvas_course.get_assignments(per_page=100)))
    for a in names:
        target = _find_assignment(a, (items or {}).get(a), canvas_assignments)
        if target is None:
            result.problems.append(Problem("no-assignment", assignment=a,
                                           detail=f"no single Canvas assignment named {(items or {}).get(a, a)!r}: "
                                                  "nothing pushed for it (create it, or pass --item NAME=ID)"))
            continue
        max_score = next((g.max_score for (ga, _), g in grades.items() if ga == a), 0.0)
        points = getattr(target, "points_possible", None)
        if points is not None and abs(float(points) - max_score) > 1e-6:
            result.problems.append(Problem("points-possible", assignment=a,
                                           detail=f"Canvas says {target.name!r} is worth {points} points, nbgrader "
                                                  f"{score_text(max_score)}: the scores written are nbgrader's"))
        wanted: dict[int, tuple[str, float]] = {}
        for student, user_id in user_of.items():
            g = grades[(a, student)]
            if g.status == "error":
                result.problems.append(Problem("error", student, "", a, f"{g.error} (not pushed)"))
            elif g.status == "missing":
                result.problems.append(Problem("missing", student, "", a, "no submission: "
                                               + ("0 pushed" if missing == "zero" else "not pushed")))
                if missing == "zero":
                    wanted[user_id] = (student, 0.0)
            else:
                wanted[user_id] = (student, g.score)
        if missing == "zero":
            for user_id in unrecorded:
                wanted.setdefault(user_id, (f"canvas user {user_id}", 0.0))
        current = {int(s.user_id): s for s in client.call(f"the submissions of {target.name!r}",
                                                          lambda t=target: list(t.get_submissions(per_page=100)))}
        for user_id, (student, score) in sorted(wanted.items()):
            sub = current.get(user_id)
            if getattr(sub, "excused", False):  # the instructor's decision in Canvas: never overwritten
                result.problems.append(Problem("excused", student, str(user_id), a,
                                               f"excused in Canvas: {score_text(score)} not pushed"))
                continue
            old = getattr(sub, "score", None) if sub is not None else None
            if old is not None and abs(float(old) - score) < SAME:
                result.unchanged += 1
                continue
            result.changes.append(Change(a, student, user_id, None if old is None else float(old), score))
            if dry_run:
                continue
            if sub is None:
                sub = client.call(f"the submission of user {user_id} to {target.name!r}",
                                  lambda t=target, u=user_id: t.get_submission(u))
            client.call(f"the grade of user {user_id} in {target.name!r}",
                        lambda s=sub, v=score: s.edit(submission={"posted_grade": score_text(v)}))
        written = {c.user_id: c.new for c in result.changes if c.assignment == a}
        if written and not dry_run:
            after = {int(s.user_id): s for s in client.call(f"the submissions of {target.name!r}",
                                                            lambda t=target: list(t.get_submissions(per_page=100)))}
            for user_id, score in written.items():
                now = getattr(after.get(user_id), "score", None)
                if now is None or abs(float(now) - score) >= SAME:
                    result.verified = False
                    result.problems.append(Problem("not-verified", wanted[user_id][0], str(user_id), a,
                                                   f"wrote {score_text(score)}, Canvas now says {now}"))
    result.retries = client.retries
    result.problems_path = course / "reports" / "canvas-push.problems.csv"
    result.problems_path.parent.mkdir(parents=True, exist_ok=True)
    write_report(result.problems_path, result.problems)
    return result


def push_summary(result: PushResult) -> str:
    """A few lines for the terminal."""
    verb = "would change" if result.dry_run else "changed"
    lines = [f"{verb} {len(result.changes)} scores, {result.unchanged} already right"
             + (f", {result.retries} throttled requests retried" if result.retries else "")
             + ("" if result.dry_run else f"; verified: {'yes' if result.verified else 'NO'}")]
    for c in result.changes[:50]:
        lines.append(f"  {c.assignment} {c.student}: {'-' if c.old is None else score_text(c.old)} -> "
                     f"{score_text(c.new)}")
    if len(result.changes) > 50:
        lines.append(f"  ... {len(result.changes) - 50} more")
    counts: dict[str, int] = {}
    for p in result.problems:
        counts[p.kind] = counts.get(p.kind, 0) + 1
    if counts:
        lines.append("problems: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
                     + f"; listed in {result.problems_path}")
    for p in result.serious[:20]:
        lines.append(f"  {p.kind}: {p.student or p.roster_key or '-'}{' / ' + p.assignment if p.assignment else ''}: "
                     f"{p.detail}")
    return "\n".join(lines)
