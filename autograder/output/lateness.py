"""When a submission came and how late: nbgrader's and Gradescope's submission times, due dates, extensions.

Every time is a naive UTC ``datetime`` (as nbgrader's gradebook keeps them), parsed by nbgrader's own
``parse_utc`` (ISO 8601, or nbgrader's ``2026-10-01 23:59:00 America/New_York``). An extension (a CSV with
``student_id`` and either ``due``, a new due date, or ``hours`` added to the due date) moves one student's due
date. Lateness is reported, never applied: the course's policy is the instructor's.
"""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path


class LatenessError(ValueError):
    """A time, due date or extension that cannot be read: the reason."""


def parse_time(text: str, what: str) -> dt.datetime:
    """A naive UTC datetime from ``text`` (ISO 8601, or nbgrader's ``2026-10-01 23:59:00 America/New_York``).

    Raises:
        LatenessError: ``text`` is not a date and time (naming ``what`` it was).
    """
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(str(text).strip())
    except (ValueError, OverflowError) as error:
        raise LatenessError(f"{what}: {text!r} is not a date and time ({error})") from None


def read_extensions(path: Path | None) -> dict[str, tuple[str, str]]:
    """student id -> ("due", text) or ("hours", text) from the extensions CSV (``student_id`` and ``due`` or
    ``hours``; one of them per row). Raises LatenessError for a row with neither, both, or a student twice."""
    if path is None:
        return {}
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    found = {}
    for number, row in enumerate(rows, start=2):
        student, due, hours = ((row.get(key) or "").strip() for key in ("student_id", "due", "hours"))
        if not student or bool(due) == bool(hours):
            raise LatenessError(f"{path}:{number}: an extension names a student_id and either a due date (due) "
                                   f"or extra hours (hours), got {dict(row)}")
        if student in found:
            raise LatenessError(f"{path}:{number}: a second extension for {student!r}")
        found[student] = ("due", due) if due else ("hours", hours)
    return found


def student_due(due: dt.datetime | None, extension: tuple[str, str] | None, student: str) -> dt.datetime | None:
    """The due date of ``student``: ``due`` moved by their extension, if any."""
    if extension is None:
        return due
    kind, text = extension
    if kind == "due":
        return parse_time(text, f"the extension of {student}")
    try:
        hours = float(text)
    except ValueError:
        raise LatenessError(f"the extension of {student}: hours must be a number, got {text!r}") from None
    if due is None:
        raise LatenessError(f"the extension of {student} adds {text} hours, but there is no due date: give --due "
                               "or set the assignment's duedate in the gradebook")
    return due + dt.timedelta(hours=hours)


def submission_time(submissions: Path | None, name: str, student: str) -> dt.datetime | None:
    """nbgrader's ``timestamp.txt`` of ``student`` in ``submissions`` (``<id>/timestamp.txt`` or
    ``<id>/<assignment>/timestamp.txt``), or None."""
    if submissions is None:
        return None
    for path in (Path(submissions) / student / "timestamp.txt", Path(submissions) / student / name / "timestamp.txt"):
        if path.is_file() and not path.is_symlink():
            return parse_time(path.read_text(encoding="utf-8")[:100], str(path))
    return None


def late_hours(submitted: dt.datetime | None, due: dt.datetime | None) -> float | None:
    """Hours after ``due`` that ``submitted`` came (0 when on time), rounded to 0.01; None when either is unknown."""
    if submitted is None or due is None:
        return None
    return round(max(0.0, (submitted - due).total_seconds() / 3600), 2)


def gradescope_times(metadata: dict) -> dict:
    """From Gradescope's ``submission_metadata.json``: ``submitted_at``, the student's ``due`` (a user's own
    due date, Gradescope's extension, before the assignment's) in ISO 8601 UTC, and ``late_hours``; what the
    file does not hold is left out.
    """
    found = {}
    created = metadata.get("created_at")
    users = metadata.get("users") or [{}]
    due = (users[0].get("assignment") or {}).get("due_date") or (metadata.get("assignment") or {}).get("due_date")
    submitted = parse_time(created, "created_at") if created else None
    deadline = parse_time(due, "due_date") if due else None
    if submitted:
        found["submitted_at"] = submitted.isoformat() + "Z"
    if deadline:
        found["due"] = deadline.isoformat() + "Z"
    if submitted and deadline:
        found["late_hours"] = late_hours(submitted, deadline)
    return found
