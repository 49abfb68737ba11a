"""A Jupyter kernel manager that starts the kernel inside a :class:`~autograder.sandbox.jail.Jail`.

nbgrader executes a submission with nbclient, which starts a local kernel through a
``KernelManager``. This one wraps the kernel's command line with the jail and talks to it over
ZMQ's ``ipc`` transport: the sockets live in a private directory that is bound into the jail at
the same path, so the kernel needs no network at all (its network namespace has none).

Signals go to the jailed kernel process itself, not to bubblewrap (which does not forward
them); its CPU time is read from outside, for the load-proof limits of ``GuardedExecute``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Type

from autograder.sandbox.jail import Jail
from autograder.sandbox.worker import ProcessTree

_FONT_CACHE: dict[str, bytes] | None = None


def kernel_home_files() -> dict[str, bytes]:
    """Files every kernel's home starts with: matplotlib's font list, built once per grading process.

    A fresh home would make matplotlib rebuild it at the first ``import matplotlib.pyplot`` of
    every submission (0.15 CPU s each); its content depends only on the installed fonts and
    matplotlib, the same inside the jail (``/usr`` and the Python installation are bound as is).
    """
    global _FONT_CACHE
    if _FONT_CACHE is None:
        _FONT_CACHE = {}
        with contextlib.suppress(Exception), tempfile.TemporaryDirectory(prefix="zengrad-mpl-") as tmp:
            subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env={**os.environ,
                           "MPLCONFIGDIR": tmp}, capture_output=True, timeout=120, check=True)
            for path in Path(tmp).glob("fontlist-*.json"):
                _FONT_CACHE[f".config/matplotlib/{path.name}"] = path.read_bytes()
    return dict(_FONT_CACHE)


MAX_MESSAGE_BYTES = 32 << 20  # a bigger message from the kernel is dropped by ZMQ before it is read
MAX_QUEUED_MESSAGES = 32  # output messages ZMQ may hold for the grader before it drops new ones


class JailedKernelClient(AsyncKernelClient):
    """A kernel client whose sockets refuse oversized messages, so a kernel cannot flood the grader's memory."""

    def _create_connected_socket(self, channel: str, identity: bytes | None = None) -> zmq.Socket:
        # jupyter_client's own method, with the limits set before connecting (ZMQ applies them per connection)
        from jupyter_client.connect import channel_socket_types

        sock = self.context.socket(channel_socket_types[channel])
        sock.linger = 1000
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        if channel == "iopub":  # a flood of output waits in the kernel (or is dropped), not in the grader
            sock.setsockopt(zmq.RCVHWM, MAX_QUEUED_MESSAGES)
        if identity:
            sock.identity = identity
        sock.connect(self._make_url(channel))
        return sock


class JailedKernelManager(AsyncKernelManager):
    """``AsyncKernelManager`` whose kernel runs in ``self.jail`` (set before the kernel starts)."""

    client_class = "autograder.sandbox.kernel.JailedKernelClient"
    client_factory = Type(klass=JailedKernelClient, default_value=JailedKernelClient)
    jail: Jail | None = None

    def attach(self, jail: Jail) -> None:
        """Use ``jail`` for the next kernel: ipc sockets and the connection file in its private directory."""
        self.jail = jail
        if jail.ipc_dir is not None:
            self.transport = "ipc"
            self.ip = str(jail.ipc_dir / "kernel")
            self.connection_file = str(jail.ipc_dir / "kernel.json")

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if self.jail is None:
            raise RuntimeError("JailedKernelManager has no jail: refusing to start an unjailed kernel")
        from pathlib import Path

        self.jail.grant(Path(self.connection_file))
        return self.jail.command(cmd)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        assert self.jail is not None
        kw["env"] = self.jail.env() if self.jail.backend == "none" else {}
        kw.pop("preexec_fn", None)  # the jail sets the limits
        # what the jailed process writes to its own stdout/stderr (not to Jupyter's channels) goes nowhere:
        # it must not reach, or flood, the grader's log
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL
        kw.update(self.jail.popen_kwargs())
        await super()._async_launch_kernel(kernel_cmd, **kw)

    _launch_kernel = _async_launch_kernel  # type: ignore[assignment]

    # -- the jailed process, seen from outside -------------------------------------------
    def tree(self) -> ProcessTree | None:
        process = getattr(self.provisioner, "process", None)
        return ProcessTree(process.pid) if process is not None else None

    async def signal_kernel(self, signum: int) -> None:  # type: ignore[override]
        """Signals reach the kernel process in the jail; SIGKILL ends the whole jail."""
        tree = self.tree()
        if tree is None:
            raise RuntimeError("Cannot signal kernel. No kernel is running!")
        if signum == signal.SIGKILL:
            await AsyncKernelManager.signal_kernel(self, signum)
        else:
            tree.signal(signum)

    async def interrupt_kernel(self) -> None:  # type: ignore[override]
        """SIGINT to the kernel process inside the jail (ipykernel turns it into KeyboardInterrupt)."""
        tree = self.tree()
        if tree is not None:
            tree.signal(signal.SIGINT)
