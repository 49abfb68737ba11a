"""A course on a real JupyterHub, end to end: ``zengrad-kit hub setup``, students in a browser, the grader's formgrader.

Real components only: JupyterHub (PAM, local process spawner) and configurable-http-proxy on
127.0.0.1, real unix users made here (``zghub*``, removed afterwards), headless Debian chromium.

What runs where, and why it works for users other than root:

* the course is a copy of this checkout under ``/srv/zghub-XXXX/`` (``/srv`` is 0755); pytest's own
  tmp dir (0700) and the CI checkout (under root's paths) are not reachable by other users;
* one venv made from Debian's ``/usr/bin/python3`` (a pyenv under ``/root`` is mode 700: exit 126
  for everyone else), at ``/opt/zghub-venv``, with ``jupyterhub`` and the course installed editable:
  the hub, the students' servers, formgrader and the grading service all run from it. Editable
  means the grading code stays in the course, which hub setup makes unreadable by students; the
  venv itself (world-readable) holds no secret. It is reused across runs while ``pyproject.toml``
  is unchanged (only the editable link is redone).

One hub serves every check, in the order an instructor meets them: doctor on the fresh copy
(exit 1, world-readable), hub setup (twice: idempotent), doctor (exit 0), release as the grader
with no ``ZENGRAD_EXCHANGE``, two students fetch, submit (one with a wrong ``mul``) and fetch
feedback from the service in their browser, collect, ``zengrad-kit grade`` as root then as the
grader, formgrader through the hub shows the submission, and a student's shell reads none of
the course's secrets. Screenshots go to the test's tmp dir and ``docs/img/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from tests.course_helpers import REPO
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, MUL_WRONG, Student, free_port

DEBIAN_PYTHON = Path("/usr/bin/python3")
VENV = Path("/opt/zghub-venv")
GRADER = "zghubgrader"
STUDENTS = ("zghubs1", "zghubs2")
ASSIGNMENT = "ps1_operators"
COURSE_ID = "zengrad"
DOCS_IMG = REPO / "docs" / "img"
COURSE_PARTS = ("nbgrader_config.py", "pyproject.toml", "README.md", "autograder", "zengrad_ref", "source", "release",
                "solutions")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(os.geteuid() != 0, reason="makes unix users and runs a hub: needs root"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium"),
    pytest.mark.skipif(shutil.which("configurable-http-proxy") is None,
                       reason="configurable-http-proxy is not installed (npm install -g configurable-http-proxy; "
                              ".ci/setup does it)"),
    pytest.mark.skipif(not DEBIAN_PYTHON.exists(), reason="no /usr/bin/python3 to make a venv every user can run"),
]


def run(cmd: list[str], timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def as_user(user: str, cmd: list[str], cwd: Path | str = "/", timeout: float = 600,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``cmd`` as a unix user, the way a shell of theirs would run it (setpriv, their groups and home)."""
    base = {"PATH": f"{VENV}/bin:/usr/local/bin:/usr/bin:/bin", "HOME": f"/home/{user}", "USER": user,
            "LANG": "C.UTF-8"}
    # through env: setpriv execs with root's capabilities still held, env as the user (as a shell would)
    return run(["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", "/usr/bin/env", "--", *cmd],
               timeout=timeout,
               cwd=cwd, env={**base, **(env or {})})


