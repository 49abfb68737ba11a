"""The untrusted side of a trusted check: runs student code, answers with plain numbers.

This file is executed as source (``python -I -S -c``) in a scrubbed process
with resource limits. It imports nothing but the standard library and never
sees ``zengrad_ref``, the checks or the gradebook. It speaks a tiny protocol
over two inherited pipe descriptors: length-prefixed JSON requests in, JSON
replies out. Replies contain only numbers, strings and lists, so no object the
student builds can reach the trusted process (the "equal to anything" attack
cannot cross a pipe).

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


def _describe(exc):
    text = ""
    try:
        text = str(exc)
    except BaseException:  # noqa: B036 - a hostile __str__
        text = "<unprintable>"
    return {"type": type(exc).__name__, "message": text[:500]}


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


def _num(x):
    value = float(x)
    if type(value) is not float:  # a float subclass could carry behaviour; keep only the number
        value = float.__float__(value)
    return value


# --- adapter programs -------------------------------------------------------
# A program is a list of instructions over integer handles. It is all a check
# can ask of student code; see autograder/adapter.py for the trusted twin.

_BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "truediv": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
}
_UNARY_METHODS = ("exp", "log", "tanh", "relu", "sigmoid")


def _operand(arg, nodes):
    if isinstance(arg, dict):
        return arg["const"]
    return nodes[arg]


_MISSING = object()
_PIECES = {}  # source -> compiled code of a grader-provided piece (a cache; poisoning it only hurts the student)


def _define(source, name, ns):
    """A known-good piece (e.g. a Neuron) written by the instructor, defined over the student's names.

    It is executed in a snapshot of the student's globals, so it uses the student's ``Value``
    but none of the student's other answers, and is never bound in the student's namespace.
    """
    code = _PIECES.get(source)
    if code is None:
        code = _PIECES[source] = compile(source, "<grader piece>", "exec")
    scope = dict(ns)
    exec(code, scope)
    return scope[name]


def _kind(x):
    """The type of a value as the trusted side may check it: float, int, bool, list, tuple, NoneType, ..."""
    return type(x).__name__[:60]


def run_program(program, ns):
    """Run one adapter program against the names in ``ns``; reads are plain floats/ints.

    ``override`` replaces a name of the student's namespace for this program only (e.g. the
    student's ``Neuron`` by a known-good one while their ``Layer`` is checked); every override
    is undone when the program ends, however it ends.
    """
    saved = {}
    try:
        return _run_steps(program, ns, saved)
    finally:
        for name, old in saved.items():
            if old is _MISSING:
                ns.pop(name, None)
            else:
                ns[name] = old


def _run_steps(program, ns, saved):
    Value = ns.get("Value")
    nodes = {}
    out = []
    for step, ins in enumerate(program):
        kind = ins[0]
        try:
            if kind == "leaf":
                if Value is None:
                    raise NameError("no class named Value is defined")
                nodes[ins[1]] = Value(ins[2])
            elif kind == "op":
                _, handle, name, args = ins
                if name in _BINARY:
                    nodes[handle] = _BINARY[name](_operand(args[0], nodes), _operand(args[1], nodes))
                elif name == "neg":
                    nodes[handle] = -nodes[args[0]]
                elif name in _UNARY_METHODS:
                    nodes[handle] = getattr(nodes[args[0]], name)()
                else:
                    raise ValueError(f"unknown op {name}")
            elif kind == "setgrad":
                nodes[ins[1]].grad = ins[2]
            elif kind == "setdata":
                nodes[ins[1]].data = ins[2]
            elif kind == "local_backward":
                nodes[ins[1]]._backward()
            elif kind == "backward":
                nodes[ins[1]].backward()
            elif kind == "call":  # call a student function defined by name on handles/consts
                _, handle, fname, args = ins
                fn = ns.get(fname)
                if fn is None:
                    raise NameError(f"no function named {fname} is defined")
                result = fn(*[_operand(a, nodes) for a in args])
                if handle is not None:
                    nodes[handle] = result
            elif kind == "call_kw":  # the same, with keyword arguments (e.g. Layer(2, 3, nonlin=False))
                _, handle, fname, args, kwargs = ins
                fn = ns.get(fname)
                if fn is None:
                    raise NameError(f"no function named {fname} is defined")
                result = fn(*[_operand(a, nodes) for a in args], **{k: _operand(a, nodes) for k, a in kwargs.items()})
                if handle is not None:
                    nodes[handle] = result
            elif kind == "method":  # call a method of an object made by the program
                _, handle, obj, mname, args = ins
                result = getattr(nodes[obj], mname)(*[_operand(a, nodes) for a in args])
                if handle is not None:
                    nodes[handle] = result
            elif kind == "list":  # a new list of nodes/constants
                nodes[ins[1]] = [_operand(a, nodes) for a in ins[2]]
            elif kind == "item":  # nodes[handle] = nodes[obj][index]
                nodes[ins[1]] = list(nodes[ins[2]])[ins[3]]
            elif kind == "setdata_list":  # set .data of every Value in a list, in order
                seq = list(nodes[ins[1]])
                if len(seq) != len(ins[2]):
                    raise ValueError(f"expected {len(ins[2])} values, got {len(seq)}")
                for node, x in zip(seq, ins[2], strict=True):
                    node.data = x
            elif kind == "read_list":  # [[data, grad], ...] of a list of Values
                out.append([[_num(v.data), _num(v.grad)] for v in list(nodes[ins[1]])])
            elif kind == "read_number":  # a plain number (or .data of a Value)
                x = nodes[ins[1]]
                out.append(_num(getattr(x, "data", x)))
            elif kind == "read":
                node = nodes[ins[1]]
                out.append([_num(node.data), _num(node.grad)])
            elif kind == "define":  # a grader-provided piece: nodes[handle] = piece
                nodes[ins[1]] = _define(ins[2], ins[3], ns)
            elif kind == "override":  # ns[name] = operand, for this program only
                name = ins[1]
                if name not in saved:
                    saved[name] = ns.get(name, _MISSING)
                ns[name] = _operand(ins[2], nodes)
            elif kind == "read_kind":  # the type name of a handle's object
                out.append(_kind(nodes[ins[1]]))
            elif kind == "read_kinds":  # the type names of the items of a sequence
                out.append([_kind(v) for v in list(nodes[ins[1]])])
            elif kind == "read_order":  # a list of nodes -> their handles, -1 for strangers
                seq = nodes[ins[1]]
                ids = {id(v): h for h, v in nodes.items()}
                out.append([ids.get(id(v), -1) for v in list(seq)])
            else:
                raise ValueError(f"unknown instruction {kind}")
        except BaseException as exc:  # noqa: B036 - report everything, the trusted side decides
            err = _describe(exc)
            err["step"] = step
            return {"ok": False, "error": err, "reads": out}
    return {"ok": True, "reads": out}


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
