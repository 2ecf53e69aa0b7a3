"""Grade an assignment's notebooks with ``nbgrader autograde`` and turn the scores into parts.

nbgrader is the notebook grader (its test cells, its gradebook); this module
only arranges its inputs and reads its outputs:

1. a temporary course copy runs ``nbgrader generate_assignment`` once (the
   gradebook learns the notebooks, their grade cells and points);
2. each student gets a copy of that course whose ``submitted/<id>/<assignment>/``
   holds the student's notebooks (by the source names only) next to the
   stubbed ``cs7150/`` package with the student's allow-listed files over it —
   no other submitted file; ``Autograde.exclude_overwriting`` (from
   ``assignments/nbgrader_config.py``) keeps nbgrader from copying reference
   files over them;
3. ``nbgrader autograde <assignment> --student <id>`` runs in its own process
   group with a memory limit and a wall-time limit (one course per student,
   so students run in parallel without sharing a gradebook);
4. the gradebook's autograded score per notebook (``code_score``) becomes a
   part; each test cell is a case, with the error its execution printed.

Written answers (manually graded cells) are not part of these scores.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tqdm.auto import tqdm

from autograder import config, processes, submissions
from autograder.grading import CaseResult, PartResult

MAX_NOTEBOOK_BYTES = 20 * 2**20
ERROR_TEXT = 300


def notebook_names(name: str, course_root: Path = config.COURSE_ROOT) -> list[str]:
    """The notebooks of ``source/<name>/`` (file names), sorted."""
    return sorted(p.name for p in (Path(course_root) / "source" / name).glob("*.ipynb"))


def _nbgrader(args: list[str], cwd: Path) -> None:
    """Run an nbgrader subcommand (instructor files only) with this interpreter's scripts on PATH."""
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--log-level=WARN"], cwd=cwd,
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{result.stderr[-3000:]}")


def base_course(name: str, course_root: Path, work: Path) -> Path:
    """A temporary course with the assignment generated into its gradebook."""
    base = work / "nbgrader-base"
    shutil.copytree(Path(course_root) / "source" / name, base / "source" / name,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    config_file = (Path(course_root) / "nbgrader_config.py").resolve()
    (base / "nbgrader_config.py").write_text(f"load_subconfig({str(config_file)!r})\n", encoding="utf-8")
    _nbgrader(["generate_assignment", name, "--force", f"--CourseDirectory.root={base}"], cwd=base)
    return base


def _student_course(base: Path, submission, name: str, student_files, template: Path, names) -> tuple[Path, list[str]]:
    """The student's course copy with their notebooks and package in ``submitted/``; returns it and missing notebooks."""
    course = base.parent / "nbgrader" / submission.student_id
    shutil.copytree(base, course)
    target = course / "submitted" / submission.student_id / name
    shutil.copytree(template, target)
    submissions.write_files(submissions.read_student_files(submission, student_files)[0], target)
    missing = []
    for notebook in names:
        found = submission.root / notebook if submission.root else None
        if found is None or not found.is_file() or found.is_symlink() or found.stat().st_size > MAX_NOTEBOOK_BYTES:
            missing.append(notebook)
        else:
            shutil.copyfile(found, target / notebook)
    return course, missing


def _grade_ids(notebook: Path) -> list[str]:
    """The grade ids of a notebook's cells, in notebook order."""
    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", []) if notebook.is_file() else []
    return [cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") for cell in cells]


def _cell_errors(notebook: Path) -> dict[str, str]:
    """grade_id -> the error (or stderr) a graded cell printed, from nbgrader's executed copy."""
    errors = {}
    if not notebook.is_file():
        return errors
    for cell in json.loads(notebook.read_text(encoding="utf-8")).get("cells", []):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                text = f"{output.get('ename')}: {output.get('evalue')}"
            elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                text = "wrote to stderr (nbgrader scores that 0): " + "".join(output.get("text", ""))
            else:
                continue
            errors[grade_id] = text if len(text) <= ERROR_TEXT else text[:ERROR_TEXT] + "..."
            break
    return errors


def _parts(course: Path, student_id: str, name: str, names, missing, job: processes.Job | None) -> tuple[list, list]:
    """One part per notebook from the student's gradebook, and notes on failures."""
    from nbgrader.api import Gradebook, MissingEntry

    parts, notes = [], []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for notebook in names:
            stem = Path(notebook).stem
            max_score = gradebook.find_notebook(stem, name).max_code_score
            part = PartResult(notebook, notebook, 0, max_score)
            parts.append(part)
            if notebook in missing:
                part.problem = f"{notebook} was not found in the submission"
                continue
            try:
                graded = gradebook.find_submission_notebook(stem, name, student_id)
            except MissingEntry:
                reason = "stopped at the time limit" if job and job.killed else f"exit status {job and job.returncode}"
                part.problem = f"nbgrader could not grade {notebook} ({reason})"
                continue
            errors = _cell_errors(course / "autograded" / student_id / name / notebook)
            order = _grade_ids(course / "source" / name / notebook)
            for grade in sorted(graded.grades, key=lambda g: order.index(g.name) if g.name in order else len(order)):
                if grade.cell.cell_type != "code":
                    continue  # written answers: graded by hand
                score = grade.auto_score or 0
                summary = "passed" if score == grade.max_score else errors.get(grade.name, "failed")
                part.cases.append(CaseResult(grade.name, score, grade.max_score, summary))
            part.score = graded.code_score
    if job and job.killed:
        notes.append(f"grading the notebooks was stopped at the {job.wall_s:g} s time limit")
    return parts, notes


def grade(name: str, found, student_files, template: Path, work: Path, course_root: Path, names, parallel: int,
          limits, progress: bool = True) -> dict:
    """student id -> (notebook parts, notes, seconds) for every submission in ``found``."""
    base = base_course(name, course_root, work)
    courses, graded = {}, {}
    for submission in found:
        courses[submission.student_id] = _student_course(base, submission, name, student_files, template, names)
    jobs = [
        processes.Job(
            key=student_id,
            command=[sys.executable, "-m", "nbgrader", "autograde", name, f"--student={student_id}", "--force",
                     f"--CourseDirectory.root={course}", "--log-level=WARN"],
            cwd=course, log_dir=course / "logs", wall_s=limits.notebook_s, memory_mb=limits.notebook_memory_mb,
            file_mb=limits.file_mb, allow_processes=True,
        )
        for student_id, (course, missing) in courses.items() if len(missing) < len(names)
    ]
    with tqdm(total=len(courses), unit="submission", desc="notebooks", disable=not progress) as bar:
        def done(job):
            course, missing = courses[job.key]
            parts, notes = _parts(course, job.key, name, names, missing, job)
            graded[job.key] = (parts, notes, job.elapsed)
            bar.update(1)

        for student_id, (course, missing) in courses.items():
            if len(missing) == len(names):  # no notebook submitted: nothing to run
                graded[student_id] = (*_parts(course, student_id, name, names, missing, None), 0.0)
                bar.update(1)
        processes.run_jobs(jobs, parallel, done)
    return graded
