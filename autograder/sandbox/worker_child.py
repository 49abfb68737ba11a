# ruff: noqa: F821 - run_program and _describe come from the interpreter's source, executed just before this
"""The untrusted side of a trusted check: the check worker's protocol loop.

This file is executed as source (``python -I -S -c``) in a jailed process, right after the
source of ``autograder/checks/kit/interpreter.py`` (which defines ``run_program``). It imports
nothing but the standard library and never sees ``zengrad_ref``, the checks or the gradebook.
It speaks a tiny protocol over two inherited pipe descriptors: length-prefixed JSON requests
in, JSON replies out. Nothing here is trusted by the grader: student code runs in this very
process and may replace any of it; the grader treats every reply as a claim to be checked.

Requests:
  {"cmd": "exec", "cells": [[index, source], ...]}  run notebook cells in order
  {"cmd": "run", "program": [...]}                    run an adapter program
  {"cmd": "bye"}
"""

import json
import os
import signal
import struct
import sys
import time
import traceback

_RFD = _WFD = -1  # the protocol pipes, set by main()


def _read_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = os.read(_RFD, n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def _recv():
    (n,) = struct.unpack(">I", _read_exact(4))
    return json.loads(_read_exact(n).decode())


def _send(obj):
    data = json.dumps(obj).encode()
    os.write(_WFD, struct.pack(">I", len(data)) + data)


def _strip_ipython(source):
    """Drop IPython-only lines (magics, shell escapes) so plain Python can run the cell."""
    kept = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            kept.append("")
        else:
            kept.append(line)
    return "\n".join(kept)


NS = {"__name__": "__main__", "display": lambda *a, **k: None}


def _exec_cells(cells):
    """Run cells in order; SIGINT interrupts a cell (KeyboardInterrupt) only while it runs."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _exec_each(cells)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _exec_each(cells):
    results = []
    for index, source in cells:
        start = time.process_time()
        try:
            code = compile(_strip_ipython(source), f"<cell {index}>", "exec")
            exec(code, NS)
            results.append({"cell": index, "ok": True, "cpu": time.process_time() - start})
        except BaseException as exc:  # noqa: B036 - SystemExit from student code is an error too
            tb = traceback.extract_tb(exc.__traceback__)
            line = tb[-1].lineno if tb else None
            results.append({"cell": index, "ok": False, "error": _describe(exc), "line": line})
    return results


def main():
    global _RFD, _WFD
    _RFD, _WFD = int(sys.argv[1]), int(sys.argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            req = _recv()
        except EOFError:
            return
        cmd = req.get("cmd")
        started = time.process_time()
        if cmd == "exec":
            reply = {"cells": _exec_cells(req["cells"])}
        elif cmd == "run":
            try:
                reply = run_program(req["program"], NS)
            except BaseException as exc:  # noqa: B036
                reply = {"ok": False, "error": _describe(exc), "reads": []}
        elif cmd == "bye":
            return
        else:
            reply = {"error": f"unknown command {cmd}"}
        reply["cpu"] = time.process_time() - started
        reply["seq"] = req.get("seq")
        try:
            _send(reply)
        except (ValueError, TypeError, OverflowError) as exc:
            _send({"ok": False, "error": _describe(exc), "reads": [], "seq": req.get("seq")})


if __name__ == "__main__":
    main()
