"""Trust at the screen: nothing a submission's code prints runs in anyone's browser.

Every page a person opens is loaded in headless chromium and judged by what it *executes*:
the payloads of ``tests/screen_payloads.py`` would set the top document's title or make a
request to a listener on 127.0.0.1 (and the test clicks every link a person could click).

* layers: the raw notebook's stock nbconvert page runs the payloads (the control that proves the
  detector sees them); the policy alone, the sanitiser alone, and both together run none;
* pipeline: a hostile ps1 submission graded by ``zengrad-kit grade`` and by stock
  ``nbgrader autograde`` + ``generate_feedback``: its feedback pages, formgrader's view of it on a
  real Jupyter server (whose own scripts still work), and the summary page run nothing;
* honesty: an honest student's page looks like stock nbconvert's page of the same notebook
  (screenshots compared) and shows the plots, the text and the hidden checks' messages; its math
  is MathML laid out by the browser, with no script and no network.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import http.server
import json
import secrets
import shutil
import subprocess
import sys
import tarfile
import threading
import urllib.parse
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import nbformat
import pytest
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_notebook
from traitlets.config import Config

from autograder.results.feedback_html import NO_MATHJAX, FeedbackExporter
from autograder.screen.math import LatexAsMathML, MathMLRenderer
from autograder.screen.notebook import NeutraliseUntrusted, markdown_is_inert, neutralise, neutralised
from autograder.screen.page import MATHJAX_URL, READABLE_CSS, directory_of, harden, markdown2html, with_style
from tests.course_helpers import REPO, mutate, nbgrader, solution_nb
from tests.readability import READABILITY_JS, assert_readable
from tests.screen_payloads import PAYLOADS, TITLE, add_payloads
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, free_port, wait_for_server

PS1 = "ps1_operators"
MATHJAX_TGZ = REPO / ".cache" / "mathjax-2.7.7.tgz"
ARTIFACTS = REPO / "test-artifacts" / "screen"
# a student id that is itself a payload: HTML for a page, a formula for a spreadsheet
# a student's name as a roster gives it; as a folder name it is no student id (refused: autograder.exchange.ids)
WEIRD = "=cmd|x<img src=x onerror=top.document.title=String.fromCharCode(80,87,78,69,68)>"
WEIRD_ID = "weird"  # the student who carries that name in the gradebook
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")


# --- the rig: a listener, a page server, a browser that reports what ran -----------------------------------
class Listener(http.server.ThreadingHTTPServer):
    """Records every request path; a page that reaches it made a request it should never make."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                listener.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(b"hit")

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]

    def names(self) -> set[str]:
        return {p.split("/")[2].split("-")[0].split("?")[0] for p in self.paths if p.startswith("/hit/")}


@contextlib.contextmanager
def serving(server: http.server.HTTPServer) -> Iterator[http.server.HTTPServer]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    with serving(Listener()) as server:
        yield server  # type: ignore[misc]


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """(folder, its URL): pages are served over HTTP from another origin than the listener's."""
    root = tmp_path_factory.mktemp("pages")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    with serving(server):
        yield root, f"http://127.0.0.1:{server.server_address[1]}"


