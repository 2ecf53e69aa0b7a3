"""What the grader's own code records about a notebook it graded, and how the grader checks it (standard library).

A point is given only on evidence the grader recorded (docs/security.md, "Fail closed"). For notebooks that
evidence is written by the course's nbgrader configuration, in nbgrader's process, where no student code runs:

- the executor (``autograder.notebook.executor.ExecuteApart``) writes ``RECORD`` into the graded notebook's
  metadata: how the test cells ran and each one's verdict (``PASSED``, ``FAILED`` or "not run: why"), with the
  proof the grader put in that job's environment (``GRADING_PROOF_ENV``);
- the feedback exporter (``autograder.notebook.feedback.SafeFeedbackExporter``) puts the feedback job's proof
  (``FEEDBACK_PROOF_ENV``) in the head of a page only after the course's filters ran on it.

A proof is a fresh random token per job; it never reaches a kernel (the executor takes it out of its
environment before any kernel starts) or a page a student sees.
"""
from __future__ import annotations

import secrets

RECORD = "cs7150_grading"  # key of the executor's record in a notebook's metadata
GRADING_PROOF_ENV = "CS7150_GRADING_PROOF"
FEEDBACK_PROOF_ENV = "CS7150_FEEDBACK_PROOF"
PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"


def new_proof() -> str:
    """A fresh proof for one nbgrader job (hex)."""
    return secrets.token_hex(16)


def unproven(record, proof: str | None) -> str | None:
    """Why ``record`` (a notebook's ``RECORD``) does not prove that the course's executor graded the notebook
    in the job given ``proof`` (None: no proof was given to check); None when it does."""
    if not isinstance(record, dict) or not record:
        return ("nbgrader ran it without the course's executor (autograder.notebook.executor.ExecuteApart left no "
                "record: the course's nbgrader_config.py was not in force)")
    if proof is not None and record.get("proof") != proof:
        return "the executor's record does not carry this run's proof"
    if not isinstance(record.get("tests"), dict):
        return "the executor's record is unreadable"
    return None
