"""The student path in a real browser: JupyterLab 4 + nbgrader's lab extensions, headless Debian chromium.

A student workspace holds a copy of the ps1 release. JupyterLab runs on loopback with isolated
Jupyter dirs and a throwaway exchange. The test opens the notebook, runs it (Run All stops at the
first stub), types a wrong and then a right ``_backward`` into the ``mul`` stub, runs the stub and
its test cell, types the classic ``=`` for ``+=`` into ``tanh`` and sees its test cell fail with the
message first, presses Validate, reads the dialog (each failing cell's error starts with its
message, which fits the dialog), and submits from the Assignment List.
With the submit-time service (``zengrad-kit serve``), a student fetches ps1 from the
Assignment List, submits a wrong ``mul``, presses *Fetch Feedback* and reads the hidden check's
counterexample; fixes it and sees it pass; a third submission is over the rate limit and its page
says when the next feedback comes.
Screenshots and texts land in ``test-artifacts/browser/``; their paths are printed and recorded as
junit properties.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest

from autograder.release import STUB as RELEASE_STUB
from autograder.release import assignments
from tests.course_helpers import REPO
from tests.readability import READABILITY_JS, assert_readable

CHROMIUM = Path("/usr/bin/chromium")
ASSIGNMENT = "ps1_operators"
# Every released notebook opens in JupyterLab and Run All stops at its first stub's test cell
# (test_every_released_notebook_opens_and_runs_to_its_first_stub). Add a new assignment here.
NOTEBOOKS = assignments(REPO)  # every assignment of the course, from source/
COURSE = "zengrad"
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian chromium is not installed at /usr/bin/chromium "
        "(apt-get install -y chromium; .ci/run installs it)",
    ),
]

STUB = textwrap.indent(RELEASE_STUB, " " * 8)  # in a _backward
MUL_HEAD = """def __mul__(self, other):
    other = other if isinstance(other, Value) else Value(other)
    out = Value(self.data * other.data, (self, other), '*')

    def _backward():
"""
MUL_TAIL = """
    out._backward = _backward
    return out

Value.__mul__ = __mul__"""
# a classic first attempt: the local derivatives, but no chain rule (out.grad is forgotten)
MUL_WRONG = MUL_HEAD + "        self.grad += other.data\n        other.grad += self.data\n" + MUL_TAIL
MUL_RIGHT = (
    MUL_HEAD + "        self.grad += other.data * out.grad\n        other.grad += self.data * out.grad\n" + MUL_TAIL
)
TANH_HEAD = """def tanh(self):
    t = math.tanh(self.data)
    out = Value(t, (self,), 'tanh')

    def _backward():
"""
TANH_TAIL = """
    out._backward = _backward
    return out

Value.tanh = tanh"""
# the most classic bug of the course: = where += belongs (the input's gradient is overwritten)
TANH_OVERWRITES = TANH_HEAD + "        self.grad = (1 - t**2) * out.grad\n" + TANH_TAIL
TANH_MESSAGE = [
    "GradientCheckError: wrong gradient from the _backward of 'tanh'",
    "  at a = -1.2, with out.grad = 2.0 and a.grad = 0.75 before",
    "  a.grad = 0.61004, expected 1.36004",
    "  hint: a.grad held 0.75 and lost it: add to it (+=), do not assign (=)",
]
STUBS_LEFT = ["+", "**2", "exp", "log", "relu", "sigmoid"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"jupyter lab did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def jupyter_lab(tmp_path: Path):
    """JupyterLab serving a student workspace with the ps1 release; yields (base_url, token, paths)."""
    yield from serve_lab(tmp_path, [ASSIGNMENT])


def serve_lab(tmp_path: Path, assignments: list[str]):
    """JupyterLab over a student workspace holding these releases (and ps1 in the exchange)."""
    workspace = tmp_path / "student"
    workspace.mkdir(parents=True, exist_ok=True)
    for name in assignments:
        shutil.copytree(REPO / "release" / name, workspace / name)
    # the instructor has released ps1 into the exchange (what `nbgrader release_assignment` does)
    exchange = tmp_path / "exchange"
    shutil.copytree(REPO / "release" / ASSIGNMENT, exchange / COURSE / "outbound" / ASSIGNMENT)
    (exchange / COURSE / "inbound").mkdir()
    os.chmod(exchange / COURSE / "inbound", 0o733)  # nbgrader's default: students write, cannot list

    jhome = tmp_path / "jupyter"
    env = dict(os.environ)
    for var, sub in (
        ("IPYTHONDIR", "ipython"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("MPLCONFIGDIR", "mpl"),
    ):
        env[var] = str(jhome / sub)
        (jhome / sub).mkdir(parents=True)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    # the student's side of the course config: which course, where the exchange is
    (jhome / "config" / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {COURSE!r}\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
    )
    # no "get notified about Jupyter news?" toast over the screenshots
    settings = jhome / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')

    port, token = free_port(), secrets.token_hex(16)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "jupyter-lab.log"
    with log.open("w") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                "lab",
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={port}",
                f"--ServerApp.token={token}",
                "--allow-root",
                f"--ServerApp.root_dir={workspace}",
                "--expose-app-in-browser",
                "--LabApp.news_url=",
                "--ServerApp.port_retries=0",
            ],
            cwd=workspace,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield base, token, workspace, exchange
    finally:
        proc.terminate()  # jupyter lab shuts its kernels down on SIGTERM
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def chromium_page(timeout_ms: float = 30_000):
    """A page of headless Debian chromium (1400 x 900), closed with its browser afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            browser.close()


