"""The assignment notebooks: nbgrader metadata, points, and both trees run top to bottom.

Every notebook ``assignments/source/<assignment>/*.ipynb`` must

- state its total in its first cell as ``**Total: N points**`` and, where a
  section heading says ``## k. Title (M points)``, hold grade cells worth M
  points in that section; where it says ``(M package points)``, the package
  grader's parts taught in that section (``sections`` of the assignment's
  configuration) are worth M; where it says ``(extension: up to E
  extra-credit points)``, its extra-credit parts are worth E (not counted in
  N); grade cells and the required package parts together are worth N (the
  one points model; ``tests/autograder/output/test_points.py`` checks the rest);
- carry valid nbgrader metadata (schema 3, a unique ``grade_id``, points on
  every grade cell, autograded tests locked, markers only in the cells that
  nbgrader clears);
- run top to bottom with the reference package in grading mode
  (``NBGRADER_EXECUTION`` set, as nbgrader does) and in student mode (unset,
  as a student runs it) without an error, with no
  stderr and no numeric result in a grade cell (nbgrader would score either),
  each cell within ``Execute.timeout`` (speed is measured by ``make bench``, not here);
- pass ``nbgrader generate_assignment`` in a temporary copy of the course;
- released for students (``autograder.release.build``), run to the end against the
  stubbed package with every autograded test failing cleanly, and contain no
  solution or hidden-test line.

The tests that start a kernel are marked ``slow`` (about a minute together on
two busy cores); ``pytest -m "not slow" tests/assignments/test_notebooks.py`` checks only
the metadata.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.nbgraderformat import MetadataValidator

from nbtools import (
    COURSE, MODES, cell_name, error_text, execute, is_autograded_test, is_grade, nbgrader_meta, notebook_id, outputs,
    read,
)
NOTEBOOKS = sorted(COURSE.glob("source/*/*.ipynb"))
ASSIGNMENTS = sorted({path.parent.name for path in NOTEBOOKS})
TOTAL = re.compile(r"\*\*Total: (\d+) points\*\*")
SECTION = re.compile(r"^## (\d+)\..*\((\d+) points\)\s*$", re.MULTILINE)
PACKAGE_SECTION = re.compile(r"^## (\d+)\..*\((\d+) package points\)\s*$", re.MULTILINE)
EXTRA_SECTION = re.compile(r"^## (\d+)\..*\(extension: up to (\d+) extra-credit points\)\s*$", re.MULTILINE)
REGIONS = {"### BEGIN SOLUTION": "### END SOLUTION", "### BEGIN HIDDEN TESTS": "### END HIDDEN TESTS"}
CLEAN_FAILURES = {"NotImplementedError", "AssertionError"}  # what a blank release may raise, in any cell

pytestmark = pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks under assignments/source/")


# ---------------------------------------------------------------------------------------------
# Metadata and points (fast)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_grade_cell_metadata(path):
    nb = read(path)
    MetadataValidator().validate_nb(nb)  # nbgrader's own check: schema, grade_id, points, duplicates
    seen = set()
    for index, cell in enumerate(nb.cells):
        meta, name = nbgrader_meta(cell), cell_name(index, cell)
        if not meta:
            assert not any(marker in cell.source for marker in REGIONS), f"{name}: markers in a cell nbgrader does not clear"
            continue
        assert meta["schema_version"] == 3, f"{name}: schema_version {meta['schema_version']}, expected 3"
        assert meta["grade_id"] not in seen, f"{name}: duplicate grade_id"
        seen.add(meta["grade_id"])
        if meta["grade"]:
            assert meta.get("points", 0) > 0, f"{name}: a grade cell needs points > 0"
        if is_autograded_test(cell):
            assert meta["locked"], f"{name}: autograded tests must be locked (read-only)"
            assert "### BEGIN SOLUTION" not in cell.source, f"{name}: a test cell holds a solution region"
        else:
            assert "### BEGIN HIDDEN TESTS" not in cell.source, f"{name}: hidden tests outside an autograded test cell"
        if "### BEGIN SOLUTION" in cell.source:
            assert meta["solution"], f"{name}: a solution region outside a solution cell"
        if meta["solution"]:
            assert not meta["locked"], f"{name}: students must be able to edit a solution cell"
        if cell.cell_type == "markdown" and meta["grade"]:
            assert meta["solution"], f"{name}: a graded markdown cell must be a manually graded answer"
    assert any(is_grade(cell) for cell in nb.cells), "no grade cells"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_points_add_up_to_the_stated_totals(path):
    nb = read(path)
    match = TOTAL.search(nb.cells[0].source)
    assert match, 'the first cell must state the total as "**Total: N points**"'
    from autograder import config

    assignment = config.load(path.parent.name)
    points = sum(nbgrader_meta(cell)["points"] for cell in nb.cells if is_grade(cell))
    assert points + assignment.max_score == int(match.group(1)), (
        f"grade cells are worth {points} points and the package {assignment.max_score}, the header says {match.group(1)}")

    section, stated, found = None, {}, {}
    package_stated, package_found, extra_stated, extra_found = {}, {}, {}, {}
    for part in assignment.parts:
        notebook, taught = assignment.sections.get(part.function, (None, None))
        assert notebook == path.name, f"{part.function}: configured sections name no section of {path.name}"
        found_in = extra_found if part.extra_credit else package_found
        found_in[taught] = found_in.get(taught, 0) + part.max_score
    for cell in nb.cells:
        package_heading = PACKAGE_SECTION.search(cell.source) if cell.cell_type == "markdown" else None
        if package_heading:
            section = package_heading.group(1)
            package_stated[section] = int(package_heading.group(2))
        extra_heading = EXTRA_SECTION.search(cell.source) if cell.cell_type == "markdown" else None
        if extra_heading:
            section = extra_heading.group(1)
            extra_stated[section] = int(extra_heading.group(2))
        heading = SECTION.search(cell.source) if cell.cell_type == "markdown" else None
        if heading:
            section = heading.group(1)
            stated[section] = int(heading.group(2))
            found.setdefault(section, 0)
        if is_grade(cell):
            if stated:
                assert section is not None, f"{nbgrader_meta(cell)['grade_id']}: a grade cell before the first section"
                found[section] += nbgrader_meta(cell)["points"]
    wrong = {s: (stated[s], found[s]) for s in stated if stated[s] != found[s]}
    assert not wrong, "section: (stated points, points of its grade cells): " + repr(wrong)
    stated_found = {section: points for section, points in package_found.items() if section in stated | package_stated}
    assert package_stated == stated_found, (
        f"package points by section: headings say {package_stated}, the configuration {package_found}")
    assert extra_stated == extra_found, (
        f"extra-credit points by section: headings say {extra_stated}, the configuration {extra_found}")


# ---------------------------------------------------------------------------------------------
# Running the notebooks (slow)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_source_notebook_runs_clean(path, mode, kernel_env):
    nb = execute(path, mode=mode)
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        name = cell_name(index, cell)
        problems += [f"{name}: {error_text(o)}" for o in outputs(cell, "error")]
        problems += [f"{name}: stderr {o.text[:300]!r}" for o in outputs(cell, "stream", "stderr")]
        if is_grade(cell) and outputs(cell, "execute_result"):
            problems.append(f"{name}: a grade cell ends in a value; nbgrader would read it as partial credit")
    assert not problems, "\n".join(problems)


def _nbgrader_env() -> dict:
    """os.environ with this interpreter's scripts first on PATH (nbgrader runs ``alembic`` for its gradebook)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_nbgrader_generate_assignment(assignment, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(COURSE / "source" / assignment, course / "source" / assignment,
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copy2(COURSE / "nbgrader_config.py", course / "nbgrader_config.py")
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force", f"--CourseDirectory.root={course}"],
        cwd=course, env=_nbgrader_env(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for source in sorted((course / "source" / assignment).glob("*.ipynb")):
        released = read(course / "release" / assignment / source.name)
        assert len(released.cells) == len(read(source).cells)
        assert not any(marker in cell.source for cell in released.cells for marker in REGIONS)


def secret_lines(nb) -> set[str]:
    """Lines (10+ characters, not comments) that only solution regions, answers or hidden tests contain."""
    inside, outside = set(), set()
    for cell in nb.cells:
        lines = [line.strip() for line in cell.source.splitlines()]
        meta = nbgrader_meta(cell)
        if meta.get("solution") and not any(marker in cell.source for marker in REGIONS):
            inside.update(lines)  # a whole-cell answer: nbgrader replaces all of it
            continue
        closing = None
        for line in lines:
            if closing is None and line in REGIONS:
                closing = REGIONS[line]
            elif line == closing:
                closing = None
            else:
                (inside if closing else outside).add(line)
    return {line for line in inside - outside if len(line) >= 10 and not line.startswith("#")}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_runs_to_the_end_against_the_stubs(assignment, tmp_path, release_kernel_env):
    """The blank release: every error of every cell is a NotImplementedError or an AssertionError saying what to do.

    Earlier assignments' files come as the instructor's reference (``with_reference``); the kernel sees the
    release's own package only (``release_kernel_env``).
    """
    from autograder.release.build import release

    out = release(assignment, out=tmp_path / "release" / assignment, with_reference=True)
    for source in sorted((COURSE / "source" / assignment).glob("*.ipynb")):
        released_path = out / source.name
        released = read(released_path)
        secret = secret_lines(read(source))
        leaked = [line for cell in released.cells for line in cell.source.splitlines() if line.strip() in secret]
        assert not leaked, f"{source.name}: the release shows solution or hidden-test lines: {leaked[:5]}"

        nb = execute(released_path)  # DeadKernelError if the kernel dies
        problems = []
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            name = cell_name(index, cell)
            if cell.execution_count is None:
                problems.append(f"{name}: not executed")
            if is_grade(cell) and outputs(cell, "stream", "stderr"):
                problems.append(f"{name}: stderr in a grade cell")
            errors = outputs(cell, "error")
            if is_autograded_test(cell) and not errors:
                problems.append(f"{name}: passes without any student code (free points)")
            problems += [f"{name}: fails with {error_text(e)}, expected one of {sorted(CLEAN_FAILURES)}"
                         for e in errors if e.ename not in CLEAN_FAILURES]
        assert not problems, f"{source.name} released:\n" + "\n".join(problems)
        assert any(o.ename == "NotImplementedError" for cell in nb.cells for o in outputs(cell, "error")), \
            "no cell reports a NotImplementedError: is the release importing the reference package?"
