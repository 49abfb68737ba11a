"""Unix accounts: who a user is, which groups hold whom, and running a program as another user.

Everything that must hold *for another user* (can the grader run this interpreter? can a student
read that file?) is checked by actually running it as that user with ``setpriv``, not inferred.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

NOBODY = "nobody"  # stands for "any other user" (a student) when no student account is named


class AccountError(ValueError):
    """No such user (or group)."""


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: Path

    @classmethod
    def named(cls, name: str) -> Account:
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            raise AccountError(f"no unix user {name!r} (create it first: useradd -m {name})") from None
        return cls(pw.pw_name, pw.pw_uid, pw.pw_gid, Path(pw.pw_dir))

    @classmethod
    def with_uid(cls, uid: int) -> Account | None:
        try:
            pw = pwd.getpwuid(uid)
        except KeyError:
            return None
        return cls(pw.pw_name, pw.pw_uid, pw.pw_gid, Path(pw.pw_dir))

    def setpriv(self) -> list[str]:
        """The prefix that runs a command as this user, with this user's groups (root only).

        The command is started through ``env``: setpriv itself execs while it still holds root's
        capabilities, so a program under ``/root`` (mode 700) would start; ``env``, already the
        user, finds exactly what the user can run (exit 126 otherwise), as a shell would.
        """
        exe = shutil.which("setpriv") or "setpriv"
        return [exe, f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", "--", "/usr/bin/env", "--"]

    def run(self, cmd: list[str], timeout: float = 60, cwd: str | Path = "/", env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess:
        """Run ``cmd`` as this user (we must be root), with a minimal environment and its output captured."""
        base = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.home), "USER": self.name,
                "LOGNAME": self.name, "LANG": os.environ.get("LANG", "C.UTF-8")}
        return subprocess.run(self.setpriv() + cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                              env={**base, **(env or {})})


def group_members(gid: int) -> set[str]:
    """Every user in group ``gid``: its listed members and the users whose primary group it is."""
    try:
        members = set(grp.getgrgid(gid).gr_mem)
    except KeyError:
        members = set()
    return members | {pw.pw_name for pw in pwd.getpwall() if pw.pw_gid == gid}


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def user_name(uid: int) -> str:
    account = Account.with_uid(uid)
    return account.name if account else str(uid)


def can_execute(account: Account, python: Path) -> str | None:
    """Why ``account`` cannot start ``python`` (None: it can); checked by running it as that user."""
    try:
        proc = account.run([str(python), "-I", "-c", "pass"], timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{type(exc).__name__}: {exc}"
    if proc.returncode == 0:
        return None
    err = (proc.stderr or proc.stdout).strip().splitlines()
    return f"exit {proc.returncode}" + (f": {err[-1]}" if err else "")

