"""What ``zengrad-kit hub setup`` recorded about a course (``<course>/hub/hub.json``), read back by everyone.

The course's ``nbgrader_config.py`` reads the exchange and the course id from it, so an
instructor's shell needs no ``ZENGRAD_EXCHANGE``; ``doctor`` reads where the students' config and
the students' interpreter are.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

HUB_DIR = "hub"  # <course>/hub/: hub.json, jupyterhub_config.py, formgrader/ (the service's Jupyter config)
RECORD = "hub.json"


@dataclass
class Deployment:
    course_id: str
    exchange: str
    grader: str
    student_jupyter: str  # where the students' nbgrader config and plugin locks are
    student_python: str | None  # the interpreter students' servers run (None: not known)
    formgrader_port: int

    @staticmethod
    def path(course: Path) -> Path:
        return course / HUB_DIR / RECORD

    @classmethod
    def read(cls, course: Path) -> Deployment | None:
        path = cls.path(course)
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})

    def write(self, course: Path) -> bool:
        path = self.path(course)
        text = json.dumps(asdict(self), indent=1) + "\n"
        if path.exists() and path.read_text() == text:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return True
