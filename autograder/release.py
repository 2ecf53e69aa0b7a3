"""Build a student release of an assignment from the instructor tree.

``release("assignment1")`` writes ``assignments/release/assignment1/``:

- the notebooks of ``assignments/source/assignment1/`` run through
  ``nbgrader generate_assignment`` (solutions and hidden tests removed), in a
  temporary copy of the course so the instructor tree is never touched;
- a student copy of the whole ``cs7150/`` package in which every solution
  region is replaced by ``raise NotImplementedError("<function>: implement
  this in <notebook> section <N>")``;
- the data files the assignment's configuration lists.

The release is built in a temporary folder beside the destination and renamed
into place, so a reader sees the previous release or the new one, never half
of one. Before the rename the built tree is scanned for leaks: any marker
text, any non-trivial line of a solution region or a hidden test, and any
line of the hidden ``autograder/`` files aborts the release.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder import config, markers

IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints", ".DS_Store")
MARKER_TEXTS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
NOTEBOOK_HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


class ReleaseError(RuntimeError):
    """The release could not be built; nothing was changed at the destination."""


def stub_message(sections: dict):
    """Return ``message(function) -> str`` for the stubs, from function -> (notebook, section)."""

    def message(function: str) -> str:
        where = sections.get(function.split(".")[0])
        if where is None:
            return f"{function}: implement this function (see its docstring)"
        notebook, section = where
        return f"{function}: implement this in {notebook} section {section}"

    return message


def stub_package(source: Path, dest: Path, message) -> list[tuple[str, markers.Region]]:
    """Copy the package ``source`` to ``dest`` with every solution region stubbed.

    Returns ``(relative file, region)`` for every region replaced. Raises
    MarkerError for a malformed region, ReleaseError for marker text in a
    non-Python file.
    """
    shutil.copytree(source, dest, ignore=IGNORED)
    stubbed = []
    for path in sorted(dest.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(dest.parent).as_posix()
        if path.suffix != ".py":
            if any(text.encode() in path.read_bytes() for text in MARKER_TEXTS):
                raise ReleaseError(f"{rel}: solution markers in a non-Python file cannot be stubbed")
            continue
        new_source, regions = markers.stub_source(path.read_text(encoding="utf-8"), str(source.parent / rel), message)
        if regions:
            path.write_text(new_source, encoding="utf-8")
            stubbed.extend((rel, region) for region in regions)
    return stubbed


def _nbgrader(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run an nbgrader subcommand with this interpreter; raise ReleaseError on failure."""
    command = [sys.executable, "-m", "nbgrader", *args, "--log-level=WARN"]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ReleaseError(f"nbgrader {' '.join(args)} failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return result


def generate_notebooks(name: str, course_root: Path, dest: Path) -> list[str]:
    """Run ``nbgrader generate_assignment`` on a temporary course copy; copy its output to ``dest``.

    Returns the released files (relative paths). Does nothing when the course
    has no ``source/<name>/`` folder.
    """
    source = course_root / "source" / name
    if not source.is_dir():
        return []
    with tempfile.TemporaryDirectory(prefix="cs7150-nbgrader-") as tmp:
        course = Path(tmp)
        shutil.copytree(source, course / "source" / name, ignore=IGNORED)
        shutil.copy2(course_root / "nbgrader_config.py", course / "nbgrader_config.py")
        _nbgrader(["generate_assignment", name, "--force", "--no-db", f"--CourseDirectory.root={course}"], cwd=course)
        released = course / "release" / name
        shutil.copytree(released, dest, dirs_exist_ok=True, ignore=IGNORED)
        return sorted(p.relative_to(released).as_posix() for p in released.rglob("*") if p.is_file())


def _code_lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.strip()}


def _notebook_cells(path: Path) -> list[tuple[str, bool]]:
    """(source, is a written-answer solution cell) for each cell of a notebook."""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    return [("".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"],
             cell["cell_type"] == "markdown" and cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))
            for cell in cells]


def _split_cell(text: str) -> tuple[list[str], list[str]]:
    """(lines inside solution/hidden-test regions, lines outside them) of a notebook cell."""
    starts = {markers.BEGIN: markers.END, NOTEBOOK_HIDDEN[0]: NOTEBOOK_HIDDEN[1]}
    inside, outside, closing = [], [], None
    for line in text.splitlines():
        stripped = line.strip()
        if closing is None and stripped in starts:
            closing = starts[stripped]
        elif stripped == closing:
            closing = None
        else:
            (inside if closing else outside).append(line)
    return inside, outside


