"""Shared fixtures: an isolated Jupyter home, and throwaway copies of the real course."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from tests.course_helpers import CourseTemplate, release_nb, solution_nb
from tests.graded import GradedClass, grade_class
from tests.unix import USERS

ASSIGNMENT = "ps1_operators"
pytest_plugins = ["tests.tiers"]  # which tier each test runs in


@pytest.hookimpl(trylast=True)  # after -k/-m have deselected: the items are those the session runs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Grade only the selected mutants' class when a session selects some mutants' contract tests and nothing else
    that grades that class (``tests/graded.py``'s ``SELECTED``): a focused run of one slow class stays short."""
    from tests import graded

    mutants: dict[str, set[str]] = {}
    others: set[str] = set()
    for item in items:
        if "graded" not in getattr(item, "fixturenames", ()):
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        assignment = params.get("assignment")
        if item.module.__name__.endswith("test_assignments") and "name" in params:
            mutants.setdefault(assignment, set()).add(params["name"])
        elif item.module.__name__.endswith("test_assignments") and assignment:
            continue  # the class-level contract (full marks, stub, regrade) holds for any class
        else:
            others.add(assignment or "*")  # another module reads this class's students: grade them all
    graded.SELECTED.clear()
    graded.SELECTED.update({a: names for a, names in mutants.items()
                            if a not in others and "*" not in others and names != set(graded.sample(a))})


@pytest.fixture(scope="session", autouse=True)
def isolated_jupyter(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep Jupyter and IPython from writing into $HOME, and put the venv's bin on PATH (alembic)."""
    home = tmp_path_factory.mktemp("jupyter-home")
    for var, sub in (("IPYTHONDIR", "ipython"), ("JUPYTER_CONFIG_DIR", "config"),
                     ("JUPYTER_DATA_DIR", "data"), ("JUPYTER_RUNTIME_DIR", "runtime"), ("MPLCONFIGDIR", "mpl")):
        os.environ[var] = str(home / sub)
    os.environ["JUPYTER_PLATFORM_DIRS"] = "1"
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    import sys

    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture(scope="session")
def course_template(tmp_path_factory: pytest.TempPathFactory, isolated_jupyter: None) -> CourseTemplate:
    """The course with every assignment generated once (gradebook included); copy it per test."""
    return CourseTemplate.build(tmp_path_factory.mktemp("course-template"))


@pytest.fixture(scope="session")
def graded(course_template: CourseTemplate, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], GradedClass]:
    """``graded(assignment)``: the assignment's class graded by real nbgrader, once per session (tests/graded.py)."""
    done: dict[str, GradedClass | BaseException] = {}

    def get(assignment: str) -> GradedClass:
        if assignment not in done:
            try:
                done[assignment] = grade_class(course_template, tmp_path_factory.mktemp(assignment), assignment)
            except BaseException as exc:  # noqa: BLE001 - kept, so the next test fails at once instead of regrading
                done[assignment] = exc
                raise
        result = done[assignment]
        if isinstance(result, BaseException):
            raise result
        return result

    return get


@pytest.fixture
def course(course_template: CourseTemplate, tmp_path: Path):
    """A fresh, writable copy of the generated course."""
    return course_template.copy_to(tmp_path / "course")


@pytest.fixture(scope="session")
def unix_users() -> dict[str, tuple[int, int]]:
    """Two real unix users (created for the test, removed after): name -> (uid, gid)."""
    if os.getuid() != 0 or shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("needs root with useradd and setpriv to create the two student accounts (CI grades as root)")
    made = []
    for name in USERS:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
            made.append(name)
    yield {name: (pwd.getpwnam(name).pw_uid, pwd.getpwnam(name).pw_gid) for name in USERS}
    for name in made:
        subprocess.run(["userdel", name], check=False)


@pytest.fixture
def shared_exchange(course, unix_users):
    """The course with an exchange every student can write into (inbound 733, as nbgrader makes it)."""
    root = Path(tempfile.mkdtemp(prefix="zg-exchange-"))
    os.chmod(root, 0o755)
    inbound = root / "zengrad" / "inbound"
    inbound.mkdir(parents=True)
    os.chmod(root / "zengrad", 0o755)
    os.chmod(inbound, 0o733)
    files = Path(tempfile.mkdtemp(prefix="zg-files-"))
    os.chmod(files, 0o755)
    for label, nb in (("right", solution_nb(ASSIGNMENT)), ("stub", release_nb(ASSIGNMENT))):
        (files / label).mkdir()
        nbformat.write(nb, files / label / f"{ASSIGNMENT}.ipynb")
        os.chmod(files / label, 0o755)
        os.chmod(files / label / f"{ASSIGNMENT}.ipynb", 0o644)
    os.environ["ZENGRAD_EXCHANGE"] = str(root)
    try:
        yield course, inbound, files
    finally:
        os.environ.pop("ZENGRAD_EXCHANGE", None)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(files, ignore_errors=True)
