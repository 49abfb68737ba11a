"""``IntegrityScan`` (first sanitize step): flags suspicious code and edited or deleted read-only cells."""

from __future__ import annotations

import re

from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_locked

from autograder import scan
from autograder.preprocessors import metadata as zm
from autograder.preprocessors.common import _trusted_sources, is_test_cell, zmeta

HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)


def _normalized(source: str) -> list[str]:
    """Lines without surrounding blanks: what a read-only cell's identity is compared on."""
    return [line.rstrip() for line in source.strip().splitlines() if line.strip()]



class IntegrityScan(NbGraderPreprocessor):
    """Flag suspicious code and tampering; never changes a score by itself."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        # the grader's records start empty: a submission cannot bring its own metadata.zengrad
        nb.metadata[zm.NAMESPACE] = NotebookNode()
        for cell in nb.cells:
            cell.get("metadata", {}).pop(zm.NAMESPACE, None)
        trusted = _trusted_sources(resources, nb.cells)
        flags: list[dict] = []
        present = set()
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            present.add(grade_id)
            if grade_id in trusted and (is_locked(cell) or is_test_cell(cell)):
                if _normalized(cell.source) != _normalized(HIDDEN_BLOCK.sub("", trusted[grade_id])):
                    flags.append({"cell": index, "grade_id": grade_id, "kind": "edited-read-only-cell",
                                  "detail": "a read-only or test cell was edited (nbgrader restores it)"})
                continue  # instructor code: not scanned
            for finding in scan.scan_source(cell.source):
                finding.update(cell=index, grade_id=grade_id)
                flags.append(finding)
        try:
            with Gradebook(resources["nbgrader"]["db_url"]) as gb:
                notebook = gb.find_notebook(resources["nbgrader"]["notebook"], resources["nbgrader"]["assignment"])
                for grade_cell in notebook.grade_cells:
                    if grade_cell.name not in present:
                        flags.append({"cell": None, "grade_id": grade_cell.name, "kind": "deleted-test-cell",
                                      "detail": "a graded cell was deleted (nbgrader adds it back)"})
        except (KeyError, MissingEntry):
            pass
        zmeta(nb)[zm.INTEGRITY] = flags
        if flags:
            self.log.warning("integrity flags: %s", ", ".join(sorted({f["kind"] for f in flags})))
        return nb, resources

