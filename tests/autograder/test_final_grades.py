"""``cs7150 final-grades``: the grader's autograded points plus the course gradebook's written points, each counted
once; written answers pending until graded; lateness against a due date with extensions; Canvas's import CSV.

The gradebook is a real one: ``nbgrader generate_assignment`` of assignment 2 (the grader's ``base_course``),
students and submissions added and written answers graded through ``nbgrader.api.Gradebook`` as nbgrader's
autograde and formgrader do; grades.csv is written by the grader's own writer with its columns for
``--notebooks``.
"""
import csv

import pytest

from autograder import autograde, config, final_grades
from autograder.notebook import nbgrade
from autograder.output import lateness, report
from coursetools import cli

NAME = "assignment2"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    from nbgrader.api import Gradebook

    root = tmp_path_factory.mktemp("final")
    base = nbgrade.base_course(NAME, config.COURSE_ROOT, root / "work")
    assignment = config.load(NAME)
    columns = autograde.grade_columns(assignment, ["lenet5.ipynb"])
    parts = [part.function for part in assignment.parts]
    rows = [{"student_id": "ada", **{p: 0 for p in parts}, parts[0]: 1.5, "lenet5.ipynb": 56, "total": 57.5, "max": 103},
            {"student_id": "bob", **{p: 0 for p in parts}, "lenet5.ipynb": 10, "total": 10, "max": 103},
            {"student_id": "cy", **{p: 0 for p in parts}, "total": 0, "lenet5.ipynb": 0, "max": 103}]
    graded = root / "graded"
    report.write_grades(graded / "grades.csv", rows, columns)
    with Gradebook(f"sqlite:///{base / 'gradebook.db'}") as gradebook:
        for student, when in (("ada", "2026-10-01 22:00:00 UTC"), ("bob", "2026-10-02 03:30:00 UTC")):
            gradebook.add_student(student)
            gradebook.add_submission(NAME, student, timestamp=when)
        for grade in gradebook.find_submission(NAME, "ada").notebooks[0].grades:  # formgrader: every answer
            if grade.cell_type != "code":
                grade.manual_score, grade.needs_manual_grade = grade.max_score - 1, False
        written = [g for g in gradebook.find_submission(NAME, "bob").notebooks[0].grades if g.cell_type != "code"]
        written[0].manual_score, written[0].needs_manual_grade = 2, False  # one answer graded, the rest pending
        bob_pending = sum(g.max_score for g in written[1:])
        answers = len([g for g in gradebook.find_submission(NAME, "ada").notebooks[0].grades if g.cell_type != "code"])
        gradebook.db.commit()
    return {"graded": graded, "book": base / "gradebook.db", "bob_pending": bob_pending, "answers": answers,
            "root": root}


def _run(argv) -> int:
    return cli.main(["final-grades", *map(str, argv)])


def test_final_total_counts_each_point_once_and_written_pending_is_not_zero(course, capsys):
    out = course["root"] / "final.csv"
    status = _run([NAME, "--graded", course["graded"], "--gradebook", course["book"], "--out", out])
    assert status == 3  # written, but bob's answers are not all graded and cy has no submission in the gradebook
    rows = {row["student_id"]: row for row in csv.DictReader(open(out, encoding="utf-8"))}
    ada, bob, cy = rows["ada"], rows["bob"], rows["cy"]
    assert (ada["package"], ada["notebooks"], ada["written"], ada["written_pending"]) == ("1.5", "56", str(20 - course["answers"]), "0")
    assert ada["total"] == str(report.number(57.5 + 20 - course["answers"])) and ada["max"] == "123"
    assert ada["status"] == "final"
    assert (bob["written"], float(bob["written_pending"]), bob["total"]) == ("2", course["bob_pending"], "12")
    assert bob["status"] == (f"10 of 103 autograded; 2 of {report.number(20 - course['bob_pending'])} written; "
                             f"{report.number(course['bob_pending'])} written points to be graded (total 123)")
    assert cy["written_pending"] == "20" and "no submission in the gradebook" in cy["status"] and cy["total"] == "0"
    said = capsys.readouterr().out
    assert "3 student(s), 1 final, 2 with written answers to be graded" in said


def test_lateness_against_the_gradebook_due_date_or_the_given_one_with_extensions(course, tmp_path):
    extensions = tmp_path / "extensions.csv"
    extensions.write_text("student_id,due,hours\nbob,,6\n")
    rows = {r["student_id"]: r for r in final_grades.final_grades(
        NAME, course["graded"], course["book"], due="2026-10-01T23:00:00-01:00", extensions=extensions)}
    assert rows["ada"]["submitted_at"] == "2026-10-01T22:00:00Z" and rows["ada"]["due"] == "2026-10-02T00:00:00Z"
    assert rows["ada"]["late_hours"] == 0
    assert rows["bob"]["due"] == "2026-10-02T06:00:00Z" and rows["bob"]["late_hours"] == 0  # the extension
    no_extension = {r["student_id"]: r for r in final_grades.final_grades(
        NAME, course["graded"], course["book"], due="2026-10-02T00:00:00Z")}
    assert no_extension["bob"]["late_hours"] == 3.5 and no_extension["cy"]["submitted_at"] == ""
    subs = tmp_path / "subs" / "cy" / NAME
    subs.mkdir(parents=True)
    (subs / "timestamp.txt").write_text("2026-10-02 01:00:00.000000 UTC")  # nbgrader collect's file
    with_file = {r["student_id"]: r for r in final_grades.final_grades(
        NAME, course["graded"], course["book"], submissions=tmp_path / "subs", due="2026-10-02T00:00:00Z")}
    assert with_file["cy"]["late_hours"] == 1
    extensions.write_text("student_id,due,hours\nbob,2026-10-03T00:00:00Z,6\n")
    with pytest.raises(lateness.LatenessError, match="either a due date"):
        final_grades.final_grades(NAME, course["graded"], course["book"], due="2026-10-02", extensions=extensions)
    with pytest.raises(lateness.LatenessError, match="--due: 'next week' is not a date"):
        final_grades.final_grades(NAME, course["graded"], course["book"], due="next week")


