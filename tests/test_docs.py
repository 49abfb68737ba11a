"""The docs: the site builds with warnings as errors, its internal links resolve offline, the references generated
from the code hold every trait, flag, reason and metadata key, no page types a default by hand, the README stays
short, and each assignment's student guide is fetched where it says.

The site is built once per session (``sphinx-build -W``, a few seconds) into a temporary folder.
"""

from __future__ import annotations

import ast
import html
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.course_helpers import REPO

DOCS = REPO / "docs"
README = REPO / "README.md"
ASSIGNMENTS = sorted(p.name for p in (REPO / "source").iterdir() if p.is_dir() and not p.name.startswith("."))
README_LIMIT = 6 * 1024
sys.path.insert(0, str(DOCS / "_ext"))
import zengrad_reference as ref  # noqa: E402 - docs/_ext is no package


# ------------------------------------------------------------------------------------------------- the build
@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built as CI builds it: warnings are errors."""
    out = tmp_path_factory.mktemp("docs")
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                          "-d", str(out / "doctrees"), str(DOCS), str(out / "html")],
                         capture_output=True, text=True, cwd=REPO, timeout=600)
    print(f"docs built in {time.monotonic() - started:.1f} s")
    assert run.returncode == 0, f"sphinx-build -W failed:\n{run.stderr[-6000:]}\n{run.stdout[-2000:]}"
    return out / "html"


def test_the_docs_build_with_warnings_as_errors(site: Path) -> None:
    for page in ("index", "instructors/tutorial", "operators/hub", "developers/architecture", "students/index",
                 "reference/cli", "reference/configuration", "reference/outcomes", "reference/schemas",
                 "reference/checks", "adding-an-assignment"):
        assert (site / f"{page}.html").is_file(), page
    svg = list((site / "_images").glob("graphviz-*.svg"))
    assert svg and "submitted/" in svg[0].read_text(), "the architecture diagram was not drawn"


# ---------------------------------------------------------------------------------- offline internal links
class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name"):
                self.ids.add(value)
            elif (name == "href" and tag in ("a", "link")) or (name == "src" and tag in ("img", "script")):
                self.links.append(value)


def broken_links(root: Path) -> list[str]:
    """Every link of the HTML files under ``root`` to a file or an anchor that is not there (other sites skipped)."""
    pages: dict[Path, _Links] = {}
    for path in sorted(root.rglob("*.html")):
        parser = _Links()
        parser.feed(path.read_text(errors="replace"))
        pages[path.resolve()] = parser
    broken = []
    for path, parser in pages.items():
        for link in parser.links:
            if re.match(r"^[a-z][a-z0-9+.-]*:", link, re.I) or link.startswith("//"):
                continue  # http, https, mailto, data: not this site
            target, _, fragment = html.unescape(link).split("?")[0].partition("#")
            file = (path.parent / target).resolve() if target else path
            if target.endswith("/"):
                file = file / "index.html"
            where = f"{path.relative_to(root.resolve())}: {link}"
            if not file.exists():
                broken.append(f"{where} (no such file)")
            elif fragment and file.suffix == ".html":
                ids = pages[file].ids if file in pages else set()
                if fragment not in ids:
                    broken.append(f"{where} (no such anchor)")
    return broken


def test_every_internal_link_and_anchor_resolves(site: Path) -> None:
    assert broken_links(site) == []


def test_the_link_check_finds_a_missing_page_and_a_missing_anchor(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1><a href="b.html#here">b</a><a href="b.html#gone">x</a>'
                                     '<a href="c.html">c</a><img src="img/p.png"><a href="https://x.example/">ext</a>'
                                     '<a href="#top">up</a>')
    (tmp_path / "b.html").write_text('<p id="here">B</p>')
    assert broken_links(tmp_path) == ["a.html: b.html#gone (no such anchor)", "a.html: c.html (no such file)",
                                      "a.html: img/p.png (no such file)"]


def _relative_links(markdown: str) -> list[str]:
    return [m for m in re.findall(r"\]\(([^)\s]+)\)", markdown) if not re.match(r"^[a-z]+:|^#", m)]


def test_the_readme_is_short_and_its_links_resolve() -> None:
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes (at most {README_LIMIT}): move the detail into docs/"
    links = _relative_links(README.read_text())
    assert links, "the README links into the docs"
    assert [link for link in links if not (REPO / link.split("#")[0]).exists()] == []
    assert any(link.startswith("docs/img/") for link in links), "the README shows a feedback page"


# ------------------------------------------------------------------- the references hold everything the code has
def _section(page: str, anchor: str) -> str:
    """The HTML of the section a MyST target ``(anchor)=`` starts, up to the next section."""
    start = page.index(f'id="{anchor}"')
    end = page.find("<section", start)
    return page[start:] if end < 0 else page[start:end]


def _walk_parser(parser, path: tuple[str, ...] = ()):  # noqa: ANN001, ANN202 - argparse internals
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield (*path, name), child
                yield from _walk_parser(child, (*path, name))


def test_every_command_and_flag_is_in_the_cli_reference(site: Path) -> None:
    from autograder.cli import build_parser

    page = (site / "reference" / "cli.html").read_text()
    seen = 0
    for path, parser in _walk_parser(build_parser()):
        section = _section(page, ref.cli_label(path))
        assert f"zengrad-kit {' '.join(path)}" in html.unescape(section), path
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f">{flag}<" in section, f"zengrad-kit {' '.join(path)} {flag} is not in the CLI reference"
                    seen += 1
    assert seen > 40


def _config_traits_in_source() -> set[tuple[str, str]]:
    """(class, trait) of every ``name = Trait(...).tag(config=True)`` in a class body under autograder/: found by
    reading the source, independently of the reference's import walk."""
    found = set()
    for path in (REPO / "autograder").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)
                            and "config=True" in ast.unparse(stmt.value)):
                        found.add((node.name, stmt.targets[0].id))
    return found


