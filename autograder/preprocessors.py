"""nbgrader preprocessors that make autograding trustworthy and fault-tolerant.

They are wired into ``nbgrader autograde`` by ``nbgrader_config.py``, so stock
nbgrader and ``zengrad-kit grade`` run the same pipeline:

* ``IntegrityScan`` (first sanitize step) flags suspicious code and edited or
  deleted read-only cells before nbgrader restores them;
* ``GuardedExecute`` (instead of ``Execute``) turns a kernel that dies, hangs or
  overruns the notebook time limit into explicit errors on the affected cells
  instead of a failed, silently-zero submission, and caps the kernel's memory;
* ``TrustedChecks`` (before ``SaveAutoGrades``) computes every hidden check in
  this process against ``zengrad_ref``, with student code confined to a
  sandboxed worker, and writes the verdict as the grade cell's only scored output.
"""

from __future__ import annotations

import re
import resource
import time
from pathlib import Path
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbgrader.utils import is_grade, is_locked, is_solution
from traitlets import Float, Integer, List, Unicode

from autograder import scan

CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([\w.\-]+)["']\s*\)""")
HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)


def _normalized(source: str) -> list[str]:
    """Lines without surrounding blanks: what a read-only cell's identity is compared on."""
    return [line.rstrip() for line in source.strip().splitlines() if line.strip()]


def zmeta(node: NotebookNode) -> NotebookNode:
    """The ``zengrad`` metadata namespace of a notebook or a cell."""
    if "zengrad" not in node.metadata:
        node.metadata["zengrad"] = NotebookNode()
    return node.metadata["zengrad"]


def error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"])


def stdout_output(text: str) -> NotebookNode:
    return NotebookNode(output_type="stream", name="stdout", text=text)


