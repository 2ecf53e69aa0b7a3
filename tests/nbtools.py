"""What the notebook tests share: reading cells' nbgrader metadata, and running a notebook once per session.

Not a test module (pytest collects ``test_*.py`` only); the tests import it by name, as ``tests/`` is on
``sys.path`` while they run. The kernel's environment is the ``kernel_env`` fixture of ``tests/conftest.py``.
"""
from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from traitlets.config.loader import PyFileConfigLoader

REPO = Path(__file__).resolve().parents[1]
COURSE = REPO / "assignments"


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def is_grade(cell) -> bool:
    return bool(nbgrader_meta(cell).get("grade"))


def is_autograded_test(cell) -> bool:
    """A locked code cell of tests (nbgrader's "Autograder tests")."""
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and meta.get("grade", False) and not meta.get("solution", False)


def cell_name(index: int, cell) -> str:
    return f"cell {index} ({nbgrader_meta(cell).get('grade_id', 'no grade_id')})"


def read(path: Path):
    return nbformat.read(path, as_version=4)


def notebook_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def course_config():
    """assignments/nbgrader_config.py, loaded as nbgrader loads it."""
    return PyFileConfigLoader("nbgrader_config.py", path=str(COURSE)).load_config()


MODES = ("grading", "student")  # NBGRADER_EXECUTION set (as nbgrader sets it) or not (as a student runs it)
STUDENT_CELL_TIMEOUT_S = 1200  # a student's Jupyter has no time limit per cell; this one only stops a hung kernel


@functools.cache
def execute(path: Path, allow_errors: bool = True, mode: str = "grading"):
    """Run the notebook at ``path`` in its folder, in ``mode`` (one of MODES); return the executed notebook.

    The kernel starts with ``NBGRADER_EXECUTION=autograde`` in grading mode (each cell within nbgrader's
    ``Execute.timeout``) and without it in student mode.
    Memoized: every test file that checks a notebook's outputs shares one run per notebook and mode."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    nb = read(path)
    client = NotebookClient(
        nb, kernel_name="python3", allow_errors=allow_errors, resources={"metadata": {"path": str(path.parent)}},
        timeout=course_config().Execute.timeout if mode == "grading" else STUDENT_CELL_TIMEOUT_S,
        extra_arguments=["--HistoryManager.hist_file=:memory:"],  # as nbgrader: no history file in $HOME
    )
    saved = os.environ.pop("NBGRADER_EXECUTION", None)
    if mode == "grading":
        os.environ["NBGRADER_EXECUTION"] = "autograde"
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        os.environ.pop("NBGRADER_EXECUTION", None)
        if saved is not None:
            os.environ["NBGRADER_EXECUTION"] = saved
    print(f"{notebook_id(path)} in {mode} mode: {time.perf_counter() - start:.0f} s, load {os.getloadavg()[0]:.1f}")
    return nb


def outputs(cell, output_type, name=None):
    return [o for o in cell.get("outputs", []) if o.output_type == output_type and (name is None or o.get("name") == name)]


def error_text(output) -> str:
    return f"{output.ename}: {output.evalue}"[:500]
