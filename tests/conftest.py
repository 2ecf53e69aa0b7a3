"""Fixtures shared by the test modules (helpers that are not fixtures live in ``tests/nbtools.py`` and
``tests/strategies.py``; test modules never import each other)."""
from __future__ import annotations

import json
import sys

import pytest


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """Environment for a kernel that runs this interpreter, in grading mode, writing nothing outside its folder.

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