class Student:
    """What a student does in the notebook, with a screenshot at each step."""

    def __init__(self, page, shots: list[Path]) -> None:
        self.page = page
        self.shots = shots
        self.cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")

    def shot(self, name: str, locator=None) -> None:
        path = ARTIFACTS / f"{len(self.shots) + 1:02d}-{name}.png"
        (locator or self.page).screenshot(path=str(path))
        self.shots.append(path)

    def kernel_idle(self, timeout: float = 60_000) -> None:
        self.page.wait_for_selector(
            ".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout
        )

    def open_assignment_list(self) -> None:
        """Nbgrader > Assignment List (opens it, or brings it to the front)."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
        self.page.locator(".lm-Menu-itemLabel", has_text="Assignment List").first.click()

    def prompt(self, index: int) -> str:
        return self.cells.nth(index).locator(".jp-InputArea-prompt").text_content().strip()

    def output(self, index: int) -> str:
        return self.cells.nth(index).locator(".jp-OutputArea").text_content()

    def error(self, index: int) -> str:
        """The text of the cell's error output (what a failing test shows), as rendered."""
        return self.cells.nth(index).locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").text_content()

    def wait_executed(self, index: int, before: str, timeout: float = 30_000) -> None:
        """Until the cell's prompt shows a new execution count (not ``[*]``)."""
        handle = self.cells.nth(index).locator(".jp-InputArea-prompt").element_handle()
        self.page.wait_for_function(
            "([el, before]) => { const t = el.textContent.trim(); return t !== before && /\\[\\d+\\]/.test(t); }",
            arg=[handle, before],
            timeout=timeout,
        )

    def source(self, index: int) -> str:
        """The cell's text from JupyterLab's model (what is saved), else from the editor's lines."""
        text = self.page.evaluate(
            "(i) => window.jupyterapp ? window.jupyterapp.shell.currentWidget.content.widgets[i]"
            ".model.sharedModel.getSource() : null",
            index,
        )
        if text is None:
            lines = self.cells.nth(index).locator(".cm-content .cm-line")
            text = "\n".join(lines.nth(k).text_content() for k in range(lines.count()))
        return text

    def type_into(self, index: int, code: str) -> None:
        """Click into the cell's editor, select everything, type the code.

        ``insert_text`` delivers the text as one input (like a paste), so CodeMirror's
        auto-indent and bracket auto-closing do not touch it; the result is checked.
        """
        editor = self.cells.nth(index).locator(".cm-content")
        editor.scroll_into_view_if_needed()
        editor.click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(code)
        assert self.source(index) == code, f"the editor holds {self.source(index)!r}"

    def run_two(self, index: int) -> None:
        """Shift+Enter in the cell (runs it, selects the next one), Shift+Enter again (runs the test)."""
        before = self.prompt(index), self.prompt(index + 1)
        self.page.keyboard.press("Shift+Enter")
        self.wait_executed(index, before[0])
        self.page.keyboard.press("Shift+Enter")
        self.wait_executed(index + 1, before[1])
        self.kernel_idle()
        self.cells.nth(index + 1).scroll_into_view_if_needed()


@pytest.fixture(scope="module")
def lab_with_every_release(tmp_path_factory: pytest.TempPathFactory):
    yield from serve_lab(tmp_path_factory.mktemp("every-release"), NOTEBOOKS)


