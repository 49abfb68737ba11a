"""The Jupyter files of a hub course: the students' config, the formgrader service's config, the hub fragment.

Students' servers read ``<jupyter dir>/nbgrader_config.py`` (which course, which exchange) and find
the instructor tools disabled **and locked** there (a lock keeps JupyterLab's plugin manager from
re-enabling them): the same JSON ``jupyter labextension lock`` / ``disable`` and ``jupyter server
extension disable`` write. This is comfort, not protection: a student's own config could turn a
tool back on, and it would show nothing, because the course is not readable by them.

The grader gets formgrader as nbgrader documents it for a hub: a hub-managed service running
``jupyterhub-singleuser`` from the course's environment, as the grader, rooted at the course, with
its own Jupyter config directory (``<course>/hub/formgrader/``) that enables formgrader and the
page-policy extension (:mod:`autograder.screen.server`) whatever the machine's config disables.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

SYSTEM_JUPYTER = Path("/etc/jupyter")  # every Jupyter on the machine reads it, whatever its environment
INSTRUCTOR_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                      "@jupyter/nbgrader:course-list")
FORMGRADER_EXTENSION = "nbgrader.server_extensions.formgrader"
PAGE_POLICY_EXTENSION = "autograder.screen.server"
BEGIN = "# >>> zengrad-kit hub setup: course {course_id} >>>"
END = "# <<< zengrad-kit hub setup: course {course_id} <<<"


def _merge_json(path: Path, update: dict) -> bool:
    """Deep-merge ``update`` into a JSON file; True when the file changed."""
    old = json.loads(path.read_text()) if path.exists() else {}
    new = json.loads(json.dumps(old))

    def merge(into: dict, src: dict) -> None:
        for key, value in src.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    merge(new, update)
    if new == old and path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(new, indent=2) + "\n")
    return True


def _managed_block(path: Path, course_id: str, body: str) -> bool:
    """Write ``body`` between this course's markers in ``path`` (other text and courses are kept)."""
    begin, end = BEGIN.format(course_id=course_id), END.format(course_id=course_id)
    block = f"{begin}\n{body.rstrip()}\n{end}\n"
    old = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    if pattern.search(old):
        new = pattern.sub(lambda _m: block, old)
    else:
        new = (old.rstrip() + "\n\n" if old.strip() else "") + block
    if new == old:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)
    return True


def student_config(course_id: str, exchange: Path) -> str:
    return ("c = get_config()  # noqa: F821\n"
            f"c.CourseDirectory.course_id = {course_id!r}\n"
            f"c.Exchange.root = {str(exchange)!r}\n"
            "c.Exchange.path_includes_course = True\n")


def write_student_files(jupyter_dir: Path, course_id: str, exchange: Path) -> list[str]:
    """The students' nbgrader config, instructor plugins disabled and locked, formgrader's server side off."""
    done = []
    if _managed_block(jupyter_dir / "nbgrader_config.py", course_id, student_config(course_id, exchange)):
        done.append(f"{jupyter_dir / 'nbgrader_config.py'}: course {course_id}, exchange {exchange}")
    flags = dict.fromkeys(INSTRUCTOR_PLUGINS, True)
    if _merge_json(jupyter_dir / "labconfig" / "page_config.json",
                   {"disabledExtensions": flags, "lockedExtensions": flags}):
        done.append(f"{jupyter_dir / 'labconfig/page_config.json'}: {', '.join(INSTRUCTOR_PLUGINS)} disabled and "
                    "locked (as `jupyter labextension disable` + `lock`)")
    if _merge_json(jupyter_dir / "jupyter_server_config.d" / "zengrad-kit-students.json",
                   {"ServerApp": {"jpserver_extensions": {FORMGRADER_EXTENSION: False}}}):
        done.append(f"{jupyter_dir / 'jupyter_server_config.d/zengrad-kit-students.json'}: server extension "
                    f"{FORMGRADER_EXTENSION} disabled")
    for path in (jupyter_dir, jupyter_dir / "labconfig", jupyter_dir / "jupyter_server_config.d"):
        path.chmod(0o755)
    for path in (jupyter_dir / "nbgrader_config.py", jupyter_dir / "labconfig" / "page_config.json",
                 jupyter_dir / "jupyter_server_config.d" / "zengrad-kit-students.json"):
        path.chmod(0o644)
    return done


