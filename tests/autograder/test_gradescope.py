"""The Gradescope autograder zip: what it holds, and its run_autograder run here on a sample submission,
with a temporary folder standing in for Gradescope's /autograder."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from autograder import autograde, config, gradescope
from autograder.cli import gradescope as gradescope_cli
from coursetools.samples import samples_for, write_sample

SAMPLE = next(sample for sample in samples_for("assignment1") if sample.name == "flipped_kernel")

# The fields Gradescope documents for results.json (top level and per test).
GRADESCOPE_TOP = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
                  "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
GRADESCOPE_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
                   "tags", "visibility", "extra_data"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gradescope")
    names = gradescope.build("assignment1", folder / "a1.zip")
    return folder / "a1.zip", names


def _run_autograder(root):
    """Run the unpacked zip's run_autograder as Gradescope would, with ``root`` as /autograder."""
    env = {**os.environ, "GRADESCOPE_ROOT": str(root), "GRADESCOPE_PYTHON": sys.executable}
    return subprocess.run(["bash", str(root / "source" / "run_autograder")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_zip_holds_the_scripts_requirements_grader_and_reference_at_its_top_level(built):
    path, names = built
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == names
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        scripts = {name: archive.read(name).decode() for name in ("setup.sh", "run_autograder")}
        requirements = archive.read("requirements.txt")
    assert {"setup.sh", "run_autograder", "requirements.txt", "autograder/gradescope.py", "autograder/sandbox/runner.py",
            "autograder/assignments/assignment1.json", "cs7150/conv.py", "cs7150/pool_fast.py"} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith("assignments/")]
    assert modes["setup.sh"] & 0o777 == modes["run_autograder"] & 0o777 == 0o755
    assert requirements == (config.REPO_ROOT / "requirements.txt").read_bytes() and b"torch==" in requirements
    assert "download.pytorch.org/whl/cpu" in scripts["setup.sh"]
    assert "-m autograder.gradescope assignment1 --root" in scripts["run_autograder"]
    assert "GRADESCOPE_ROOT:-/autograder" in scripts["run_autograder"]
    for name, text in scripts.items():
        assert text.startswith("#!/usr/bin/env bash\n")
        assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0, name


def test_the_same_tree_gives_the_same_zip(built, tmp_path):
    gradescope.build("assignment1", tmp_path / "again.zip")
    assert (tmp_path / "again.zip").read_bytes() == built[0].read_bytes()


def test_notebooks_add_the_course_config_and_source_notebooks(tmp_path):
    names = gradescope.build("assignment1", tmp_path / "nb.zip", notebooks_too=True)
    assert {"assignments/nbgrader_config.py", "assignments/source/assignment1/conv_pool.ipynb"} <= set(names)
    with zipfile.ZipFile(tmp_path / "nb.zip") as archive:
        assert "assignment1 --notebooks --root" in archive.read("run_autograder").decode()


def test_cli_writes_the_zip_and_reports_errors(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    gradescope_cli.configure(parser)
    assert gradescope_cli.run(parser.parse_args(["assignment1", "--out", str(tmp_path / "a.zip")])) == 0
    assert zipfile.is_zipfile(tmp_path / "a.zip") and f"wrote {tmp_path / 'a.zip'}" in capsys.readouterr().out
    assert gradescope_cli.run(parser.parse_args(["assignment1", "--out", str(tmp_path / "a.tar")])) == 1
    assert gradescope_cli.run(parser.parse_args(["nope", "--out", str(tmp_path / "b.zip")])) == 1
    assert "no configuration for assignment 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "b.zip").exists()


@pytest.fixture(scope="module")
def autograder_root(built, tmp_path_factory):
    """A stand-in for /autograder: the zip unpacked in source/ (no setup.sh: this environment has the deps)."""
    root = tmp_path_factory.mktemp("autograder")
    with zipfile.ZipFile(built[0]) as archive:
        archive.extractall(root / "source")
    return root


def test_run_autograder_grades_a_sample_into_gradescope_results(autograder_root, tmp_path):
    root = autograder_root
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.copytree(write_sample(SAMPLE, config.load("assignment1"), tmp_path), root / "submission")
    (root / "submission_metadata.json").write_text(json.dumps({  # Gradescope's, beside submission/
        "created_at": "2026-10-02T02:00:00.0-04:00", "assignment": {"due_date": "2026-10-01T23:59:00.0-04:00"},
        "users": [{"assignment": {}}]}))
    run = _run_autograder(root)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"grader: {root / 'source' / 'autograder'}" in run.stdout  # the zip's grader, not this checkout's
    results = json.loads((root / "results" / "results.json").read_text())
    assert set(results) <= GRADESCOPE_TOP
    assert results["score"] == SAMPLE.expected == 85 and results["stdout_visibility"] == "hidden"
    assert results["extra_data"]["student_id"] == gradescope.STUDENT_ID
    assert results["extra_data"]["max_score"] == 88 and isinstance(results["execution_time"], int)
    assert (results["extra_data"]["submitted_at"], results["extra_data"]["late_hours"]) == ("2026-10-02T06:00:00Z", 2.02)
    assert [test["number"] for test in results["tests"]] == [str(i) for i in range(1, len(results["tests"]) + 1)]
    for test in results["tests"]:
        assert set(test) <= GRADESCOPE_TEST and test["visibility"] == "visible"
        extra = "(extra credit, up to " in test["name"]  # an extra-credit test: maximum 0, its points on top
        up_to = float(test["name"].rsplit("up to ", 1)[1].rstrip(")")) if extra else test["max_score"]
        assert (test["max_score"] == 0) == extra and 0 <= test["score"] <= up_to
        assert test["status"] == ("passed" if test["score"] == up_to else "failed")
    assert sum(test["score"] for test in results["tests"]) == results["score"]
    failed = [test for test in results["tests"] if test["status"] == "failed"]
    assert [test["name"] for test in failed] == ["conv_forward_naive (cs7150/conv.py)"]
    assert "kernel flipped" in failed[0]["output"]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv (util-linux)")
def test_run_autograder_without_cap_sys_admin_confines_by_uid_and_says_why(autograder_root, tmp_path):
    """Gradescope's containers likely lack CAP_SYS_ADMIN: run_autograder still grades, as a throwaway uid."""
    root = autograder_root
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.copytree(write_sample(SAMPLE, config.load("assignment1"), tmp_path), root / "submission")
    env = {**os.environ, "GRADESCOPE_ROOT": str(root), "GRADESCOPE_PYTHON": sys.executable}
    run = subprocess.run(["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin", "bash",
                          str(root / "source" / "run_autograder")], cwd=root, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "throwaway uid" in run.stdout + run.stderr and "unshare: Operation not permitted" in run.stdout + run.stderr
    assert json.loads((root / "results" / "results.json").read_text())["score"] == SAMPLE.expected


def test_a_grader_failure_still_gives_the_student_an_answer(autograder_root):
    root = autograder_root
    shutil.rmtree(root / "submission", ignore_errors=True)  # nothing to grade: the copy fails
    run = _run_autograder(root)
    assert run.returncode == 1 and "Traceback" in run.stdout
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and results["tests"] == [] and "course staff" in results["output"]


def test_each_tests_visibility_comes_from_the_assignment_configuration(tmp_path):
    """``"visibility"`` in the configuration: a part's details only after the due date, the others visible;
    anything but Gradescope's four values, or a name that is no part, is refused."""
    configs = tmp_path / "configs"
    shutil.copytree(config.ASSIGNMENTS_DIR, configs)
    raw = json.loads((configs / "assignment1.json").read_text())
    raw["visibility"] = {"conv_backward_naive": "after_due_date", "conv_pool.ipynb": "after_published"}
    (configs / "assignment1.json").write_text(json.dumps(raw))
    subs = tmp_path / "subs"
    write_sample(SAMPLE, config.load("assignment1"), subs)
    autograde.autograde(autograde.ClassRun("assignment1", subs, tmp_path / "out", jobs=1, progress=False, config_dir=configs,
                        limits=autograde.Limits(wall_s=20, case_s=4, unconfined=True), log=lambda m: None))
    tests = json.loads((tmp_path / "out" / "students" / SAMPLE.name / "results.json").read_text())["tests"]
    shown = {test["name"].split(" ")[0]: test["visibility"] for test in tests}
    assert shown.pop("conv_backward_naive") == "after_due_date" and set(shown.values()) == {"visible"}
    for bad in ({"conv_backward_naive": "later"}, {"no_such_function": "hidden"}, ["hidden"]):
        raw["visibility"] = bad
        (configs / "assignment1.json").write_text(json.dumps(raw))
        with pytest.raises(config.ConfigError, match="visibility maps a part"):
            config.load("assignment1", configs)
