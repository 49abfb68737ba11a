"""The shape of ``autograder/`` read from its source (AST, nothing imported): no import circle, one grading
function behind every way of grading, one writer of the gradebook, and no module-level state that feeds a plugin."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "autograder"
MUTABLE_CALLS = {"dict", "list", "set", "defaultdict", "OrderedDict", "deque", "Counter"}


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = modules()
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _owner(name: str) -> str | None:
    """The package module that ``name`` (a module or a name inside one) is defined in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str) -> Iterator[tuple[str, str]]:
    """(imported module, imported name or '') for every import statement of ``module``, at any depth."""
    is_package = MODULES[module].name == "__init__.py"
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ""
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                yield base, alias.name


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (module level and inside functions alike)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for base, name in imports(module):
            target = f"{base}.{name}" if f"{base}.{name}" in MODULES else _owner(base)
            if target and target != module:
                graph[module].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_circle_finder_finds_a_circle_through_a_function_level_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    tree = ast.parse("def f():\n    from autograder.grading import private\n")
    assert [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)] == ["autograder.grading"]


def test_no_import_circle_in_the_package() -> None:
    assert circles(import_graph()) == []


def calls_of(function: str) -> set[str]:
    """The modules whose code calls ``function`` (by name or as an attribute)."""
    found = set()
    for module, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                callee = node.func.id if isinstance(node.func, ast.Name) else \
                    node.func.attr if isinstance(node.func, ast.Attribute) else None
                if callee == function:
                    found.add(module)
    return found


def test_one_grading_function_behind_batch_dask_serve_and_gradescope() -> None:
    assert calls_of("grade_submission") == {
        "autograder.grading.pool",  # zengrad-kit grade, local workers
        "autograder.grading.cluster",  # zengrad-kit grade --scheduler (Dask)
        "autograder.service.worker",  # zengrad-kit serve (local workers and Dask)
        "autograder.gradescope.runner",  # Gradescope's container
    }
    # a grading session is opened only for a private course (and, as the recorder, by the coordinator)
    assert calls_of("GradingSession") == {"autograder.grading.private"}
    assert calls_of("RecordingSession") == {"autograder.grading.run"}


def _module_level_mutables(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        targets: list[ast.expr] = []
        value = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        mutable = isinstance(value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp | ast.SetComp) or (
            isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in MUTABLE_CALLS)
        if mutable:
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def plugin_global_reads() -> dict[str, set[str]]:
    """Plugin class (anything with a ``preprocess`` method) -> the module-level mutable names its methods read,
    its own module's and those it imports from other modules of the package."""
    mutables = {m: _module_level_mutables(t) for m, t in TREES.items()}
    found: dict[str, set[str]] = {}
    for module, tree in TREES.items():
        visible = set(mutables[module])
        for base, name in imports(module):
            if base in mutables and name in mutables[base]:
                visible.add(name)
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            methods = [n for n in cls.body if isinstance(n, ast.FunctionDef)]
            if not any(m.name.startswith("preprocess") for m in methods):
                continue
            read = {n.id for m in methods for n in ast.walk(m) if isinstance(n, ast.Name) and n.id in visible}
            if read:
                found[f"{module}.{cls.name}"] = read
    return found


def test_the_plugin_check_sees_a_module_global_feeding_a_plugin() -> None:
    tree = ast.parse("_LEVELS: dict[str, str] = {}\nFIXED = ('a',)\n"
                     "class ApplyIt:\n    def preprocess(self, nb, resources):\n        return _LEVELS.get(FIXED[0])\n")
    assert _module_level_mutables(tree) == {"_LEVELS"}


def test_no_module_level_mutable_state_feeds_an_nbgrader_plugin() -> None:
    plugins = plugin_global_reads()
    assert plugins == {}, "plugins must get per-run data through nbgrader's resources"
