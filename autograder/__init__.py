"""zengrad-kit: the trusted grading pipeline, the hidden checks and the ``zengrad-kit`` command line.

The packages read in the order a submission travels: ``grading`` (find submissions, the
gradebook, one session per submission, pools and clusters) -> ``preprocessors`` (the steps
inside nbgrader's converter) -> ``sandbox`` (the jails student code runs in) -> ``checks`` (the
hidden checks, written with ``checks.kit``) -> ``results`` (outcomes, reports, exports).
"""
