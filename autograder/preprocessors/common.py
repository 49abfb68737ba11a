"""What the preprocessors share: their metadata namespace, the outputs they write, the cells and files they read."""

from __future__ import annotations

from pathlib import Path

from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.utils import is_grade, is_solution

from autograder.preprocessors import metadata as zm


def zmeta(node: NotebookNode) -> NotebookNode:
    """The ``zengrad`` metadata namespace of a notebook or a cell."""
    if zm.NAMESPACE not in node.metadata:
        node.metadata[zm.NAMESPACE] = NotebookNode()
    return node.metadata[zm.NAMESPACE]


def error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"])


def stdout_output(text: str) -> NotebookNode:
    return NotebookNode(output_type="stream", name="stdout", text=text)


def is_test_cell(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def _trusted_sources(resources: dict, cells: list[NotebookNode]) -> dict[str, str]:
    """grade_id -> source of read-only cells as the gradebook holds them (the instructor's version)."""
    nbg = resources.get("nbgrader", {})
    out: dict[str, str] = {}
    try:
        with Gradebook(nbg["db_url"]) as gb:
            for cell in cells:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if not grade_id:
                    continue
                try:
                    out[grade_id] = gb.find_source_cell(grade_id, nbg["notebook"], nbg["assignment"]).source
                except MissingEntry:
                    pass
    except KeyError:
        pass
    return out



def submission_files(folder: Path, max_files: int = 200, max_bytes: int = 32 << 20) -> dict[str, bytes]:
    """The files next to the notebook (the student's submission), copied into each jail: bounded."""
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or path.is_symlink() or any(part.startswith(".") for part in rel.parts):
            continue
        size = path.stat().st_size
        if len(files) >= max_files or total + size > max_bytes:
            break
        files[str(rel)] = path.read_bytes()
        total += size
    return files

