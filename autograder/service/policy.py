"""What the submit-time service may tell a student, and how often: configured in ``nbgrader_config.py``.

Hidden checks that answer every submission at once invite hill-climbing: submit, read the
counterexample, patch that one input, submit again. Like PrairieLearn's ``gradeRateMinutes`` and
Autolab's submission limits, each assignment gets a budget of hidden-check feedbacks per window,
and a choice, per cell, of what a feedback shows before the due date:

* ``full``: the check's message with its shrunk counterexample and hint (the default: it is what
  the checks are for);
* ``pass-fail``: the cell's score and whether it passed, no message;
* ``none``: nothing about the cell until the due date.

After the due date every feedback is ``full`` and unlimited (nothing is left to hill-climb). A
submission over the limit is still collected and counts for the final grade; its page says when
the next feedback is available.

A submission's grading at submit time has a CPU budget (``submit_cpu_seconds``, kernel, checks and
page together): past it, it is set aside for the batch grading after the due date, so a slow or
looping submission never holds a worker for long. CPU time decides, so the same submission is set
aside or not whatever the machine's load; ``submit_wall_seconds`` is only the backstop for one that
waits without computing. While every worker holds a slow grading, a spare worker grades the next
submission, so the queue moves before any budget runs out. Example::

    c.GradingService.feedbacks_per_window = 3
    c.GradingService.window_minutes = 60
    c.GradingService.submit_cpu_seconds = 30
    c.GradingService.assignments = {
        "ps3_mlp": {"feedbacks_per_window": 2, "visibility": {"train_test": "pass-fail"},
                    "submit_cpu_seconds": 60},
    }
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from traitlets import Dict, Float, Integer, Unicode, validate
from traitlets.config import Configurable

LEVELS = ("full", "pass-fail", "none")


class GradingService(Configurable):
    """``zengrad-kit serve``: the knobs an instructor sets in ``nbgrader_config.py``."""

    feedbacks_per_window = Integer(3, help="Hidden-check feedbacks a student gets per assignment and window "
                                           "before the due date (0: none before the due date).").tag(config=True)
    window_minutes = Float(60.0, help="The rate limit's window, minutes.").tag(config=True)
    visibility = Unicode("full", help="What a feedback shows of each graded cell before the due date: "
                                      "'full' (message and counterexample), 'pass-fail' or 'none'.").tag(config=True)
    assignments = Dict({}, help="Per assignment: {'feedbacks_per_window': n, 'window_minutes': m, "
                                "'visibility': {grade_id or '*': level}, 'submit_cpu_seconds': s}.").tag(config=True)
    submit_cpu_seconds = Float(60.0, help="CPU seconds one submission's grading may use at submit time (kernel, "
                                          "checks and page); past that it is set aside for the batch grading after "
                                          "the due date. 0: no budget.").tag(config=True)
    submit_wall_seconds = Float(300.0, help="Wall-clock backstop of a submit-time grading (one that waits without "
                                            "computing); past it, set aside like one over its CPU budget. 0: none."
                                ).tag(config=True)
    workers = Integer(0, help="Grading worker processes (0: one per core).").tag(config=True)
    spare_workers = Integer(1, help="Warm workers beyond `workers`, used only while every grading running is slow "
                                    "(see slow_seconds): a submission waiting behind slow ones is graded at once. "
                                    "Local workers only.").tag(config=True)
    slow_seconds = Float(20.0, help="A grading running this long (wall-clock, and at least twice the average) is "
                                    "slow: the spare workers may take the next submissions.").tag(config=True)
    rescan_seconds = Float(10.0, help="Seconds between full rescans of inbound/ (the safety net under inotify)."
                           ).tag(config=True)
    settle_seconds = Float(1.0, help="A submission is read once nothing in it changed for this long "
                                     "(nbgrader submit writes it file by file).").tag(config=True)
    state_dir = Unicode("service", help="The service's state, relative to the course directory.").tag(config=True)

    @validate("visibility")
    def _check_level(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in LEVELS:
            raise ValueError(f"GradingService.visibility must be one of {', '.join(LEVELS)}")
        return proposal["value"]

    def rules(self, assignment: str) -> Rules:
        """The rules of one assignment: its own entries over the course-wide defaults."""
        own = dict(self.assignments.get(assignment, {}))
        levels = {"*": self.visibility}
        levels.update(own.get("visibility", {}) if isinstance(own.get("visibility"), dict)
                      else {"*": own.get("visibility", self.visibility)})
        bad = sorted({v for v in levels.values() if v not in LEVELS})
        if bad:
            raise ValueError(f"GradingService.assignments[{assignment!r}]: visibility {bad} is not one of {LEVELS}")
        return Rules(int(own.get("feedbacks_per_window", self.feedbacks_per_window)),
                     float(own.get("window_minutes", self.window_minutes)), levels,
                     float(own.get("submit_cpu_seconds", self.submit_cpu_seconds)))


@dataclass(frozen=True)
class Rules:
    """One assignment's rate limit, visibility and submit-time CPU budget."""

    per_window: int
    window_minutes: float
    levels: dict[str, str] = field(default_factory=dict)
    cpu_seconds: float = 0.0  # 0: no budget

    def over_budget(self, cpu: float | None) -> bool:
        """Whether a grading that used ``cpu`` CPU seconds is set aside (unknown CPU: never by this rule)."""
        return bool(self.cpu_seconds) and cpu is not None and cpu > self.cpu_seconds

    def level(self, grade_id: str, before_due: bool) -> str:
        if not before_due:
            return "full"
        return self.levels.get(grade_id, self.levels.get("*", "full"))

    def visibility(self, grade_ids: list[str], before_due: bool) -> dict[str, str]:
        return {g: self.level(g, before_due) for g in grade_ids}

    def allowance(self, received: str, earlier: list[str], before_due: bool) -> tuple[bool, str]:
        """(gets hidden-check feedback, when the next one is available if not) for a submission received then.

        ``earlier``: receipt times of this student's submissions of the assignment that got one.
        Decided from receipt times only, so the same submissions always get the same answer.
        """
        if not before_due:
            return True, ""
        at = dt.datetime.fromisoformat(received)
        window = dt.timedelta(minutes=self.window_minutes)
        recent = sorted(t for t in (dt.datetime.fromisoformat(e) for e in earlier) if at - window < t <= at)
        if len(recent) < self.per_window:
            return True, ""
        if self.per_window <= 0:
            return False, ""  # none before the due date
        return False, (recent[len(recent) - self.per_window] + window).isoformat()


def due_date(course_db_url: str, course_id: str, assignment: str) -> dt.datetime | None:
    """The assignment's due date from the instructor's gradebook (read only), or None."""
    from nbgrader.api import Gradebook, MissingEntry

    try:
        with Gradebook(course_db_url, course_id) as gb:
            due = gb.find_assignment(assignment).duedate
    except MissingEntry:
        return None
    if due is None:
        return None
    return due.replace(tzinfo=dt.UTC) if due.tzinfo is None else due