@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_every_released_notebook_opens_and_runs_to_its_first_stub(lab_with_every_release, assignment: str) -> None:
    """Open the release, Run All: the given cells run, and execution stops at the first test cell (a stub)."""
    base, token, workspace, _ = lab_with_every_release
    nb = nbformat.read(workspace / assignment / f"{assignment}.ipynb", as_version=4)
    tests = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
             and not c.metadata["nbgrader"].get("solution")]
    with chromium_page(30_000) as page:
        student = Student(page, [])
        # a workspace of its own (reset): JupyterLab does not reopen the notebooks of the cases before
        page.goto(f"{base}/lab/workspaces/{assignment}/tree/{assignment}/{assignment}.ipynb?reset&token={token}")
        page.wait_for_selector(".jp-NotebookPanel", timeout=60_000)
        student.kernel_idle()
        page.wait_for_function(
            "(n) => document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell').length === n",
            arg=len(nb.cells),
        )
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        student.wait_executed(tests[0], "[ ]:", timeout=120_000)
        student.kernel_idle(timeout=120_000)
        first = student.error(tests[0])
        assert "not implemented yet" in first, first
        after = next(i for i in range(tests[0] + 1, len(nb.cells)) if nb.cells[i].cell_type == "code")
        assert student.prompt(after) == "[ ]:"  # Run All stopped at the failing test
        assert all(re.fullmatch(r"\[\d+\]:", student.prompt(i)) for i in range(tests[0])
                   if nb.cells[i].cell_type == "code")  # every cell above it ran


