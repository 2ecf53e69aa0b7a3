"""``cs7150 final-grades ASSIGNMENT --graded DIR [--gradebook DB] [--out CSV] [--due WHEN] [--extensions CSV]
[--submissions PATH] [--canvas CSV --canvas-column NAME]``.

Writes the assignment's final grades (``autograder.final_grades``): per student the package and notebook
points the grader gave (``DIR/grades.csv`` of ``cs7150 autograde --notebooks``), the written points graded in
nbgrader's formgrader (the course gradebook), the total, what is still pending, the submission's time, the
student's due date and how late it came. ``--canvas`` also writes Canvas's gradebook-import CSV.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import config, final_grades
from autograder.output import report


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``final-grades`` subcommand's arguments to ``parser``."""
    parser.add_argument("assignment", help=f"the assignment ({', '.join(config.available()) or 'none configured'})")
    parser.add_argument("--graded", metavar="DIR", type=Path, required=True,
                        help="the output folder of `cs7150 autograde ASSIGNMENT --notebooks` (or of merge-grades)")
    parser.add_argument("--gradebook", metavar="DB", type=Path, default=None,
                        help="the course's nbgrader gradebook with the written grades (default assignments/gradebook.db)")
    parser.add_argument("--out", metavar="CSV", type=Path, default=None,
                        help="where to write the final grades (default DIR/final-grades.csv)")
    parser.add_argument("--due", metavar="WHEN", default=None,
                        help="the due date, e.g. 2026-10-01T23:59:00-04:00 (default: the gradebook's duedate)")
    parser.add_argument("--extensions", metavar="CSV", type=Path, default=None,
                        help="per-student extensions: columns student_id and either due (a new due date) or hours")
    parser.add_argument("--submissions", metavar="PATH", type=Path, default=None,
                        help="the submissions folder, for nbgrader's timestamp.txt where the gradebook has no time")
    parser.add_argument("--canvas", metavar="CSV", type=Path, default=None,
                        help="also write Canvas's gradebook-import CSV here (needs --canvas-column)")
    parser.add_argument("--canvas-column", metavar="NAME", default=None,
                        help="the assignment's column as Canvas's gradebook export names it, e.g. 'Assignment 2 (123456)'")
    parser.add_argument("--canvas-id-column", choices=final_grades.CANVAS_IDS, default="SIS Login ID",
                        help="the Canvas column that holds your student ids (default SIS Login ID)")


def run(args: argparse.Namespace) -> int:
    """Write the final grades (and the Canvas file); 0 when every total is final, 3 when some written answers are
    still to be graded (the file is written; those rows say so), 1 with the reason on stderr otherwise."""
    if args.canvas is not None and not args.canvas_column:
        print("cs7150 final-grades: --canvas needs --canvas-column (the assignment's header in Canvas's export)",
              file=sys.stderr)
        return 1
    out = args.out or args.graded / "final-grades.csv"
    try:
        rows = final_grades.final_grades(args.assignment, args.graded, args.gradebook, args.submissions, args.due,
                                         args.extensions)
        canvas = None if args.canvas is None else final_grades.canvas_csv(rows, args.canvas_column,
                                                                          args.canvas_id_column)
    except (config.ConfigError, final_grades.FinalGradesError, ValueError, OSError) as error:
        print(f"cs7150 final-grades: {error}", file=sys.stderr)
        return 1
    final_grades.write_final(out, rows)
    if canvas is not None:
        report.write_atomic(args.canvas, canvas)
    pending = [row for row in rows if row["status"] != "final"]
    late = [row for row in rows if row["late_hours"] not in ("", 0)]
    print(f"wrote {out}: {len(rows)} student(s), {len(rows) - len(pending)} final, {len(pending)} with written "
          f"answers to be graded, {len(late)} late" + (f"; Canvas import: {args.canvas}" if canvas else ""))
    for row in pending:
        print(f"  {row['student_id']}: {row['status']}")
    return 3 if pending else 0