def shared_venv(course: Path) -> float:
    """The venv every hub user runs (see the module docstring); seconds it took."""
    started = time.monotonic()
    jupyterhub = _jupyterhub_version()
    stamp = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + jupyterhub.encode()).hexdigest()[:16]
    marker = VENV / "zghub-stamp"
    if not (marker.exists() and marker.read_text() == stamp):
        shutil.rmtree(VENV, ignore_errors=True)
        made = run([str(DEBIAN_PYTHON), "-m", "venv", str(VENV)])
        assert made.returncode == 0, made.stderr
        done = run([f"{VENV}/bin/pip", "install", "-q", f"jupyterhub=={jupyterhub}", "-e", str(course)], timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        marker.write_text(stamp)
    done = run([f"{VENV}/bin/pip", "install", "-q", "--no-deps", "-e", str(course)], timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    shutil.rmtree(course / "build", ignore_errors=True)
    return time.monotonic() - started


def _jupyterhub_version() -> str:
    from importlib.metadata import version

    return version("jupyterhub")


@dataclass
class Hub:
    root: Path
    course: Path
    exchange: Path
    jupyter_dir: Path
    url: str
    proc: subprocess.Popen | None = None

    def zengrad_kit(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        """``zengrad-kit`` from the shared venv, as root, with a clean environment (no test-only Jupyter dirs)."""
        env = {"PATH": f"{VENV}/bin:/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
        return run([f"{VENV}/bin/zengrad-kit", *args], timeout=timeout, cwd="/", env=env)

    def start(self) -> None:
        hub_dir = self.root / "jupyterhub"
        hub_dir.mkdir(mode=0o700)
        port, hub_port, api_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{port}"
        (hub_dir / "jupyterhub_config.py").write_text(f"""c = get_config()  # noqa: F821
c.JupyterHub.bind_url = {self.url!r}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.pid_file = {str(hub_dir / "proxy.pid")!r}
c.JupyterHub.db_url = "sqlite:///{hub_dir / "jupyterhub.sqlite"}"
c.JupyterHub.cookie_secret_file = {str(hub_dir / "cookie_secret")!r}
c.Authenticator.allowed_users = {{{", ".join(repr(u) for u in (GRADER, *STUDENTS))}}}
c.Spawner.cmd = [{f"{VENV}/bin/jupyterhub-singleuser"!r}]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 180
load_subconfig({str(self.course / "hub" / "jupyterhub_config.py")!r})
""")
        log = (hub_dir / "hub.log").open("w")
        self.proc = subprocess.Popen([f"{VENV}/bin/jupyterhub", "-f", str(hub_dir / "jupyterhub_config.py")],
                                     cwd=hub_dir, stdout=log, stderr=subprocess.STDOUT,
                                     env={"PATH": f"{VENV}/bin:/usr/local/bin:/usr/bin:/bin", "HOME": "/root",
                                          "LANG": "C.UTF-8"})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()[-4000:]
            if "JupyterHub is now running" in self.log():
                return
            time.sleep(0.5)
        pytest.fail(f"the hub did not start in 120 s:\n{self.log()[-4000:]}")

    def log(self) -> str:
        path = self.root / "jupyterhub" / "hub.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM the hub: it stops the proxy, the users' servers and the managed services."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """Users, a world-readable copy of the course under /srv (as a fresh clone is), the shared venv; no hub yet."""
    Path("/srv").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="zghub-", dir="/srv"))
    os.chmod(root, 0o755)
    course = root / "course"
    course.mkdir()
    for part in COURSE_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, course / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, course / part)
    for path in [course, *course.rglob("*")]:  # as `git clone` leaves it with umask 022
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    for user in (GRADER, *STUDENTS):  # fresh accounts (a leftover home would hold an earlier run's fetch)
        remove_user(user)
        made = run(["useradd", "-m", "-U", "-s", "/bin/bash", user])
        assert made.returncode == 0, made.stderr
        run(["chpasswd"], input=f"{user}:pw-{user}\n")
    seconds = shared_venv(course)
    print(f"\nhub test: shared venv ready in {seconds:.0f} s ({VENV})")
    env = Hub(root, course, root / "exchange", root / "etc-jupyter", "")
    try:
        yield env
    finally:
        env.stop()
        for user in (GRADER, *STUDENTS):
            remove_user(user)
        shutil.rmtree(root, ignore_errors=True)


def remove_user(user: str) -> None:
    """Remove a test account (``zghub*`` names are this test's own) and its home."""
    if run(["id", user]).returncode == 0:
        run(["userdel", "-r", "-f", user])
    if run(["getent", "group", user]).returncode == 0:
        run(["groupdel", user])


@contextlib.contextmanager
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def log_in(b, hub: Hub, user: str, next_url: str = ""):
    """A page of a fresh browser context, logged into the hub as ``user`` (PAM: the unix password)."""
    context = b.new_context(viewport={"width": 1200, "height": 760})
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{hub.url}/hub/login" + (f"?next={next_url}" if next_url else ""))
    page.fill("#username_input", user)
    page.fill("#password_input", f"pw-{user}")
    page.click("#login_submit")
    return page


def fetch_and_submit(page, hub: Hub, user: str, code: str | None) -> None:
    """In the student's JupyterLab: fetch ps1 from the Assignment List, (type ``code`` into mul,) save, submit."""
    page.wait_for_url(f"**/user/{user}/lab**", timeout=180_000)
    page.wait_for_selector(".jp-LabShell", timeout=120_000)
    student = Student(page, [])
    student.open_assignment_list()
    page.locator("#released_assignments_list .list_item", has_text=ASSIGNMENT).get_by_role(
        "button", name="Fetch").click()
    page.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).first.wait_for()
    if code is not None:
        nb = nbformat.read(REPO / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
        mul = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells].index("mul_solution")
        page.goto(f"{hub.url}/user/{user}/lab/tree/{COURSE_ID}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
        page.wait_for_selector(".jp-NotebookPanel", timeout=120_000)
        student.kernel_idle(timeout=120_000)
        student.type_into(mul, code)
        page.keyboard.press("Control+s")
        page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')")
        student.open_assignment_list()
    page.locator("#fetched_assignments_list .list_item:not(.nested_list_item)", has_text=ASSIGNMENT).get_by_role(
        "button", name="Submit").click()
    page.locator("#submitted_assignments_list .list_item", has_text=ASSIGNMENT).first.wait_for()


def wait_until_graded(hub: Hub, n: int, timeout: float = 300) -> float:
    """Until the service has graded and released ``n`` submissions; seconds waited."""
    started = time.monotonic()
    status = hub.course / "service" / "status.json"
    while time.monotonic() - started < timeout:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(status.read_text())
            if data["counts"].get("graded", 0) >= n and not data["queue"] and not data["grading"]:
                return time.monotonic() - started
        time.sleep(1)
    pytest.fail(f"the service did not grade {n} submissions in {timeout} s: {status.read_text()}\n{hub.log()[-3000:]}")


def fetch_feedback(page, hub: Hub, user: str) -> Path:
    """Fetch Feedback in the Assignment List until the page is the graded one; the fetched HTML file."""
    home = Path(f"/home/{user}") / COURSE_ID / ASSIGNMENT / "feedback"  # path_includes_course
    Student(page, []).open_assignment_list()
    for _ in range(20):
        page.locator("#submitted_assignments_list .list_item", has_text=ASSIGNMENT).get_by_role(
            "button", name="Fetch Feedback").first.click()
        time.sleep(1.5)
        pages = sorted(home.glob(f"*/{ASSIGNMENT}.html"))
        if pages and "Grade cell" in pages[-1].read_text(errors="replace"):
            return pages[-1]
        time.sleep(2)
    pytest.fail(f"no graded feedback for {user} under {home}")


def shot(page, tmp: Path, name: str) -> Path:
    path = tmp / f"{name}.png"
    page.screenshot(path=str(path))
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, DOCS_IMG / path.name)
    return path