def _mathjax_files() -> dict[str, bytes]:
    if not MATHJAX_TGZ.exists():
        return {}
    with tarfile.open(MATHJAX_TGZ) as tar:
        return {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers()  # type: ignore[union-attr]
                if m.isfile() and m.name.startswith("package/")}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _where(url: str) -> tuple[str, str, str]:
    """A page's place without query and fragment (formgrader's own script adds ``?index=``)."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc, parts.path


class Viewer:
    """Opens a page as a person would, clicks what a person could click, and reports what ran."""

    def __init__(self, browser: object, listener: Listener) -> None:
        self.browser, self.listener = browser, listener
        self.mathjax = _mathjax_files()

    def _route(self, route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if url.startswith("http://127.0.0.1"):
            return route.continue_()  # type: ignore[attr-defined]
        if "/ajax/libs/mathjax/2.7.7/" in url and self.mathjax:  # cdnjs, served from the npm tarball (offline)
            path = url.split("/ajax/libs/mathjax/2.7.7/", 1)[1].split("?")[0]
            if path in self.mathjax:
                kind = "application/javascript" if path.endswith(".js") else "application/octet-stream"
                return route.fulfill(status=200, body=self.mathjax[path],  # type: ignore[attr-defined]
                                     headers={"content-type": kind, "access-control-allow-origin": "*"})
        return route.abort()  # type: ignore[attr-defined]

    def visit(self, url: str, wait_ms: int = 700, page_hook=None, headers: dict | None = None) -> dict:
        """What the page at ``url`` did: title, dialogs, navigation, listener hits, console errors."""
        self.listener.paths.clear()
        context = self.browser.new_context(extra_http_headers=headers or {})  # type: ignore[attr-defined]
        page = context.new_page()
        context.route("**/*", self._route)
        dialogs: list[str] = []
        console: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: console.append(m.text))
        try:
            page.goto(url, wait_until="load")
            page.wait_for_timeout(wait_ms)
            # a person may click any link; one whose URL (resolved) is not http(s) or mailto would run something
            with contextlib.suppress(Exception):
                page.evaluate("""() => {
                    for (const a of Array.from(document.querySelectorAll('a[href], area[href]'))) {
                        if (!['http:', 'https:', 'mailto:'].includes(a.protocol)) { try { a.click(); } catch (e) {} }
                    } }""")
                page.wait_for_timeout(300)
            extra = page_hook(page) if page_hook else None
            title = page.evaluate("() => top.document.title")
            final = page.url
        except Exception as exc:  # noqa: BLE001 - a page that navigated away mid-check did something
            title, final, extra = f"(error: {exc})", "(unknown)", None
        finally:
            context.close()
        return {"title": title, "dialogs": dialogs, "url": final, "navigated": _where(final) != _where(url),
                "hits": sorted(self.listener.names()), "paths": list(self.listener.paths), "console": console,
                "extra": extra}


def ran(report: dict) -> list[str]:
    """Evidence that something of the student's ran (empty when nothing did)."""
    evidence = []
    if str(report["title"]).startswith(TITLE.rstrip("-")) or "(error" in str(report["title"]):
        evidence.append(f"title {report['title']!r}")
    evidence += [f"dialog {d!r}" for d in report["dialogs"]]
    if report["navigated"]:
        evidence.append(f"navigated to {report['url']}")
    evidence += [f"request {p}" for p in report["paths"]]
    return evidence


@pytest.fixture(scope="module")
def viewer(browser: object, listener: Listener) -> Viewer:
    return Viewer(browser, listener)


def publish(pages: tuple[Path, str], name: str, html: str) -> str:
    folder, base = pages
    (folder / name).write_text(html)
    return f"{base}/{name}"


# --- renderings -------------------------------------------------------------------------------------------
def template_page(nb: nbformat.NotebookNode) -> str:
    """nbconvert's lab template of the raw notebook, without HTMLExporter's re-serialising soup pass."""
    return FeedbackExporter(template_name="lab", mathjax_url=MATHJAX_URL).render(copy.deepcopy(nb))[0]


def policy_only(nb: nbformat.NotebookNode) -> str:
    return harden(template_page(nb), [directory_of(MATHJAX_URL)])[0]


def sanitiser_only(nb: nbformat.NotebookNode) -> str:
    exporter = HTMLExporter(template_name="lab", mathjax_url=MATHJAX_URL, filters={"markdown2html": markdown2html})
    return exporter.from_notebook_node(neutralised(nb))[0]


