"""Grade every submission: package functions in sandboxed children, then (optionally) notebooks.

For each submission the grader builds a fresh temporary folder holding the
student release's ``cs7150/`` package (every solution region stubbed, so no
reference code) with the student's allow-listed files copied over it, and runs
``autograder/child.py`` there as ``python -I -S -B`` under the limits of
``autograder.processes`` (memory, file size, no forks, wall time, scrubbed
environment, own process group). The inputs were chosen and the reference
outputs computed here before any child starts, and each child's arrays are
compared here (``autograder.grading``): the child only reports.

With ``notebooks=True`` the assignment's notebooks are then graded by
``nbgrader autograde`` (``autograder.notebooks``) and each notebook becomes one
more part of the student's results, grades.csv row and feedback.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from autograder import cases, config, grading, notebooks, processes, release, report, submissions

CHILD = Path(__file__).resolve().parent / "child.py"


@dataclass(frozen=True)
class Limits:
    """Per-submission limits."""

    wall_s: float = 120.0  # the package run of one submission
    case_s: float = 20.0  # one graded call (import + forward + backward)
    memory_mb: int = 2048  # address space; PyTorch alone needs ~1 GiB of it
    file_mb: int = 64  # any file a child writes, stdout and stderr included
    notebook_s: float = 900.0  # nbgrader autograde of one submission's notebooks
    notebook_memory_mb: int = 4096


@dataclass
class Run:
    """One submission's files, plan and child job; its sandbox exists only while the job runs."""

    submission: submissions.Submission
    folder: Path
    files: dict  # student file -> its bytes
    missing: list[str]
    cases: list
    job: processes.Job | None = None

    @property
    def results(self) -> Path:
        return self.folder / "results"

    @property
    def sandbox(self) -> Path:
        return self.folder / "sandbox"

    @property
    def sources(self) -> dict:
        return {rel: data.decode("utf-8") for rel, data in self.files.items()}


def default_out(name: str, course_root: Path = config.COURSE_ROOT) -> Path:
    return Path(course_root) / "autograded-package" / name


def _site_packages() -> list[str]:
    """Folders the child needs on sys.path: numpy's (and torch's, so that its use is seen, not an ImportError)."""
    folders = [str(Path(np.__file__).resolve().parent.parent)]
    spec = importlib.util.find_spec("torch")
    if spec and spec.origin:
        folders.append(str(Path(spec.origin).resolve().parent.parent))
    return list(dict.fromkeys(folders))