def test_canvas_import_has_canvas_columns_and_leaves_pending_totals_empty(course, tmp_path):
    canvas = tmp_path / "canvas.csv"
    assert _run([NAME, "--graded", course["graded"], "--gradebook", course["book"], "--out", tmp_path / "f.csv",
                 "--canvas", canvas, "--canvas-column", "Assignment 2 (4242)"]) == 3
    lines = list(csv.reader(open(canvas, encoding="utf-8")))
    assert lines[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Assignment 2 (4242)"]
    assert lines[1] == ["Points Possible", "", "", "", "", "123"]
    by_login = {line[3]: line[5] for line in lines[2:]}
    assert by_login == {"ada": str(report.number(57.5 + 20 - course["answers"])), "bob": "", "cy": ""}
    assert _run([NAME, "--graded", course["graded"], "--canvas", canvas]) == 1


def test_refusals_name_what_is_missing(course, tmp_path, capsys):
    assignment = config.load(NAME)
    report.write_grades(tmp_path / "package-only" / "grades.csv", [{"student_id": "ada", "total": 1, "max": 47}],
                        autograde.grade_columns(assignment))
    assert _run([NAME, "--graded", tmp_path / "package-only", "--gradebook", course["book"]]) == 1
    assert "has no column for lenet5.ipynb: grade with `cs7150 autograde assignment2 --notebooks`" in capsys.readouterr().err
    assert _run([NAME, "--graded", course["graded"], "--gradebook", tmp_path / "none.db"]) == 1
    assert "no course gradebook at" in capsys.readouterr().err
    assert _run([NAME, "--graded", tmp_path / "nothing"]) == 1
    assert "no grades in" in capsys.readouterr().err


def test_gradescope_metadata_gives_the_time_the_students_own_due_date_and_lateness():
    """``submission_metadata.json`` as Gradescope documents it: a user's own due date (an extension) wins."""
    metadata = {"created_at": "2026-10-02T01:30:00.000000-07:00",
                "assignment": {"due_date": "2026-10-01T23:59:00.000000-07:00"},
                "users": [{"email": "ada@example.edu", "assignment": {"due_date": "2026-10-02T23:59:00.000000-07:00"}}]}
    assert lateness.gradescope_times(metadata) == {"submitted_at": "2026-10-02T08:30:00Z",
                                                   "due": "2026-10-03T06:59:00Z", "late_hours": 0}
    metadata["users"] = [{"assignment": {}}]
    assert lateness.gradescope_times(metadata)["late_hours"] == 1.52
    assert lateness.gradescope_times({}) == {}


def test_a_submission_in_the_gradebook_without_autograded_grades_is_refused(course, tmp_path, capsys):
    from nbgrader.api import Gradebook
    book = tmp_path / "gradebook.db"
    book.write_bytes(course["book"].read_bytes())
    with Gradebook(f"sqlite:///{book}") as gradebook:
        gradebook.add_student("dan")
        gradebook.add_submission(NAME, "dan")
    assert _run([NAME, "--graded", course["graded"], "--gradebook", book]) == 1
    assert "has submissions of dan for assignment2, which the grades.csv given has no row for" in capsys.readouterr().err


def test_extra_credit_is_added_to_the_total_not_the_maximum_and_named_in_the_status(tmp_path):
    """Assignment 1's extension: grades.csv's ``extra_credit`` goes into the final total, never into ``max``."""
    from nbgrader.api import Gradebook

    name, assignment = "assignment1", config.load("assignment1")
    base = nbgrade.base_course(name, config.COURSE_ROOT, tmp_path / "work")
    columns = autograde.grade_columns(assignment, ["conv_pool.ipynb"])
    assert columns[-3:] == ["total", "max", "extra_credit"]
    row = {"student_id": "ada", **{part.function: 0 for part in assignment.parts}, "conv_pool.ipynb": 20,
           "total": 80, "max": 112, "extra_credit": 9}
    report.write_grades(tmp_path / "graded" / "grades.csv", [row], columns)
    with Gradebook(f"sqlite:///{base / 'gradebook.db'}") as gradebook:
        gradebook.add_student("ada")
        gradebook.add_submission(name, "ada", timestamp="2026-10-01 22:00:00 UTC")
        gradebook.db.commit()
    [ada] = final_grades.final_grades(name, tmp_path / "graded", base / "gradebook.db")
    assert (ada["package"], ada["extra_credit"], ada["written_pending"], ada["total"], ada["max"]) == (60, 9, 12, 89, 124)
    assert ada["status"] == "80 of 112 autograded + 9 of 12 extra credit; 12 written points to be graded (total 124)"
