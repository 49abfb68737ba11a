"""Run untrusted student code in a separate, scrubbed, resource-limited process.

The trusted grader never executes student code itself. It starts
``worker_child.py`` with ``python -I -S`` (no site-packages, so neither
``zengrad_ref`` nor the checks are importable), an empty working directory, a
minimal environment and rlimits on CPU time, memory, file size and open files,
and talks to it over two private pipes with length-prefixed JSON.
"""

from __future__ import annotations

import json
import os
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHILD_SOURCE = (Path(__file__).with_name("worker_child.py")).read_text()


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process."""

    cpu_seconds: int = 120
    memory_bytes: int = 1 << 30
    file_bytes: int = 16 << 20
    open_files: int = 64


class WorkerLost(Exception):
    """The worker died, hung past its deadline or broke the protocol."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason  # "timeout" | "crashed" | "memory" | "protocol"
        self.detail = detail


def _apply_limits(limits: Limits) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class Worker:
    """One live worker process; start it, send requests, kill it."""

    def __init__(self, files: dict[str, bytes] | None = None, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._seq = 0
        self.workdir = Path(tempfile.mkdtemp(prefix="zengrad-worker-"))
        for name, content in (files or {}).items():
            (self.workdir / name).write_bytes(content)
        to_child_r, self._to_child_w = os.pipe()
        self._from_child_r, from_child_w = os.pipe()
        env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": str(self.workdir),
            "TMPDIR": str(self.workdir),
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        bootstrap = "import sys; sys.path.insert(0, '.'); del sys\n" + CHILD_SOURCE
        fd, self._output_path = tempfile.mkstemp(prefix="zengrad-worker-output-")
        self._stdout = os.fdopen(fd, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", bootstrap, str(to_child_r), str(from_child_w)],
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=subprocess.STDOUT,
            pass_fds=(to_child_r, from_child_w),
            preexec_fn=lambda: _apply_limits(self.limits),
            start_new_session=True,
        )
        os.close(to_child_r)
        os.close(from_child_w)

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and wait up to ``timeout`` seconds for its reply.

        Every request carries a fresh sequence number that the reply must echo,
        so a reply written early by student code is a protocol error, not an answer.
        On a timeout the worker is left running (see ``interrupt``); on any other
        failure it is killed.
        """
        self._seq += 1
        message = dict(message, seq=self._seq)
        data = json.dumps(message).encode()
        try:
            os.write(self._to_child_w, struct.pack(">I", len(data)) + data)
        except OSError as exc:
            raise self._lost("crashed", f"could not send: {exc}") from None
        return self.wait_reply(timeout)

    def wait_reply(self, timeout: float) -> dict[str, Any]:
        """The reply to the last request, within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        header = self._read(4, deadline)
        (n,) = struct.unpack(">I", header)
        if n > 64 << 20:
            raise self._lost("protocol", "reply too large")
        try:
            reply = json.loads(self._read(n, deadline).decode())
        except ValueError as exc:
            raise self._lost("protocol", f"malformed reply: {exc}") from None
        if not isinstance(reply, dict) or reply.get("seq") != self._seq:
            raise self._lost("protocol", "a reply that does not answer the request")
        return reply

    def interrupt(self) -> None:
        """SIGINT, as Jupyter interrupts a kernel: a cooperative cell ends with KeyboardInterrupt."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)

    def _read(self, n: int, deadline: float) -> bytes:
        buf = b""
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            ready = select.select([self._from_child_r], [], [], remaining)[0] if remaining > 0 else []
            if not ready:
                if buf:  # half a message: the stream can no longer be trusted
                    raise self._lost("protocol", "a truncated reply")
                raise WorkerLost("timeout")
            chunk = os.read(self._from_child_r, n - len(buf))
            if not chunk:
                raise self._lost("crashed")
            buf += chunk
        return buf

    def _lost(self, reason: str, detail: str = "") -> WorkerLost:
        self.kill()
        code = self.proc.returncode
        if reason == "crashed":
            if code == -signal.SIGXCPU or code == -signal.SIGKILL:
                reason, detail = "timeout", detail or "CPU time limit exceeded"
            elif "MemoryError" in self.output():
                reason = "memory"
            detail = detail or f"the process exited with code {code}"
        return WorkerLost(reason, detail)

    def output(self) -> str:
        """What student code printed (for error messages), at most 2000 characters."""
        try:
            return Path(self._output_path).read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()

    def close(self) -> None:
        self.kill()
        for fd in (self._to_child_w, self._from_child_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self._stdout.close()
        Path(self._output_path).unlink(missing_ok=True)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