def ours(nb: nbformat.NotebookNode) -> str:
    config = Config({"HTMLExporter": {"preprocessors": [NeutraliseUntrusted, LatexAsMathML],
                                      "mathjax_url": MATHJAX_URL, "filters": {"markdown2html": markdown2html}}})
    return FeedbackExporter(config=config, template_name="lab").from_notebook_node(copy.deepcopy(nb))[0]


def stock_mathml_page(nb: nbformat.NotebookNode) -> str:
    """Stock nbconvert's page with the same MathML and stylesheet as ours, but no sanitiser and no policy."""
    from jinja2 import DictLoader
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    def mathml_markdown(source: str) -> str:
        return MarkdownWithMath(renderer=MathMLRenderer(escape=False, anchor_link_text="¶")).render(source)

    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader(NO_MATHJAX)],
                            filters={"markdown2html": mathml_markdown})
    return with_style(exporter.from_notebook_node(copy.deepcopy(nb))[0], READABLE_CSS)


def execute(nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    """Run the payload cells (ours, benign, written by this test) in a plain kernel: the raw outputs."""
    from nbclient import NotebookClient

    nb = copy.deepcopy(nb)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=120,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


@pytest.fixture(scope="module")
def hostile(listener: Listener, tmp_path_factory: pytest.TempPathFactory):
    """(executed notebook of every payload, name -> its cells)."""
    nb = new_notebook()
    where = add_payloads(nb, listener.port)
    return execute(nb, tmp_path_factory.mktemp("run")), where


def only(nb: nbformat.NotebookNode, payload: str, where: dict[str, list[int]]) -> nbformat.NotebookNode:
    """A notebook holding one payload (its cells, and its notebook-level edit)."""
    one = new_notebook(metadata=copy.deepcopy(nb.metadata))
    if payload != "notebook_title":
        one.metadata.pop("title", None)
    if payload != "widget_state":
        one.metadata.pop("widgets", None)
    one.cells = [copy.deepcopy(nb.cells[i]) for i in where[payload]]
    return one


# --- unit: the notebook is neutralised -------------------------------------------------------------------
def test_the_catalogue_is_broad() -> None:
    assert len(PAYLOADS) >= 25 and len({p.name for p in PAYLOADS}) == len(PAYLOADS)
    assert {p.category for p in PAYLOADS} >= {"script", "handler", "svg", "mathml", "url", "frame", "form",
                                               "navigation", "css", "mime", "widget", "markdown", "json"}


def test_honest_markdown_is_left_byte_for_byte() -> None:
    """Every markdown cell of every shipped notebook (math, code, tables, links) is inert as it is."""
    for path in sorted((REPO / "source").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                assert markdown_is_inert(cell.source, cell.get("attachments")), (path.name, cell.source[:200])
        before = copy.deepcopy(nb)
        neutralise(nb)
        assert [c.source for c in nb.cells] == [c.source for c in before.cells], path.name


def test_neutralise_is_idempotent_and_reports(hostile) -> None:
    nb, where = hostile
    once = neutralised(nb)
    twice = neutralised(once)
    assert nbformat.writes(once) == nbformat.writes(twice)
    findings = neutralise(copy.deepcopy(nb))
    flagged = {f["cell"] for f in findings}
    for p in PAYLOADS:
        if p.fires_in_stock and p.via != "json":
            assert set(where[p.name]) & flagged, f"{p.name}: nothing reported"
    assert "title" not in once.metadata and "widgets" not in once.metadata
    for cell in once.cells:
        for out in cell.get("outputs", []):
            assert "application/javascript" not in out.get("data", {})
            assert not any(k.startswith("application/vnd.jupyter.widget") for k in out.get("data", {}))


# --- browser: each layer alone holds; the control runs -----------------------------------------------------
@pytest.mark.browser
def test_the_control_runs_every_payload_in_a_stock_page(hostile, viewer: Viewer, pages) -> None:
    """nbconvert's template, no sanitiser, no policy: each payload marked so runs (the detector sees it)."""
    nb, where = hostile
    missed, regressions = [], []
    for p in PAYLOADS:
        report = viewer.visit(publish(pages, f"control-{p.name}.html", template_page(only(nb, p.name, where))), 300)
        evidence = ran(report)
        if p.fires_in_stock and not evidence:
            missed.append(p.name)
        if not p.fires_in_stock and evidence:
            regressions.append((p.name, evidence))
    assert not missed, f"the control did not run: {missed} (the detector or the payload is broken)"
    assert not regressions, f"runs in stock nbconvert, mark fires_in_stock: {regressions}"


@pytest.mark.browser
@pytest.mark.parametrize("render", [policy_only, sanitiser_only, ours], ids=lambda f: f.__name__)
def test_each_layer_alone_runs_nothing(render, hostile, viewer: Viewer, pages) -> None:
    nb, _ = hostile
    report = viewer.visit(publish(pages, f"layer-{render.__name__}.html", render(nb)), 1500)
    assert not ran(report), ran(report)


# --- the pipeline: real grading, real pages ------------------------------------------------------------------
@pytest.fixture(scope="module")
def graded(course_template, tmp_path_factory: pytest.TempPathFactory, listener: Listener):
    """ps1 graded with hostile content: by ``zengrad-kit grade`` (hostile, WEIRD) and by stock nbgrader."""
    course = course_template.copy_to(tmp_path_factory.mktemp("screen") / "course")
    evil = solution_nb(PS1)
    add_payloads(evil, listener.port)
    extra = {name: f"<script>{TITLE}</script>" for name in ACTIVE_NAMES}
    course.submit("hostile", PS1, evil, extra=extra)
    course.submit("hostile-stock", PS1, evil, extra=extra)
    wrong = mutate(solution_nb(PS1), "mul_solution", "self.grad += other.data * out.grad", "self.grad += other.data")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        gb.add_student(WEIRD_ID, last_name=WEIRD, first_name=WEIRD)
    course.submit(WEIRD_ID, PS1, wrong)
    course.submit(WEIRD, PS1, wrong)  # a folder named so: an error row, escaped in the summary
    run = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", PS1, "--student", "hostile",
                          "--student", WEIRD_ID, "--student", WEIRD, "--no-progress"], cwd=course.root, text=True,
                         capture_output=True, timeout=900)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]  # the folder WEIRD: invalid-student-id
    recorded = json.loads((course.root / "reports" / "outcomes.json").read_text())["outcomes"]
    outcomes = {o["student"]: o for o in recorded}
    assert outcomes[WEIRD]["error_kind"] == "invalid-student-id" and outcomes[WEIRD_ID]["status"] == "graded"
    for step in ("autograde", "generate_feedback"):
        done = nbgrader(course.root, step, PS1, "--student", "hostile-stock", "--force")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return course


