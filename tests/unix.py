"""Two real unix students for the exchange tests: who they are, and running a script as one of them."""

from __future__ import annotations

import subprocess

USERS = ("zgalice", "zgbob")


def as_user(users: dict[str, tuple[int, int]], name: str, script: str, *args: str) -> None:
    """Run a small Python script as that unix user (Debian's python3: the grader's venv is not theirs to read)."""
    uid, gid = users[name]
    command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "/usr/bin/python3", "-I", "-c", script]
    subprocess.run([*command, *args], check=True, capture_output=True, text=True, timeout=60,
                   env={"HOME": "/nonexistent"})