def test_a_course_on_a_real_hub(hub: Hub, tmp_path: Path, capsys) -> None:
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    course = hub.course

    # a fresh clone is world-readable: doctor names it and exits 1
    doctor = hub.zengrad_kit("doctor", "--course", str(course))
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert f"[LEAK] {course}/solutions: the solutions: readable by every user" in doctor.stdout, doctor.stdout
    assert f"[LEAK] {course}/autograder: the grading code and the hidden checks" in doctor.stdout, doctor.stdout

    # hub setup, then again (idempotent: nothing left to change), then doctor is clean
    t = time.monotonic()
    args = ["hub", "setup", "--course", str(course), "--exchange", str(hub.exchange), "--grader", GRADER,
            "--jupyter-dir", str(hub.jupyter_dir), "--student-python", f"{VENV}/bin/python",
            "--formgrader-port", str(free_port())]
    first = hub.zengrad_kit(*args)
    assert first.returncode == 0, first.stdout + first.stderr
    timings["hub setup"] = time.monotonic() - t
    assert "registered ps1_operators, ps2_backprop, ps3_mlp, ps4_extend" in first.stdout, first.stdout
    t = time.monotonic()
    second = hub.zengrad_kit(*args)
    assert second.returncode == 0, second.stdout + second.stderr
    timings["hub setup again"] = time.monotonic() - t
    for line in ("every assignment of source/ is in the gradebook", "modes and owners already right",
                 "already written"):
        assert line in second.stdout, second.stdout
    assert "now owned by" not in second.stdout, second.stdout
    doctor = hub.zengrad_kit("doctor", "--course", str(course))
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "[LEAK]" not in doctor.stdout and "[BREAK]" not in doctor.stdout, doctor.stdout
    assert (course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes() == (
        REPO / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()  # registered, release/ untouched
    assert oct(hub.exchange.stat().st_mode & 0o7777) == "0o1777"
    assert oct((hub.exchange / COURSE_ID / "inbound").stat().st_mode & 0o7777) == "0o3733"

    # the grader releases from a plain shell: the exchange comes from the course (no ZENGRAD_EXCHANGE)
    released = as_user(GRADER, [f"{VENV}/bin/nbgrader", "release_assignment", ASSIGNMENT], cwd=course)
    assert released.returncode == 0, released.stderr
    assert (hub.exchange / COURSE_ID / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()
    assert oct(hub.exchange.stat().st_mode & 0o7777) == "0o1777", released.stderr  # nbgrader left the sticky bit

    t = time.monotonic()
    hub.start()
    timings["hub start"] = time.monotonic() - t

    # two students: fetch, submit (one with a classic wrong mul), fetch the service's feedback in the browser
    with browser() as b:
        t = time.monotonic()
        pages = {user: log_in(b, hub, user) for user in STUDENTS}  # their servers spawn meanwhile
        for user, code in zip(STUDENTS, (MUL_WRONG, None), strict=True):
            fetch_and_submit(pages[user], hub, user, code)
        timings["students log in, fetch, submit"] = time.monotonic() - t
        timings["service grades both"] = wait_until_graded(hub, len(STUDENTS))
        t = time.monotonic()
        html = fetch_feedback(pages[STUDENTS[0]], hub, STUDENTS[0])
        view = pages[STUDENTS[0]].context.new_page()
        view.goto(f"{hub.url}/user/{STUDENTS[0]}/files/{html.relative_to(Path('/home') / STUDENTS[0])}")
        text = view.locator("body").inner_text()
        assert "HiddenCheckFailed: multiplication a * b" in text and "your a.grad = " in text, text[:3000]
        view.get_by_text("HiddenCheckFailed: multiplication a * b").first.scroll_into_view_if_needed()
        feedback_shot = shot(view, tmp_path, "hub-feedback")
        assert "Grade cell" in fetch_feedback(pages[STUDENTS[1]], hub, STUDENTS[1]).read_text()
        timings["students fetch feedback"] = time.monotonic() - t

        # the grader collects, grades as root (it runs as the grader), then as the grader: both succeed
        collected = as_user(GRADER, [f"{VENV}/bin/nbgrader", "collect", ASSIGNMENT], cwd=course)
        assert collected.returncode == 0, collected.stderr
        t = time.monotonic()
        as_root = hub.zengrad_kit("grade", ASSIGNMENT, "--course", str(course), "--no-progress")
        timings["grade as root"] = time.monotonic() - t
        assert as_root.returncode == 0, as_root.stdout + as_root.stderr
        assert f"running `grade` as {GRADER}, not root" in as_root.stderr, as_root.stderr
        root_owned = [p for p in [course, *course.rglob("*")] if p.lstat().st_uid == 0 and "__pycache__" not in
                      p.parts]
        assert not root_owned, root_owned[:10]
        t = time.monotonic()
        as_grader = as_user(GRADER, [f"{VENV}/bin/zengrad-kit", "grade", ASSIGNMENT, "--no-progress"], cwd=course)
        timings["grade as the grader"] = time.monotonic() - t
        assert as_grader.returncode == 0, as_grader.stdout + as_grader.stderr
        assert "graded 2 submissions" in as_grader.stdout, as_grader.stdout

        # formgrader through the hub, as the grader: the submission, with the page policy
        t = time.monotonic()
        fg = log_in(b, hub, GRADER, next_url=f"/services/{COURSE_ID}/formgrader")
        fg.wait_for_url(f"**/services/{COURSE_ID}/formgrader/**")
        fg.goto(f"{hub.url}/services/{COURSE_ID}/formgrader/manage_submissions/{ASSIGNMENT}")
        row = fg.locator("tr", has_text=STUDENTS[0]).first
        row.wait_for()
        fg.goto(f"{hub.url}/services/{COURSE_ID}/formgrader/gradebook/{ASSIGNMENT}/{ASSIGNMENT}")
        fg.locator("a", has_text="Submission #").first.wait_for()
        with fg.expect_response(lambda r: "/formgrader/submissions/" in r.url and r.request.resource_type
                                == "document") as response:
            fg.locator("tr", has_text="Submission #").locator("a").first.click()
        policy = response.value.all_headers().get("content-security-policy", "")
        assert "script-src" in policy, response.value.all_headers()
        fg.wait_for_selector("#notebook, .cell, body")
        fg.get_by_text("mul_test").first.scroll_into_view_if_needed()  # the graded cell and its score
        formgrader_shot = shot(fg, tmp_path, "hub-formgrader-submission")
        timings["formgrader"] = time.monotonic() - t

    # a student's shell reads none of the course's secrets
    secrets = {
        "solutions": course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
        "source notebook": course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
        "hidden checks": course / "autograder" / "checks" / "ps1.py",
        "reference engine": course / "zengrad_ref" / "engine.py",
        "gradebook": course / "gradebook.db",
        "grades": course / "reports" / "grades.csv",
        "classmate's feedback": course / "feedback" / STUDENTS[1] / ASSIGNMENT / f"{ASSIGNMENT}.html",
        "classmate's submission secret": course / "submitted" / STUDENTS[1] / ASSIGNMENT / "submission_secret.txt",
        "autograded notebook": course / "autograded" / STUDENTS[1] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
        "service state": course / "service" / "state.db",
        "service pages": course / "service" / "pages",
        "the course's listing": course,
        "inbound's listing": hub.exchange / COURSE_ID / "inbound",
        "released feedback's listing": hub.exchange / COURSE_ID / "feedback",
    }
    for what, path in secrets.items():
        assert path.exists(), f"{what}: {path} does not exist (the check would prove nothing)"
    probe = ("import json, os, sys\nout = {}\nfor what, path in json.loads(sys.argv[1]).items():\n"
             "    try:\n        os.listdir(path) if os.path.isdir(path) else open(path, 'rb').read(1)\n"
             "        out[what] = 'READ'\n    except OSError as e:\n        out[what] = type(e).__name__\n"
             "print(json.dumps(out))")
    shell = as_user(STUDENTS[0], ["/usr/bin/python3", "-I", "-c", probe,
                                  json.dumps({k: str(v) for k, v in secrets.items()})])
    assert shell.returncode == 0, shell.stderr
    results = json.loads(shell.stdout)
    assert {k: v for k, v in results.items() if v == "READ"} == {}, results
    imported = as_user(STUDENTS[0], [f"{VENV}/bin/python", "-c", "import autograder.checks.ps1"])
    assert imported.returncode != 0 and "Permission" in imported.stderr, imported.stdout + imported.stderr

    doctor = hub.zengrad_kit("doctor", "--course", str(course))
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "the grading service runs" in doctor.stdout, doctor.stdout
    timings["total"] = time.monotonic() - t0
    with capsys.disabled():
        print("\nhub test timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
        print(f"  screenshots: {formgrader_shot}, {feedback_shot} (copied to {DOCS_IMG})")
