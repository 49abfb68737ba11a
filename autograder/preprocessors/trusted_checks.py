"""``TrustedChecks`` (before ``SaveAutoGrades``): every hidden check computed here, against ``zengrad_ref``.

Student code is confined to a sandboxed worker; the verdict becomes the grade cell's only scored output.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_locked
from traitlets import Float, Integer, List, Unicode

from autograder.preprocessors import metadata as zm
from autograder.preprocessors.common import (
    _trusted_sources,
    error_output,
    is_test_cell,
    stdout_output,
    submission_files,
    zmeta,
)

CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([\w.\-]+)["']\s*\)""")


class TrustedChecks(NbGraderPreprocessor):
    """Score every hidden check here, not in the student's kernel.

    For each test cell, the student's code cells above it are replayed in a
    sandboxed worker (``autograder.sandbox.engine.StudentEngine``) and the check named
    in the cell's (instructor-owned) source is run against ``zengrad_ref``.
    The cell's outputs are replaced: the kernel's stdout is kept for the
    student's benefit, its errors and results are dropped, and the verdict is
    appended as the only thing nbgrader's scoring can see.
    """

    cell_cpu_seconds = Float(60.0, help="CPU seconds one notebook cell may use in the worker before it is "
                                        "interrupted.").tag(config=True)
    program_cpu_seconds = Float(10.0, help="CPU seconds one check program may use in the worker (checks may ask "
                                           "for more, e.g. training).").tag(config=True)
    cpu_seconds = Integer(600, help="Hard CPU-time limit (RLIMIT_CPU) of one worker process.").tag(config=True)
    memory_limit_mb = Integer(1024, help="Address-space limit of a worker process.").tag(config=True)
    max_reply_kb = Integer(4096, help="Largest reply the worker may send, KiB.").tag(config=True)
    skip_cells = List(Unicode(), [], help="grade_ids of read-only cells no hidden check needs (a training demo, a "
                                          "plot): the worker does not replay them.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from autograder.checks import run_check
        from autograder.sandbox.engine import StudentEngine
        from autograder.sandbox.jail import Sandbox

        started = time.perf_counter()
        trusted = _trusted_sources(resources, nb.cells)
        skip = set(self.skip_cells)
        code_cells = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code" and not is_test_cell(c)
                      and not (is_locked(c) and c.metadata.get("nbgrader", {}).get("grade_id") in skip)]
        folder = Path(resources.get("metadata", {}).get("path") or ".")
        sandbox = Sandbox(parent=self)
        limits = sandbox.limits(self.memory_limit_mb * 1024 * 1024, self.cpu_seconds)
        engine = StudentEngine(code_cells, submission_files(folder), limits, self.cell_cpu_seconds,
                               self.program_cpu_seconds, sandbox=sandbox, max_reply_bytes=self.max_reply_kb * 1024)
        summary = []
        try:
            for index, cell in enumerate(nb.cells):
                if not is_test_cell(cell):
                    continue
                grade_id = cell.metadata["nbgrader"]["grade_id"]
                ids = CHECK_CALL.findall(trusted.get(grade_id, cell.source))
                if not ids:
                    zmeta(cell)[zm.TRUSTED] = False
                    continue
                engine.advance_to(index)
                verdicts = [run_check(check_id, engine) for check_id in ids]
                self._score_cell(cell, verdicts)
                summary.extend({"cell": index, "grade_id": grade_id, **v.to_json()} for v in verdicts)
        finally:
            engine.close()
        meta = zmeta(nb)
        meta[zm.VERDICTS] = summary
        meta[zm.WORKER_CELL_ERRORS] = [
            {"cell": r.index, "error": r.error, "fatal": r.fatal} for r in engine.cell_errors()
        ]
        meta[zm.TRUSTED_SECONDS] = round(time.perf_counter() - started, 3)
        meta.setdefault(zm.TIMINGS, {}).update(checks=meta[zm.TRUSTED_SECONDS], worker_cpu=round(engine.cpu_used, 4))
        meta[zm.SANDBOX] = sandbox.backend
        return nb, resources

    @staticmethod
    def _score_cell(cell: NotebookNode, verdicts: list) -> None:
        kept = [o for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stdout"]
        zmeta(cell)[zm.TRUSTED] = True
        zmeta(cell)[zm.KERNEL_OUTPUT_TYPES] = sorted({o.get("output_type", "") + ":" + o.get("name", o.get("ename", ""))
                                                     for o in cell.get("outputs", [])})
        failed = [v for v in verdicts if not v.passed]
        if failed:
            text = "\n".join(v.message for v in failed)
            kept.append(error_output("HiddenCheckFailed", text))
        else:
            text = "\n".join(f"hidden check {v.check_id} passed ({v.programs} generated cases)" for v in verdicts)
            kept.append(stdout_output(text + "\n"))
        cell.outputs = kept
