"""``zengrad-kit serve``: submit-time feedback on the nbgrader exchange.

* ``state``: the SQLite state file (exactly once across ``kill -9``; round-robin fairness);
* ``policy``: rate limits and per-cell visibility, from ``nbgrader_config.py``;
* ``worker``: one submission graded by the batch pipeline in a private course, its pages rendered;
* ``executor``: where that runs (warm local processes, or a Dask cluster);
* ``pages``: what the student sees (notices, waiting, superseded, over the limit, refused);
* ``service``: the loop: watch, collect, queue, grade, release.
"""

from autograder.service.service import Service, ServiceError, serve

__all__ = ["Service", "ServiceError", "serve"]