def write_formgrader_files(config_dir: Path) -> list[str]:
    """The formgrader service's own Jupyter config: formgrader and the page policy on, its Lab plugin on."""
    done = []
    if _merge_json(config_dir / "jupyter_server_config.json",
                   {"ServerApp": {"jpserver_extensions": {FORMGRADER_EXTENSION: True, PAGE_POLICY_EXTENSION: True}}}):
        done.append(f"{config_dir / 'jupyter_server_config.json'}: formgrader and {PAGE_POLICY_EXTENSION} enabled")
    flags = {"@jupyter/nbgrader:formgrader": False, "@jupyter/nbgrader:create-assignment": False}
    if _merge_json(config_dir / "labconfig" / "page_config.json", {"disabledExtensions": flags}):
        done.append(f"{config_dir / 'labconfig/page_config.json'}: the formgrader's Lab plugins enabled")
    return done


def hub_fragment(*, course: Path, course_id: str, grader: str, venv_bin: Path, formgrader_port: int,
                 formgrader_config: Path, student_jupyter: Path | None) -> str:
    """The ``jupyterhub_config.py`` fragment: formgrader and the grading service as hub-managed services."""
    path = f"{venv_bin}:/usr/local/bin:/usr/bin:/bin"
    student_env = ("" if student_jupyter is None else
                   "# students' servers read the course's students' config from here (not /etc/jupyter)\n"
                   f"c.Spawner.environment.update({{'JUPYTER_CONFIG_PATH': {str(student_jupyter)!r}}})\n")
    return f'''"""zengrad-kit hub setup: course {course_id!r} in {course}, grader {grader!r}.

Include it at the END of jupyterhub_config.py (it adds to services, groups and roles):

    load_subconfig({str(course / "hub" / "jupyterhub_config.py")!r})

Regenerate it with `zengrad-kit hub setup`; edits here are overwritten.
"""
c = get_config()  # noqa: F821

c.JupyterHub.services.extend([
    {{  # formgrader for the grader: https://<hub>/services/{course_id}/formgrader
        "name": {course_id!r},
        "url": "http://127.0.0.1:{formgrader_port}",
        "command": [{str(venv_bin / "jupyterhub-singleuser")!r}, "--ServerApp.root_dir={course}"],
        "user": {grader!r},
        "cwd": {str(course)!r},
        "environment": {{
            "JUPYTER_CONFIG_PATH": {str(formgrader_config)!r},  # formgrader + the page policy on
            "JUPYTERHUB_DEFAULT_URL": "/formgrader",
            "PATH": {path!r},  # nbgrader runs alembic from here
        }},
        "oauth_no_confirm": True,
    }},
    {{  # the submit-time grading service (zengrad-kit serve), restarted by the hub if it dies
        "name": {course_id + "-serve"!r},
        "command": [{str(venv_bin / "zengrad-kit")!r}, "serve", "--course", {str(course)!r}],
        "user": {grader!r},
        "cwd": {str(course)!r},
        "environment": {{"PATH": {path!r}}},
    }},
])
# who may open formgrader (nbgrader's convention: the group formgrade-<course id>); add co-instructors here
c.JupyterHub.load_groups.update({{{"formgrade-" + course_id!r}: {{"users": [{grader!r}]}}}})
c.JupyterHub.load_roles.append({{
    "name": {"formgrade-" + course_id!r},
    "groups": [{"formgrade-" + course_id!r}],
    "scopes": [{"access:services!service=" + course_id!r}],
}})
{student_env}'''