def test_every_config_trait_is_in_the_configuration_reference_with_its_default(site: Path) -> None:
    page = html.unescape((site / "reference" / "configuration.html").read_text())
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr[^>]*>.*?c\.(\w+\.\w+).*?</tr>", page, re.S)}
    traits = _config_traits_in_source()
    assert {"GuardedExecute", "TrustedChecks", "Sandbox", "OwnerCheckedCollect", "GradingService"} <= {
        c for c, _ in traits}
    classes = {c.__name__: c for c in ref.configurable_classes()}
    for cls, trait in sorted(traits):
        key = f"{cls}.{trait}"
        assert key in rows, f"c.{key} is not in the configuration reference"
        default = classes[cls].class_traits()[trait].default_value_repr()
        assert re.sub(r"<[^>]+>", "", rows[key]).count(default), f"c.{key}: default {default} not in its row"


def test_every_reason_and_metadata_key_is_in_the_references(site: Path) -> None:
    from autograder.preprocessors import metadata
    from autograder.reasons import ErrorKind, Reason

    outcomes = html.unescape((site / "reference" / "outcomes.html").read_text())
    for member in [*Reason, *ErrorKind]:
        assert f">{member.value}<" in outcomes, member
    schemas = html.unescape((site / "reference" / "schemas.html").read_text())
    for key in metadata.NOTEBOOK_KEYS | metadata.CELL_KEYS:
        assert f">{key}<" in schemas, key


# ------------------------------------------------------------------------------ no default typed by hand
def _flags() -> set[str]:
    from autograder.cli import build_parser

    return {f for _, p in _walk_parser(build_parser()) for a in p._actions for f in a.option_strings} - {
        "-h", "--help", "-o"}


AFTER_NAME = re.compile(r"""^\s*(?:[(,\[]\s*(?:default\s*:?\s*)?(?P<number>[-+]?\d[\d_.]*)"""
                        r"""|[=:]\s*(?P<value>[-+]?\d[\d_.]*|["'][^"']*["']|True|False))""")
DEFAULT_WORD = re.compile(r"""^[^.;]{0,40}?\bdefault\b\s*:?\s*(?P<value>[-+]?\d[\d_.]*|["'`][^"'`]*["'`]|True|False)""",
                          re.I)
CODE_BLOCK = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1", re.S | re.M)
ASSIGNMENT = re.compile(r"^\s*c\.(\w+)\.(\w+)\s*=\s*(.+?)\s*(?:#.*)?$", re.M)


def _literal(text: str) -> object:
    text = text.strip().strip("`")
    try:
        return ast.literal_eval(text.replace("_", "") if re.fullmatch(r"[-+]?\d[\d_.]*", text) else text)
    except (ValueError, SyntaxError):
        return text


def typed_defaults(text: str, knobs: dict[str, ref.Knob], flags: set[str]) -> list[str]:
    """Where ``text`` (Markdown) types the default of a knob or a flag by hand, each said with the code's default."""
    by_name: dict[str, list[ref.Knob]] = {}
    for knob in knobs.values():
        by_name.setdefault(knob.key, []).append(knob)
        by_name.setdefault(knob.name, []).append(knob)
    found = []

    def judge(name: str, typed: str, candidates: list[ref.Knob]) -> None:
        defaults = [_literal(k.default) for k in candidates]
        verdict = "agrees today" if _literal(typed) in defaults else "DISAGREES with the code"
        found.append(f"{name} = {typed} typed by hand ({verdict}: {', '.join(sorted(k.default for k in candidates))}"
                     "); write {default}`...` instead")

    def example(key: str, value: str) -> None:
        if key in knobs and _literal(value) == _literal(knobs[key].default):
            found.append(f"c.{key} = {value} in an example is the default typed by hand; show a value that "
                         "changes something, or write {default}`...`")

    prose = CODE_BLOCK.sub("", text)
    for m in re.finditer(r"`([^`\n]+)`", prose):
        inner = m.group(1).strip()
        for cls, trait, value in ASSIGNMENT.findall(inner):
            example(f"{cls}.{trait}", value)
        rest = prose[m.end():m.end() + 80].split("\n\n")[0]
        name = inner.removeprefix("c.").split("=")[0].strip()
        if name in by_name:
            hit = AFTER_NAME.match(rest) or DEFAULT_WORD.match(rest)
            if hit:
                judge(name, hit.groupdict().get("number") or hit.group("value"), by_name[name])
        elif any(w in flags for w in inner.split()):
            hit = DEFAULT_WORD.match(rest)
            if hit:
                found.append(f"{inner}: default {hit.group('value')} typed by hand; write {{default}}`...` instead")
    for block in CODE_BLOCK.finditer(text):
        for cls, trait, value in ASSIGNMENT.findall(block.group(2)):
            example(f"{cls}.{trait}", value)
    return found


