"""The check kit's interpreter: runs an adapter program over any namespace, answering with plain numbers.

A *program* is a list of instructions over integer handles (make a leaf, apply an operator,
call a function, set a gradient, call ``_backward``, read ``data``/``grad``/type names...). It
is all a check can ask of student code. The trusted side builds programs with
``autograder.checks.kit.program.Program`` (one builder method per instruction below) and runs
them on two engines: the reference (``ReferenceEngine``, this very function, in the grader,
over ``zengrad_ref``) and the student (the jailed worker, where this file's *source* is
executed ahead of ``autograder/sandbox/worker_child.py``'s protocol loop). One interpreter
for both sides: never retyped. It knows Python's operator syntax (``a + b``, ``-a``); any other
operator is the method of that name (``a.tanh()``), so the operator table of the checks
(``kit/operators.py``) stays open without changing what the worker runs.

So that it can run in the worker, this module uses the standard library only, imports nothing
from the grader and keeps nothing secret. Replies contain only numbers, strings and lists, so
no object the student builds can reach the trusted process.

Instructions (``[kind, ...]``; a *handle* names an object the program made, an *operand* is a
handle or ``{"const": x}``):

======================  ===========================================================
``leaf h x``            ``h = Value(x)``
``op h name args``      ``h = a + b`` (``name`` "add", ...), ``-a`` ("neg"), or ``h = a.name()``
``setgrad h g``         ``h.grad = g``; ``setdata h x``: ``h.data = x``
``local_backward h``    ``h._backward()``; ``backward h``: ``h.backward()``
``call h f args``       ``h = f(*args)`` for the global ``f`` (``call_kw``: with keywords)
``method h obj m args`` ``h = obj.m(*args)``
``list h args``         a new list; ``item h seq i``: ``h = list(seq)[i]``
``setdata_list seq xs`` set ``.data`` of every Value of ``seq``, in order
``define h src name``   a known-good piece: ``src`` run over a copy of the globals, ``h = name``
``override name op``    the global ``name`` is the operand for the rest of this program
``read h``              reads ``[data, grad]``; ``read_number``, ``read_list``, ``read_order``
                        (handles of a list's items, -1 for objects the program did not make),
                        ``read_kind`` / ``read_kinds`` (type names)
======================  ===========================================================
"""

import operator

# Python's operator syntax, the one closed part of the operator table (``kit/operators.py`` holds the rest:
# every other operator is a method of the same name, so an assignment's new operator needs nothing here).
_SYNTAX = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
           "pow": operator.pow, "neg": operator.neg}


def apply(name, args):
    """The operator ``name`` on operands that support it (Values: the student's or the reference's)."""
    syntax = _SYNTAX.get(name)
    if syntax is not None:
        return syntax(*args)
    if not name.isidentifier() or name.startswith("_"):
        raise ValueError(f"unknown op {name}")
    return getattr(args[0], name)(*args[1:])


def _describe(exc):
    text = ""
    try:
        text = str(exc)
    except BaseException:  # noqa: B036 - a hostile __str__
        text = "<unprintable>"
    return {"type": type(exc).__name__, "message": text[:500]}


def _num(x):
    value = float(x)
    if type(value) is not float:  # a float subclass could carry behaviour; keep only the number
        value = float.__float__(value)
    return value


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
                nodes[handle] = apply(name, [_operand(a, nodes) for a in args])
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