ACTIVE_NAMES = ("evil.html", "evil.svg", "notes.HTML", "page.xht", "page.XHTM", "archive.mht", "code.es")


def _feedback(course, student: str) -> Path:
    return course.root / "feedback" / student / PS1 / f"{PS1}.html"


@pytest.mark.browser
@pytest.mark.parametrize("student", ["hostile", "hostile-stock"])
def test_feedback_pages_run_nothing(graded, student: str, viewer: Viewer, pages) -> None:
    html = _feedback(graded, student).read_text()
    assert "Content-Security-Policy" in html
    report = viewer.visit(publish(pages, f"feedback-{student}.html", html), 2500)
    assert not ran(report), ran(report)


@pytest.mark.parametrize("student", ["hostile", "hostile-stock"])
def test_files_a_browser_runs_never_travel_on(graded, student: str) -> None:
    """Ours keeps only the assignment's files; stock nbgrader's copy drops every active type, in any case."""
    for folder in ("autograded", "feedback"):
        names = {p.name for p in (graded.root / folder / student / PS1).iterdir()}
        assert names and not names & set(ACTIVE_NAMES), (folder, names)


def test_the_grader_flags_the_removed_content(graded) -> None:
    outcomes = json.loads((graded.root / "reports" / "outcomes.json").read_text())
    text = json.dumps(outcomes)
    assert "active-content" in text
    summary = (graded.root / "reports" / "summary.md").read_text()
    assert "active content removed" in summary


