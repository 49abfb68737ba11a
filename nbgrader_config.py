"""nbgrader configuration of the zengrad-kit course (the repo root is the course directory).

Stock ``nbgrader autograde`` and ``zengrad-kit grade`` both read this file, so
they run the same pipeline and give the same grades.
"""

import json
import os

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from autograder.exchange.filetypes import ignore_globs
from autograder.preprocessors import GuardedExecute, IntegrityScan, TrustedChecks
from autograder.release import STUB
from autograder.results.feedback_html import FeedbackExporter
from autograder.screen.math import LatexAsMathML
from autograder.screen.notebook import NeutraliseUntrusted
from autograder.screen.page import MATHJAX_URL

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

HERE = os.path.dirname(os.path.abspath(__file__))

# `zengrad-kit hub setup` records the course id and the shared exchange in hub/hub.json (autograder/hub/)
HUB = os.path.join(HERE, "hub", "hub.json")
hub = {}
if os.path.exists(HUB):
    with open(HUB) as fh:
        hub = json.load(fh)
c.CourseDirectory.course_id = hub.get("course_id", "zengrad")
c.CourseDirectory.root = HERE
# Release and collect through an exchange inside the course, so nothing needs root; on a hub, the shared
# exchange hub setup recorded ($ZENGRAD_EXCHANGE, when set, wins over both).
c.Exchange.root = os.environ.get("ZENGRAD_EXCHANGE", hub.get("exchange", os.path.join(HERE, "exchange")))
c.Exchange.path_includes_course = True
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".zengrad",
                            # the second wall (zengrad-kit grade keeps only the files the assignment declares):
                            # a type a browser runs, in any case, never travels on to autograded/ and feedback/
                            *ignore_globs()]
# Collect reads each submission once, by descriptor, into a private copy, and refuses submissions in someone
# else's name, back-dated ones, links, FIFOs and devices (autograder/exchange/); the time of receipt, not the
# student's clock, is what late penalties see.
c.ExchangeFactory.collect = "autograder.exchange.OwnerCheckedCollect"
# On a hub every student is a unix user: every file of a submission must be that student's own (a file the
# collector owns, such as the instructor's source or a classmate's collected copy, never is).
c.OwnerCheckedCollect.local_students = not hub

# --- generate_assignment ------------------------------------------------------
c.ClearSolutions.code_stub = {"python": STUB}  # autograder.release.STUB: every stub fails alike
c.ClearSolutions.enforce_metadata = True

# --- autograde: the trusted pipeline ------------------------------------------
c.Autograde.sanitize_preprocessors = [
    IntegrityScan,  # sees the submission before anything is restored
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteCells,
    CheckCellMetadata,
]
c.Autograde.autograde_preprocessors = [
    GuardedExecute,  # nbgrader's Execute + dead/hung kernel handling and a memory cap
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    TrustedChecks,  # the authoritative verdict of every hidden check
    NeutraliseUntrusted,  # nothing the submission's outputs or markdown hold can run in a page
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
c.OverwriteCells.add_missing_cells = True  # a deleted test cell is restored, not silently ungraded

# Every process that runs student code (the kernel and the check worker) is jailed by the OS:
# bubblewrap, an unprivileged uid, no network, a private size-capped home (see autograder/sandbox/jail.py).
# "none" disables the jail: loud, recorded in every report, never a silent fallback.
c.Sandbox.backend = os.environ.get("ZENGRAD_SANDBOX", "bwrap")

# Limits of the student's kernel. Limits that decide anything count CPU time, so a submission
# gets the same result on a quiet grader and on a loaded one; wall-clock values are backstops.
c.GuardedExecute.cell_cpu_seconds = 60
c.GuardedExecute.notebook_cpu_seconds = 300
c.GuardedExecute.memory_limit_mb = 4096
c.Execute.timeout = 600  # wall-clock backstop per cell (nbclient's timeout)
c.GuardedExecute.notebook_timeout = 1800  # wall-clock backstop for the notebook
c.Execute.interrupt_on_timeout = True
# Kernel output never scores a hidden check: TrustedChecks rewrites graded cells, so a
# warning on the kernel's stderr cannot zero a cell either.
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:"]

# The trusted worker that runs student code for the hidden checks (CPU seconds).
c.TrustedChecks.cell_cpu_seconds = 60
c.TrustedChecks.program_cpu_seconds = 10
c.TrustedChecks.cpu_seconds = 600
c.TrustedChecks.memory_limit_mb = 1024
# Read-only demo cells no hidden check needs: the worker does not replay them (ps3's training demo: 3 s).
c.TrustedChecks.skip_cells = ["training_demo", "plot"]

# --- every page rendered from a submission (feedback, formgrader's view) ----------
# The notebook is neutralised again before rendering, markdown is rendered through the allow-list, and math
# (markdown's and text/latex outputs') is MathML made here: feedback pages load no MathJax and run no script.
# Formgrader's own script still wants MathJax: one pinned version (its pages' policy names the directory).
c.HTMLExporter.preprocessors = [NeutraliseUntrusted, LatexAsMathML]
c.HTMLExporter.filters = {"markdown2html": "autograder.screen.page.markdown2html"}
c.HTMLExporter.mathjax_url = MATHJAX_URL

# --- feedback -------------------------------------------------------------------
# Never show hidden test source in feedback.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
# nbconvert's HTMLExporter minus its BeautifulSoup pass (half the CPU of a page; the same page).
c.GenerateFeedback.exporter_class = FeedbackExporter
c.ClearHiddenTests.enforce_metadata = False

# --- export -----------------------------------------------------------------------
c.ExportApp.plugin_class = "autograder.results.export.StatusCsvExportPlugin"
