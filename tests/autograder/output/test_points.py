"""One points model: the notebook's header, grades.csv, results.json (Gradescope), nbgrader's gradebook and the
feedback count every point once and agree (slow: one ``cs7150 autograde --notebooks`` run of the reference per assignment).

Package functions are graded by the package grader only (``autograder/assignments/<assignment>.json``), the
notebook's autograded test cells grade notebook code only, written answers are nbgrader's manual grades. So the
header's total is the package's maximum plus the gradebook's autograded and manual maxima, and every file the
grader writes reports the package's maximum plus the notebook's autograded maximum. Extra credit (assignment 1's
section 9) is stated as such everywhere: the header's "up to 12 extra-credit points", grades.csv's ``extra_credit``
column beside ``total`` and ``max``, results.json's tests of maximum 0 whose points add to its ``score``, and "+ 12
of 12 extra credit" in every statement of the score; no maximum counts it.
"""
from __future__ import annotations

import csv
import json
import shutil

import pytest

from autograder import autograde, config, gradescope
from autograder.notebook import nbgrade
from autograder.output import points
from autograder.release import build
from coursetools.samples import samples_for, write_sample

HEADERS = {"assignment1": ("conv_pool.ipynb",), "assignment2": ("lenet5.ipynb",)}  # assignment -> its notebook


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
    [result] = autograde.autograde(autograde.ClassRun(name, subs, out, jobs=1, limits=autograde.Limits(unconfined=True),
                                   progress=False, notebooks_too=True))

    total, stated = points.stated(path)  # the header states the total and its three kinds of points
    package, notebook, written = stated.package, stated.autograded, stated.written
    course = nbgrade.base_course(name, config.COURSE_ROOT, tmp_path / "work")  # the grader's gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        graded = gradebook.find_notebook(path.stem, name)
        autograded_max, manual_max = graded.max_code_score, graded.max_written_score
    assert (package, notebook, written) == (assignment.max_score, autograded_max, manual_max)
    assert total == package + notebook + written and stated.extra == assignment.extra_max
    extra = assignment.extra_max  # the reference earns all of it, on top of every maximum

    graded_max = assignment.max_score + autograded_max  # what the grader reports: package + autograded notebook
    [row] = list(csv.DictReader(open(out / "grades.csv", encoding="utf-8")))
    results = json.loads((out / "students" / reference.name / "results.json").read_text())
    assert float(row["max"]) == results["extra_data"]["max_score"] == result.max_score == graded_max
    assert sum(test["max_score"] for test in results["tests"]) == graded_max
    assert float(row["total"]) == result.score == graded_max  # the reference earns it all
    assert float(row.get("extra_credit", 0)) == result.extra == results["extra_data"].get("extra_credit", 0) == extra
    assert results["score"] == sum(test["score"] for test in results["tests"]) == graded_max + extra
    notebook_part = next(p for p in result.parts if p.name == path.name)
    assert notebook_part.max_score == autograded_max and notebook_part.score == autograded_max
    feedback = (out / "students" / reference.name / "feedback.txt").read_text()
    statement = (f"{graded_max:g} of {graded_max:g} autograded" + (f" + {extra:g} of {extra:g} extra credit" if extra else "")
                 + f"; {written:g} written points to be graded (total {total:g})")
    assert f"Score: {statement}" in feedback and results["output"].startswith(f"{assignment.title}: {statement}")
    assert results["extra_data"]["written_pending"] == written and results["extra_data"]["total"] == total
    page = (out / "students" / reference.name / "feedback" / f"{path.stem}.html").read_text()
    assert "Content-Security-Policy" in page and path.stem in feedback  # the notebook's page is handed out


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_each_header_states_the_configured_points(name):
    source = config.COURSE_ROOT / "source" / name
    total, stated = points.stated(source / HEADERS[name][0])
    assert stated == points.check(config.load(name), source) and total == stated.total


def _changed_config(tmp_path, name="assignment1"):
    """The configurations with the first case of ``name``'s first part worth half a point more."""
    folder = tmp_path / "autograder" / "assignments"
    shutil.copytree(config.ASSIGNMENTS_DIR, folder)
    raw = json.loads((folder / f"{name}.json").read_text())
    raw["parts"][0]["cases"][0]["points"] += 0.5
    (folder / f"{name}.json").write_text(json.dumps(raw))
    return folder


MISMATCH = r"differ from what is graded.*\n  package: the header says 88, the configuration gives 88\.5\n" \
           r"  total: the header says 124, the configuration gives 124\.5"


