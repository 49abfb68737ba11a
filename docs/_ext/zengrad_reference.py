"""The reference pages of the docs, generated from the code: never typed by hand.

Each ``*_reference()`` function reads one part of the code and returns a MyST Markdown page body:

* :func:`cli_reference`: every subcommand and flag, walked from the argparse parser ``autograder.cli.build_parser``;
* :func:`config_reference`: every ``Configurable`` class of ``autograder`` (found by importing every module) with
  each ``config=True`` trait's type, default and help, and the value the course's ``nbgrader_config.py`` sets;
* :func:`outcomes_reference`: the reason vocabulary (``autograder/reasons.py``) and the exit statuses;
* :func:`schema_reference`: ``metadata.zengrad`` (``autograder/preprocessors/metadata.py``), ``outcomes.json`` and the
  ``results.json`` files, the latter made by calling their writers;
* :func:`checks_reference`: every grade cell of every source notebook and the hidden checks it names.

``docs/conf.py`` writes them into ``docs/_generated/`` when Sphinx starts (as nbgrader's own docs generate their
configuration reference), and the reference pages include them. This module needs the project importable and
nothing from Sphinx, so the tests call it directly.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import inspect
import io
import json
import pkgutil
import re
import sys
import tempfile
import textwrap
import tokenize
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # document this checkout's code, whatever else the environment has installed
PROG = "zengrad-kit"
# Modules of the package that are not modules of the grader: the known-good pieces are plain source executed inside
# the sandboxed worker, in a student's globals (autograder/checks/pieces/__init__.py), and a __main__ runs a program.
NOT_IMPORTED = ("autograder.checks.pieces.",)

# ------------------------------------------------------------------------------------------------ Markdown helpers
_ESCAPE = re.compile(r"([\\`*_\[\]<>|$&~{}])")


def md(text: str) -> str:
    """Plain text as inert Markdown: every character that could start markup is escaped; one line."""
    return _ESCAPE.sub(r"\\\1", re.sub(r"\s+", " ", str(text)))


def inline(text: str) -> str:
    """Text whose ``double`` or `single` backquoted parts are code (docstrings, help strings); the rest inert."""
    parts = re.split(r"``(.+?)``|`([^`]+)`", re.sub(r"\s+", " ", str(text)))
    out = []
    for i, part in enumerate(parts):
        if i % 3 == 0:
            out.append(md(part))
        elif part is not None:
            out.append(code(part))
    return "".join(out).strip()


def code(text: str) -> str:
    """A code span that holds ``text`` exactly, safe in a table cell."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def label(*parts: str) -> str:
    """A MyST target name (Sphinx lowercases labels): ``config-sandbox``, ``cli-hub-setup``."""
    return "-".join(re.sub(r"[^a-z0-9]+", "-", p.lower()).strip("-") for p in parts)


def rst_to_md(text: str) -> str:
    """A docstring's first paragraph, its reST markup made Markdown-safe."""
    para = inspect.cleandoc(text or "").split("\n\n")[0]
    para = re.sub(r":\w+:`~?([\w.]+)`", lambda m: f"``{m.group(1).rsplit('.', 1)[-1]}``", para)
    return inline(para)


def source_path(module: Any) -> str:
    """A module's file, relative to the checkout (an error that says so when the module comes from elsewhere)."""
    path = Path(inspect.getfile(module)).resolve()
    if REPO not in path.parents:
        raise RuntimeError(f"{module.__name__} was imported from {path}, not from this checkout ({REPO}): the docs "
                           "describe the checkout's code; build them with its own environment (pip install -e .)")
    return path.relative_to(REPO).as_posix()


def trailing_comments(path: Path) -> dict[int, str]:
    """Line number -> the comment at the end of that line (what the code says about a name defined there)."""
    out: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string.lstrip("#").strip()
    return out


def _generated_note(*sources: str) -> str:
    names = ", ".join(code(s) for s in sources)
    return f"*Generated when the docs are built, from {names}: edit the code, not this page.*\n"


