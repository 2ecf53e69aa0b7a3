"""What the notebook tests share: reading cells' nbgrader metadata, and running a notebook once per session.

Not a test module (pytest collects ``test_*.py`` only); the tests import it by name, as ``tests/`` is on
``sys.path`` while they run. The kernel's environment is the ``kernel_env`` fixture of ``tests/conftest.py``.
"""
from __future__ import annotations

import functools
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


@functools.cache
def execute(path: Path, allow_errors: bool = True):
    """Run the notebook at ``path`` in its folder; return the executed notebook.

    Memoized: every test file that checks a notebook's outputs shares one run per session."""
    nb = read(path)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=course_config().Execute.timeout, allow_errors=allow_errors,
        resources={"metadata": {"path": str(path.parent)}},
        extra_arguments=["--HistoryManager.hist_file=:memory:"],  # as nbgrader: no history file in $HOME
    )
    client.execute()
    return nb


def outputs(cell, output_type, name=None):
    return [o for o in cell.get("outputs", []) if o.output_type == output_type and (name is None or o.get("name") == name)]


def error_text(output) -> str:
    return f"{output.ename}: {output.evalue}"[:500]
