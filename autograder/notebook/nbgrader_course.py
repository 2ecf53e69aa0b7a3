"""The nbgrader course as the grader and the release use it: the delimiters of solutions and hidden tests,
an nbgrader command run with this interpreter, and an assignment generated in a temporary course."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SOLUTION = ("BEGIN SOLUTION", "END SOLUTION")  # nbgrader's delimiters, written as "### BEGIN SOLUTION"
HIDDEN_TESTS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
COMMENT = "### "
DELIMITERS = (*SOLUTION, *HIDDEN_TESTS)
NBGRADER = [sys.executable, str(Path(__file__).with_name("nbgrader_main.py"))]  # `nbgrader`, imported faster
IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", "*.egg-info", ".DS_Store")


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message holds the end of its error output."""


def nbgrader(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run an nbgrader subcommand (on instructor files only) with this interpreter, its scripts first on PATH (a
    new gradebook runs ``alembic``, found there also when the venv is not activated); raise NbgraderError."""
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    result = subprocess.run([*NBGRADER, *args, "--log-level=WARN"], cwd=cwd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise NbgraderError(f"nbgrader {' '.join(args)} failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return result


def generate(name: str, course_root: Path, course: Path, config_text: str, gradebook: Path | bool = True) -> Path:
    """A course at ``course`` (new) holding the assignment's sources and ``config_text`` as its
    ``nbgrader_config.py``, the assignment generated (``nbgrader generate_assignment``); returns its release
    folder. ``gradebook``: True records the assignment in the course's own gradebook, a path in that SQLite
    gradebook instead, False in none."""
    shutil.copytree(Path(course_root) / "source" / name, course / "source" / name, ignore=IGNORED)
    (course / "nbgrader_config.py").write_text(config_text, encoding="utf-8")
    database = ([] if gradebook is True else ["--no-db"] if gradebook is False
                else [f"--CourseDirectory.db_url=sqlite:///{Path(gradebook).resolve()}"])
    nbgrader(["generate_assignment", name, "--force", *database, f"--CourseDirectory.root={course}"], cwd=course)
    return course / "release" / name