def test_our_text_escapes_what_students_choose(graded) -> None:
    """grades.csv: the id that starts like a formula is text; results.json outputs are declared text."""
    with (graded.root / "reports" / "grades.csv").open() as fh:
        ids = [row["student_id"] for row in csv.DictReader(fh)]
    with (graded.root / "reports" / "grades.csv").open() as fh:
        names = {row["student_id"]: row["last_name"] for row in csv.DictReader(fh)}
    assert names[WEIRD_ID] == "'" + WEIRD and WEIRD not in ids
    data = json.loads((graded.root / "reports" / PS1 / WEIRD_ID / "results.json").read_text())
    assert data["output_format"] == "text" and all(t["output_format"] == "text" for t in data["tests"])
    summary = (graded.root / "reports" / "summary.md").read_text()
    assert "<img" not in summary
    insights = (graded.root / "reports" / "insights.md").read_text()  # names and counterexamples are escaped
    assert "<img" not in insights and "<script" not in insights


@pytest.mark.browser
def test_the_summary_page_runs_nothing(graded, viewer: Viewer, pages) -> None:
    html = (graded.root / "reports" / "summary.html").read_text()
    report = viewer.visit(publish(pages, "summary.html", html))
    assert not ran(report), ran(report)
    # and the same markdown in a renderer that passes raw HTML through (a naive viewer) runs nothing either
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    naive = markdown2html_mistune((graded.root / "reports" / "summary.md").read_text())
    report = viewer.visit(publish(pages, "summary-naive.html", f"<html><body>{naive}</body></html>"))
    assert not ran(report), ran(report)


@pytest.fixture(scope="module")
def formgrader(graded):
    """A real Jupyter server in the course directory, with nbgrader's formgrader (and our policy extension)."""
    port, token = free_port(), secrets.token_hex(16)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "formgrader.log"
    with log.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "jupyter", "server", "--no-browser", "--ip=127.0.0.1",
                                 f"--port={port}", f"--ServerApp.token={token}", "--allow-root",
                                 f"--ServerApp.root_dir={graded.root}", "--ServerApp.port_retries=0"],
                                cwd=graded.root, stdout=fh, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield base, token, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _submission_id(course, student: str) -> str:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        return gb.find_submission_notebook(PS1, PS1, student).id


def _formgrader_state(page) -> dict:
    # formgrader's own scripts must still work: its models put each cell's autograded score in its score box
    with contextlib.suppress(Exception):  # judged below, with the page's console in the message
        page.wait_for_function("() => document.querySelectorAll('input.score').length > 0 && "
                               "Array.from(document.querySelectorAll('input.score')).every(i => i.placeholder)",
                               timeout=15000)
    (ARTIFACTS / "formgrader-page.html").write_text(page.content())
    return page.evaluate("() => ({scores: Array.from(document.querySelectorAll('input.score')).map(i => i.placeholder),"
                         " jquery: typeof window.jQuery, text: document.body.innerText,"
                         " names: Array.from(document.querySelectorAll('.name-shown')).map(e => e.textContent)})")


@pytest.mark.browser
@pytest.mark.parametrize("student", ["hostile", "hostile-stock", WEIRD_ID],
                         ids=["hostile", "hostile-stock", "weird-name"])
