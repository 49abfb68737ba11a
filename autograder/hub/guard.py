"""The leak check ``grade`` and ``serve`` run first: say loudly when other users can read the course's secrets.

Refuse when the course's exchange is shared with other unix users (an exchange outside the
course: a hub, a lab machine): every student with a shell could read the solutions, the hidden
checks, the grades and each other's feedback, and grading would only add to what they can read.
Warn, and go on, on a one-machine course (the exchange inside the course): there the "other
users" are the instructor's own machine's, and refusing would break the local workflow for a
``chmod`` that protects nobody in particular.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from traitlets.config import Config

from autograder.hub.configured import exchange_root, state_dir
from autograder.hub.findings import Finding

EXIT_UNSAFE = 5  # grade/serve: the course's secrets are readable by others on a shared exchange; nothing was done


def shared_exchange(course: Path, cfg: Config) -> Path | None:
    """The exchange root when it is outside the course (shared with other users), else None."""
    root = exchange_root(cfg)
    with contextlib.suppress(ValueError):
        root.resolve().relative_to(course.resolve())
        return None
    return root


def leak_check(course: Path, command: str) -> int | None:
    """Print what leaks; the exit status to refuse with, or None to go on."""
    from autograder.grading.config import course_config
    from autograder.hub.doctor import leaks

    cfg = course_config(course)
    found: list[Finding] = leaks(course, state_dir(cfg))
    if not found:
        return None
    shared = shared_exchange(course, cfg)
    bar = "!" * 100
    lines = [bar, f"zengrad-kit {command}: OTHER USERS CAN READ THIS COURSE'S SECRETS", *(f"  {f.what}" for f in found),
             f"  fix: {found[0].fix}", "  check everything: zengrad-kit doctor --course " + str(course)]
    if shared is not None:
        lines += [f"  REFUSING to {command}: the exchange {shared} is shared with other users, who could read "
                  "the solutions, the hidden checks, every grade and every feedback", bar]
        print("\n".join(lines), file=sys.stderr, flush=True)
        return EXIT_UNSAFE
    lines += [f"  going on: the exchange is inside the course (one machine); on a shared machine {command} "
              "refuses this", bar]
    print("\n".join(lines), file=sys.stderr, flush=True)
    return None
