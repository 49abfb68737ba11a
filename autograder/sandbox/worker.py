"""The check worker: student code in a jailed process that answers adapter programs with plain numbers.

The trusted grader never executes student code itself. It starts ``worker_child.py`` with
``python -I -S`` (no site-packages: neither ``zengrad_ref`` nor the checks could be imported even
if they were visible) inside a :class:`~autograder.sandbox.jail.Jail`, and talks to it over two private
pipes with length-prefixed JSON. Nothing the worker sends is trusted: replies are size-capped,
read in linear time, must echo their request's sequence number, and are only ever compared with
values the grader computes itself.

Budgets are CPU time of the worker's processes, measured from outside (``/proc``), so a
submission gets the same verdict on a quiet grader and on a loaded one. A generous wall-clock
backstop catches a process that blocks without computing (a ``sleep``); hitting only the
backstop is not the student's verdict but a grading error (:class:`WorkerLost` reason
``"stalled"``).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.sandbox.jail import Jail, JailLimits, Sandbox

# What the worker runs: the check kit's interpreter (run_program, the operator table), then the protocol loop.
BOOTSTRAP = ((Path(__file__).parent.parent / "checks" / "kit" / "interpreter.py").read_text() + "\n"
             + Path(__file__).with_name("worker_child.py").read_text())
POLL_SECONDS = 0.05  # how often a long request's CPU time is sampled


@dataclass(frozen=True)
class Budget:
    """What one request may cost: CPU seconds of the worker, and a wall-clock backstop."""

    cpu: float
    wall: float

    @classmethod
    def for_cpu(cls, cpu: float, factor: float = 5.0, slack: float = 30.0) -> Budget:
        """A CPU budget with a backstop generous enough for a grader whose cores are all busy."""
        return cls(cpu, cpu * factor + slack)


class WorkerLost(Exception):
    """The worker died, overran its budget or broke the protocol."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason  # "timeout" (CPU) | "stalled" (wall backstop only) | "crashed" | "memory" | "protocol"
        self.detail = detail


_TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """The direct children of ``pid`` (every thread's), from /proc: cheap, it reads this process only."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(c) for c in fh.read().split()]
        except OSError:
            pass
    return out


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (field 3 onwards), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            text = fh.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


class ProcessTree:
    """CPU time and signals of a process and all its descendants (the sandbox's processes).

    Read from /proc without scanning every process of the machine: the members are found by
    following ``/proc/<pid>/task/*/children`` from the root, so a sample costs a few file reads
    (a psutil tree walk reads every process's stat: milliseconds, at every request).
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.members: list[int] = [pid]
        self.refresh()

    def refresh(self) -> list[int]:
        seen, stack = [], [self.pid]
        while stack:
            pid = stack.pop()
            seen.append(pid)
            stack += _children(pid)
        self.members = seen
        return seen

    def cpu(self) -> float:
        """CPU seconds used so far by the processes of the tree (and the children they reaped)."""
        total = 0
        for pid in self.refresh():
            fields = _stat(pid)
            if fields is not None:  # utime, stime, cutime, cstime: fields 14-17 of stat
                total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        return total / _TICK

    def payload(self) -> int | None:
        """The pid of the jailed program itself (the first process below bubblewrap and its shims)."""
        for pid in self.refresh():
            try:
                with open(f"/proc/{pid}/comm") as fh:
                    name = fh.read().strip()
            except OSError:
                continue
            if name not in ("bwrap", "sh", "setpriv"):
                return pid
        return None

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the jailed program (not to bubblewrap, which would not pass it on)."""
        pid = self.payload()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)


class _Drain(threading.Thread):
    """Reads a pipe to its end, keeping only the last ``keep`` bytes (the worker's stderr: bounded)."""

    def __init__(self, fd: int, keep: int = 16 << 10) -> None:
        super().__init__(daemon=True)
        self.fd, self.keep, self.tail = fd, keep, bytearray()
        self.start()

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.tail += chunk
            if len(self.tail) > 2 * self.keep:
                del self.tail[: len(self.tail) - self.keep]
        os.close(self.fd)

    def text(self) -> str:
        return bytes(self.tail[-self.keep:]).decode(errors="replace")


class Worker:
    """One live, jailed worker process: start it, send requests within budgets, kill it."""

    def __init__(self, files: dict[str, bytes] | None = None, limits: JailLimits | None = None,
                 sandbox: Sandbox | None = None, max_reply_bytes: int = 4 << 20) -> None:
        self.limits = limits or JailLimits()
        self.sandbox = sandbox or Sandbox()
        self.max_reply_bytes = max_reply_bytes
        self._seq = 0
        self.jail: Jail = self.sandbox.jail(self.limits, files)
        to_child_r, self._to_child_w = os.pipe()
        self._from_child_r, from_child_w = os.pipe()
        err_r, err_w = os.pipe()
        bootstrap = "import sys; sys.path.insert(0, '.'); del sys\n" + BOOTSTRAP
        argv = [sys.executable, "-I", "-S", "-c", bootstrap, str(to_child_r), str(from_child_w)]
        try:
            self.proc = subprocess.Popen(
                self.jail.command(argv), env=self.jail.env() if self.jail.backend == "none" else {},
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err_w,
                pass_fds=(to_child_r, from_child_w), **self.jail.popen_kwargs(),
            )
        except BaseException:
            for fd in (to_child_r, from_child_w, err_r, err_w, self._to_child_w, self._from_child_r):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self.jail.close()
            raise
        for fd in (to_child_r, from_child_w, err_w):
            os.close(fd)
        self._stderr = _Drain(err_r)
        self.tree = ProcessTree(self.proc.pid)
        self.cpu_at_request = 0.0

    def cpu(self) -> float:
        return self.tree.cpu()

    def request(self, message: dict[str, Any], budget: Budget) -> dict[str, Any]:
        """Send one request and wait for its reply within ``budget``.

        Every request carries a fresh sequence number that the reply must echo, so a reply
        written early by student code is a protocol error, not an answer. On a timeout the
        worker is left running (see ``interrupt``); on any other failure it is killed.
        """
        self._seq += 1
        data = json.dumps(dict(message, seq=self._seq)).encode()
        self.cpu_at_request = self.cpu()
        try:
            os.write(self._to_child_w, struct.pack(">I", len(data)) + data)
        except OSError as exc:
            raise self._lost("crashed", f"could not send: {exc}") from None
        return self.wait_reply(budget)

    def wait_reply(self, budget: Budget, since: float | None = None) -> dict[str, Any]:
        """The reply to the last request, unless the worker spends more than ``budget`` first.

        CPU is counted from ``since`` (default: when the request was sent).
        """
        start_cpu = self.cpu_at_request if since is None else since
        deadline = time.monotonic() + budget.wall
        header = self._read(4, start_cpu, budget, deadline)
        (n,) = struct.unpack(">I", header)
        if n > self.max_reply_bytes:
            raise self._lost("protocol", f"a reply of {n:,} bytes (the limit is {self.max_reply_bytes:,})")
        try:
            reply = json.loads(self._read(n, start_cpu, budget, deadline).decode())
        except ValueError as exc:
            raise self._lost("protocol", f"malformed reply: {exc}") from None
        if not isinstance(reply, dict) or reply.get("seq") != self._seq:
            raise self._lost("protocol", "a reply that does not answer the request")
        return reply

    def interrupt(self) -> None:
        """SIGINT, as Jupyter interrupts a kernel: a cooperative cell ends with KeyboardInterrupt."""
        if self.proc.poll() is None:
            self.tree.signal(signal.SIGINT)

    def _read(self, n: int, start_cpu: float, budget: Budget, deadline: float) -> bytes:
        buf = bytearray(n)
        view, got = memoryview(buf), 0
        while got < n:
            now = time.monotonic()
            ready = select.select([self._from_child_r], [], [], min(POLL_SECONDS, max(0.0, deadline - now)))[0]
            if not ready:
                used = self.cpu() - start_cpu
                if used > budget.cpu:
                    if got:  # half a message: the stream can no longer be trusted
                        raise self._lost("protocol", "a truncated reply")
                    raise WorkerLost("timeout", f"{used:.1f} CPU seconds")
                if time.monotonic() >= deadline:
                    if got:
                        raise self._lost("protocol", "a truncated reply")
                    raise WorkerLost("stalled", f"no answer within {budget.wall:g} s of wall-clock time "
                                                f"(it used {used:.1f} CPU seconds)")
                continue
            k = os.readv(self._from_child_r, [view[got:]])
            if not k:
                raise self._lost("crashed")
            got += k
        return bytes(buf)

    def _lost(self, reason: str, detail: str = "") -> WorkerLost:
        self.kill()
        code = self.proc.returncode
        if reason == "crashed":
            err = self._stderr.text()
            if code in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
                reason, detail = "timeout", detail or "the CPU time limit of the process"
            elif "MemoryError" in err or code in (-signal.SIGSEGV, 128 + signal.SIGSEGV) and "memory" in err:
                reason = "memory"
            elif "Fatal Python error" in err:
                detail = detail or err[err.index("Fatal Python error"):].splitlines()[0][:200]
            detail = detail or f"the process exited with code {code}"
        return WorkerLost(reason, detail)

    def stderr(self) -> str:
        """The end of what the worker wrote to stderr (bounded), for error messages."""
        return self._stderr.text()

    def kill(self) -> None:
        """Kill the sandbox: bubblewrap's death takes its whole PID namespace with it."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def close(self) -> None:
        self.kill()
        for fd in (self._to_child_w, self._from_child_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._stderr.join(1)
        self.jail.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
