"""The Gradescope autograder of an assignment: the zip to upload, and what it runs on Gradescope.

Its specification: docs/grader.md, `autograder/gradescope.py`.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import traceback
import zipfile
from pathlib import Path

from autograder import autograde, config
from autograder.output import lateness, points, report
from autograder import submissions as submission_files
from cs7150.atomic import atomic_write

STUDENT_ID = "student"  # the one submission a Gradescope run grades
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed entry times: the same tree gives the same zip
IGNORED_NAMES = {"__pycache__", ".ipynb_checkpoints", ".DS_Store"}

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image
# (Ubuntu, with apt-get). It makes a virtual environment at
# $GRADESCOPE_ROOT/venv (default /autograder/venv) with PyTorch's CPU wheel
# and the pinned requirements.txt of this zip; run_autograder uses it.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${GRADESCOPE_ROOT:-/autograder}"
apt-get update
# Python 3.11 or newer (the pins need it). Ubuntu 24.04 images have 3.12 as python3; Gradescope's
# Ubuntu 22.04 base image has 3.10, so there python3.11 comes from Ubuntu's universe repository.
supported() { command -v "$1" >/dev/null && "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; }
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv python3-pip
PYTHON=""
for candidate in python3 python3.13 python3.12 python3.11; do
    if supported "$candidate"; then PYTHON="$candidate"; break; fi
done
if [ -z "$PYTHON" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3.11 python3.11-venv \
        || { echo "setup.sh: Python 3.11+ is required and python3.11 could not be installed with apt-get;" \
                  "choose an Ubuntu 24.04 base image for this autograder" >&2; exit 1; }
    PYTHON=python3.11
fi
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required, found " + sys.version.split()[0])'
"$PYTHON" -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --upgrade pip
# The CPU build of the pinned torch (PyPI's Linux wheel would pull the CUDA libraries).
"$ROOT/venv/bin/python" -m pip install --index-url https://download.pytorch.org/whl/cpu \
    "$(grep -E '^torch==' "$HERE/requirements.txt")"
"$ROOT/venv/bin/python" -m pip install -r "$HERE/requirements.txt"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for each submission, as root, in /autograder. It grades
# /autograder/submission with the course's grader and writes
# /autograder/results/results.json. For a trial run elsewhere set
# GRADESCOPE_ROOT (default /autograder), GRADESCOPE_SOURCE (default
# $GRADESCOPE_ROOT/source, the unpacked zip) and GRADESCOPE_PYTHON (default
# $GRADESCOPE_ROOT/venv/bin/python, made by setup.sh).
set -euo pipefail
ROOT="${{GRADESCOPE_ROOT:-/autograder}}"
SOURCE="${{GRADESCOPE_SOURCE:-$ROOT/source}}"
PYTHON="${{GRADESCOPE_PYTHON:-$ROOT/venv/bin/python}}"
# Student code runs as a throwaway uid; without namespaces (no CAP_SYS_ADMIN) it shares this file
# system, so the reference solution and the grader's Python installation are made private to root
# (package runs get a Python of their own; notebook kernels a group that may read the venv while they run).
chmod 700 "$SOURCE"
if [ -d "$ROOT/venv" ]; then chmod 700 "$ROOT/venv"; fi
# From "/": the grader's jail probe starts in the current folder, and "/" is there in every jail.
cd /
exec env PYTHONPATH="$SOURCE" "$PYTHON" -m autograder.gradescope {arguments} --root "$ROOT"
"""


def _package_files(repo_root: Path, package: str) -> list[Path]:
    """The ``.py`` files of a package and of its subpackages (folders with an ``__init__.py``)."""
    found, folders = [], [repo_root / package]
    while folders:
        folder = folders.pop()
        for path in sorted(folder.iterdir()):
            if path.is_dir() and path.name not in IGNORED_NAMES and (path / "__init__.py").is_file():
                folders.append(path)
            elif path.is_file() and path.suffix == ".py":
                found.append(path)
    return found


def _tree_files(path: Path) -> list[Path]:
    """``path`` if it is a file, else the files under it (caches and checkpoints left out)."""
    if path.is_file():
        return [path]
    return [p for p in sorted(path.rglob("*")) if p.is_file() and not IGNORED_NAMES & set(p.parts)]