# ------------------------------------------------------------------------------------------------------- the CLI
@dataclasses.dataclass(frozen=True)
class CliOption:
    """One argument of one subcommand."""

    flags: tuple[str, ...]  # ("-o", "--output"), or () for a positional
    metavar: str
    default: Any
    choices: tuple[str, ...] | None
    help: str
    required: bool
    kind: str  # "positional", "flag" (takes no value), "option"
    repeatable: bool

    @property
    def name(self) -> str:
        return self.flags[-1] if self.flags else self.metavar


@dataclasses.dataclass(frozen=True)
class CliCommand:
    """One subcommand (``("hub", "setup")``) and its arguments."""

    path: tuple[str, ...]
    help: str
    description: str
    usage: str
    options: tuple[CliOption, ...]
    subcommands: tuple[str, ...]  # a command with subcommands of its own (``hub``)

    @property
    def name(self) -> str:
        return " ".join(self.path)


USAGE_WIDTH = 110


def usage(parser: argparse.ArgumentParser) -> str:
    """The usage line argparse prints, wrapped at a fixed width (not the terminal's), without the trailing newline."""
    formatter = parser.formatter_class(prog=parser.prog, width=USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _option(parser: argparse.ArgumentParser, action: argparse.Action) -> CliOption:
    formatter = parser._get_formatter()
    helptext = formatter._expand_help(action) if action.help else ""
    if action.option_strings:
        takes_value = action.nargs != 0
        metavar = formatter._format_args(action, action.dest.upper()) if takes_value else ""
        kind = "option" if takes_value else "flag"
    else:
        metavar = formatter._format_args(action, action.dest)
        kind = "positional"
    default = action.default
    if kind == "flag" and isinstance(action, argparse._StoreTrueAction):
        default = False
    # argparse marks a positional with nargs="*" required; it is not
    required = action.required if action.option_strings else action.nargs not in ("?", "*")
    return CliOption(tuple(action.option_strings), metavar, default,
                     tuple(map(str, action.choices)) if action.choices else None, " ".join(helptext.split()),
                     required, kind, isinstance(action, argparse._AppendAction) or action.nargs in
                     ("*", "+"))


def cli_commands(parser: argparse.ArgumentParser | None = None) -> list[CliCommand]:
    """Every subcommand of ``zengrad-kit``, depth first, as argparse knows it."""
    if parser is None:
        from autograder.cli import build_parser

        parser = build_parser()

    def walk(p: argparse.ArgumentParser, path: tuple[str, ...], helptext: str) -> Iterator[CliCommand]:
        sub = _subparsers(p)
        options = tuple(_option(p, a) for a in p._actions
                        if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction))
        yield CliCommand(path, helptext, p.description or "", usage(p), options,
                         tuple(sub.choices) if sub else ())
        if sub:
            helps = {a.dest: a.help or "" for a in sub._choices_actions}
            for name, child in sub.choices.items():
                yield from walk(child, (*path, name), helps.get(name, ""))

    return list(walk(parser, (), parser.description or ""))[1:]


def cli_label(command: CliCommand | tuple[str, ...]) -> str:
    path = command.path if isinstance(command, CliCommand) else command
    return label("cli", *path)


def _default_cell(option: CliOption) -> str:
    if option.kind == "flag":
        return "off"
    if option.default is None or option.default == argparse.SUPPRESS:
        return ""
    return code(option.default)