def test_formgraders_view_of_a_submission_runs_nothing(graded, formgrader, student: str, viewer: Viewer) -> None:
    base, token, log = formgrader
    url = f"{base}/formgrader/submissions/{_submission_id(graded, student)}/"
    report = viewer.visit(url, 2500, page_hook=_formgrader_state, headers={"Authorization": f"token {token}"})
    assert not ran(report), ran(report)
    state = report["extra"]
    assert state["jquery"] == "function" and len(state["scores"]) >= 5 and all(state["scores"]), \
        (state["scores"], report["console"][:20])
    # the template's own scripts and MathJax's all run (a missing icon font of the template may be refused)
    assert not [m for m in report["console"] if "Content Security Policy" in m and "script" in m], report["console"]
    if student == WEIRD_ID:
        assert any("=cmd|x<img" in name for name in state["names"]), state["names"]  # the name, as text


def test_formgrader_serves_a_submissions_files_sandboxed(graded, formgrader) -> None:
    import urllib.request

    base, token, _ = formgrader
    sid = _submission_id(graded, "hostile")
    with urllib.request.urlopen(f"{base}/formgrader/submissions/{sid}/timestamp.txt?token={token}") as r:
        policies = r.headers.get_all("Content-Security-Policy") or []
        assert any(p.startswith("sandbox") for p in policies), policies
        assert r.headers.get("X-Content-Type-Options") == "nosniff"
    with urllib.request.urlopen(f"{base}/formgrader/submissions/{sid}/?token={token}") as r:
        policies = r.headers.get_all("Content-Security-Policy") or []
        assert any("script-src" in p and "'unsafe-inline'" not in p.split("style-src")[0] for p in policies)


# --- honesty: what a grader needs is still there --------------------------------------------------------------
@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    folder = tmp_path_factory.mktemp("honest")
    for helper in (REPO / "release" / PS1).glob("*.py"):
        shutil.copy(helper, folder)
    return execute(solution_nb(PS1), folder)


@pytest.mark.browser
def test_an_honest_page_looks_like_stock_nbconverts(honest, viewer: Viewer, pages) -> None:
    """Screenshots of stock nbconvert's page and ours, of the same executed notebook, compared pixel by pixel.

    The control has the same MathML and stylesheet (what differs on purpose): the sanitiser and the
    policy change nothing a person sees."""
    from io import BytesIO

    import numpy
    from PIL import Image, ImageChops

    assert not neutralise(copy.deepcopy(honest))  # nothing of an honest notebook is removed or flagged
    shots = {}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, render in (("stock", stock_mathml_page), ("ours", ours)):
        url = publish(pages, f"honest-{name}.html", render(honest))

        def shoot(page, name=name):
            png = page.screenshot(full_page=True)
            (ARTIFACTS / f"honest-{name}.png").write_bytes(png)
            return png, page.evaluate("() => ({math: document.querySelectorAll('math').length, "
                                      "imgs: Array.from(document.images).map(i => i.naturalWidth)})")

        report = viewer.visit(url, 300, page_hook=shoot)
        shots[name] = report["extra"]
    (stock_png, stock_info), (our_png, our_info) = shots["stock"], shots["ours"]
    a, b = Image.open(BytesIO(stock_png)).convert("RGB"), Image.open(BytesIO(our_png)).convert("RGB")
    assert abs(a.height - b.height) <= 0.01 * a.height, (a.size, b.size)
    height = min(a.height, b.height)
    diff = ImageChops.difference(a.crop((0, 0, a.width, height)), b.crop((0, 0, b.width, height)))
    changed = float((numpy.asarray(diff).max(axis=2) > 32).mean())
    assert changed < 0.005, f"{100 * changed:.2f}% of the pixels differ (see {ARTIFACTS})"
    assert our_info["imgs"] and all(w > 0 for w in our_info["imgs"])  # the graph drawings are drawn
    assert our_info["math"] == stock_info["math"] > 30