def test_release_autograde_and_gradescope_refuse_a_point_value_the_header_does_not_state(tmp_path):
    configs = _changed_config(tmp_path)
    with pytest.raises(points.PointsMismatch, match=MISMATCH):
        build.release("assignment1", tmp_path / "out", course_root=config.COURSE_ROOT, config_dir=configs)
    assert not (tmp_path / "out").exists()
    with pytest.raises(points.PointsMismatch, match=MISMATCH):
        autograde.autograde(autograde.ClassRun("assignment1", tmp_path / "no-submissions", tmp_path / "graded", config_dir=configs,
                            progress=False))
    assert not (tmp_path / "graded").exists()
    shutil.copytree(config.REPO_ROOT / config.PACKAGE_NAME, tmp_path / config.PACKAGE_NAME)  # the zip's repository
    shutil.copytree(config.COURSE_ROOT / "source" / "assignment1", tmp_path / "assignments" / "source" / "assignment1")
    with pytest.raises(points.PointsMismatch, match=MISMATCH):
        gradescope.build("assignment1", tmp_path / "a1.zip", repo_root=tmp_path)
    assert not (tmp_path / "a1.zip").exists()


def test_a_notebook_cell_worth_other_points_is_refused_and_an_unreadable_header_too(tmp_path):
    import nbformat
    source = tmp_path / "source"
    source.mkdir()
    notebook = nbformat.read(config.COURSE_ROOT / "source" / "assignment2" / "lenet5.ipynb", as_version=4)
    graded = next(cell for cell in notebook.cells if cell.cell_type == "markdown"
                  and cell.metadata.get("nbgrader", {}).get("grade"))
    graded.metadata.nbgrader["points"] += 1
    nbformat.write(notebook, source / "lenet5.ipynb")
    with pytest.raises(points.PointsMismatch, match=r"written: the header says 20, the configuration gives 21\n"
                                                      r"  total: the header says 123, the configuration gives 124"):
        points.check(config.load("assignment2"), source)
    notebook.cells[0].source = notebook.cells[0].source.replace("autograded in this notebook", "in the notebook")
    nbformat.write(notebook, source / "lenet5.ipynb")
    with pytest.raises(points.PointsMismatch, match="not, exactly once each, the points of: autograded"):
        points.check(config.load("assignment2"), source)
    notebook.cells[0].source = "# no total stated"
    nbformat.write(notebook, source / "lenet5.ipynb")
    assert points.check(config.load("assignment2"), source) == points.Points(47, 56, 21)  # nothing stated to differ
    assert points.check(config.load("assignment2"), tmp_path / "none") is None


def test_extra_credit_is_stated_by_the_header_and_counted_in_no_maximum(tmp_path):
    """An extra-credit part's points are the header's "up to N extra-credit points", on top of the total: one
    changed in the configuration, or a header that leaves them out, is refused; the maximum counts none of them."""
    import nbformat
    assignment = config.load("assignment1")
    extra = [part for part in assignment.parts if part.extra_credit]
    assert {part.function for part in extra} == {"conv1d_forward_fast", "conv1d_backward_fast", "conv3d_forward_fast",
                                                 "conv3d_backward_fast"}
    assert assignment.max_score + assignment.extra_max == sum(part.max_score for part in assignment.parts)
    folder = tmp_path / "autograder" / "assignments"
    shutil.copytree(config.ASSIGNMENTS_DIR, folder)
    raw = json.loads((folder / "assignment1.json").read_text())
    next(p for p in raw["parts"] if p["function"] == "conv3d_forward_fast")["cases"][0]["points"] += 1
    (folder / "assignment1.json").write_text(json.dumps(raw))
    source = config.COURSE_ROOT / "source" / "assignment1"
    with pytest.raises(points.PointsMismatch, match=r"\n  extra: the header says 12, the configuration gives 13$"):
        points.check(config.load("assignment1", folder), source, folder)  # the total (124) still agrees
    notebook = nbformat.read(source / "conv_pool.ipynb", as_version=4)
    notebook.cells[0].source = notebook.cells[0].source.replace("up to 12 extra-credit points", "12 bonus points")
    (tmp_path / "source").mkdir()
    nbformat.write(notebook, tmp_path / "source" / "conv_pool.ipynb")
    with pytest.raises(points.PointsMismatch, match=r"\n  extra: the header says 0, the configuration gives 12$"):
        points.check(assignment, tmp_path / "source")
    raw["parts"][0]["extra_credit"] = "yes"
    (folder / "assignment1.json").write_text(json.dumps(raw))
    with pytest.raises(config.ConfigError, match="'extra_credit' must be true or false, got 'yes'"):
        config.load("assignment1", folder)


def test_every_statement_of_a_score_names_the_extra_credit_beside_the_maximum():
    from autograder import results as scores
    assert scores.total_statement(80, 112, 12, extra=9, extra_max=12) == (
        "80 of 112 autograded + 9 of 12 extra credit; 12 written points to be graded (total 124)")
    assert scores.total_statement(80, 112, 12) == "80 of 112 autograded; 12 written points to be graded (total 124)"
