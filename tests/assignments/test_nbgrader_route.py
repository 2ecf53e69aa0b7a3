"""The JupyterHub route, with nbgrader's own commands on a local exchange folder: ``cs7150 release`` records the
assignment in the course gradebook and leaves the full release in ``release/<assignment>/``; nbgrader's
``release_assignment`` publishes it, a student's ``fetch_assignment`` receives the notebook *and* the
``cs7150/`` package and README, ``submit`` and ``collect`` bring it back, ``cs7150 autograde`` grades the
collected folder, and nbgrader's ``autograde``, ``generate_feedback``, ``release_feedback`` and the student's
``fetch_feedback`` return nbgrader's page (written answers pending). A later ``nbgrader generate_assignment`` leaves the release alone, and a failed release
deletes nothing.
"""
import html
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from autograder import autograde, config
from autograder.release import build

NAME = "assignment1"
COURSE_ID = "cs7150-cnn"


def _nbgrader(*args, cwd, exchange):
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--Exchange.root={exchange}",
                             f"--CourseDirectory.course_id={COURSE_ID}"], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    course = root / "course"
    shutil.copytree(config.COURSE_ROOT / "source" / NAME, course / "source" / NAME)
    shutil.copy2(config.COURSE_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    exchange = root / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    build.release(NAME, course / "release" / NAME, course_root=course, gradebook=course / "gradebook.db")
    return {"root": root, "course": course, "exchange": exchange, "at": f"--CourseDirectory.root={course}"}


def test_release_records_the_assignment_in_the_gradebook_beside_the_full_release(course):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course['course'] / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_notebook("conv_pool", NAME)
        assert (notebook.max_code_score, notebook.max_written_score) == (24, 12)
    released = course["course"] / "release" / NAME
    assert {"conv_pool.ipynb", "README.md", "build.json"} <= {p.name for p in released.iterdir()}
    assert (released / "cs7150" / "conv.py").is_file()
    said = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", NAME, course["at"]],
                          cwd=course["course"], capture_output=True, text=True)
    assert "Skipping existing assignment" in said.stdout + said.stderr  # nbgrader leaves the release alone
    assert (released / "cs7150" / "conv.py").is_file() and (released / "README.md").is_file()


def test_exchange_route_gives_students_the_package_and_collects_it_for_the_grader(course, tmp_path):
    c, exchange = course["course"], course["exchange"]
    _nbgrader("release_assignment", NAME, course["at"], cwd=c, exchange=exchange)
    home = tmp_path / "student"
    home.mkdir()
    _nbgrader("fetch_assignment", NAME, cwd=home, exchange=exchange)
    fetched = home / NAME
    assert (fetched / "conv_pool.ipynb").is_file() and (fetched / "README.md").is_file()
    assert "raise NotImplementedError" in (fetched / "cs7150" / "conv.py").read_text()
    for rel in config.load(NAME).student_files:  # the student does the work: the reference stands in
        shutil.copyfile(config.REPO_ROOT / rel, fetched / rel)
    notebook = nbformat.read(fetched / "conv_pool.ipynb", as_version=4)
    for cell in notebook.cells:  # and writes every answer (nbgrader scores an unchanged one 0 by itself)
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "My answer, in my own words."
    nbformat.write(notebook, fetched / "conv_pool.ipynb")
    _nbgrader("submit", NAME, cwd=home, exchange=exchange)
    _nbgrader("collect", NAME, course["at"], cwd=c, exchange=exchange)
    [student] = [p for p in (c / "submitted").iterdir()]
    collected = student / NAME
    assert (collected / "timestamp.txt").is_file() and (collected / "cs7150" / "conv.py").is_file()
    [result] = autograde.autograde(autograde.ClassRun(NAME, c / "submitted", tmp_path / "graded", jobs=1, progress=False,
                                   limits=autograde.Limits(unconfined=True), log=lambda m: None))
    assignment = config.load("assignment1")  # the reference earns every required point and the extra credit
    assert (result.student_id, result.score, result.max_score, result.extra) == (
        student.name, assignment.max_score, assignment.max_score, assignment.extra_max)
    # nbgrader's own grading in the course, for formgrader's written answers, and its feedback through the exchange
    _nbgrader("autograde", NAME, course["at"], cwd=c, exchange=exchange)
    _nbgrader("generate_feedback", NAME, course["at"], cwd=c, exchange=exchange)
    _nbgrader("release_feedback", NAME, course["at"], cwd=c, exchange=exchange)
    _nbgrader("fetch_feedback", NAME, cwd=home, exchange=exchange)
    [page] = list((fetched / "feedback").rglob("conv_pool.html"))
    text = html.unescape(re.sub(r"<[^>]*>", "", page.read_text()))
    assert re.search(r"conv_pool \([0-9.]+ of 24 autograded; 12 written points to be graded \(total 36\)\)", text), text[:2000]


def test_a_failed_release_deletes_nothing(course, tmp_path):
    released = course["course"] / "release" / NAME
    before = sorted(p.relative_to(released).as_posix() for p in released.rglob("*"))
    broken = tmp_path / "gradebook-is-a-folder"
    broken.mkdir()
    with pytest.raises(build.ReleaseError, match="generate_assignment"):
        build.release(NAME, released, course_root=course["course"], gradebook=broken)
    assert sorted(p.relative_to(released).as_posix() for p in released.rglob("*")) == before
    book = course["course"] / "gradebook.db"
    written = book.read_bytes()
    with pytest.raises(build.ReleaseError, match="helpers"):  # a release refused by its own checks
        build.release(NAME, released, course_root=course["course"], gradebook=book,
                        config_dir=_without_helper(tmp_path, "cs7150/_params.py"))
    assert book.read_bytes() == written  # the gradebook was not touched
    assert sorted(p.relative_to(released).as_posix() for p in released.rglob("*")) == before


def _without_helper(tmp_path, helper):
    """The assignment configurations with ``helper`` left out of assignment 1's helpers (its release is refused)."""
    import json
    folder = tmp_path / "configs"
    shutil.copytree(config.ASSIGNMENTS_DIR, folder)
    raw = json.loads((folder / f"{NAME}.json").read_text())
    raw["helpers"].remove(helper)
    (folder / f"{NAME}.json").write_text(json.dumps(raw))
    return folder
