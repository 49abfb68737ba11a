"""Sphinx glue for the zengrad-kit docs: the generated references, and roles that name code the build checks.

* When Sphinx starts, every page of :mod:`zengrad_reference` is written to ``docs/_generated/`` (only the changed
  ones), and the pages of ``docs/reference/`` include them.
* Roles that write a name of the code in a page, so that a renamed or removed name fails the build (``-W``), and no
  page types a default by hand:

  - ``{knob}`Sandbox.home_mb``` → ``c.Sandbox.home_mb``, linked to its entry in the configuration reference;
  - ``{default}`Sandbox.home_mb``` → its default, read from the code (``64``); also of a flag
    (``{default}`lms --errors```) or a constant (``{default}`autograder.results.similarity.THRESHOLD```);
  - ``{cli}`grade --workers``` → ``zengrad-kit grade --workers``, linked to the command in the CLI reference;
  - ``{src}`autograder/cli.py``` → the path, checked to exist in the repository.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.util import logging
from sphinx.util.docutils import SphinxRole

sys.path.insert(0, str(Path(__file__).parent))
import zengrad_reference as ref  # noqa: E402 - beside this file, not a package

LOG = logging.getLogger(__name__)
GENERATED = Path(__file__).resolve().parents[1] / "_generated"


@cache
def _knobs() -> dict[str, ref.Knob]:
    return ref.knobs()


@cache
def _commands() -> dict[str, ref.CliCommand]:
    return {c.name: c for c in ref.cli_commands()}


def _link(text: str, target: str) -> nodes.Node:
    """A literal that links to a label of the references; Sphinx warns (an error with -W) if it does not exist."""
    xref = pending_xref("", refdomain="std", reftype="ref", reftarget=target, refexplicit=True, refwarn=True)
    xref += nodes.literal(text, text)
    return xref


class _CodeRole(SphinxRole):
    def problem(self, message: str) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        LOG.warning(f"{{{self.name}}}`{self.text}`: {message}", location=self.get_location())
        return [nodes.literal(self.text, self.text)], []


class KnobRole(_CodeRole):
    """``c.Class.trait`` linked to its class in the configuration reference."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        key = self.text.strip().removeprefix("c.")
        knob = _knobs().get(key)
        if knob is None:
            return self.problem("no configurable trait of that name in autograder/ (see reference/configuration)")
        return [_link(f"c.{knob.key}", ref.config_label(knob.owner))], []


class DefaultRole(_CodeRole):
    """A default as the code has it: of a configurable trait (``Sandbox.home_mb``), of a flag (``lms --errors``), or
    a module's constant (``autograder.results.similarity.THRESHOLD``)."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        text = self.text.strip()
        try:
            value = ref.default_of(text)
        except LookupError as exc:
            return self.problem(str(exc))
        return [nodes.literal(value, value)], []


class CliRole(_CodeRole):
    """``zengrad-kit <command> [--flag]`` linked to the command in the CLI reference."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        words = self.text.split()
        path = [w for w in words if not w.startswith("-")]
        flags = [w.split("=")[0] for w in words if w.startswith("-")]
        command = _commands().get(" ".join(path))
        if command is None:
            return self.problem(f"no such command: {ref.PROG} {' '.join(path)}")
        known = {f for o in command.options for f in o.flags}
        unknown = [f for f in flags if f not in known]
        if unknown:
            return self.problem(f"{ref.PROG} {command.name} has no {', '.join(unknown)}")
        return [_link(f"{ref.PROG} {self.text.strip()}", ref.cli_label(command))], []


class SourceRole(_CodeRole):
    """A path of the repository, as a literal; the build fails if it does not exist."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        path = self.text.strip()
        if not (ref.REPO / path.rstrip("/")).exists():
            return self.problem("no such file or folder in the repository")
        return [nodes.literal(path, path)], []


def generate(app: Any) -> None:
    changed = ref.write_all(GENERATED)
    if changed:
        LOG.info(f"zengrad-kit: generated {', '.join(changed)} into {GENERATED}")


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    app.add_role("knob", KnobRole())
    app.add_role("default", DefaultRole())
    app.add_role("cli", CliRole())
    app.add_role("src", SourceRole())
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