def cli_reference(parser: argparse.ArgumentParser | None = None) -> str:
    from autograder import cli

    if parser is None:
        parser = cli.build_parser()
    commands = cli_commands(parser)
    out = [_generated_note("autograder/cli.py", "autograder/hub/commands.py"),
           f"Every command takes `-h` (`{PROG} grade -h`). Commands that grade also take nbgrader configuration "
           "overrides, `--Class.trait=value` (see [the configuration reference](configuration.md)).\n",
           f"## `{PROG}`\n", "```text", usage(parser), "", parser.description.strip().replace("``", ""),
           "```\n", table(["command", "what it does"],
                          [[f"[{code(PROG + ' ' + c.name)}](#{cli_label(c)})", inline(c.help)] for c in commands]), ""]
    for c in commands:
        out += [f"({cli_label(c)})=", f"## `{PROG} {c.name}`\n", inline(c.description or c.help) + "\n",
                "```text", c.usage, "```\n"]
        if c.subcommands:
            out.append("Subcommands: " + ", ".join(f"[{code(PROG + ' ' + c.name + ' ' + s)}]"
                                                   f"(#{cli_label((*c.path, s))})" for s in c.subcommands) + ".\n")
        rows = []
        for o in c.options:
            name = ", ".join(code(f) for f in o.flags) if o.flags else code(o.metavar)
            if o.flags and o.metavar:
                name += " " + code(o.metavar)
            notes = []
            if o.choices:
                notes.append("one of " + ", ".join(code(ch) for ch in o.choices))
            if o.required:
                notes.append("required")
            if o.repeatable and o.kind != "positional" and "repeatable" not in o.help:
                notes.append("repeatable")
            helptext = inline(o.help) + (f" ({'; '.join(notes)})" if notes else "")
            rows.append([name, _default_cell(o), helptext.strip()])
        if rows:
            out += [table(["argument", "default", "what it is"], rows), ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------- configurable classes
@dataclasses.dataclass(frozen=True)
class Knob:
    """One ``config=True`` trait of one class."""

    owner: str  # the class name, as in c.<owner>.<name>
    name: str
    type: str
    default: str  # the default as Python source (what c.Owner.name = ... takes)
    help: str
    course: str | None  # what the course's nbgrader_config.py assigns, as source, or None

    @property
    def key(self) -> str:
        return f"{self.owner}.{self.name}"


@dataclasses.dataclass(frozen=True)
class ConfigClass:
    name: str
    module: str
    path: str
    doc: str
    knobs: tuple[Knob, ...]
    inherited: tuple[tuple[str, tuple[str, ...]], ...]  # (class that defines them, trait names)


def autograder_modules() -> list[str]:
    """Every module of ``autograder``, imported (an import error fails loudly: nothing is skipped by accident)."""
    import autograder

    names = []
    for info in pkgutil.walk_packages(autograder.__path__, "autograder."):
        if info.name.endswith(".__main__") or info.name.startswith(NOT_IMPORTED):
            continue
        importlib.import_module(info.name)
        names.append(info.name)
    return names


def configurable_classes() -> list[type]:
    """Every ``traitlets.config.Configurable`` subclass defined in ``autograder``, by name."""
    from traitlets.config import Configurable

    autograder_modules()
    found: dict[str, type] = {}

    def walk(cls: type) -> None:
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("autograder.") and f"{sub.__module__}.{sub.__qualname__}" not in found:
                found[f"{sub.__module__}.{sub.__qualname__}"] = sub
            walk(sub)

    walk(Configurable)
    return sorted(found.values(), key=lambda c: (c.__name__, c.__module__))


@cache
def course_settings(config_file: Path = REPO / "nbgrader_config.py") -> dict[str, str]:
    """``Class.trait`` -> the source of the value the course's ``nbgrader_config.py`` assigns (read, not run)."""
    text = config_file.read_text()
    out: dict[str, str] = {}
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Attribute)
                    and isinstance(target.value.value, ast.Name) and target.value.value.id == "c"):
                out[f"{target.value.attr}.{target.attr}"] = ast.get_source_segment(text, node.value) or ""
    return out


def _trait_type(trait: Any) -> str:
    from traitlets import Enum

    kind = type(trait).__name__
    if isinstance(trait, Enum):
        return "one of " + ", ".join(repr(v) for v in trait.values)
    if kind in ("List", "Set", "Tuple") and getattr(trait, "_trait", None) is not None:
        return f"{kind} of {type(trait._trait).__name__}"
    return kind