def test_student_fills_a_stub_sees_its_test_pass_validates_and_submits(
    jupyter_lab, record_testsuite_property, capsys
) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    base, token, workspace, exchange = jupyter_lab
    notebook_file = workspace / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(notebook_file, as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    add_test, mul, mul_test = ids.index("add_test"), ids.index("mul_solution"), ids.index("mul_test")
    assert mul_test == mul + 1
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    shots: list[Path] = []
    notes: list[str] = []
    started = time.monotonic()

    with chromium_page(30_000) as page:
        student = Student(page, shots)

        # 1. open the notebook; the kernel starts
        page.goto(f"{base}/lab/tree/{ASSIGNMENT}/{ASSIGNMENT}.ipynb?token={token}")
        page.wait_for_selector(".jp-NotebookPanel", timeout=60_000)
        student.kernel_idle()
        page.wait_for_function(
            "(n) => document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell').length === n",
            arg=len(nb.cells),
        )
        assert page.locator(".jp-NotebookPanel-toolbar .jp-Toolbar-item", has_text="Validate").count() == 1, (
            "no Validate button: nbgrader's lab extension (@jupyter/nbgrader) is not enabled"
        )
        assert "raise NotImplementedError(" in student.source(mul)
        student.shot("notebook-open")

        # 2. Run > Run All Cells: the setup and Value cells run, execution stops at the first stub's test
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        student.wait_executed(add_test, "[ ]:", timeout=60_000)
        student.kernel_idle()
        add_out = student.error(add_test)
        assert add_out.startswith("GradientCheckError: not implemented yet: the _backward of '+'\n"), add_out
        assert "Write it in place of `# YOUR CODE HERE` and `raise NotImplementedError(...)`." in add_out
        assert student.prompt(mul) == "[ ]:"  # Run All stopped at the failing test
        assert ids.index("value_class") < add_test and re.fullmatch(r"\[\d+\]:", student.prompt(ids.index("setup")))
        student.cells.nth(add_test).locator(".jp-OutputArea").scroll_into_view_if_needed()
        student.shot("run-all-stops-at-add-stub")
        notes.append("add_test output after Run All:\n" + "\n".join(add_out.splitlines()[:2]))

        # 3. a wrong first attempt at mul: the test names the input and the expected value
        student.type_into(mul, MUL_WRONG)
        student.shot("mul-typed-wrong")
        student.run_two(mul)
        wrong = student.error(mul_test)
        assert wrong.split("\n")[:5] == [  # the message first: the operation, the numbers, the slip
            "GradientCheckError: wrong gradient from the _backward of '*'",
            "  at a = 2.0, b = -3.0, with out.grad = 1.5",
            "  a.grad = -3.0, expected -4.5",  # b * upstream = -3.0 * 1.5
            "  local derivative a.grad / out.grad: yours -2.0, expected -3.0",
            "  hint: out.grad is missing: multiply your local derivative by it (chain rule)",
        ], wrong
        assert "check_gradients(lambda a, b: a * b, [2.0, -3.0])" in wrong and "gradcheck.py" not in wrong
        student.shot("mul-test-wrong-gradient")
        notes.append("mul_test output on the wrong attempt:\n" + "\n".join(wrong.split("\n")[:5]))

        # 4. the fix: the test passes
        student.type_into(mul, MUL_RIGHT)
        student.cells.nth(mul).scroll_into_view_if_needed()
        student.shot("mul-typed-right")
        student.run_two(mul)
        right = student.output(mul_test)
        assert right.count("ok: gradients match") == 5, right
        assert "Error" not in right and "Traceback" not in right, right
        assert (
            student.cells.nth(mul_test)
            .locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            .count()
            == 0
        )
        student.shot("mul-test-passes")
        notes.append(f"mul_test output after the fix:\n{right.strip()}")

        # 5. the classic slip in tanh, = instead of +=: its test cell fails, the message first
        tanh, tanh_test = ids.index("tanh_solution"), ids.index("tanh_test")
        student.type_into(tanh, TANH_OVERWRITES)
        student.run_two(tanh)
        assert student.output(tanh_test).startswith("ok: gradients match at a = 0.5")  # the fresh input passes
        overwrote = student.error(tanh_test)
        assert overwrote.split("\n")[:4] == TANH_MESSAGE, overwrote
        assert "initial=0.75" in overwrote and "gradcheck.py" not in overwrote, overwrote
        student.cells.nth(tanh_test).locator(".jp-OutputArea").scroll_into_view_if_needed()
        student.shot("tanh-test-overwrites")
        notes.append("tanh_test output with = instead of +=:\n" + "\n".join(overwrote.split("\n")[:4]))

        # 6. Validate (saves the notebook, runs it in a fresh kernel on the server, shows a dialog)
        page.locator(".jp-NotebookPanel-toolbar .jp-Toolbar-item", has_text="Validate").click()
        try:
            page.locator(".jp-NotebookPanel-toolbar", has_text="Validating...").wait_for(timeout=3_000)
            student.shot("validating")
        except PlaywrightTimeout:  # the label may already be gone; the dialog is what matters
            pass
        dialog = page.locator(".jp-Dialog")
        dialog.locator(".jp-Dialog-header", has_text="Validation Results").wait_for(timeout=90_000)
        body = dialog.locator("#validation-message")
        text = body.inner_text()
        (ARTIFACTS / "validate-dialog.txt").write_text(text)
        student.shot("validate-dialog")
        assert "validation-failed" in (body.get_attribute("class") or ""), text
        assert text.count("The following cell failed:") == len(STUBS_LEFT) + 1, text  # the stubs, and tanh
        assert "the _backward of '*'" not in text and "lambda a, b: a * b" not in text, text
        # every failing cell's error starts with its message, each message line fits the dialog, and
        # the checker's own frames are not there
        errors = page.evaluate("""() => {
            const pres = [...document.querySelectorAll('#validation-message .jp-RenderedText pre')];
            const ctx = document.createElement('canvas').getContext('2d');
            return pres.filter((p, i) => i % 2 === 1).map(p => {
                ctx.font = getComputedStyle(p).font;
                const lines = p.innerText.split('\\n');
                const message = lines.slice(0, lines.indexOf(''));
                return {text: p.innerText, widest: Math.max(...message.map(l => ctx.measureText(l).width)),
                        room: p.clientWidth};
            });
        }""")
        assert len(errors) == len(STUBS_LEFT) + 1, errors
        firsts = [e["text"].split("\n")[0] for e in errors]
        assert firsts == [f"GradientCheckError: not implemented yet: the _backward of {op!r}" for op in
                          ["+", "**2", "exp", "log"]] + [TANH_MESSAGE[0]] + [
            f"GradientCheckError: not implemented yet: the _backward of {op!r}" for op in ["relu", "sigmoid"]
        ], firsts
        assert errors[4]["text"].split("\n")[:4] == TANH_MESSAGE, errors[4]["text"]
        for e in errors:
            assert e["widest"] <= e["room"], e  # the message is not cut off at the dialog's edge
            assert "gradcheck.py" not in e["text"] and "numerical_derivative" not in e["text"], e["text"]
        page.evaluate("""(message) => {  // the tanh block at the top: 'failed:', its source, its error
            const pre = [...document.querySelectorAll('#validation-message pre')]
                .find(p => p.innerText.startsWith(message));
            pre.parentElement.previousElementSibling.previousElementSibling.scrollIntoView({block: 'start'});
        }""", TANH_MESSAGE[0])
        student.shot("validate-dialog-tanh-message", dialog)
        notes.append(
            "Validate dialog: 'Validation Results', "
            f"{text.count('The following cell failed:')} x 'The following cell failed:' "
            f"(stubs {', '.join(STUBS_LEFT)}, and tanh); mul is not listed; each error starts with:\n"
            + "\n".join(firsts)
        )
        dialog.get_by_role("button", name="Ok").click()
        saved = nbformat.read(notebook_file, as_version=4)
        assert saved.cells[mul].source == MUL_RIGHT  # Validate saved the notebook first
        assert saved.cells[tanh].source == TANH_OVERWRITES

        # 7. Nbgrader > Assignment List: the workspace copy is a downloaded assignment; submit it
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Assignment List").first.click()
        fetched = page.locator("#fetched_assignments_list")
        downloaded = fetched.locator(".list_item:not(.nested_list_item)", has_text=ASSIGNMENT)
        downloaded.wait_for()
        student.shot("assignment-list")
        downloaded.get_by_role("button", name="Submit").click()
        page.locator("#submitted_assignments_list .list_item", has_text=ASSIGNMENT).first.wait_for()
        student.shot("submitted")

    inbound = list((exchange / COURSE / "inbound").iterdir())
    assert len(inbound) == 1 and f"+{ASSIGNMENT}+" in inbound[0].name, inbound
    submitted = nbformat.read(inbound[0] / f"{ASSIGNMENT}.ipynb", as_version=4)
    assert submitted.cells[mul].source == MUL_RIGHT
    assert (inbound[0] / "gradcheck.py").exists()
    elapsed = time.monotonic() - started

    (ARTIFACTS / "student-sees.txt").write_text("\n\n".join(notes) + "\n")
    for path in [*shots, ARTIFACTS / "validate-dialog.txt", ARTIFACTS / "student-sees.txt"]:
        record_testsuite_property(f"browser-artifact-{path.stem}", str(path))  # in the junit XML
    with capsys.disabled():
        print(f"\nbrowser test: {elapsed:.1f} s in the browser; artifacts:")
        for path in [
            *shots,
            ARTIFACTS / "validate-dialog.txt",
            ARTIFACTS / "student-sees.txt",
            ARTIFACTS / "jupyter-lab.log",
        ]:
            print(f"  {path}")


# ------------------------------------------------------------------------------ feedback at submit time

def _serve_until_idle(course_root: Path, exchange: Path) -> None:
    """One pass of ``zengrad-kit serve`` over what is in the exchange (the service as a CLI)."""
    env = dict(os.environ, ZENGRAD_EXCHANGE=str(exchange))
    result = subprocess.run([str(Path(sys.executable).parent / "zengrad-kit"), "serve", "--until-idle", "--course",
                             str(course_root), "--GradingService.feedbacks_per_window=2"],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_submit_then_fetch_feedback_shows_the_hidden_checks_verdict_in_the_browser(
        course_template, tmp_path: Path, monkeypatch) -> None:
    """Fetch ps1 in the Assignment List, type a wrong mul, submit; the service grades it; Fetch Feedback and the
    page names mul's hidden-check failure; fix, resubmit: it passes; a third submission is over the limit.

    Offline, as in an exam room: every request that is not to this machine is refused. The first feedback is
    also opened inside JupyterLab's HTML viewer, where a student opens it: its math is MathML laid out as math,
    the whole counterexample line is visible, and nothing runs."""
    from autograder.service.student import release

    lab = serve_lab(tmp_path, [])
    base, token, workspace, exchange = next(lab)
    try:
        course = course_template.copy_to(tmp_path / "course")
        monkeypatch.setenv("ZENGRAD_EXCHANGE", str(exchange))
        release(course.root, ASSIGNMENT)  # the instructor's release, into the exchange Lab's student uses
        nb = nbformat.read(REPO / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
        mul = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells].index("mul_solution")
        pages: list[str] = []
        viewed: dict = {}
        refused: list[str] = []

        def offline(route) -> None:
            url = route.request.url
            if url.startswith(("blob:", "data:", "about:")) or urllib.parse.urlsplit(url).hostname in (
                    "127.0.0.1", "localhost"):
                return route.continue_()
            refused.append(url)
            return route.abort()

        with chromium_page(60_000) as page:
            page.context.route("**/*", offline)
            student = Student(page, [])

            def read_in_lab_viewer(html: Path) -> dict:
                """Open the fetched page in JupyterLab (its HTML viewer, a sandboxed frame) and measure it there."""
                page.goto(f"{base}/lab/tree/{html.relative_to(workspace)}?token={token}")
                frame_element = page.wait_for_selector(".jp-HTMLViewer iframe", timeout=60_000)
                frame = frame_element.content_frame()
                frame.wait_for_selector("math", state="attached", timeout=30_000)
                frame.wait_for_timeout(500)
                found = frame.evaluate(READABILITY_JS)
                found["sandbox"] = frame_element.get_attribute("sandbox")
                frame.get_by_text("your a.grad = ").first.scroll_into_view_if_needed()
                page.screenshot(path=str(ARTIFACTS / "lab-html-viewer-feedback.png"))
                return found

            def open_notebook() -> None:
                page.goto(f"{base}/lab/tree/{ASSIGNMENT}/{ASSIGNMENT}.ipynb?token={token}")
                page.wait_for_selector(".jp-NotebookPanel", timeout=60_000)
                student.kernel_idle()

            def submit_and_read_feedback(n: int) -> str:
                page.keyboard.press("Control+s")
                page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')")
                student.open_assignment_list()
                fetched = page.locator("#fetched_assignments_list .list_item:not(.nested_list_item)",
                                       has_text=ASSIGNMENT)
                fetched.get_by_role("button", name="Submit").click()
                submitted = page.locator("#submitted_assignments_list .list_item", has_text=ASSIGNMENT)
                page.wait_for_function("(n) => document.querySelectorAll("
                                       "'#submitted_assignments_list .list_item').length >= n", arg=n)
                _serve_until_idle(course.root, exchange)  # the service grades what is in inbound/
                button = submitted.get_by_role("button", name="Fetch Feedback")
                button.first.wait_for()
                button.first.click()
                view = page.locator("#submitted_assignments_list a", has_text="view feedback")
                page.wait_for_function("(n) => [...document.querySelectorAll('#submitted_assignments_list a')]"
                                       ".filter(a => a.textContent.includes('view feedback')).length >= n", arg=n)
                view.last.click()  # the file browser goes to the feedback folder
                folders = sorted((workspace / ASSIGNMENT / "feedback").iterdir())
                assert len(folders) == n, folders
                html = folders[-1] / f"{ASSIGNMENT}.html"
                tab = page.context.browser.new_context(viewport={"width": 900, "height": 900})
                tab.route("**/*", offline)
                viewer = tab.new_page()
                viewer.goto(f"{base}/files/{html.relative_to(workspace)}?token={token}")
                text = viewer.locator("body").inner_text()
                if n == 1:
                    viewed["tab"] = viewer.evaluate(READABILITY_JS)
                tab.close()
                if n == 1:
                    viewed["lab"] = read_in_lab_viewer(html)
                return text

            # fetch ps1 from the Released assignments list
            page.goto(f"{base}/lab?token={token}")
            page.wait_for_selector(".jp-LabShell", timeout=60_000)
            student.open_assignment_list()
            released = page.locator("#released_assignments_list .list_item", has_text=ASSIGNMENT)
            released.get_by_role("button", name="Fetch").click()
            page.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).first.wait_for()
            assert (workspace / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()

            for n, code in enumerate([MUL_WRONG, MUL_RIGHT, None], start=1):  # wrong (no chain rule), fixed, again
                open_notebook()
                if code is not None:
                    student.type_into(mul, code)
                pages.append(submit_and_read_feedback(n))
    finally:
        next(lab, None)
    (ARTIFACTS / "service-feedback.txt").write_text("\n\n=====\n\n".join(pages))
    assert not refused, refused  # nothing reached for the network
    for where in ("tab", "lab"):  # a plain tab, and JupyterLab's HTML viewer (no allow-scripts in its sandbox)
        assert_readable(viewed[where])
    assert "allow-scripts" not in (viewed["lab"]["sandbox"] or ""), viewed["lab"]
    first, second, third = pages
    mul_failed = "HiddenCheckFailed: multiplication a * b: a * b with a = "  # the shrunk counterexample
    verdict = next(line for line in first.splitlines() if line.startswith(mul_failed))
    assert "your a.grad = " in verdict and "(chain rule))" in verdict, verdict  # the numbers and the hint
    assert "Grade cell: mul_test" in first and "You can get 1 more hidden-check feedback" in first, first
    assert "You can get 0 more" in second and mul_failed not in second, second
    assert "HiddenCheckFailed" in second  # the other operators are still stubs
    assert "next hidden-check feedback is available for a submission received after" in third, third
