"""What the grader writes: grades.csv, and per student results.json, feedback.txt, feedback.html.

Its specification: docs/grader.md, `autograder/output/report.py`.
"""
from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

from autograder.output import sanitise
from autograder.results import PartResult, StudentResult, number
from cs7150.atomic import atomic_write

STUDENTS = "students"  # <out>/students/<id>/: every student's files, apart from the class's own


def points_of(part: PartResult) -> str:
    """``"3 / 4"``, or ``"3 / 4 extra credit"`` for an extra-credit part: a part's points as every page states them."""
    return f"{number(part.score)} / {number(part.max_score)}" + (" extra credit" if part.extra_credit else "")


def part_heading(part: PartResult) -> str:
    """``"conv1d_forward_fast (cs7150/conv_fast.py): 3 / 4 extra credit"``: a part's name, file and points."""
    return f"{part.name} ({part.file}): {points_of(part)}"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    with atomic_write(path, "w") as file:
        file.write(text)


def part_text(part: PartResult) -> str:
    """A part's feedback: the problem, one line per case, details of the first failure."""
    lines = []
    if part.problem:
        lines.append(f"0 points: {part.problem}")
    first_failure, previous = True, None
    for case in part.cases:
        mark = "pass" if case.passed else "FAIL"
        summary = "same as above" if case.summary == previous else case.summary
        lines.append(f"[{mark}] {case.name}: {number(case.score)}/{number(case.max_score)}"
                     + ("" if case.passed else f" - {summary}"))
        if not case.passed and first_failure:
            lines.extend(f"       {detail}" for detail in case.details)
            first_failure = False
        previous = None if case.passed else case.summary
    return "\n".join(lines)


def _page_of(part: PartResult) -> str | None:
    """Where a part's nbgrader feedback page goes in the student's folder (None: it has none)."""
    return f"feedback/{Path(part.file).stem}.html" if getattr(part, "feedback_html", None) else None


def feedback_pages(result: StudentResult) -> dict[str, str]:
    """``feedback/<notebook>.html`` -> the page, for each part that carries nbgrader's feedback page."""
    return {_page_of(part): part.feedback_html for part in result.parts if _page_of(part)}


def feedback_text(result: StudentResult) -> str:
    lines = [result.title, f"Student: {result.student_id}",
             f"Score: {result.statement}", ""]
    lines += [f"Note: {note}" for note in result.notes]
    lines += [""] if result.notes else []
    for part in result.parts:
        lines.append(part_heading(part))
        lines += ["  " + line for line in part_text(part).splitlines()]
        if _page_of(part):
            lines.append(f"  the graded notebook: {_page_of(part)}")
        lines.append("")
    return sanitise.clean_text("\n".join(lines))


def feedback_html(result: StudentResult) -> str:
    """The page: every student-controlled text escaped, then the body sanitised and the page given a
    restrictive Content-Security-Policy (``autograder.output.sanitise``)."""
    escape = html.escape
    rows = "\n".join(
        f"<tr><td>{escape(p.name)}</td><td>{escape(p.file)}</td><td>{escape(points_of(p))}</td>"
        + (f'<td><a href="{escape(_page_of(p))}">graded notebook</a></td>' if _page_of(p) else "") + "</tr>"
        for p in result.parts
    )
    sections = "\n".join(
        f"<h2>{escape(p.name)}: {escape(points_of(p))}</h2>\n<pre>{escape(part_text(p))}</pre>"
        + "".join(f'\n<p><img src="{escape(case.picture)}" alt="{escape(case.name)}: expected, yours, difference"></p>'
                  for case in p.cases if case.picture)
        for p in result.parts
    )
    notes = "".join(f"<p class=\"note\">{escape(note)}</p>\n" for note in result.notes)
    body = f"""<h1>{escape(result.title)}</h1>
<p>Student: {escape(result.student_id)}<br>Score: <b>{escape(result.statement)}</b></p>
{notes}<table><tr><th>part</th><th>file</th><th>score</th></tr>
{rows}
</table>
{sections}"""
    return sanitise.html_page(f"{result.title}: {result.student_id}", body)