def config_class(cls: type) -> ConfigClass:
    settings = course_settings()
    own = cls.class_own_traits(config=True)
    knobs = tuple(Knob(cls.__name__, name, _trait_type(t), t.default_value_repr(), " ".join((t.help or "").split()),
                       settings.get(f"{cls.__name__}.{name}")) for name, t in sorted(own.items()))
    inherited: dict[str, list[str]] = {}
    for name in sorted(set(cls.class_traits(config=True)) - set(own)):
        definer = next(k for k in cls.__mro__ if name in getattr(k, "class_own_traits", lambda **_: {})(config=True))
        inherited.setdefault(f"{definer.__module__.split('.')[0]}'s {definer.__name__}", []).append(name)
    module = importlib.import_module(cls.__module__)
    return ConfigClass(cls.__name__, cls.__module__, source_path(module), cls.__doc__ or "", knobs,
                       tuple((k, tuple(v)) for k, v in sorted(inherited.items())))


def config_classes() -> list[ConfigClass]:
    return [config_class(c) for c in configurable_classes()]


def knobs() -> dict[str, Knob]:
    """``Class.trait`` -> its :class:`Knob`, for every configurable trait of ``autograder``."""
    return {k.key: k for c in config_classes() for k in c.knobs}


def default_of(name: str) -> str:
    """The default the code has for a knob (``Sandbox.home_mb``), a flag (``lms --errors``) or a constant
    (``autograder.results.similarity.THRESHOLD``), as it is written in the references; LookupError if unknown."""
    words = name.split()
    if any(w.startswith("-") for w in words):
        path = " ".join(w for w in words if not w.startswith("-"))
        flag = next(w for w in words if w.startswith("-"))
        command = {c.name: c for c in cli_commands()}.get(path)
        option = next((o for o in command.options if flag in o.flags), None) if command else None
        if option is None:
            raise LookupError(f"no flag {flag} of {PROG} {path}")
        if option.kind != "flag" and option.default is None:
            raise LookupError(f"{PROG} {path} {flag} has no default in the parser (its help says what happens)")
        return "off" if option.kind == "flag" else str(option.default)
    knob = knobs().get(name.removeprefix("c."))
    if knob is not None:
        return knob.default
    module, _, attr = name.rpartition(".")
    try:
        return repr(getattr(importlib.import_module(module), attr))
    except (ImportError, AttributeError, ValueError):
        raise LookupError(f"{name} is no configurable trait, flag or constant of the code") from None


def config_label(name: str) -> str:
    return label("config", name)