def contents(name: str, repo_root: Path = config.REPO_ROOT,
             notebooks_too: bool = False) -> dict[str, tuple[bytes, int]]:
    """The zip's entries: path inside the zip -> (bytes, permission bits).

    Args:
        name: the assignment (``autograder/assignments/<name>.json``).
        repo_root: the instructor's repository.
        notebooks_too: also grade the assignment's notebooks on Gradescope.
    Raises ConfigError for a missing or inconsistent assignment configuration (``points.PointsMismatch``:
    the notebook header states other points),
    FileNotFoundError for a missing requirements.txt, notebook folder or data path.
    """
    repo_root = Path(repo_root)
    assignment = config.load(name, repo_root / "autograder" / "assignments", repo_root)
    points.check(assignment, repo_root / "assignments" / "source" / name, repo_root / "autograder" / "assignments")
    files = _package_files(repo_root, "autograder") + _package_files(repo_root, config.PACKAGE_NAME)
    files += sorted((repo_root / "autograder" / "assignments").glob("*.json"))
    arguments = shlex.quote(name)
    if notebooks_too:
        source = repo_root / "assignments" / "source" / name
        if not source.is_dir():
            raise FileNotFoundError(f"no notebooks for {name}: {source} does not exist")
        files += [repo_root / "assignments" / "nbgrader_config.py", *_tree_files(source)]
        for rel in assignment.data:
            if not (repo_root / rel).exists():
                raise FileNotFoundError(f"data path {rel!r} of {name} does not exist in {repo_root}")
            files += _tree_files(repo_root / rel)
        arguments += " --notebooks"
    entries = {path.relative_to(repo_root).as_posix(): (path.read_bytes(), 0o644) for path in files}
    entries["requirements.txt"] = ((repo_root / "requirements.txt").read_bytes(), 0o644)
    entries["setup.sh"] = (SETUP_SH.encode(), 0o755)
    entries["run_autograder"] = (RUN_AUTOGRADER.format(arguments=arguments).encode(), 0o755)
    return entries


def build(name: str, out: Path, repo_root: Path = config.REPO_ROOT, notebooks_too: bool = False) -> list[str]:
    """Write the Gradescope autograder zip of assignment ``name`` to ``out``; return its entry names.

    The entries are sorted and dated 1980-01-01, so the same tree gives the
    same bytes; the file is written to a temporary name and renamed. Raises
    what ``contents`` raises.
    """
    entries = contents(name, repo_root, notebooks_too)
    with atomic_write(out) as file, zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, (data, mode) in sorted(entries.items()):
            info = zipfile.ZipInfo(entry, ZIP_TIME)
            info.external_attr = (0o100000 | mode) << 16  # a regular file with these permissions
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return sorted(entries)


def failure_results(message: str) -> dict:
    """Gradescope results for a submission the grader could not grade: 0 points and ``message``."""
    return {"score": 0, "output": message, "output_format": "text", "stdout_visibility": "hidden", "tests": []}


def submission_times(root: Path) -> dict:
    """When the submission came and how late (``lateness.gradescope_times``) from Gradescope's
    ``<root>/submission_metadata.json``; {} without it."""
    path = Path(root) / "submission_metadata.json"
    if not path.is_file():
        return {}
    return lateness.gradescope_times(json.loads(path.read_text(encoding="utf-8")))


def grade_submission(name: str, root: Path, notebooks_too: bool = False) -> int:
    """Grade ``<root>/submission`` and write ``<root>/results/results.json``; 0 if graded, 1 if the grader failed.

    Args:
        name: the assignment.
        root: Gradescope's ``/autograder`` (or a folder standing in for it).
        notebooks_too: grade the notebooks with nbgrader as well.
    """
    root = Path(root)
    print(f"grader: {Path(autograde.__file__).parent}; submission: {root / 'submission'}", flush=True)
    status = 0
    with tempfile.TemporaryDirectory(prefix="cs7150-gradescope-") as tmp:
        submissions, out = Path(tmp) / "submissions", Path(tmp) / "out"
        try:
            submissions.mkdir()
            skipped = submission_files.private_copy(root / "submission", submissions / STUDENT_ID)
            if skipped:
                print(f"not read: {', '.join(skipped)}", flush=True)
            autograde.autograde(autograde.ClassRun(name, submissions, out, student=STUDENT_ID, progress=False,
                                notebooks_too=notebooks_too))
            folder = report.student_folder(out, STUDENT_ID)
            results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
            results.update(output_format="text", test_output_format="text", stdout_visibility="hidden")
            results["extra_data"].update(submission_times(root))
            print((folder / "feedback.txt").read_text(encoding="utf-8"), flush=True)
        except submission_files.UnsafeArchive as error:  # the upload itself: too many files or bytes
            results = failure_results(f"Your upload could not be graded: it has {error}. Upload only the files of "
                                      "the assignment.")
        except Exception:  # the grader's own failure: the student must still get an answer
            traceback.print_exc(file=sys.stdout)
            results = failure_results("The autograder could not grade this submission because of an error in "
                                      "the grader. Please tell the course staff; your files were received.")
            status = 1
    report.write_atomic(root / "results" / "results.json", json.dumps(results, indent=2) + "\n")
    return status


def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.gradescope ASSIGNMENT [--root DIR] [--notebooks]``: what run_autograder runs."""
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope",
                                     description="Grade the Gradescope submission in ROOT/submission.")
    parser.add_argument("assignment")
    parser.add_argument("--root", type=Path, default=Path("/autograder"),
                        help="Gradescope's folder holding submission/ and results/ (default /autograder)")
    parser.add_argument("--notebooks", action="store_true", help="grade the notebooks with nbgrader as well")
    args = parser.parse_args(argv)
    return grade_submission(args.assignment, args.root, args.notebooks)


if __name__ == "__main__":
    sys.exit(main())