def is_test_cell(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def _trusted_sources(resources: dict, cells: list[NotebookNode]) -> dict[str, str]:
    """grade_id -> source of read-only cells as the gradebook holds them (the instructor's version)."""
    nbg = resources.get("nbgrader", {})
    out: dict[str, str] = {}
    try:
        with Gradebook(nbg["db_url"]) as gb:
            for cell in cells:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if not grade_id:
                    continue
                try:
                    out[grade_id] = gb.find_source_cell(grade_id, nbg["notebook"], nbg["assignment"]).source
                except MissingEntry:
                    pass
    except KeyError:
        pass
    return out


class IntegrityScan(NbGraderPreprocessor):
    """Flag suspicious code and tampering; never changes a score by itself."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        trusted = _trusted_sources(resources, nb.cells)
        flags: list[dict] = []
        present = set()
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            present.add(grade_id)
            if grade_id in trusted and (is_locked(cell) or is_test_cell(cell)):
                if _normalized(cell.source) != _normalized(HIDDEN_BLOCK.sub("", trusted[grade_id])):
                    flags.append({"cell": index, "grade_id": grade_id, "kind": "edited-read-only-cell",
                                  "detail": "a read-only or test cell was edited (nbgrader restores it)"})
                continue  # instructor code: not scanned
            for finding in scan.scan_source(cell.source):
                finding.update(cell=index, grade_id=grade_id)
                flags.append(finding)
        try:
            with Gradebook(resources["nbgrader"]["db_url"]) as gb:
                notebook = gb.find_notebook(resources["nbgrader"]["notebook"], resources["nbgrader"]["assignment"])
                for grade_cell in notebook.grade_cells:
                    if grade_cell.name not in present:
                        flags.append({"cell": None, "grade_id": grade_cell.name, "kind": "deleted-test-cell",
                                      "detail": "a graded cell was deleted (nbgrader adds it back)"})
        except (KeyError, MissingEntry):
            pass
        zmeta(nb)["integrity"] = flags
        if flags:
            self.log.warning("integrity flags: %s", ", ".join(sorted({f["kind"] for f in flags})))
        return nb, resources


def _kernel_limits(memory_bytes: int) -> None:
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class GuardedExecute(Execute):
    """nbgrader's Execute, but a dead, hung or overlong kernel becomes explicit cell errors."""

    notebook_timeout = Integer(600, help="Wall-clock seconds for the whole notebook.").tag(config=True)
    memory_limit_mb = Integer(4096, help="Address-space limit of the kernel process (0: none).").tag(config=True)
    probe_timeout = Integer(5, help="Seconds a kernel gets to answer after a timed-out cell.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None):
        from nbclient.client import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        fault: dict | None = None
        deadline = time.monotonic() + self.notebook_timeout
        limit = self.memory_limit_mb * 1024 * 1024
        with self.setup_kernel(preexec_fn=lambda: _kernel_limits(limit)):
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            for index, cell in enumerate(self.nb.cells):
                if cell.cell_type != "code":
                    continue
                if fault is None and time.monotonic() > deadline:
                    fault = {"kind": "notebook-timeout", "cell": index,
                             "message": f"the notebook ran longer than {self.notebook_timeout} s"}
                if fault is not None:
                    cell.outputs = [error_output("CellNotRun", f"not run: {fault['message']} "
                                                 f"(at cell {fault['cell']})")]
                    continue
                try:
                    self.preprocess_cell(cell, resources, index)
                except DeadKernelError:
                    fault = {"kind": "kernel-died", "cell": index, "message": "the kernel died",
                             "exit_code": self._kernel_exit_code()}
                    cell.outputs.append(error_output(
                        "KernelDied", "the kernel died while running this cell (os._exit, a crash, "
                        "or the memory limit)"))
                except CellTimeoutError as exc:
                    fault = {"kind": "kernel-hung", "cell": index, "message": "the kernel stopped responding"}
                    cell.outputs.append(error_output("CellTimeoutError", str(exc).splitlines()[0][:300]))
                else:
                    if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs) and not self._responsive():
                        fault = {"kind": "kernel-hung", "cell": index,
                                 "message": f"the kernel ignored the interrupt after {self.timeout} s"}
                    elif any(o.get("ename") == "MemoryError" for o in cell.outputs):
                        zmeta(self.nb).setdefault("memory_errors", []).append(index)
            if fault is not None:
                self._kill_kernel()
        zmeta(self.nb)["kernel_fault"] = fault
        self.set_widgets_metadata()
        return self.nb, self.resources

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
        try:
            if self.km is not None and self.km.has_kernel:
                from jupyter_core.utils import run_sync

                run_sync(self.km.shutdown_kernel)(now=True)
        except Exception as exc:  # noqa: BLE001
            self.log.warning("could not kill the kernel: %s", exc)


class TrustedChecks(NbGraderPreprocessor):
    """Score every hidden check here, not in the student's kernel.

    For each test cell, the student's code cells above it are replayed in a
    sandboxed worker (``autograder.adapter.StudentEngine``) and the check named
    in the cell's (instructor-owned) source is run against ``zengrad_ref``.
    The cell's outputs are replaced: the kernel's stdout is kept for the
    student's benefit, its errors and results are dropped, and the verdict is
    appended as the only thing nbgrader's scoring can see.
    """

    cell_timeout = Float(30.0, help="Seconds one notebook cell may run in the worker.").tag(config=True)
    program_timeout = Float(10.0, help="Seconds one check program may run in the worker.").tag(config=True)
    cpu_seconds = Integer(300, help="CPU-time limit of a worker process.").tag(config=True)
    memory_limit_mb = Integer(1024, help="Address-space limit of a worker process.").tag(config=True)
    worker_files = List(Unicode(), ["*.py"], help="Files next to the notebook copied into the worker.").tag(
        config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from autograder.adapter import StudentEngine
        from autograder.checks import run_check
        from autograder.sandbox import Limits

        started = time.perf_counter()
        trusted = _trusted_sources(resources, nb.cells)
        code_cells = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code" and not is_test_cell(c)]
        folder = Path(resources.get("metadata", {}).get("path") or ".")
        files: dict[str, bytes] = {}
        for pattern in self.worker_files:
            for path in sorted(folder.glob(pattern)):
                if path.is_file() and path.stat().st_size < 1 << 20:
                    files[path.name] = path.read_bytes()
        limits = Limits(cpu_seconds=self.cpu_seconds, memory_bytes=self.memory_limit_mb * 1024 * 1024)
        engine = StudentEngine(code_cells, files, limits, self.cell_timeout, self.program_timeout)
        summary = []
        try:
            for index, cell in enumerate(nb.cells):
                if not is_test_cell(cell):
                    continue
                grade_id = cell.metadata["nbgrader"]["grade_id"]
                ids = CHECK_CALL.findall(trusted.get(grade_id, cell.source))
                if not ids:
                    zmeta(cell)["trusted"] = False
                    continue
                engine.advance_to(index)
                verdicts = [run_check(check_id, engine) for check_id in ids]
                self._score_cell(cell, verdicts)
                summary.extend({"cell": index, "grade_id": grade_id, **v.to_json()} for v in verdicts)
        finally:
            engine.close()
        meta = zmeta(nb)
        meta["verdicts"] = summary
        meta["worker_cell_errors"] = [
            {"cell": r.index, "error": r.error, "fatal": r.fatal} for r in engine.cell_errors()
        ]
        meta["trusted_seconds"] = round(time.perf_counter() - started, 3)
        return nb, resources

    @staticmethod
    def _score_cell(cell: NotebookNode, verdicts: list) -> None:
        kept = [o for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stdout"]
        zmeta(cell)["trusted"] = True
        zmeta(cell)["kernel_output_types"] = sorted({o.get("output_type", "") + ":" + o.get("name", o.get("ename", ""))
                                                     for o in cell.get("outputs", [])})
        failed = [v for v in verdicts if not v.passed]
        if failed:
            text = "\n".join(v.message for v in failed)
            kept.append(error_output("HiddenCheckFailed", text))
        else:
            text = "\n".join(f"hidden check {v.check_id} passed ({v.programs} generated cases)" for v in verdicts)
            kept.append(stdout_output(text + "\n"))
        cell.outputs = kept
