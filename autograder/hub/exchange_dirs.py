"""The shared nbgrader exchange: the directories and modes that keep students' submissions apart.

nbgrader creates these itself with weaker modes (inbound 2733, where a student can rename or
delete another's submission if they learn its name; a root 0777 where a student can rename the
course's folder). Made up front, they keep these modes: nbgrader only checks that the root is
``rwxrwxrwx`` (the sticky bit passes) and that the course's folders are the grader's own.

* ``ROOT`` ``1777``: everyone may create a course folder there, nobody may rename another's;
* ``<course>`` ``0755``, ``outbound`` ``0755``: the grader's; students read released assignments;
* ``inbound`` ``3733``: students create submissions without listing others' (no ``r``), cannot
  rename or delete them (sticky), and every submission gets the grader's group (setgid);
* ``feedback`` ``0711``: pages are fetched by a name only the submission's secret gives.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from autograder.hub.accounts import Account, user_name
from autograder.hub.findings import BREAK, LEAK, Finding

ROOT_MODE = 0o1777
COURSE_MODE = 0o755
OUTBOUND_MODE = 0o755
INBOUND_MODE = 0o3733
FEEDBACK_MODE = 0o711


def course_dirs(root: Path, course_id: str) -> dict[str, tuple[Path, int]]:
    """The exchange's course folders and their modes, by name."""
    base = root / course_id
    return {"course folder": (base, COURSE_MODE), "outbound": (base / "outbound", OUTBOUND_MODE),
            "inbound": (base / "inbound", INBOUND_MODE), "feedback": (base / "feedback", FEEDBACK_MODE)}


def prepare(root: Path, course_id: str, grader: Account) -> list[str]:
    """Create or repair the exchange for one course (as root); what was done, one line each."""
    done: list[str] = []
    if not root.is_dir():
        root.mkdir(parents=True)
        done.append(f"created the exchange {root}")
    if stat.S_IMODE(root.stat().st_mode) != ROOT_MODE:
        os.chmod(root, ROOT_MODE)
        done.append(f"{root}: mode 1777 (sticky: no student can rename another's folder)")
    for name, (path, mode) in course_dirs(root, course_id).items():
        if not path.is_dir():
            path.mkdir()
            done.append(f"created {name} {path}")
        st = path.stat()
        if (st.st_uid, st.st_gid) != (grader.uid, grader.gid):
            os.chown(path, grader.uid, grader.gid)
            done.append(f"{path}: owner {grader.name}")
        if stat.S_IMODE(st.st_mode) != mode:
            os.chmod(path, mode)  # after chown: chown clears setgid
            done.append(f"{path}: mode {mode:04o}")
    # released assignments and released feedback are the grader's (nbgrader replaces them as the grader);
    # submissions in inbound/ keep their owners: the owner is who submitted them
    base = root / course_id
    for top in (base / "outbound", base / "feedback"):
        changed = 0
        for path in top.rglob("*"):
            st = path.lstat()
            if st.st_uid != grader.uid and not stat.S_ISLNK(st.st_mode):
                os.lchown(path, grader.uid, grader.gid)
                changed += 1
        if changed:
            done.append(f"{top}: {changed} paths now owned by {grader.name}")
    return done


def check(root: Path, course_id: str, owner_uid: int) -> list[Finding]:
    """What is wrong with the exchange of one course (empty: nothing)."""
    fix = "run `zengrad-kit hub setup` again (it repairs the exchange's modes)"
    if not root.is_dir():
        return [Finding(BREAK, f"the exchange {root} does not exist", fix)]
    found: list[Finding] = []
    blocked = [p for p in reversed(root.parents) if not p.stat().st_mode & stat.S_IXOTH]
    if blocked:
        found.append(Finding(BREAK, f"students cannot reach the exchange: {blocked[0]} is mode "
                                    f"{stat.S_IMODE(blocked[0].stat().st_mode):04o} (no x for others)",
                             f"chmod o+x {blocked[0]}, or put the exchange under /srv"))
    mode = stat.S_IMODE(root.stat().st_mode)
    if mode & 0o777 != 0o777:
        found.append(Finding(BREAK, f"the exchange root {root} is mode {mode:04o}: nbgrader's release_assignment "
                                    "fails or resets it to 0777", fix))
    elif not mode & stat.S_ISVTX:
        found.append(Finding(BREAK, f"the exchange root {root} is mode {mode:04o}, not 1777: a student can rename "
                                    f"the course's folder ({course_id}/) and take its place", fix))
    for name, (path, want) in course_dirs(root, course_id).items():
        if not path.is_dir():
            if name != "feedback":  # nbgrader makes feedback/ 0711 itself at the first release_feedback
                found.append(Finding(BREAK, f"the exchange has no {name} ({path})", fix))
            continue
        st = path.stat()
        have = stat.S_IMODE(st.st_mode)
        if st.st_uid != owner_uid:
            found.append(Finding(BREAK, f"{path} belongs to {user_name(st.st_uid)}, not to the course's owner "
                                        f"{user_name(owner_uid)}: nbgrader refuses to release", fix))
        if have & 0o077 & ~want & 0o044:  # readable (listable) by others where it must not be
            found.append(Finding(LEAK, f"{name} {path} is mode {have:04o}: other users can list it "
                                       f"({'every submission' if name == 'inbound' else 'every page'})", fix))
        elif have & 0o022 & ~want:
            found.append(Finding(LEAK, f"{name} {path} is mode {have:04o}: other users can write into it", fix))
        elif name == "inbound" and (have & 0o1000) == 0:
            found.append(Finding(BREAK, f"inbound {path} is mode {have:04o}, not 3733: a student can rename or "
                                        "delete another's submission (no sticky bit)", fix))
        elif have != want and name != "inbound":
            found.append(Finding(BREAK, f"{name} {path} is mode {have:04o}, not {want:04o}", fix))
    return found
