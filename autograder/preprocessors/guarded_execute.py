"""``GuardedExecute`` (instead of ``Execute``): the notebook in a jailed kernel, with CPU, memory and output limits.

A kernel that dies, hangs or overruns the notebook's time limit becomes explicit errors on the
affected cells instead of a failed, silently-zero submission.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import time
from pathlib import Path
from typing import Any

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Float, Integer

from autograder.preprocessors import metadata as zm
from autograder.preprocessors.common import error_output, stdout_output, submission_files, zmeta


def _output_bytes(msg: dict) -> int:
    """Roughly how many bytes an iopub message adds to a notebook (text, data, traceback)."""
    content = msg.get("content", {})
    size = len(content.get("text", "") or "")
    for value in (content.get("data") or {}).values():
        size += len(value) if isinstance(value, str) else len(str(value))
    for line in content.get("traceback") or []:
        size += len(line)
    return size + len(str(content.get("evalue", "")))


class GuardedExecute(Execute):
    """nbgrader's Execute in a jailed kernel, with load-proof limits and bounded output.

    * The kernel runs in a :class:`~autograder.sandbox.jail.Jail` (``JailedKernelManager``).
    * Limits count the kernel's CPU time, read from outside: a cell that uses more than
      ``cell_cpu_seconds`` is interrupted (like Jupyter's interrupt button) and gets a
      ``CPUTimeLimit`` error; once the notebook has used ``notebook_cpu_seconds`` the rest is
      not run. ``Execute.timeout`` and ``notebook_timeout`` are wall-clock backstops only.
    * A kernel that dies, or ignores the interrupt, becomes explicit errors on the affected
      cells (``KernelDied``, ``CellNotRun``) instead of a failed, silently-zero submission.
    * Output is capped in bytes per cell and per notebook, with a visible marker.
    """

    cell_cpu_seconds = Float(60.0, help="CPU seconds one cell may use before it is interrupted.").tag(config=True)
    notebook_cpu_seconds = Float(300.0, help="CPU seconds the whole notebook may use.").tag(config=True)
    interrupt_grace_cpu = Float(2.0, help="CPU seconds a kernel may go on using after an interrupt before it is "
                                         "killed as hung.").tag(config=True)
    notebook_timeout = Integer(1800, help="Wall-clock backstop for the whole notebook, seconds.").tag(config=True)
    memory_limit_mb = Integer(4096, help="Address-space limit of the kernel process (0: none).").tag(config=True)
    probe_timeout = Integer(10, help="Seconds a kernel gets to answer after a timed-out cell.").tag(config=True)
    max_cell_output_kb = Integer(1024, help="Output one cell may keep, KiB (the rest is cut).").tag(config=True)
    max_output_kb = Integer(8192, help="Output the whole notebook may keep, KiB.").tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from autograder.sandbox.kernel import JailedKernelManager

        kwargs["kernel_manager_class"] = JailedKernelManager
        super().__init__(*args, **kwargs)
        # An oversized output message is dropped by ZMQ (see JailedKernelClient), and with it maybe
        # the kernel's "idle" status: wait a little for it, then go on (the cell's reply has arrived).
        self.raise_on_iopub_timeout = False

    def create_kernel_manager(self) -> Any:
        km = super().create_kernel_manager()
        km.attach(self._jail)
        return km

    # -- limits ------------------------------------------------------------------------
    async def _watch_cpu(self, cell_index: int) -> None:
        """Interrupt a cell over its CPU budget (or the notebook's); kill a kernel that ignores it."""
        tree = self.km.tree() if self.km is not None else None
        if tree is None:
            return
        start = tree.cpu()
        interrupted_at: float | None = None
        while True:
            await asyncio.sleep(0.1)
            used = tree.cpu()
            if interrupted_at is None:
                over_cell = used - start > self.cell_cpu_seconds
                over_notebook = used - self._cpu_start > self.notebook_cpu_seconds
                if over_cell or over_notebook:
                    self._cpu_limited[cell_index] = "cell" if over_cell else "notebook"
                    tree.signal(signal.SIGINT)
                    interrupted_at = used
            elif used - interrupted_at > self.interrupt_grace_cpu:
                self._hung.add(cell_index)
                self._kill_kernel()
                return

    async def async_execute_cell(self, cell: NotebookNode, cell_index: int, execution_count: int | None = None,
                                 store_history: bool = True) -> NotebookNode:
        watch = asyncio.ensure_future(self._watch_cpu(cell_index))
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            watch.cancel()

    execute_cell = run_sync(async_execute_cell)

    def process_message(self, msg: dict, cell: NotebookNode, cell_index: int) -> Any:
        content = msg.get("content", {})
        if msg.get("msg_type") == "status" and content.get("execution_state") == "idle":
            self._idle_seen.add(cell_index)
        return super().process_message(msg, cell, cell_index)

    def _reconnect_iopub(self) -> None:
        """A fresh output channel, after ZMQ dropped an oversized message and, with it, the connection."""
        old = getattr(self.kc, "_iopub_channel", None)
        if old is not None:
            with contextlib.suppress(Exception):
                old.close()
            self.kc._iopub_channel = None
        self.kc.iopub_channel  # noqa: B018 - the property connects a new socket
        time.sleep(0.2)  # let the subscription reach the kernel

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        """Keep at most ``max_cell_output_kb`` per cell and ``max_output_kb`` per notebook."""
        size = _output_bytes(msg)
        used = self._cell_bytes.get(cell_index, 0)
        if used + size > self.max_cell_output_kb * 1024 or self._total_bytes + size > self.max_output_kb * 1024:
            if cell_index not in self._truncated:
                self._truncated.add(cell_index)
                outs.append(stdout_output(
                    f"\n[output truncated: this cell printed more than the "
                    f"{min(self.max_cell_output_kb, self.max_output_kb)} KiB the grader keeps]\n"))
            return None
        self._cell_bytes[cell_index] = used + size
        self._total_bytes += size
        out = super().output(outs, msg, display_id, cell_index)
        if (out is not None and out.get("output_type") == "stream" and len(outs) >= 2 and outs[-1] is out
                and outs[-2].get("output_type") == "stream" and outs[-2].get("name") == out.get("name")):
            # one stream output, however often the kernel happened to flush it: the same feedback on a
            # quiet and on a busy grader (JupyterLab shows them as one too)
            outs[-2]["text"] += out["text"]
            outs.pop()
            return outs[-1]
        return out

    # -- the notebook ------------------------------------------------------------------
    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None):
        from nbclient.client import NotebookClient

        from autograder.sandbox.jail import Sandbox

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        folder = Path(resources.get("metadata", {}).get("path") or ".")
        sandbox = Sandbox(parent=self)
        memory = self.memory_limit_mb * 1024 * 1024 if self.memory_limit_mb > 0 else resource.RLIM_INFINITY
        limits = sandbox.limits(memory, int(self.notebook_cpu_seconds + 60))
        from autograder.sandbox.kernel import kernel_home_files

        self._jail = sandbox.jail(limits, {**kernel_home_files(), **submission_files(folder)}, ipc=True)
        self._cpu_limited: dict[int, str] = {}
        self._hung: set[int] = set()
        self._cell_bytes: dict[int, int] = {}
        self._total_bytes = 0
        self._truncated: set[int] = set()
        self._idle_seen: set[int] = set()
        fault: dict | None = None
        deadline = time.monotonic() + self.notebook_timeout
        started = time.perf_counter()
        timings: dict[str, float] = {}
        try:
            with self.setup_kernel():
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                tree = self.km.tree()
                self._cpu_start = tree.cpu() if tree is not None else 0.0
                timings["kernel_start"] = time.perf_counter() - started
                for index, cell in enumerate(self.nb.cells):
                    if cell.cell_type != "code":
                        continue
                    if fault is None and time.monotonic() > deadline:
                        fault = {"kind": "notebook-timeout", "cell": index,
                                 "message": f"the notebook ran longer than the {self.notebook_timeout} s "
                                            "wall-clock backstop"}
                    if fault is not None:
                        cell.outputs = [error_output("CellNotRun", f"not run: {fault['message']} "
                                                     f"(at cell {fault['cell']})")]
                        continue
                    fault = self._run_cell(cell, resources, index)
                if fault is not None:
                    self._kill_kernel()
                if tree is not None:
                    timings["kernel_cpu"] = tree.cpu()
        finally:
            self._jail.close()
        timings["execute"] = time.perf_counter() - started - timings.get("kernel_start", 0.0)
        meta = zmeta(self.nb)
        meta[zm.KERNEL_FAULT] = fault
        meta[zm.CPU_LIMITED] = [{"cell": i, "limit": k} for i, k in sorted(self._cpu_limited.items())]
        meta[zm.OUTPUT_TRUNCATED] = sorted(self._truncated)
        meta[zm.SANDBOX] = sandbox.backend
        meta[zm.TIMINGS] = {k: round(v, 4) for k, v in timings.items()}
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _run_cell(self, cell: NotebookNode, resources: Any, index: int) -> dict | None:
        """Run one cell; the fault that stops the notebook, if any."""
        try:
            self.preprocess_cell(cell, resources, index)
            if index not in self._idle_seen and cell.source.strip():
                if index not in self._truncated:
                    self._truncated.add(index)
                    cell.outputs.append(stdout_output("\n[output lost: a single message from this cell was larger "
                                                      "than the grader accepts]\n"))
                self._reconnect_iopub()
        except DeadKernelError:
            if index in self._hung:
                cell.outputs.append(error_output(
                    "CPUTimeLimit", f"this cell used more than {self.cell_cpu_seconds:g} CPU seconds and ignored "
                                    "the interrupt: the kernel was stopped"))
                return {"kind": "kernel-hung", "cell": index,
                        "message": "the kernel ignored the interrupt after its CPU time limit"}
            cell.outputs.append(error_output(
                "KernelDied", "the kernel died while running this cell (os._exit, a crash, or the memory limit)"))
            return {"kind": "kernel-died", "cell": index, "message": "the kernel died",
                    "exit_code": self._kernel_exit_code()}
        except CellTimeoutError as exc:
            cell.outputs.append(error_output("CellTimeoutError", str(exc).splitlines()[0][:300]))
            return {"kind": "kernel-hung", "cell": index,
                    "message": f"no reply within the {self.timeout} s wall-clock backstop"}
        limited = self._cpu_limited.get(index)
        if limited:
            cell.outputs = [o for o in cell.outputs if o.get("ename") != "KeyboardInterrupt"]
            budget = self.cell_cpu_seconds if limited == "cell" else self.notebook_cpu_seconds
            cell.outputs.append(error_output(
                "CPUTimeLimit", f"interrupted: this {limited} used more than {budget:g} CPU seconds"))
            if limited == "notebook":
                return {"kind": "notebook-timeout", "cell": index,
                        "message": f"the notebook used more than {self.notebook_cpu_seconds:g} CPU seconds"}
        if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs) and not self._responsive():
            return {"kind": "kernel-hung", "cell": index,
                    "message": f"the kernel stopped responding after the {self.timeout} s wall-clock backstop"}
        if any(o.get("ename") == "MemoryError" for o in cell.outputs):
            zmeta(self.nb).setdefault(zm.MEMORY_ERRORS, []).append(index)
        return None

    def _kernel_exit_code(self) -> int | None:
        """The dead kernel's exit status (negative: killed by that signal), when it can be known."""
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        try:
            return process.poll() if process is not None else None
        except Exception:  # noqa: BLE001 - best effort, for the report only
            return None

    def _responsive(self) -> bool:
        saved = self.timeout
        try:
            self.timeout = self.probe_timeout
            self.wait_for_reply(self.kc.kernel_info())
            return True
        except Exception:  # noqa: BLE001 - any failure to answer means unresponsive
            return False
        finally:
            self.timeout = saved

    def _kill_kernel(self) -> None:
        """SIGKILL the jail (bubblewrap and with it the kernel's whole PID namespace)."""
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

