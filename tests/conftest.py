"""Fixtures shared by the test modules (helpers that are not fixtures live in ``tests/nbtools.py`` and
``tests/strategies.py``; test modules never import each other)."""
from __future__ import annotations

import json
import sys

import pytest


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """Environment for a kernel that runs this interpreter, writing nothing outside its folder (grading mode
    unless ``nbtools.execute`` is asked for student mode).

    A kernelspec named python3 that starts ``sys.executable`` is put first on
    JUPYTER_PATH, so a user-level kernelspec cannot swap the interpreter.
    """
    jupyter = tmp_path_factory.mktemp("jupyter")
    spec = jupyter / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(jupyter))
        patch.setenv("NBGRADER_EXECUTION", "autograde")
        yield


# A released folder is run as on a student's machine: with this interpreter, but without the finders of the
# project's editable install, which would otherwise supply every module the release leaves out.
ALONE = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path "
         "if not getattr(f, '__module__', '').startswith('__editable__')]; sys.path.insert(0, '')")


@pytest.fixture
def run_alone():
    """``run_alone(folder, code)``: run ``code`` in ``folder`` with only the release's own package importable."""
    import subprocess

    def run(folder, code: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-I", "-B", "-c", f"{ALONE}\n{code}"], capture_output=True,
                              text=True, cwd=folder, timeout=600)

    return run


@pytest.fixture(scope="module")
def release_kernel_env(tmp_path_factory):
    """As ``kernel_env``, for running a released notebook: the kernel drops the editable install's finders first."""
    jupyter = tmp_path_factory.mktemp("jupyter-release")
    spec = jupyter / "kernels" / "python3"
    spec.mkdir(parents=True)
    launch = f"{ALONE}\nfrom ipykernel import kernelapp\nkernelapp.launch_new_instance()"
    argv = [sys.executable, "-c", launch, "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(jupyter))
        patch.setenv("NBGRADER_EXECUTION", "autograde")
        yield


@pytest.fixture(scope="session")
def blank_release1():
    """Assignment 1's blank release (``corpus.disruption.blank_release``), made once for the session."""
    from corpus.disruption import blank_release

    return blank_release("assignment1")
