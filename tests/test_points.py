"""One points model: the notebook's header, grades.csv, results.json (Gradescope), nbgrader's gradebook and the
feedback count every point once and agree (slow: one ``cs7150 autograde --notebooks`` run of the reference per assignment).

Package functions are graded by the package grader only (``autograder/assignments/<assignment>.json``), the
notebook's autograded test cells grade notebook code only, written answers are nbgrader's manual grades. So the
header's total is the package's maximum plus the gradebook's autograded and manual maxima, and every file the
grader writes reports the package's maximum plus the notebook's autograded maximum.
"""
from __future__ import annotations

import csv
import json
import re
import shutil

import nbformat
import pytest

from autograder import autograde, config, notebooks
from autograder.samples import samples_for, write_sample

# assignment -> (its notebook, how its header states the total and its three kinds of points)
HEADERS = {
    "assignment1": ("conv_pool.ipynb", re.compile(
        r"\*\*Total: (?P<total>\d+) points\*\*: (?P<package>\d+) for the package functions .*?, (?P<notebook>\d+) for the"
        r"\s+exercises in this notebook .*? and (?P<written>\d+) for the written answers", re.DOTALL)),
    "assignment2": ("lenet5.ipynb", re.compile(
        r"\*\*Total: (?P<total>\d+) points\*\*: (?P<notebook>\d+) autograded in this notebook, (?P<written>\d+) for"
        r"\s+written answers graded by hand, and (?P<package>\d+) for your\s+package files", re.DOTALL)),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HEADERS))
def test_header_grades_results_gradebook_and_feedback_agree(tmp_path, name):
    from nbgrader.api import Gradebook

    path = config.COURSE_ROOT / "source" / name / HEADERS[name][0]
    subs, out = tmp_path / "subs", tmp_path / "out"
    assignment = config.load(name)
    reference = next(s for s in samples_for(name) if s.name == "reference")
    folder = write_sample(reference, assignment, subs)
    shutil.copyfile(path, folder / path.name)  # the student hands in the notebook and cs7150/, no data
    [result] = autograde.autograde(name, subs, out, jobs=1, limits=autograde.Limits(unconfined=True),
                                   progress=False, notebooks_too=True)

    header = HEADERS[name][1].search(nbformat.read(path, as_version=4).cells[0].source)
    assert header, "the header states the total and its three kinds of points"
    total, package, notebook, written = (int(header[group]) for group in ("total", "package", "notebook", "written"))
    course = notebooks.base_course(name, config.COURSE_ROOT, tmp_path / "work")  # the grader's gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        graded = gradebook.find_notebook(path.stem, name)
        autograded_max, manual_max = graded.max_code_score, graded.max_written_score
    assert (package, notebook, written) == (assignment.max_score, autograded_max, manual_max)
    assert total == package + notebook + written

    graded_max = assignment.max_score + autograded_max  # what the grader reports: package + autograded notebook
    [row] = list(csv.DictReader(open(out / "grades.csv", encoding="utf-8")))
    results = json.loads((out / "students" / reference.name / "results.json").read_text())
    assert float(row["max"]) == results["extra_data"]["max_score"] == result.max_score == graded_max
    assert sum(test["max_score"] for test in results["tests"]) == graded_max
    assert float(row["total"]) == results["score"] == result.score == graded_max  # the reference earns it all
    notebook_part = next(p for p in result.parts if p.name == path.name)
    assert notebook_part.max_score == autograded_max and notebook_part.score == autograded_max
    feedback = (out / "students" / reference.name / "feedback.txt").read_text()
    assert f"Score: {graded_max:g} / {graded_max:g}" in feedback
    page = (out / "students" / reference.name / "feedback" / f"{path.stem}.html").read_text()
    assert "Content-Security-Policy" in page and path.stem in feedback  # the notebook's page is handed out
