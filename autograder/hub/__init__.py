"""A course on a shared machine (JupyterHub): set it up safely, check it, and grade it as its owner.

* ``accounts``: unix users and groups, and running a command as one of them (``setpriv``);
* ``exposure``: who besides the owner can read a path (mode bits of the path and of every parent);
* ``layout``: which parts of a course are secret (solutions, checks, grades, submissions, state);
* ``exchange_dirs``: the shared nbgrader exchange and the modes that keep submissions apart;
* ``jupyter_files``: the students' Jupyter config and the ``jupyterhub_config.py`` fragment;
* ``gradebook``: every assignment of ``source/`` registered in the gradebook, ``release/`` untouched;
* ``setup``: ``zengrad-kit hub setup``; ``doctor``: ``zengrad-kit doctor``;
* ``ownership``: a grading run started as root runs as the course's owner;
* ``guard``: the leak checks ``grade`` and ``serve`` run first.
"""
