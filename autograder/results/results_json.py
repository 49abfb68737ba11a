"""The one writer of Gradescope ``results.json`` files (``zengrad-kit grade``'s reports and the Gradescope runner).

Both write the same bytes for the same data: one-space indented JSON with a final newline, never
``NaN``/``Infinity`` (Gradescope's parser, like every strict JSON parser, rejects them), replaced
atomically so a reader (or a killed grader) never sees half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

INDENT = 1  # what both writers have always used: results.json files stay byte-identical


def write_results_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` through ``<path>.tmp`` and ``os.replace``, so it appears whole or not at all.

    Raises ``ValueError`` for a non-finite number rather than writing a file Gradescope cannot read.
    """
    path = Path(path)
    text = json.dumps(data, indent=INDENT, allow_nan=False) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