def _pages() -> list[Path]:
    return [README, *(p for p in DOCS.rglob("*.md") if not {"_build", "_generated"} & set(p.parts)),
            REPO / "benchmarks" / "README.md", *(REPO / "source").glob("*/README.md")]


def test_no_page_types_a_default_by_hand() -> None:
    knobs, flags = ref.knobs(), _flags()
    found = {str(p.relative_to(REPO)): typed_defaults(p.read_text(), knobs, flags) for p in _pages()}
    assert {page: hits for page, hits in found.items() if hits} == {}


def test_the_typed_default_check_finds_what_the_old_readme_did() -> None:
    knobs, flags = ref.knobs(), _flags()
    old = """
* the kernel: `GuardedExecute.cell_cpu_seconds` (60), `notebook_cpu_seconds` (300), the sandbox:
  a home of `Sandbox.home_mb` (32) MiB; files and folders (`max_files`, 200) are counted;
  (`owner_template`, default `"{student}"`); set the timeout to at least `--time-limit` (default 600 s).
  Without the sandbox: `c.Sandbox.backend = "none"`; the usual `c.Sandbox.processes = 64`.

```python
c.GradingService.feedbacks_per_window = 3      # hidden-check feedbacks per student and assignment [3]
c.GradingService.window_minutes = 90
```
"""
    hits = typed_defaults(old, knobs, flags)
    assert len(hits) == 8, hits
    assert any("Sandbox.home_mb = 32" in h and "DISAGREES" in h for h in hits), hits
    assert any("GuardedExecute.cell_cpu_seconds = 60" in h and "agrees today" in h for h in hits), hits
    fine = ("A home of {default}`Sandbox.home_mb` MiB ({knob}`Sandbox.home_mb`), see {cli}`gradescope --time-limit`."
            "\n\n```python\nc.Sandbox.home_mb = 128\n```\n")
    assert typed_defaults(fine, knobs, flags) == []


# ------------------------------------------------------------------------------------ the students' guides
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_assignment_has_a_guide_released_with_it_that_names_what_it_fetched(assignment: str) -> None:
    from autograder.grading.config import course_config

    guide = (REPO / "source" / assignment / "README.md").read_text()
    assert (REPO / "release" / assignment / "README.md").read_text() == guide
    course_id = course_config(REPO).CourseDirectory.course_id
    assert f"`{course_id}/{assignment}/`" in guide  # where the Assignment List puts it (path_includes_course)
    for file in sorted((REPO / "release" / assignment).iterdir()):
        assert f"`{file.name}`" in guide, f"the guide of {assignment} does not say what {file.name} is"
    assert f"`feedback/<time of your submission>/{assignment}.html`" in guide


def test_the_assignment_list_fetches_the_guide_into_the_folder_it_names(tmp_path: Path) -> None:
    """nbgrader's own release and fetch (what the Assignment List calls), with the config hub setup gives students."""
    from autograder.hub.jupyter_files import student_config

    assignment = ASSIGNMENTS[0]
    course, exchange, home = tmp_path / "course", tmp_path / "exchange", tmp_path / "home"
    shutil.copytree(REPO / "release" / assignment, course / "release" / assignment)
    shutil.copy(REPO / "nbgrader_config.py", course)
    home.mkdir()
    (home / "nbgrader_config.py").write_text(student_config("zengrad", exchange))
    env = {**os.environ, "ZENGRAD_EXCHANGE": str(exchange), "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter"),
           "IPYTHONDIR": str(tmp_path / "ipython"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for cwd, command in ((course, "release_assignment"), (home, "fetch_assignment")):
        run = subprocess.run([sys.executable, "-m", "nbgrader", command, assignment], cwd=cwd, env=env,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
    guide = (REPO / "source" / assignment / "README.md").read_text()
    folder = re.search(r"`(\w+/\w+)/`", guide).group(1)
    assert (home / folder / "README.md").read_text() == guide
    assert (home / folder / f"{assignment}.ipynb").is_file()
