"""Collecting from a shared nbgrader exchange without trusting what students put there.

What the exchange guarantees, whatever a student with a shell on the same machine does
(each sentence has its test in ``tests/test_exchange.py`` or ``tests/test_exchange_races.py``):

* **Read once, by descriptor** (:mod:`.intake`). A submission's folder is opened once and walked
  relative to descriptors, never following a link at any depth; only regular files (one link)
  and folders on the exchange's own file system are accepted; each file is copied from the
  descriptor that was checked into a private staging folder, and only that copy is inspected and
  graded. A FIFO, a device, a socket, a symbolic or hard link, a folder swapped for a link, a file
  replaced between look and open, a mount point: that one submission is refused with the reason.
* **Nothing blocks, nothing is unbounded.** Every open is non-blocking (a FIFO or a lease cannot
  make collection wait); files and folders, nesting depth and bytes are all counted; the
  bookkeeping files are read with a byte bound. Collection of everyone else goes on.
* **Whose is it.** Every entry must be owned by the unix user of the student the name claims
  (``owner_template`` / ``owner_names``). Files of the collector's are accepted only for a student
  id that is no unix user here (a course run by one user) and only while ``local_students`` is on
  (``zengrad-kit hub setup`` turns it off).
* **When was it received.** The kernel's change times, not the student's clock; a claimed time
  more than ``max_clock_skew`` away is refused as back-dated. The copy's ``timestamp.txt`` holds
  the time of receipt, so late penalties use the grader's clock.
* **What travels on** (:mod:`.filetypes`): the files the assignment declares, other top-level
  notebooks and the bookkeeping; everything else is listed as dropped; a type a browser runs never.
* **Who a student is** (:mod:`.ids`): one id rule for every road to nbgrader.

Refusals go to the collect log and to ``reports/collect.json`` (read by the grading summary).
"""

from autograder.exchange.collect import (
    COLLECT_REPORT,
    OwnerCheckedCollect,
    record,
    refused_submissions,
    source_types,
)
from autograder.exchange.filetypes import BOOKKEEPING, FileTypes
from autograder.exchange.ids import STUDENT_ID, id_problem
from autograder.exchange.intake import (
    FORGED,
    TIMESTAMP_FORMAT,
    InboundSubmission,
    Intake,
    OwnerRules,
    Refused,
    last_change,
    open_inbound,
    parse_name,
    place,
    read_small,
    take,
)

__all__ = ["BOOKKEEPING", "COLLECT_REPORT", "FORGED", "STUDENT_ID", "TIMESTAMP_FORMAT", "FileTypes",
           "InboundSubmission", "Intake", "OwnerCheckedCollect", "OwnerRules", "Refused", "id_problem",
           "last_change", "open_inbound", "parse_name", "place", "read_small", "record", "refused_submissions",
           "source_types", "take"]