def _prepare(submission, assignment, prepared, work: Path, inputs: Path, limits: Limits) -> Run:
    """Read the student's files and write the plan; the sandbox is built just before the child starts."""
    folder = work / "runs" / submission.student_id
    files, missing = submissions.read_student_files(submission, assignment.student_files)
    run = Run(submission, folder, files, missing, [pc for pc in prepared if pc.part.file not in missing])
    run.results.mkdir(parents=True)
    if run.cases:
        plan = {
            "sandbox": str(run.sandbox), "site_packages": _site_packages(), "inputs": str(inputs),
            "results": str(run.results), "case_timeout": limits.case_s, "cases": [pc.call() for pc in run.cases],
        }
        (folder / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
        run.job = processes.Job(
            key=submission.student_id, command=[sys.executable, "-I", "-S", "-B", str(CHILD), str(folder / "plan.json")],
            cwd=run.sandbox, log_dir=folder, wall_s=limits.wall_s, memory_mb=limits.memory_mb, file_mb=limits.file_mb,
        )
    return run


def _build_sandbox(run: Run, template: Path) -> None:
    """The stubbed package with the student's files over it; other students' sandboxes do not exist yet or any more."""
    shutil.copytree(template, run.sandbox)
    submissions.write_files(run.files, run.sandbox)


def _run_notes(run: Run, records: dict, limits: Limits) -> tuple[str, list[str]]:
    """(why unrun cases did not run, notes for the student) from how the child ended."""
    notes = list(run.submission.notes)
    notes += [f"{rel} was not found in the submission; its functions score 0" for rel in run.missing]
    job = run.job
    unfinished = any(pc.id not in records for pc in run.cases)
    if job is None or not (unfinished or job.killed or job.returncode):
        return "the run ended before this case", notes
    if job.killed:
        reason = f"the run was stopped at the {limits.wall_s:g} s time limit for a submission"
    elif job.returncode < 0:
        reason = f"the run was ended by signal {-job.returncode} (for example past the memory limit)"
    else:
        reason = f"the run ended early with exit status {job.returncode} (for example os._exit or a crash)"
    notes.append(f"{reason}; the cases that had not finished score 0")
    if job.stderr_tail():
        notes.append("last lines of the run's error output:\n" + job.stderr_tail())
    return reason, notes


def _grade(run: Run, assignment, prepared, limits: Limits) -> report.StudentResult:
    records = grading.read_status(run.results)
    run_note, notes = _run_notes(run, records, limits)
    sources = run.sources
    parts = [
        grading.grade_part(part, [pc for pc in prepared if pc.part is part], records, run.results,
                           source=sources.get(part.file), run_note=run_note, max_bytes=limits.file_mb << 20)
        for part in assignment.parts
    ]
    return report.StudentResult(run.submission.student_id, assignment.title, parts, notes,
                                run.job.elapsed if run.job else 0.0)


def grade_columns(assignment, notebook_names=()) -> list[str]:
    return ["student_id", *(part.function for part in assignment.parts), *notebook_names, "total", "max"]


def autograde(name: str, submissions_path: Path, out: Path | None = None, jobs: int | None = None,
              student: str | None = None, limits: Limits = Limits(), progress: bool = True,
              notebooks_too: bool = False, repo_root: Path = config.REPO_ROOT,
              config_dir: Path = config.ASSIGNMENTS_DIR, log=print) -> list[report.StudentResult]:
    """Grade every submission under ``submissions_path`` (or only ``student``) and write the results.

    Writes ``<out>/grades.csv`` (rewritten; with ``student``: that row
    replaced in place) and ``<out>/<id>/{results.json, feedback.txt,
    feedback.html}``. With ``notebooks_too`` the notebooks of
    ``assignments/source/<name>/`` are graded by nbgrader as extra parts.
    Returns the results in student-id order. Raises ConfigError for a bad
    configuration, FileNotFoundError for a missing submissions folder or an
    unknown ``student``.
    """
    repo_root = Path(repo_root)
    course_root = repo_root / "assignments"
    assignment = config.load(name, config_dir, repo_root)
    out = Path(out) if out else default_out(name, course_root)
    parallel = max(1, jobs or os.cpu_count() or 1)
    prepared = cases.prepare(assignment)
    notebook_names = notebooks.notebook_names(name, course_root) if notebooks_too else []
    with tempfile.TemporaryDirectory(prefix="cs7150-autograde-") as tmp:
        work = Path(tmp)
        inputs = work / "inputs.npz"
        cases.save_inputs(prepared, inputs)
        template = work / "template"
        release.stub_package(repo_root / config.PACKAGE_NAME, template / config.PACKAGE_NAME,
                             release.stub_message(config.all_sections(name, config_dir)))
        found, skipped = submissions.discover(submissions_path, name, work / "extracted",
                                              package=config.PACKAGE_NAME, only=student)
        for note in skipped:
            log(f"skipped {note}")
        if student is not None and not found:
            raise FileNotFoundError(f"no submission for student {student!r} in {submissions_path}")

        runs = {s.student_id: _prepare(s, assignment, prepared, work, inputs, limits) for s in found}
        results = {}
        with tqdm(total=len(runs), unit="submission", desc="package", disable=not progress) as bar:
            def done(key):
                results[key] = _grade(runs[key], assignment, prepared, limits)
                shutil.rmtree(runs[key].sandbox, ignore_errors=True)
                bar.update(1)

            for key in [key for key, run in runs.items() if run.job is None]:  # nothing of theirs to run
                done(key)
            processes.run_jobs([run.job for run in runs.values() if run.job], parallel, lambda job: done(job.key),
                               before_start=lambda job: _build_sandbox(runs[job.key], template))

        if notebook_names:
            graded = notebooks.grade(name, found, assignment.student_files, template, work, course_root,
                                     notebook_names, parallel, limits, progress)
            for student_id, (parts, notes, seconds) in graded.items():
                results[student_id].parts.extend(parts)
                results[student_id].notes.extend(notes)
                results[student_id].execution_time += seconds

    ordered = [results[key] for key in sorted(results)]
    for result in ordered:
        report.write_student(out, result, name)
    rows, columns = [report.grade_row(r) for r in ordered], grade_columns(assignment, notebook_names)
    if student is None:
        report.write_grades(out / "grades.csv", rows, columns)
    else:
        report.update_grades(out / "grades.csv", rows, columns)
    return ordered