def config_reference() -> str:
    classes = config_classes()
    settings = course_settings()
    with_knobs = [c for c in classes if c.knobs]
    without = [c for c in classes if not c.knobs]
    out = [_generated_note("autograder/", "nbgrader_config.py"),
           "Set a knob in the course's `nbgrader_config.py` (`c.Sandbox.home_mb = 128`), or for one run on the "
           "command line of a command that grades (`zengrad-kit grade --GuardedExecute.cell_cpu_seconds=10`). "
           "*Default* is the value in the code; *this course* is what the repository's `nbgrader_config.py` "
           "assigns, as written there (read, not run: some values depend on the environment).\n",
           table(["class", "what it configures", "defined in"],
                 [[f"[{code(c.name)}](#{config_label(c.name)})", rst_to_md(c.doc), code(c.path)] for c in with_knobs]),
           ""]
    for c in with_knobs:
        out += [f"({config_label(c.name)})=", f"## `{c.name}`\n", rst_to_md(c.doc) + f" ({code(c.path)})\n"]
        out.append(table(["knob", "type", "default", "this course", "what it does"],
                         [[code(f"c.{k.key}"), inline(k.type), code(k.default), code(k.course) if k.course else "",
                           inline(k.help)] for k in c.knobs]))
        if c.inherited:
            out.append("\nIt also takes the settings it inherits: " + "; ".join(
                f"from {inline(owner)}, " + ", ".join(code(n) for n in names) for owner, names in c.inherited) + ".")
        out.append("")
    out += ["(config-no-knobs)=", "## Configurable classes without knobs of their own\n",
            "They take only the settings they inherit (listed); they are named here so that every configurable "
            "class of the code is on this page.\n",
            table(["class", "what it is", "defined in", "inherited settings"],
                  [[code(c.name), rst_to_md(c.doc), code(c.path),
                    "; ".join(f"{inline(owner)}: " + ", ".join(code(n) for n in names) for owner, names in c.inherited)]
                   for c in without]), ""]
    ours = {f"{c.name}.{k.name}" for c in classes for k in c.knobs}
    others = {k: v for k, v in settings.items() if k not in ours}
    out += ["(config-course-others)=", "## What the course sets for nbgrader and nbconvert\n",
            "The other assignments of the course's `nbgrader_config.py`, to classes of nbgrader, nbconvert and "
            "traitlets (their meaning is in nbgrader's and nbconvert's own configuration references):\n",
            table(["setting", "this course"], [[code(f"c.{k}"), code(v)] for k, v in sorted(others.items())]), ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------ reasons and outcomes
def _enum_rows(enum: Any, path: Path) -> list[tuple[str, str, str]]:
    """(member name, value, the comment on its line) for every member of an enum defined in ``path``."""
    comments = trailing_comments(path)
    tree = ast.parse(path.read_text())
    lines: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == enum.__name__:
            for stmt in node.body:
                if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
                    lines[stmt.targets[0].id] = stmt.lineno
    return [(m.name, m.value, comments.get(lines.get(m.name, -1), "")) for m in enum]


def _module_constants(path: Path, pattern: str) -> list[tuple[str, str, str]]:
    """(name, value source, comment) for module-level ``NAME = value  # comment`` lines whose name matches."""
    comments = trailing_comments(path)
    text = path.read_text()
    out = []
    for node in ast.parse(text).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and re.fullmatch(pattern, node.targets[0].id)):
            out.append((node.targets[0].id, ast.get_source_segment(text, node.value) or "",
                        comments.get(node.lineno, "")))
    return out


def outcomes_reference() -> str:
    from autograder import reasons
    from autograder.results import outcomes

    path = REPO / source_path(reasons)
    outcomes_path = REPO / source_path(outcomes)
    cli_doc = importlib.import_module("autograder.cli").__doc__ or ""
    exits = cli_doc.split("Exit statuses", 1)[1].split("\n", 1)[1] if "Exit statuses" in cli_doc else ""

    def effect(member: Any) -> str:
        if member == reasons.Reason.PASSED:
            return "the check passed"
        if member in reasons.UNDETERMINED:
            return "undetermined: the submission is an error outcome (the instructor is needed)"
        return "the cell is graded: 0 for this check"

    reason_rows = [[code(value), inline(comment), inline(effect(reasons.Reason(value)))]
                   for _, value, comment in _enum_rows(reasons.Reason, path)]
    kind_rows = [[code(value), inline(comment)] for _, value, comment in _enum_rows(reasons.ErrorKind, path)]
    meaning = {outcomes.GRADED: "every cell has the score its code earned; a cell whose check failed earns 0 with "
                                "a message that says why",
               outcomes.ERROR: "the grade could not be determined and the instructor is needed; `error_kind` says "
                               "why, and the cells that could be scored keep their scores"}
    status_rows = [[code(ast.literal_eval(value)), inline(comment or meaning[ast.literal_eval(value)])]
                   for _, value, comment in _module_constants(outcomes_path, r"GRADED|ERROR")]
    from autograder.hub import guard

    exit_rows = [[code(value), inline(comment)] for path_ in (outcomes_path, REPO / source_path(guard))
                 for _, value, comment in _module_constants(path_, r"EXIT_\w+")]
    return "\n".join([
        _generated_note(source_path(reasons), source_path(outcomes), "autograder/cli.py"),
        rst_to_md(reasons.__doc__ or "") + "\n",
        "(reasons-status)=", "## A submission's status\n",
        "Every submission gets exactly one outcome: one of these statuses (`status` in `outcomes.json`, "
        "`grades.csv` and `results.json`).\n",
        table(["status", "meaning"], status_rows), "",
        "`grades.csv` also has `missing` for a student of the gradebook with no submission "
        f"({code('autograder/results/export.py')}).\n",
        "(reasons-reason)=", "## Why a hidden check ended: `Reason`\n",
        "The `reason` of a verdict (`metadata.zengrad.verdicts` in an autograded notebook, "
        "[the schema](schemas.md)).\n",
        table(["reason", "meaning", "effect"], reason_rows), "",
        "(reasons-error-kind)=", "## Why a submission is an error: `ErrorKind`\n",
        "The `error_kind` of an error outcome (`outcomes.json`, the `error` column of `grades.csv`, "
        "`results.json`, `summary.md`).\n",
        table(["error kind", "meaning"], kind_rows), "",
        "(reasons-exit)=", "## Exit statuses\n",
        f"As `{PROG} --help` states them:\n", "```text", textwrap.dedent(exits).strip(), "```\n",
        f"The constants the grading commands return ({code(source_path(outcomes))}, "
        f"{code('autograder/hub/guard.py')}):\n",
        table(["constant", "meaning"], exit_rows), ""])


