"""GuardedExecute on its own (a real jailed Jupyter kernel, no nbgrader): limits, faults and bounded output."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import nbformat
import psutil
from traitlets.config import Config

from autograder.preprocessors import GuardedExecute
from tests.attacks import attack_cell


def execute(*sources: str, **traits: object) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    config = Config()
    for key, value in traits.items():
        setattr(config.GuardedExecute, key, value)
    nb, _ = GuardedExecute(config=config).preprocess(nb, {"metadata": {"path": str(Path(__file__).parent)}})
    return nb


def text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") if o.output_type == "stream" else f"{o.get('ename')}: {o.get('evalue')}"
                   for o in cell.outputs)


def test_the_kernel_runs_jailed() -> None:
    nb = execute("import os\nprint(os.getuid(), os.getcwd(), os.path.exists('/work'), sorted(os.listdir('/home')))",
                 "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 22), timeout=2)\n"
                 "except OSError as e:\n    print('no network')")
    uid, cwd, work, home = text(nb.cells[0]).split(" ", 3)
    assert int(uid) != 0 and cwd == "/home/student" and home.startswith("['student']")
    assert "no network" in text(nb.cells[1])
    assert nb.metadata.zengrad["sandbox"] == "bwrap" and nb.metadata.zengrad["kernel_fault"] is None
    del work


def test_a_cell_over_its_cpu_budget_is_interrupted_and_the_notebook_goes_on() -> None:
    nb = execute("x = 0\nwhile True:\n    x += 1", "print('after')", cell_cpu_seconds=1.0)
    assert "CPUTimeLimit" in text(nb.cells[0]) and "1 CPU seconds" in text(nb.cells[0])
    assert "KeyboardInterrupt" not in text(nb.cells[0])
    assert text(nb.cells[1]) == "after\n"
    assert nb.metadata.zengrad["kernel_fault"] is None
    assert nb.metadata.zengrad["cpu_limited"] == [{"cell": 0, "limit": "cell"}]


def test_sleeping_is_not_cpu_time() -> None:
    nb = execute("import time\ntime.sleep(2)\nprint('rested')", cell_cpu_seconds=1.0)
    assert text(nb.cells[0]) == "rested\n" and nb.metadata.zengrad["cpu_limited"] == []


def test_consecutive_prints_are_one_output_however_the_kernel_flushed_them() -> None:
    """ipykernel sends buffered stdout every 0.2 s: on a busy grader two prints may arrive as one message or two."""
    nb = execute("import sys, time\nprint('one')\nsys.stdout.flush()\ntime.sleep(0.5)\nprint('two')\n",
                 "print('a')\ndisplay('between')\nprint('b')")
    assert [(o.name, o.text) for o in nb.cells[0].outputs] == [("stdout", "one\ntwo\n")]
    assert [o.output_type for o in nb.cells[1].outputs] == ["stream", "display_data", "stream"]  # order is kept


def test_a_kernel_that_ignores_the_interrupt_is_killed_and_the_rest_not_run() -> None:
    started = time.monotonic()
    nb = execute("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
                 "print('never')", cell_cpu_seconds=1.0, interrupt_grace_cpu=1.0)
    assert nb.metadata.zengrad["kernel_fault"]["kind"] == "kernel-hung"
    assert "ignored the interrupt" in text(nb.cells[0]) and "CellNotRun" in text(nb.cells[1])
    assert time.monotonic() - started < 60


def test_memory_is_capped() -> None:
    nb = execute("hoard = []\nwhile True:\n    hoard.append(bytearray(64 << 20))", "print('still here')",
                 memory_limit_mb=1024)
    assert "MemoryError" in text(nb.cells[0]) and text(nb.cells[1]) == "still here\n"
    assert nb.metadata.zengrad["memory_errors"] == [0]


def test_output_is_capped_per_cell_and_the_grader_memory_stays_bounded() -> None:
    me = psutil.Process()
    peak, stop = [me.memory_info().rss], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak.append(me.memory_info().rss)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        nb = execute("print('x' * 5000)\n" * 400, attack_cell("print-flood", 0, ""), "print('next')",
                     max_cell_output_kb=64)
    finally:
        stop.set()
        watcher.join()
    assert len(text(nb.cells[0])) < 80 << 10 and "output truncated" in text(nb.cells[0])
    assert "output" in text(nb.cells[1]) and len(text(nb.cells[1])) < 80 << 10
    assert text(nb.cells[2]) == "next\n"  # the output channel recovered after the flood
    assert max(peak) - peak[0] < 150 << 20, (peak[0] >> 20, max(peak) >> 20)