def results_json(result: StudentResult, assignment: str, visibility: dict | None = None) -> dict:
    """The Gradescope ``results.json`` object: one test per part, numbered in the parts' order (``number``
    "1", "2", ...), each with the visibility ``visibility`` gives its part's name (a function or a notebook's file
    name; the assignment configuration's ``"visibility"``), else "visible".

    Extra credit as Gradescope takes it: an extra-credit part's test has ``max_score`` 0 and the points it earned
    as its ``score`` (its name says "extra credit, up to N"), and the submission's ``score`` adds them to the
    required points; ``extra_data`` states ``extra_credit`` and ``extra_credit_max``."""
    visibility = visibility or {}
    output = [f"{result.title}: {result.statement}"] + result.notes
    return {
        "score": number(result.earned),
        "execution_time": int(round(result.execution_time)),
        "output": sanitise.clean_text("\n".join(output)),
        "tests": [
            {
                "name": f"{part.name} ({part.file})"
                        + (f" (extra credit, up to {number(part.max_score)})" if part.extra_credit else ""),
                "score": number(part.score),
                "max_score": 0 if part.extra_credit else number(part.max_score),
                "status": "passed" if part.score == part.max_score else "failed",
                "output": sanitise.clean_text(part_text(part)),
                "number": str(index),
                "visibility": visibility.get(part.name, "visible"),
            }
            for index, part in enumerate(result.parts, start=1)
        ],
        "extra_data": {"assignment": assignment, "student_id": result.student_id,
                       "max_score": number(result.max_score), "written_pending": number(result.pending),
                       "notebook_points_not_graded": number(result.not_run),
                       "total": number(result.max_score + result.not_run + result.pending),
                       **({"extra_credit": number(result.extra), "extra_credit_max": number(result.extra_max)}
                          if result.extra_max else {})},
    }


def student_folder(out_dir: Path, student_id: str) -> Path:
    """``<out_dir>/students/<id>``: where one student's results and feedback go."""
    return Path(out_dir) / STUDENTS / student_id


def write_student(out_dir: Path, result: StudentResult, assignment: str, visibility: dict | None = None) -> None:
    """Write ``<out_dir>/students/<id>/``: results.json (its tests' ``visibility``, see ``results_json``),
    feedback.txt, feedback.html and the notebooks' feedback pages (removing pages of an earlier run that this
    result has not)."""
    folder = student_folder(out_dir, result.student_id)
    write_atomic(folder / "results.json", json.dumps(results_json(result, assignment, visibility), indent=2) + "\n")
    write_atomic(folder / "feedback.txt", feedback_text(result))
    write_atomic(folder / "feedback.html", feedback_html(result))
    pages = feedback_pages(result)
    for rel, page in pages.items():
        write_atomic(folder / rel, page)
    for stale in sorted((folder / "feedback").glob("*.html")):
        if f"feedback/{stale.name}" not in pages:
            stale.unlink()


def grade_row(result: StudentResult) -> dict:
    row = {"student_id": result.student_id}
    row.update({part.name: number(part.score) for part in result.parts})
    row.update(total=number(result.score), max=number(result.max_score))
    if result.extra_max:
        row["extra_credit"] = number(result.extra)
    return row


def write_grades(path: Path, rows: list[dict], columns: list[str]) -> None:
    """grades.csv with ``columns`` (student_id, parts..., total, max, and extra_credit for an assignment with extra
    credit), one row per student, sorted by id."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: r["student_id"]):
        writer.writerow({column: sanitise.csv_cell(row.get(column, "")) for column in columns})
    write_atomic(path, buffer.getvalue())


def read_grades(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


class ColumnsDiffer(ValueError):
    """A regrade would write grades.csv with other columns than the class's rows have."""


def check_columns(path: Path, columns: list[str], fix: str) -> None:
    """Refuse (``ColumnsDiffer``) to update ``path`` (grades.csv) with rows of ``columns`` when it has others:
    the other students' rows would keep a part (say a notebook's points) this student's row has not.

    Args:
        path: the class's grades.csv; nothing to check when it does not exist.
        columns: the columns the update would write.
        fix: what to do instead, for the message.
    """
    if not Path(path).is_file():
        return
    with open(path, newline="", encoding="utf-8") as file:
        header = next(csv.reader(file), [])
    if header and header != list(columns):
        missing = [c for c in header if c not in columns]
        extra = [c for c in columns if c not in header]
        raise ColumnsDiffer(f"{path} was written with the columns {', '.join(header)}; this regrade gives "
                            f"{', '.join(columns)}" + (f" (without {', '.join(missing)})" if missing else "")
                            + (f" (with {', '.join(extra)} besides)" if extra else "")
                            + f", so one student's total would count other parts than the class's: {fix}")


def update_grades(path: Path, new_rows: list[dict], columns: list[str]) -> None:
    """Replace (or add) the rows of these students in grades.csv, keeping every other row."""
    replaced = {row["student_id"] for row in new_rows}
    kept = [row for row in read_grades(path) if row.get("student_id") not in replaced]
    write_grades(path, kept + new_rows, columns)
