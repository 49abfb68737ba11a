"""One thing ``doctor`` (or ``setup``) found, with the command or step that fixes it."""

from __future__ import annotations

from dataclasses import dataclass

LEAK = "LEAK"  # another user can read a secret: exit 1
BREAK = "BREAK"  # grading, the service or the hub will fail: exit 1
WARN = "WARN"  # worth fixing, nothing leaks or breaks now
OK = "ok"


@dataclass(frozen=True)
class Finding:
    severity: str
    what: str
    fix: str = ""

    @property
    def serious(self) -> bool:
        return self.severity in (LEAK, BREAK)

    def render(self) -> str:
        text = f"[{self.severity}] {self.what}"
        return text + (f"\n        fix: {self.fix}" if self.fix else "")
