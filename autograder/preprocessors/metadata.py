"""The schema of ``metadata.zengrad``: every record the grading pipeline leaves in an autograded notebook, named once.

The preprocessors (and the feedback screen) write these keys; ``autograder.results`` reads them.
Both sides use the names below, so a key cannot change on one side only. The values are the
format of every autograded notebook already on disk: never rename one. No imports: readers that
never run nbgrader (the CLI, reports) load this module without loading the preprocessors.
"""

from __future__ import annotations

NAMESPACE = "zengrad"  # nb.metadata[NAMESPACE] and cell.metadata[NAMESPACE]; a submission's own is discarded

# -- notebook records (nb.metadata.zengrad) ------------------------------------------------------
INTEGRITY = "integrity"  # IntegrityScan: [{cell, grade_id, kind, detail, ...}], suspicious code and tampering
KERNEL_FAULT = "kernel_fault"  # GuardedExecute: {kind, cell, message[, exit_code]} that stopped the notebook, or None
CPU_LIMITED = "cpu_limited"  # GuardedExecute: [{cell, limit}], cells interrupted at the "cell"/"notebook" CPU limit
OUTPUT_TRUNCATED = "output_truncated"  # GuardedExecute: [cell index], output cut at the grader's limit
MEMORY_ERRORS = "memory_errors"  # GuardedExecute: [cell index], cells that raised MemoryError (only when any did)
SANDBOX = "sandbox"  # GuardedExecute and TrustedChecks: the sandbox backend that ran the student's code
TIMINGS = "timings"  # GuardedExecute and TrustedChecks: {stage: seconds}, summed into the outcome's timings
VERDICTS = "verdicts"  # TrustedChecks: [{cell, grade_id, **Verdict.to_json()}], one per hidden check run
WORKER_CELL_ERRORS = "worker_cell_errors"  # TrustedChecks: [{cell, error, fatal}], replay errors in the worker
TRUSTED_SECONDS = "trusted_seconds"  # TrustedChecks: wall-clock seconds of all hidden checks
NEUTRALISED = "neutralised"  # screen.notebook.NeutraliseUntrusted: [{cell, removed}], active content removed

# -- cell records (cell.metadata.zengrad of a test cell) -----------------------------------------
TRUSTED = "trusted"  # TrustedChecks: the cell's score is its hidden checks' verdict (False: no check() call)
KERNEL_OUTPUT_TYPES = "kernel_output_types"  # TrustedChecks: what the kernel output, before it was replaced

NOTEBOOK_KEYS = frozenset({INTEGRITY, KERNEL_FAULT, CPU_LIMITED, OUTPUT_TRUNCATED, MEMORY_ERRORS, SANDBOX, TIMINGS,
                           VERDICTS, WORKER_CELL_ERRORS, TRUSTED_SECONDS, NEUTRALISED})
CELL_KEYS = frozenset({TRUSTED, KERNEL_OUTPUT_TYPES})