def secret_lines(repo_root: Path, course_root: Path, name: str) -> set[str]:
    """Stripped lines that must not appear in a release.

    Non-trivial lines (10+ characters, not comments) of every solution region
    of the package and of the assignment's notebooks, of the notebooks' hidden
    tests and written-answer cells, and of the hidden ``autograder/`` files,
    minus the lines that also appear outside those regions in the package or
    the notebooks (code and text students are given).
    """
    package = repo_root / config.PACKAGE_NAME
    secret, given = set(), set()
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        inside = set()
        for region in markers.find_regions(text, str(path)):
            inside.update(range(region.begin, region.end + 1))
        secret |= _code_lines("\n".join(lines[i - 1] for i in sorted(inside)))
        given |= _code_lines("\n".join(line for i, line in enumerate(lines, 1) if i not in inside))
    for path in sorted((course_root / "source" / name).rglob("*.ipynb")):
        for cell, written_answer in _notebook_cells(path):
            if written_answer:  # nbgrader replaces the whole cell
                secret |= _code_lines(cell)
                continue
            inside, outside = _split_cell(cell)
            secret |= _code_lines("\n".join(inside))
            given |= _code_lines("\n".join(outside))
    autograder_dir = repo_root / "autograder"
    for path in sorted(autograder_dir.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            secret |= _code_lines(path.read_text(encoding="utf-8"))
    return {line for line in secret - given if len(line) >= 10 and not line.startswith("#")}


def release_lines(release_dir: Path) -> dict[str, set[str]]:
    """Stripped lines of every text file of a release (notebooks: their cells' sources)."""
    found = {}
    for path in sorted(release_dir.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(release_dir).as_posix()
        if path.suffix == ".ipynb":
            found[rel] = _code_lines("\n".join(source for source, _ in _notebook_cells(path)))
        else:
            try:
                found[rel] = _code_lines(path.read_text(encoding="utf-8"))
            except UnicodeDecodeError:
                continue  # binary data (images, IDX files)
    return found


def find_leaks(release_dir: Path, secret: set[str]) -> list[str]:
    """``"file: line"`` for each secret line or marker text found in the release."""
    leaks = []
    for rel, lines in release_lines(release_dir).items():
        for line in sorted(lines):
            if line in secret or any(text in line for text in MARKER_TEXTS):
                leaks.append(f"{rel}: {line}")
    return leaks


def _swap_into_place(built: Path, dest: Path) -> None:
    """Replace ``dest`` by ``built`` with two renames on the same filesystem."""
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.rename(dest, old)
    os.rename(built, dest)
    if old is not None:
        shutil.rmtree(old)


def release(name: str, out: Path | None = None, repo_root: Path = config.REPO_ROOT,
            course_root: Path | None = None, config_dir: Path = config.ASSIGNMENTS_DIR) -> Path:
    """Build the student release of assignment ``name`` into ``out`` and return ``out``.

    ``out`` defaults to ``<course_root>/release/<name>``; ``course_root``
    defaults to ``<repo_root>/assignments``. Raises ConfigError,
    MarkerError or ReleaseError without touching ``out``.
    """
    repo_root = Path(repo_root)
    course_root = Path(course_root) if course_root else repo_root / "assignments"
    assignment = config.load(name, config_dir, repo_root)
    out = Path(out) if out else course_root / "release" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        generate_notebooks(name, course_root, built)
        message = stub_message(config.all_sections(name, config_dir))
        stub_package(repo_root / config.PACKAGE_NAME, built / config.PACKAGE_NAME, message)
        for rel in assignment.data:
            source = repo_root / rel
            if source.is_dir():
                shutil.copytree(source, built / rel, ignore=IGNORED)
            elif source.is_file():
                (built / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, built / rel)
            else:
                raise ReleaseError(f"data path {rel!r} listed for {name} does not exist in {repo_root}")
        leaks = find_leaks(built, secret_lines(repo_root, course_root, name))
        if leaks:
            shown = "\n  ".join(leaks[:20])
            raise ReleaseError(f"the release would contain {len(leaks)} reference or hidden lines:\n  {shown}")
        os.chmod(built, 0o755)  # mkdtemp makes it private
        _swap_into_place(built, out)
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    return out
