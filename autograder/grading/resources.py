"""Per-submission data for nbgrader plugins, carried in nbgrader's own ``resources``.

A converter made (or reused) for one submission puts that submission's data under
``resources[KEY]`` of every notebook it converts; a plugin reads it with :func:`run_data`. Nothing
per-submission lives in a module global, so what one submission's plugins see can never be
another's, whichever process or order they are graded in. nbconvert deep-copies ``resources``
once per notebook it exports, so what travels there should be cheap to copy (bytes, not parsed
notebooks).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

KEY = "zengrad"  # resources[KEY]: this submission's data for the plugins
GRADED = "graded"  # notebook name -> the notebook a worker autograded, as bytes (the recorder's ApplyGraded)
VISIBILITY = "visibility"  # grade_id -> full | pass-fail | none (the service's ApplyVisibility)

NOTHING: Mapping[str, Any] = MappingProxyType({})


def run_data(resources: Mapping[str, Any]) -> Mapping[str, Any]:
    """This submission's data, as its converter put it into a notebook's ``resources`` (empty if none)."""
    return resources.get(KEY) or NOTHING


class CarriesRunData:
    """Mixin for an nbgrader converter: :attr:`run_data` goes into the resources of every notebook it converts."""

    run_data: Mapping[str, Any] = NOTHING

    def init_single_notebook_resources(self, notebook_filename: str) -> dict[str, Any]:
        resources = super().init_single_notebook_resources(notebook_filename)  # type: ignore[misc]
        resources[KEY] = dict(self.run_data)  # a plain dict: nbconvert deep-copies resources
        return resources
