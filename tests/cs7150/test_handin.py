"""The hand-in helper of a release (cs7150.handin): it zips exactly the graded files, after checking them."""
import json
import shutil
import zipfile

import pytest

from autograder import config
from autograder.release import build

REPO = config.REPO_ROOT


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """Assignment 1 released without its notebook (quick), the reference student files copied in."""
    out = build.release("assignment1", tmp_path_factory.mktemp("handin") / "assignment1",
                          course_root=tmp_path_factory.mktemp("no-course"))
    return out


@pytest.fixture
def folder(released, tmp_path):
    """A student's copy of the release: the reference solutions and a notebook in place."""
    copy = tmp_path / "assignment1"
    shutil.copytree(released, copy)
    for rel in config.load("assignment1").student_files:
        shutil.copy2(REPO / rel, copy / rel)
    (copy / "conv_pool.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    manifest = json.loads((copy / "build.json").read_text())
    manifest["handin"] = ["conv_pool.ipynb", *manifest["handin"]]
    (copy / "build.json").write_text(json.dumps(manifest))
    return copy


def _handin(run_alone, folder, *argv):
    return run_alone(folder, f"import sys\nfrom cs7150.handin import main\nsys.exit(main({list(argv)!r}))")


def test_zip_holds_exactly_the_graded_files(folder, run_alone):
    result = _handin(run_alone, folder)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(folder / "assignment1_submission.zip") as archive:
        names = archive.namelist()
        assert names == ["conv_pool.ipynb", *config.load("assignment1").student_files]
        assert archive.read("cs7150/conv.py") == (folder / "cs7150" / "conv.py").read_bytes()
    assert f"wrote {folder / 'assignment1_submission.zip'} with 5 files:" in result.stdout
    assert "  cs7150/pool_fast.py (" in result.stdout and "still not implemented" not in result.stdout


def test_stubs_left_are_listed(folder, released, run_alone):
    shutil.copy2(released / "cs7150" / "pool.py", folder / "cs7150" / "pool.py")
    result = _handin(run_alone, folder)
    assert result.returncode == 0, result.stderr
    assert "still not implemented (4; they score nothing):" in result.stdout
    assert "max_pool_forward_naive: implement this in cs7150/pool.py" in result.stdout


def test_missing_file_is_named_and_nothing_is_written(folder, run_alone):
    (folder / "cs7150" / "conv_fast.py").unlink()
    result = _handin(run_alone, folder)
    assert result.returncode == 1
    assert "these graded files are missing" in result.stderr and "cs7150/conv_fast.py" in result.stderr
    assert not (folder / "assignment1_submission.zip").exists()


def test_a_file_that_does_not_import_is_named_with_its_error(folder, run_alone):
    with (folder / "cs7150" / "pool.py").open("a") as file:
        file.write("\ndef broken(:\n")
    (folder / "conv_pool.ipynb").write_text("{not json")
    result = _handin(run_alone, folder)
    assert result.returncode == 1
    assert "cs7150/pool.py: " in result.stderr and "SyntaxError" in result.stderr
    assert "conv_pool.ipynb: is not a readable notebook" in result.stderr
    assert not (folder / "assignment1_submission.zip").exists()


def test_a_brought_file_that_is_missing_says_where_it_comes_from(tmp_path, run_alone):
    out = build.release("assignment2", tmp_path / "assignment2", course_root=tmp_path / "no-course")
    result = _handin(run_alone, out)
    assert result.returncode == 1
    assert "cs7150/conv_fast.py (your own, from assignment1: copy it from that assignment's folder)" in result.stderr


def test_outside_a_release_it_says_so(tmp_path, run_alone):
    (tmp_path / "cs7150").mkdir()
    shutil.copy2(REPO / "cs7150" / "__init__.py", tmp_path / "cs7150")
    shutil.copy2(REPO / "cs7150" / "handin.py", tmp_path / "cs7150")
    shutil.copy2(REPO / "cs7150" / "atomic.py", tmp_path / "cs7150")
    result = _handin(run_alone, tmp_path)
    assert result.returncode == 1 and "build.json does not exist" in result.stderr
    assert _handin(run_alone, tmp_path, "--zip").returncode == 2
