"""An assignment's final grades: the grader's autograded points plus the written points of the course gradebook.

Its specification: docs/grader.md, `autograder/final_grades.py`.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

from autograder import config
from autograder.notebook import nbgrade
from autograder import results
from autograder.output import lateness, points, report, sanitise

COLUMNS = ["student_id", "package", "notebooks", "written", "written_pending", "extra_credit", "total", "max",
           "status", "submitted_at", "due", "late_hours"]
CANVAS_IDS = ("ID", "SIS User ID", "SIS Login ID")  # the columns of Canvas's gradebook a student id can go in
CANVAS_LEADING = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


class FinalGradesError(lateness.LatenessError):
    """The inputs do not give final grades (a missing file, column or assignment): the reason."""


@dataclass
class Written:
    """A student's written points in the gradebook: graded, still to be graded, and the submission's time."""

    graded: float = 0.0
    graded_max: float = 0.0  # what the graded answers were worth
    pending: float = 0.0
    timestamp: dt.datetime | None = None
    note: str = ""


def written_points(gradebook_path: Path, name: str, students, written_max: float) -> tuple[dict, dt.datetime | None]:
    """(student id -> ``Written``, the assignment's due date in the gradebook) for ``students``.

    Raises:
        FinalGradesError: no gradebook, no such assignment in it, its written points differ from
            ``written_max`` (the source notebooks'), or it has a submission of a student not in ``students``.
    """
    from nbgrader.api import Gradebook, MissingEntry

    if not Path(gradebook_path).is_file():
        raise FinalGradesError(f"no course gradebook at {gradebook_path}: the written answers are graded in "
                               "nbgrader's formgrader, which keeps them there (give its path with --gradebook)")
    found = {}
    with Gradebook(f"sqlite:///{Path(gradebook_path).resolve()}") as gradebook:
        try:
            assignment = gradebook.find_assignment(name)
        except MissingEntry:
            raise FinalGradesError(f"{gradebook_path} has no assignment {name!r}: run `nbgrader generate_assignment "
                                   f"{name}` in the course (README, instructor section)") from None
        in_book = sum((nb.max_written_score or 0) + (nb.max_task_score or 0) for nb in assignment.notebooks)
        if in_book != written_max:
            raise FinalGradesError(f"{gradebook_path}: {name}'s written answers are worth {in_book:g} points there "
                                   f"and {written_max:g} in its source notebooks: generate the assignment again")
        due = assignment.duedate
        ungraded = sorted({submission.student.id for submission in assignment.submissions} - set(students))
        if ungraded:
            raise FinalGradesError(f"{gradebook_path} has submissions of {', '.join(ungraded)} for {name}, which "
                                   "the grades.csv given has no row for: grade them too (cs7150 autograde)")
        for student in students:
            try:
                submission = gradebook.find_submission(name, student)
            except MissingEntry:
                found[student] = Written(pending=written_max, note="no submission in the gradebook")
                continue
            written = Written(timestamp=submission.timestamp)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.cell_type == "code":  # autograded: counted from grades.csv
                        continue
                    if grade.needs_manual_grade:
                        written.pending += grade.max_score
                    else:
                        written.graded += grade.score
                        written.graded_max += grade.max_score
            found[student] = written
    return found, due


def final_grades(name: str, graded: Path, gradebook: Path | None = None, submissions: Path | None = None,
                 due: str | None = None, extensions: Path | None = None,
                 course_root: Path = config.COURSE_ROOT, config_dir: Path = config.ASSIGNMENTS_DIR) -> list[dict]:
    """One row per student of ``graded/grades.csv`` (``COLUMNS``): package + notebooks (autograded, from the
    grader) + extra credit (from the grader; ``total`` may exceed ``max`` by it) + written (from the gradebook ``gradebook``, default ``course_root/gradebook.db``).

    Args:
        name: the assignment.
        graded: the output folder of ``cs7150 autograde ... --notebooks`` (or of ``merge-grades``).
        gradebook: the course's nbgrader gradebook (SQLite file).
        submissions: the folder graded (for nbgrader's timestamp.txt of students the gradebook has no time for).
        due: the due date (ISO 8601 or nbgrader's form); default the gradebook's.
        extensions: a CSV of per-student extensions (``read_extensions``).
    Raises:
        FinalGradesError: missing grades.csv or notebook columns, no gradebook or assignment in it, bad dates.
        config.ConfigError: the assignment's configuration, or its header's points (``points.check``).
    """
    course_root = Path(course_root)
    assignment = config.load(name, config_dir)
    configured = points.check(assignment, course_root / "source" / name, config_dir)
    rows = report.read_grades(Path(graded) / "grades.csv")
    if not rows:
        raise FinalGradesError(f"no grades in {Path(graded) / 'grades.csv'}: run `cs7150 autograde {name} "
                               f"--notebooks --out {graded}` first")
    names = nbgrade.notebook_names(name, course_root)
    missing = [nb for nb in names if nb not in rows[0]]
    if missing:
        raise FinalGradesError(f"{Path(graded) / 'grades.csv'} has no column for {', '.join(missing)}: grade with "
                               f"`cs7150 autograde {name} --notebooks` (the notebooks' autograded points come from "
                               "there, and only the written points from the gradebook)")
    written_max = configured.written if configured else 0.0
    students = [row["student_id"] for row in rows]
    if written_max:
        written, book_due = written_points(gradebook or course_root / "gradebook.db", name, students, written_max)
    else:
        written, book_due = {student: Written() for student in students}, None
    due_date = lateness.parse_time(due, "--due") if due else book_due
    extended = lateness.read_extensions(extensions)
    unknown = sorted(set(extended) - set(students))
    if unknown:
        raise FinalGradesError(f"{extensions}: extensions for students with no grades: {', '.join(unknown)}")
    final = []
    for row in rows:
        student, mine = row["student_id"], written[row["student_id"]]
        notebook_points = sum(float(row[nb]) for nb in names)
        autograded, autograded_max = float(row["total"]), float(row["max"])
        extra = float(row.get("extra_credit") or 0)
        when = mine.timestamp or lateness.submission_time(submissions, name, student)
        deadline = lateness.student_due(due_date, extended.get(student), student)
        late = lateness.late_hours(when, deadline)
        status = "final" if not mine.pending else results.total_statement(
            autograded, autograded_max, mine.pending, written=mine.graded, written_max=mine.graded_max, extra=extra,
            extra_max=assignment.extra_max) \
            + (f"; {mine.note}" if mine.note else "")
        final.append({
            "student_id": student, "package": results.number(autograded - notebook_points),
            "notebooks": results.number(notebook_points), "written": results.number(mine.graded),
            "written_pending": results.number(mine.pending), "extra_credit": results.number(extra),
            "total": results.number(autograded + mine.graded + extra),
            "max": results.number(autograded_max + written_max), "status": status,
            "submitted_at": when.isoformat() + "Z" if when else "", "due": deadline.isoformat() + "Z" if deadline else "",
            "late_hours": "" if late is None else results.number(late),
        })
    return final


def write_final(path: Path, rows: list[dict]) -> None:
    """The final grades CSV (``COLUMNS``, sorted by student id, cells sanitised), written atomically."""
    report.write_grades(path, rows, COLUMNS)


def canvas_csv(rows: list[dict], column: str, id_column: str = "SIS Login ID") -> str:
    """Canvas's gradebook-import CSV: the header ``Student, ID, SIS User ID, SIS Login ID, Section, <column>``, a
    ``Points Possible`` row, then each student's total in ``column`` with their id in ``id_column``. A student
    with written points pending gets an empty cell (Canvas leaves an empty cell's grade as it is).

    Args:
        rows: ``final_grades`` rows.
        column: the assignment's column as Canvas names it in its gradebook export ("Assignment 2 (123456)").
        id_column: which of ``CANVAS_IDS`` holds the student ids.
    Raises:
        ValueError: ``id_column`` is not one of ``CANVAS_IDS``, or ``column`` is empty.
    """
    if id_column not in CANVAS_IDS:
        raise ValueError(f"the Canvas id column must be one of {', '.join(CANVAS_IDS)}, got {id_column!r}")
    if not column.strip():
        raise ValueError("the Canvas assignment column is empty: use its header in Canvas's gradebook export")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CANVAS_LEADING, column])
    writer.writerow(["Points Possible", "", "", "", "", rows[0]["max"] if rows else ""])
    for row in sorted(rows, key=lambda r: r["student_id"]):
        cells = {name: "" for name in CANVAS_LEADING}
        cells[id_column] = row["student_id"]
        score = row["total"] if row["status"] == "final" else ""
        writer.writerow([sanitise.csv_cell(str(value)) for value in [*cells.values(), score]])
    return buffer.getvalue()
