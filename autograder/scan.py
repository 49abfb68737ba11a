"""Static scan of student code: flags for the instructor, never a score change.

It parses each student cell and reports constructs that have no place in an
honest answer and that the known attacks on in-kernel grading rely on:
importing the reference or the grader, monkeypatching builtins, IPython or
hypothesis, ``sys.modules``/import hooks, input transformers, custom exception
handlers, process exits and introspection of the grader's frames.
"""

from __future__ import annotations

import ast
import re

from autograder.checks.kit.operators import forward_calls

FORBIDDEN_MODULES = {"zengrad_ref": "imports the reference engine", "autograder": "imports the grader",
                     "nbgrader": "imports nbgrader", "hypothesis": "imports hypothesis",
                     "ctypes": "imports ctypes", "gc": "imports gc", "importlib": "imports importlib",
                     "inspect": "imports inspect", "builtins": "imports builtins", "signal": "imports signal",
                     "subprocess": "imports subprocess", "pytest": "imports pytest",
                     "IPython": "imports IPython", "atexit": "imports atexit", "sqlite3": "imports sqlite3",
                     "socket": "imports socket", "multiprocessing": "imports multiprocessing",
                     "pickle": "imports pickle", "marshal": "imports marshal", "shutil": "imports shutil"}
SUSPICIOUS_ATTRS = {
    "input_transformers_post": "installs an IPython input transformer",
    "input_transformers_cleanup": "installs an IPython input transformer",
    "set_custom_exc": "installs a custom exception handler",
    "showtraceback": "patches traceback display",
    "excepthook": "replaces an exception hook",
    "meta_path": "touches import hooks (sys.meta_path)",
    "path_hooks": "touches import hooks (sys.path_hooks)",
    "modules": "touches sys.modules",
    "_exit": "exits the process",
    "settrace": "installs a trace function",
    "setprofile": "installs a profile function",
    "register_magic_function": "registers a magic",
    "_getframe": "inspects interpreter frames",
    "f_back": "inspects interpreter frames",
    "f_globals": "inspects interpreter frames",
    "__builtins__": "touches builtins",
    "__class__": "rewrites an object's class",
    "__code__": "rewrites a function's code",
    "fork": "starts processes (os.fork)",
    "kill": "signals processes",
    "killpg": "signals processes",
    "setsid": "detaches a process",
    "walk": "walks the file system",
}
FORWARD_OPS = forward_calls()  # .tanh(), .__add__(), ...: what recomputing the forward pass calls


def _numerical_backward(fn: ast.FunctionDef) -> str | None:
    """Why a ``_backward`` looks like numerical differentiation (it recomputes the forward pass), if it does."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in ("Value", "numerical_derivative", "check_gradients"):
                return f"calls {f.id}(...)"
            if isinstance(f, ast.Attribute) and f.attr in FORWARD_OPS and not (
                    isinstance(f.value, ast.Name) and f.value.id == "math"):
                return f"calls .{f.attr}() again"
        if isinstance(node, ast.Constant) and isinstance(node.value, float) and 0 < abs(node.value) <= 1e-3:
            return f"uses a tiny step h = {node.value!r}"
    return None
SUSPICIOUS_CALLS = {"exit": "exits the process", "quit": "exits the process", "get_ipython": "uses the IPython shell",
                    "__import__": "imports dynamically", "exec": "executes generated code",
                    "eval": "evaluates generated code", "compile": "compiles generated code",
                    "open": "opens files", "setattr": "sets attributes dynamically",
                    "globals": "rewrites global names"}
MAGIC = re.compile(r"^\s*(%|!)", re.M)


def scan_source(source: str) -> list[dict]:
    """Findings for one cell: dicts with kind, detail and line."""
    findings: list[dict] = []

    def add(kind: str, detail: str, line: int | None) -> None:
        findings.append({"kind": kind, "detail": detail, "line": line})

    for m in MAGIC.finditer(source):
        line = source[: m.start()].count("\n") + 1
        add("ipython-magic", f"uses an IPython magic or shell escape: {source.splitlines()[line - 1].strip()[:60]}",
            line)
    cleaned = MAGIC.sub(lambda m: m.group(0).replace("%", "#").replace("!", "#"), source)
    try:
        tree = ast.parse(cleaned)
    except SyntaxError as exc:
        add("syntax-error", f"does not parse: {exc.msg}", exc.lineno)
        return findings
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top in FORBIDDEN_MODULES:
                    add("suspicious-import", FORBIDDEN_MODULES[top], line)
                if top == "os" and isinstance(node, ast.ImportFrom) and any(a.name == "_exit" for a in node.names):
                    add("process-exit", "imports os._exit", line)
        elif isinstance(node, ast.Attribute) and node.attr in SUSPICIOUS_ATTRS:
            kind = "process-exit" if node.attr == "_exit" else "monkeypatching"
            add(kind, SUSPICIOUS_ATTRS[node.attr], line)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SUSPICIOUS_CALLS:
            kind = "process-exit" if node.func.id in ("exit", "quit") else "dynamic-code"
            add(kind, SUSPICIOUS_CALLS[node.func.id], line)
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id in (
                        "math", "hypothesis", "builtins", "sys", "os", "gradcheck", "json", "float", "abs"):
                    add("monkeypatching", f"assigns to {t.value.id}.{t.attr}", line)
                if isinstance(t, ast.Name) and t.id in ("check", "check_gradients", "float", "abs", "isinstance",
                                                         "AssertionError", "print", "len", "round", "max", "min"):
                    add("monkeypatching", f"redefines the name {t.id}", line)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in (
                "check", "check_gradients", "float", "abs", "isinstance", "AssertionError"):
            add("monkeypatching", f"redefines the name {node.name}", line)
        elif isinstance(node, ast.FunctionDef) and node.name == "_backward" and (why := _numerical_backward(node)):
            add("numerical-gradient", f"a _backward that recomputes the forward pass ({why}): numerical "
                                      "differentiation instead of the local derivative?", line)
        elif isinstance(node, ast.FunctionDef) and node.name in ("__eq__", "__ne__", "__le__", "__lt__", "__ge__",
                                                                 "__gt__", "__abs__", "__float__", "__bool__"):
            add("comparison-override", f"defines {node.name}, which can fake test comparisons", line)
    # one finding per (kind, detail, line)
    unique = {(f["kind"], f["detail"], f["line"]): f for f in findings}
    return list(unique.values())
