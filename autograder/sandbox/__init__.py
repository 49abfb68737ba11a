"""Where student code runs: jailed processes, and the grader's side of talking to them.

* ``jail``: the OS sandbox (bubblewrap): namespaces, an unprivileged uid, limits;
* ``kernel``: the Jupyter kernel nbgrader executes a notebook in, started inside a jail;
* ``worker``: the check worker, a jailed ``python -I -S`` that answers adapter programs
  with plain numbers, within CPU-time budgets;
* ``worker_child``: the worker's own protocol loop (the untrusted side; executed as source,
  after the check kit's interpreter ``autograder/checks/kit/interpreter.py``);
* ``engine``: a notebook's student code in a worker, cell by cell, as the kernel ran it.
"""
