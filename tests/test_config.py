"""Configuration is read one way: overrides parsed once, every value from the traitlets class that declares it."""

from __future__ import annotations

import ast
import contextlib
import pickle
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