@pytest.mark.browser
def test_a_feedback_page_shows_its_math_and_whole_messages_with_no_script_and_no_network(graded, viewer: Viewer,
                                                                                        pages) -> None:
    """MathML laid out by the browser, the counterexample's line wrapped in a narrow window, nothing fetched."""
    html = _feedback(graded, WEIRD_ID).read_text()
    assert "<script" not in html.split("</head>")[0] and "script-src 'none'" in html

    def measure(page):
        page.set_viewport_size({"width": 700, "height": 900})
        page.wait_for_timeout(200)
        page.get_by_text("your a.grad = ").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "feedback-narrow.png"))
        return page.evaluate(READABILITY_JS)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    report = viewer.visit(publish(pages, "feedback-math.html", html), 300, page_hook=measure)
    assert not ran(report), ran(report)
    assert_readable(report["extra"])
    # nothing tried to run (the template's icon font, refused by font-src, is the one thing the policy blocks)
    assert not [m for m in report["console"] if "Content Security Policy" in m and "font" not in m], report["console"]


@pytest.mark.browser
def test_the_services_own_pages_run_nothing(viewer: Viewer, pages) -> None:
    """The submit-time service's pages (waiting, set aside, refused, ...) with a hostile assignment name and reason."""
    from autograder.service import pages as service_pages

    at = "2026-12-01T10:00:00+00:00"
    for name, html in {"waiting": service_pages.waiting_page(WEIRD, at, 1, 30.0, False, at, 2, 2),
                       "grading": service_pages.waiting_page(WEIRD, at, 0, 30.0, True, at),
                       "deferred": service_pages.deferred_page(WEIRD, at, WEIRD),
                       "refused": service_pages.refused_page(WEIRD, WEIRD),
                       "error": service_pages.error_page(WEIRD, at, WEIRD)}.items():
        report = viewer.visit(publish(pages, f"service-{name}.html", html), 300)
        assert not ran(report), (name, ran(report))


@pytest.mark.browser
def test_the_feedback_page_keeps_plots_text_and_messages(graded, viewer: Viewer, pages) -> None:
    html = _feedback(graded, WEIRD_ID).read_text()

    def read(page):
        return page.evaluate("() => ({text: document.body.innerText,"
                             " imgs: Array.from(document.images).map(i => i.naturalWidth)})")

    report = viewer.visit(publish(pages, "feedback-weird.html", html), 1500, page_hook=read)
    assert not ran(report), ran(report)
    text, imgs = report["extra"]["text"], report["extra"]["imgs"]
    assert "mul" in text and "HiddenCheckFailed" in text and "out.grad" in text
    assert len(imgs) >= 2 and all(w > 0 for w in imgs)  # draw_dot's graphs, as images


# --- our own text: escaped for its sink ----------------------------------------------------------------
TRICKY = [WEIRD, "ps1_operators", "sigint-loop", "1. a list?", "# heading", "_x_ *y* `z`", "[a](javascript:x)",
          "![i](http://127.0.0.1/x)", "<script>x</script>", "&#x3C;img src=x onerror=1&#x3E;", "a|b|c",
          "www.example.com", "<http://x>", "---", "> quote", "~~del~~", "\\*literal\\*"]


@pytest.mark.parametrize("text", TRICKY)
def test_md_text_renders_as_exactly_its_characters(text: str) -> None:
    from bs4 import BeautifulSoup
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    from autograder.screen.text import md_text

    rendered = markdown2html_mistune(f"| cell |\n|---|\n| {md_text(text)} |\n")  # raw HTML passes through here
    soup = BeautifulSoup(rendered, "html.parser")
    assert soup.find("td").get_text() == text
    assert not soup.find_all(["script", "img", "a", "em", "strong", "code", "del", "blockquote", "h1"])


def test_csv_cells_that_start_like_a_formula_are_text() -> None:
    from autograder.screen.text import csv_cell

    assert [csv_cell(v) for v in ["=1+1", "+1", "-x", "@SUM(A1)", "\t=1", "ok", -1.5, 3, None, "-2.5"]] == \
        ["'=1+1", "+1", "'-x", "'@SUM(A1)", "'\t=1", "ok", "-1.5", "3", "", "-2.5"]
