"""Configuration is read one way: overrides parsed once, every value from the traitlets class that declares it."""

from __future__ import annotations

import ast
import contextlib
import pickle
import re
from pathlib import Path

import pytest

from autograder.grading.config import (
    NO_OVERRIDES,
    Overrides,
    course_config,
    default_job_timeout,
    initialize_app,
    sandbox_backend,
)
from autograder.preprocessors import GuardedExecute, TrustedChecks

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "autograder"


def test_overrides_keep_their_text_and_a_later_one_wins() -> None:
    o = Overrides.of(["--GuardedExecute.cell_cpu_seconds=4", "--TrustedChecks.skip_cells=plot",
                      "--GuardedExecute.cell_cpu_seconds=9"])
    assert o.args == ("--TrustedChecks.skip_cells=plot", "--GuardedExecute.cell_cpu_seconds=9")
    assert Overrides.of(o) is o and bool(o) and not NO_OVERRIDES
    both = Overrides.of(["--A.b=1"]) + ["--A.b=2", "--C.d=3"]
    assert both.args == ("--A.b=2", "--C.d=3")
    with pytest.raises(ValueError, match="--Class.trait=value"):
        Overrides.of(["--workers", "4"])


def test_override_values_are_typed_by_the_class_that_declares_them() -> None:
    o = Overrides.of(["--GuardedExecute.cell_cpu_seconds=4", "--TrustedChecks.skip_cells=plot"])
    assert GuardedExecute(config=o.config).cell_cpu_seconds == 4.0
    assert TrustedChecks(config=o.config).skip_cells == ["plot"]
    travelled = pickle.loads(pickle.dumps(o))  # to a Dask worker: the text travels, the parse is redone there
    assert travelled == o and hash(travelled) == hash(o) and "config" not in vars(travelled)
    assert GuardedExecute(config=travelled.config).cell_cpu_seconds == 4.0


def test_the_job_timeout_comes_from_the_classes_their_config_and_the_overrides(tmp_path: Path) -> None:
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")  # nothing set: the classes' defaults
    defaults = (GuardedExecute.class_traits()["notebook_timeout"].default_value
                + 2 * TrustedChecks.class_traits()["cpu_seconds"].default_value + 120)
    assert default_job_timeout(course_config(tmp_path)) == defaults
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.GuardedExecute.notebook_timeout = 100\n")
    assert default_job_timeout(course_config(tmp_path)) == 100 + 2 * 600 + 120
    shorter = course_config(tmp_path, ["--TrustedChecks.cpu_seconds=10", "--GuardedExecute.notebook_timeout=50"])
    assert default_job_timeout(shorter) == 50 + 2 * 10 + 120
    assert sandbox_backend(course_config(tmp_path)).name == "bwrap"  # the Sandbox class's default


def test_overrides_outrank_the_course_config_in_an_nbgrader_app() -> None:
    from nbgrader.apps.autogradeapp import AutogradeApp

    with contextlib.chdir(REPO):  # nbgrader_config.py says cell_cpu_seconds = 60
        plain, overridden = AutogradeApp(), AutogradeApp()
        initialize_app(plain, NO_OVERRIDES, ["--force"])
        initialize_app(overridden, Overrides.of(["--GuardedExecute.cell_cpu_seconds=7",
                                                 "--CourseDirectory.course_id=elsewhere"]), ["--force"])
    assert GuardedExecute(parent=plain).cell_cpu_seconds == 60
    assert GuardedExecute(parent=overridden).cell_cpu_seconds == 7
    assert overridden.coursedir.course_id == "elsewhere" and plain.coursedir.course_id == "zengrad"
    assert overridden.config.Autograde.force is True  # the argv given is parsed as nbgrader parses it
    assert "parse_command_line" not in vars(overridden)


def _sources() -> dict[str, ast.Module]:
    return {str(p.relative_to(REPO)): ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}


def test_overrides_are_parsed_in_one_place() -> None:
    users = {path for path, tree in _sources().items() for node in ast.walk(tree)
             if isinstance(node, ast.Name | ast.alias) and "KVArgParseConfigLoader" in ast.unparse(node)}
    assert users == {"autograder/grading/config.py"}


def test_no_raw_config_section_is_read_with_its_default_typed_again() -> None:
    """``cfg.GuardedExecute.get("notebook_timeout", 1800)`` repeats a default the class declares: never."""
    found = []
    for path, tree in _sources().items():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("get", "items", "keys", "values")
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr[:1].isupper()):
                found.append(f"{path}:{node.lineno}: {ast.unparse(node)}")
    assert found == []


# --- the README's knob lists: checked against the classes that declare the knobs --------------------------------

KNOB = re.compile(r"`(?:c\.)?(?:([A-Z]\w*)\.)?([a-z_]\w*)`\s*\((?:`([^`]+)`|(\d+(?:\.\d+)?))")
EXAMPLE = re.compile(r"^\s*c\.([A-Z]\w*)\.(\w+)\s*=.*#.*\[([^\]]+)\]\s*$")


def knob_class(name: str) -> type:
    from nbgrader.preprocessors import Execute

    from autograder.sandbox.jail import Sandbox
    from autograder.service.policy import GradingService

    return {"GuardedExecute": GuardedExecute, "TrustedChecks": TrustedChecks, "Execute": Execute,
            "Sandbox": Sandbox, "GradingService": GradingService}[name]


def readme_knobs(text: str) -> list[tuple[str, str, str, bool]]:
    """(class, trait, value as written, is it the class's default) for every knob the text gives a value:
    ```Class.trait` (value)`` (a bare ```trait` (value)`` belongs to the class named before it in the same
    paragraph) is the course's value; ``c.Class.trait = ...  # ... [value]`` states the class's default."""
    found = []
    for paragraph in text.split("\n\n"):
        current = None
        for match in KNOB.finditer(paragraph):
            current = match[1] or current
            if current is not None:
                found.append((current, match[2], match[3] or match[4], False))
        for line in paragraph.splitlines():
            example = EXAMPLE.match(line)
            if example:
                found.append((example[1], example[2], example[3], True))
    return found


def test_the_knob_reader_reads_what_the_readme_writes() -> None:
    text = ("* `GuardedExecute.cell_cpu_seconds` (60), `notebook_cpu_seconds` (300), backstops\n"
            "  `Execute.timeout` (600 s per cell);\n"
            "  `GradingService.workers` (0: one per core), `state_dir` (`service`)\n"
            "\n  c.GradingService.window_minutes = 60           # ... per window [60]\n")
    assert readme_knobs(text) == [("GuardedExecute", "cell_cpu_seconds", "60", False),
                                  ("GuardedExecute", "notebook_cpu_seconds", "300", False),
                                  ("Execute", "timeout", "600", False), ("GradingService", "workers", "0", False),
                                  ("GradingService", "state_dir", "service", False),
                                  ("GradingService", "window_minutes", "60", True)]


def test_the_readme_s_knob_values_are_the_classes_own() -> None:
    """The README's numbers are what the classes read from this course's configuration (or, in brackets, the
    classes' defaults): a changed default or config shows up here, not as a stale third copy."""
    cfg = course_config(REPO)
    knobs = readme_knobs((REPO / "README.md").read_text())
    assert len(knobs) >= 15
    for cls_name, trait, written, is_default in knobs:
        cls = knob_class(cls_name)
        value = getattr(cls() if is_default else cls(config=cfg), trait)
        expected = value if isinstance(value, str) else float(value)
        got = written.strip('"') if isinstance(value, str) else float(written)
        assert got == expected, f"README says {cls_name}.{trait} is {written}; the class reads {value!r}"