# ------------------------------------------------------------------------------------------------------- schemas
def _dataclass_rows(cls: type, path: Path) -> list[list[str]]:
    comments = trailing_comments(path)
    tree = ast.parse(path.read_text())
    lines: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            for stmt in node.body:
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    lines[stmt.target.id] = stmt.lineno
    rows = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = code(repr(f.default))
        elif f.default_factory is not dataclasses.MISSING:
            default = code(repr(f.default_factory()))
        else:
            default = ""
        rows.append([code(f.name), code(f.type if isinstance(f.type, str) else getattr(f.type, "__name__", f.type)),
                     default, inline(comments.get(lines.get(f.name, -1), ""))])
    return rows


def _json_rows(data: Any, prefix: str = "") -> list[list[str]]:
    """(path, JSON type, example) of every key of an example document, lists shown by their first item."""
    rows: list[list[str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else key
            rows.append([code(path), _json_type(value), code(json.dumps(value))[:80] if not isinstance(
                value, dict | list) else ""])
            rows += _json_rows(value, path)
    elif isinstance(data, list) and data:
        rows += _json_rows(data[0], f"{prefix}[]")
    return rows


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}[type(value)]


def _example_outcomes() -> tuple[Any, Any]:
    from autograder.results.outcomes import CellResult, Outcome

    cells = [CellResult("mul_test", "ps1_operators", 0.0, 1.0,
                        "HiddenCheckFailed: multiplication a * b: a * b with a = 0.0, b = 1.0 ..."),
             CellResult("add_test", "ps1_operators", 1.0, 1.0, "")]
    graded = Outcome("ps1_operators", "amy", score=1.0, max_score=2.0, cells=cells, seconds=4.2)
    error = Outcome("ps1_operators", "bob", status="error", error_kind="kernel-died",
                    message="the kernel died while running cell 7 (exit code 1)", max_score=2.0,
                    cells=[dataclasses.replace(c, score=0.0, output="") for c in cells], seconds=3.1)
    return graded, error


def schema_reference() -> str:
    from autograder.checks import Verdict
    from autograder.gradescope import results as gs
    from autograder.preprocessors import metadata
    from autograder.results import outcomes, reports

    meta_path = REPO / source_path(metadata)
    constants = {name: (value, comment) for name, value, comment in _module_constants(meta_path, r"[A-Z_]+")}
    by_key = {ast.literal_eval(value): (name, comment) for name, (value, comment) in constants.items()
              if value.startswith('"')}

    def key_rows(keys: frozenset[str]) -> list[list[str]]:
        return [[code(k), code(by_key[k][0]), inline(by_key[k][1])] for k in sorted(keys)]

    graded, error = _example_outcomes()
    cfg = {"assignment": "ps1_operators", "visibility": gs.DEFAULT_VISIBILITY, "sandbox": "bwrap",
           "fingerprint": "0123abcd"}
    missing = REPO / "does-not-exist"  # the writers fall back to the outcome's own cell order
    bundle_graded = gs.outcome_results(cfg, missing, graded, 4.2)
    bundle_error = gs.failure_results(cfg, missing, "sandbox", "the sandbox cannot start: ...", 0.4)
    outcomes_path = REPO / source_path(outcomes)
    with tempfile.TemporaryDirectory() as tmp:
        outcomes.save_outcomes(Path(tmp), [graded, error])
        saved_outcomes = json.loads((Path(tmp) / outcomes.OUTCOMES_FILE).read_text())
    verdict_path = REPO / source_path(importlib.import_module(Verdict.__module__))

    def example(data: dict) -> list[str]:
        return ["```json", json.dumps(data, indent=1), "```"]

    return "\n".join([
        _generated_note(source_path(metadata), source_path(outcomes), source_path(reports), source_path(gs)),
        "Examples below are made by calling the writers on two made-up submissions (amy graded, bob's kernel "
        "died): the keys and their types are the code's, the values are examples.\n",
        "(schema-metadata)=", "## `metadata.zengrad` in an autograded notebook\n",
        rst_to_md(metadata.__doc__ or "") + f" The namespace is {code(metadata.NAMESPACE)}; a submission's own "
        "`zengrad` metadata is discarded.\n",
        "### Notebook records (`nb.metadata.zengrad`)\n",
        table(["key", "constant", "written by, and what it holds"], key_rows(metadata.NOTEBOOK_KEYS)), "",
        "### Cell records (`cell.metadata.zengrad` of a test cell)\n",
        table(["key", "constant", "written by, and what it holds"], key_rows(metadata.CELL_KEYS)), "",
        "(schema-verdict)=", "### A verdict (one item of `verdicts`)\n",
        "`{cell, grade_id, ...}` and the fields of `Verdict` "
        f"({code(source_path(importlib.import_module(Verdict.__module__)))}); `reason` is one of "
        "[the reasons](outcomes.md).\n",
        table(["field", "type", "default", "meaning"], _dataclass_rows(Verdict, verdict_path)), "",
        "(schema-outcomes)=", "## `reports/outcomes.json`\n",
        "`{\"outcomes\": [...]}`: one outcome per submission, sorted by assignment and student, each the fields of "
        f"`Outcome` and each cell a `CellResult` ({code(source_path(outcomes))}), written by `save_outcomes`; "
        "`log` is written to `autograde.log` next to `results.json` instead.\n",
        table(["field", "type", "default", "meaning"], _dataclass_rows(outcomes.Outcome, outcomes_path)), "",
        "`cells[]`:\n", table(["field", "type", "default", "meaning"],
                              _dataclass_rows(outcomes.CellResult, outcomes_path)), "",
        "The file `save_outcomes` writes for the two examples:\n", *example(saved_outcomes), "",
        "(schema-results-json)=", "## `reports/<assignment>/<student>/results.json`\n",
        f"Written by `zengrad-kit grade` for every submission ({code(source_path(reports))}, "
        "`gradescope_results`), in Gradescope's autograder schema: one test per grade cell.\n",
        table(["key", "type", "example"], _json_rows(reports.gradescope_results(graded))), "",
        "Graded:\n", *example(reports.gradescope_results(graded)), "", "An error outcome:\n",
        *example(reports.gradescope_results(error)), "",
        "(schema-gradescope)=", "## `results.json` of the Gradescope autograder\n",
        f"What the bundle `zengrad-kit gradescope` builds writes to `/autograder/results/results.json` "
        f"({code(source_path(gs))}): a visible *submission check* first, then one test per grade cell with the "
        "bundle's visibility.\n",
        table(["key", "type", "example"], _json_rows(bundle_graded)), "",
        "Graded:\n", *example(bundle_graded), "", "Nothing could be graded (here: the sandbox could not start):\n",
        *example(bundle_error), ""])


# ---------------------------------------------------------------------------------------------- hidden checks
def grade_cells(assignment: str) -> list[tuple[str, float, list[str]]]:
    """(grade_id, points, hidden check ids) of every graded test cell of a source notebook."""
    import nbformat

    from autograder.preprocessors.trusted_checks import CHECK_CALL

    rows = []
    for path in sorted((REPO / "source" / assignment).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and cell.cell_type == "code":
                rows.append((meta["grade_id"], float(meta.get("points", 0)), CHECK_CALL.findall(cell.source)))
    return rows


def checks_reference() -> str:
    from autograder.checks import load_all
    from autograder.release import assignments

    registry = load_all()
    out = [_generated_note("source/*/*.ipynb", "autograder/checks/"),
           "Every graded test cell of every source notebook, and the hidden checks its `### BEGIN HIDDEN TESTS` "
           "block names (`check(\"id\")`), with each check's title from the registry. A cell's score is its "
           "checks' verdict, computed outside the student's kernel.\n"]
    unknown = []
    for assignment in assignments(REPO):
        rows = []
        for grade_id, points, ids in grade_cells(assignment):
            unknown += [i for i in ids if i not in registry]
            rows.append([code(grade_id), f"{points:g}", "<br>".join(
                f"{code(i)}: {inline(registry[i].title) if i in registry else 'NOT REGISTERED'}" for i in ids)
                or "none (scored by its visible asserts)"])
        total = sum(p for _, p, _ in grade_cells(assignment))
        out += [f"({label('checks', assignment)})=", f"## `{assignment}` ({total:g} points)\n",
                table(["grade cell", "points", "hidden checks"], rows), ""]
    if unknown:
        raise ValueError(f"source notebooks name checks that are not registered: {sorted(set(unknown))}")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------- the tests
def _marks(tree: ast.Module) -> dict[str, int]:
    """How many tests (or the whole module, ``pytestmark``) carry each ``pytest.mark.<name>``."""
    counts: dict[str, int] = {}
    for node in ast.walk(tree):
        found = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
            found = [ast.unparse(d) for d in node.decorator_list]
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark"
                                                  for t in node.targets):
            found = [ast.unparse(node.value)]
        for text in found:
            for mark in set(re.findall(r"pytest\.mark\.(\w+)", text)):
                counts[mark] = counts.get(mark, 0) + 1
    return counts


def tests_reference() -> str:
    """Every test module, its docstring's first sentence, how many tests it has and which tiers they are in."""
    rows = []
    for path in sorted((REPO / "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text())
        doc = (ast.get_docstring(tree) or "").split("\n\n")[0]
        tests = sum(1 for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                    and n.name.startswith("test_"))
        marks = _marks(tree)
        tiers = ", ".join(f"{name} ({n})" for name, n in sorted(marks.items()) if name in ("slow", "browser"))
        rows.append([code(path.relative_to(REPO).as_posix()), str(tests), inline(tiers), rst_to_md(doc)])
    return "\n".join([_generated_note("tests/test_*.py"),
                      "*tests* counts the test functions (a parametrized one runs several times); *marked* counts "
                      "the tests (or `pytestmark`) that carry a tier's mark in the file; `tests/tiers.py` makes more of "
                      "them slow by rule when the suite is collected.\n",
                      table(["file", "tests", "marked", "what it shows"], rows), ""])


PAGES = {
    "cli.md": cli_reference,
    "configuration.md": config_reference,
    "outcomes.md": outcomes_reference,
    "schemas.md": schema_reference,
    "checks.md": checks_reference,
    "tests.md": tests_reference,
}


def write_all(folder: Path) -> list[str]:
    """Write every generated page into ``folder``; only files whose text changed are rewritten. Their names."""
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, make in PAGES.items():
        text = make().rstrip() + "\n"
        path = folder / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(name)
    return changed
