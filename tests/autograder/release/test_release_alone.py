"""Each release on its own, as a student gets it: copied to a fresh folder, with a fresh virtual environment
made from the release's requirements.txt, nothing of the repository importable.

With the student files filled in (the reference solutions copied in, the instructor's notebook in place of the
released one) the notebook runs top to bottom without an error, and the hand-in helper packs the graded files.
Creating the environments takes minutes (pip, from its cache or the package index), so these tests run only
when asked for: ``make release-check`` (``pytest -m alone tests/autograder/release/test_release_alone.py``).

``CS7150_OLDEST`` (requirement specifiers, e.g. ``numpy==2.1.3 torch==2.11.0``) installs those over the release's
pins, as a Colab student has them (Colab's own numpy and torch, not the pins): ``make oldest-check`` runs these
tests with the oldest numpy and torch the READMEs claim.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import config
from autograder.release import build, markers

COURSE = config.COURSE_ROOT
RUN_NOTEBOOK = r"""
import sys
import nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, kernel_name="python3", timeout=900, allow_errors=True,
               resources={"metadata": {"path": sys.argv[2]}}).execute()
errors = [f"cell {i}: {o['ename']}: {o['evalue']}"[:400] for i, cell in enumerate(nb.cells)
          for o in cell.get("outputs", []) if o.get("output_type") == "error"]
print("\n".join(errors) or "no errors")
sys.exit(1 if errors else 0)
"""
PROBE = r"""
import importlib, json, os
found = {}
for name in ("autograder", "coursetools", "cs7150"):
    try:
        found[name] = os.path.realpath(importlib.import_module(name).__file__)
    except ModuleNotFoundError:
        found[name] = None
print(json.dumps(found))
"""


def _asked_for(config_) -> bool:
    return "alone" in (config_.getoption("markexpr") or "")


pytestmark = [pytest.mark.slow, pytest.mark.alone]


def _environment(home: Path, venv: Path) -> dict:
    """A student's shell: the venv first on PATH, a fresh home, no PYTHONPATH, nothing of Jupyter's configuration."""
    keep = {key: value for key, value in os.environ.items()
            if key in ("LANG", "LC_ALL", "TMPDIR") or key.startswith("PIP_")}
    return {**keep, "HOME": str(home), "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "NBGRADER_EXECUTION": "autograde", "MPLBACKEND": "Agg"}


@pytest.fixture(scope="module", params=["assignment1", "assignment2"])
def student(request, tmp_path_factory):
    """(folder, venv, env) of a filled-in copy of the release, alone in a temporary folder."""
    if not _asked_for(request.config):  # module-scoped fixtures run before the function-scoped skip
        pytest.skip("builds fresh virtual environments (minutes): run with -m alone (make release-check)")
    name = request.param
    root = tmp_path_factory.mktemp(f"alone-{name}")
    built = build.release(name, root / "built" / name)
    folder = root / "student" / name
    shutil.copytree(built, folder)
    assignment = config.load(name)
    for rel in assignment.student_files:  # the student's own work, here the reference solutions
        (folder / rel).write_text(markers.unmark_source((config.REPO_ROOT / rel).read_text(), rel))
    for notebook in json.loads((folder / "build.json").read_text())["notebooks"]:
        shutil.copy2(COURSE / "source" / name / notebook, folder / notebook)
    home, venv = root / "home", root / "venv"
    home.mkdir()
    env = _environment(home, venv)
    python3 = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    subprocess.run([python3, "-m", "venv", str(venv)], check=True, env=env, cwd=root)
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", "requirements.txt"],
                             env=env, cwd=folder, capture_output=True, text=True, timeout=1800)
    assert install.returncode == 0, install.stderr[-3000:]
    oldest = os.environ.get("CS7150_OLDEST", "").split()
    if oldest:
        install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *oldest],
                                 env=env, cwd=folder, capture_output=True, text=True, timeout=1800)
        assert install.returncode == 0, install.stderr[-3000:]
        versions = subprocess.run([str(venv / "bin" / "python"), "-c", "import numpy, torch; print(numpy.__version__, "
                                   "torch.__version__.split('+')[0])"], env=env, capture_output=True, text=True)
        wanted = {spec.split("==")[0]: spec.split("==")[1] for spec in oldest if "==" in spec}
        assert versions.stdout.split() == [wanted.get("numpy", versions.stdout.split()[0]),
                                           wanted.get("torch", versions.stdout.split()[-1])], versions
    return folder, venv, env


def test_nothing_of_the_repository_is_importable(student):
    folder, venv, env = student
    result = subprocess.run([str(venv / "bin" / "python"), "-c", PROBE], env=env, cwd=folder,
                            capture_output=True, text=True, check=True)
    found = json.loads(result.stdout)
    assert found["autograder"] is None and found["coursetools"] is None
    assert Path(found["cs7150"]).parent == folder.resolve() / "cs7150"


def test_the_notebook_runs_top_to_bottom(student):
    folder, venv, env = student
    for notebook in json.loads((folder / "build.json").read_text())["notebooks"]:
        result = subprocess.run([str(venv / "bin" / "python"), "-c", RUN_NOTEBOOK, notebook, str(folder)],
                                env=env, cwd=folder, capture_output=True, text=True, timeout=3600)
        assert result.returncode == 0, f"{notebook}:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"


def test_hand_in_packs_the_graded_files(student):
    folder, venv, env = student
    result = subprocess.run([str(venv / "bin" / "python"), "-m", "cs7150.handin"], env=env, cwd=folder,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((folder / "build.json").read_text())
    with zipfile.ZipFile(folder / f"{manifest['assignment']}_submission.zip") as archive:
        assert archive.namelist() == manifest["handin"]
    assert "still not implemented" not in result.stdout
