"""Grade a class: every submission's package functions in sandboxed children (``autograder.package.runs``),
then, with ``notebooks_too``, its notebooks with nbgrader (``autograder.notebook.nbgrade``), each notebook one
more part of the student's results; then every student's pages and grades.csv (docs/grader.md).

Whatever goes wrong for one submission is that submission's only: what could not be graded scores 0 with
the reason, it is logged, the others are graded, and grades.csv is always written, for every submission found.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from tqdm.auto import tqdm

from autograder import config, submissions
from autograder.classrun import ClassRun, Limits
from autograder.notebook import nbgrade
from autograder.output import points, report, shards
from autograder.package import cases, runs
from autograder.release import build
from autograder.results import StudentResult, describe_error, failed_result
from autograder.sandbox import interpreter, isolation, processes

__all__ = ["ClassRun", "JailUnavailable", "Limits", "autograde", "confinement_mode", "grade_columns"]


class JailUnavailable(RuntimeError):
    """Student code cannot be confined here, and running it unconfined was not asked for."""



def grade_columns(assignment, notebook_names=()) -> list[str]:
    """grades.csv's columns: each part's points (extra-credit parts too), each notebook's, then ``total`` and ``max``
    (the required points earned and possible) and, for an assignment with extra credit, ``extra_credit`` (the
    extra-credit points earned, on top of ``total``)."""
    extra = ["extra_credit"] if assignment.extra_max else []
    return ["student_id", *(part.function for part in assignment.parts), *notebook_names, "total", "max", *extra]



def autograde(run: ClassRun) -> list[StudentResult]:
    """Grade every submission of ``run.submissions`` (or only ``run.student``) and write the results.

    Writes ``<out>/grades.csv`` (rewritten; with ``student``: that row replaced in place) and
    ``<out>/students/<id>/{results.json, feedback.txt, feedback.html}``; with ``shard``, ``<out>/shard.json``
    records which students were graded (``autograder.output.shards``, for ``cs7150 merge-grades``).

    Returns the results in student-id order. Raises ConfigError for a bad configuration
    (``points.PointsMismatch``: the notebook header states other points), FileNotFoundError for a missing
    submissions folder or an unknown ``student``, report.ColumnsDiffer (nothing graded or written) when
    ``student`` is regraded into a grades.csv with other columns (the class graded with notebooks, this
    regrade without, or the other way round), JailUnavailable where student code cannot be confined and
    ``limits.unconfined`` does not allow running it anyway.
    """
    assignment = config.load(run.name, run.config_dir, run.repo_root)
    configured = points.check(assignment, run.course_root / "source" / run.name, run.config_dir)
    notebook_names = nbgrade.notebook_names(run.name, run.course_root) if run.notebooks_too else []
    columns = grade_columns(assignment, notebook_names)
    prepared = cases.prepare(assignment)  # inputs and reference outputs, before any student's code runs
    if run.student is not None:
        report.check_columns(run.out / "grades.csv", columns,
                             "regrade with the options of the class's run (--notebooks or not), or into another --out")
    results: dict[str, StudentResult] = {}
    mode = confinement_mode(run.limits, run.notebooks_too, run.repo_root, run.log,
                            folders=[("the submissions", run.submissions), ("the output folder", run.out)])
    with tempfile.TemporaryDirectory(prefix="cs7150-autograde-") as tmp:
        work = Path(tmp)
        work.chmod(0o711)  # a confined uid reaches its own run's folder, and lists nothing
        (work / "runs").mkdir(mode=0o711)
        template = work / "template"
        build.stub_package(run.repo_root / config.PACKAGE_NAME, template / config.PACKAGE_NAME,
                           build.stub_message(config.all_sections(run.name, run.config_dir)))
        class_ids = []  # every student id of the class, in a shard or not

        def in_shard(student_id: str) -> bool:
            class_ids.append(student_id)
            return run.shard.holds(student_id)

        (work / "extracted").mkdir(mode=0o700)  # other students' unpacked zips: no throwaway uid may enter
        found, skipped = submissions.discover(run.submissions, run.name, work / "extracted",
                                              package=config.PACKAGE_NAME, only=run.student,
                                              keep=None if run.shard is None else in_shard)
        for note in skipped:
            run.log(f"skipped {note}")
            if note.refused:
                run.problems.append(f"skipped {note}")
        if run.student is not None and not found:
            raise FileNotFoundError(f"no submission for student {run.student!r} in {run.submissions}")
        try:
            _grade_packages(run, assignment, prepared, found, results, work, template, mode)
            if notebook_names:
                _grade_notebooks(run, assignment, found, results, work, template, notebook_names)
        finally:
            for submission in found:  # those an error of the whole run left ungraded
                if submission.student_id not in results:
                    results[submission.student_id] = failed_result(
                        submission.student_id, assignment, "grading: the grader stopped before grading it")
            for result in results.values():  # what the pages state beside the autograded score
                result.pending = configured.written if configured else 0.0
                result.not_run = configured.autograded if configured and not notebook_names else 0.0
            _write_outputs(run, assignment, results, columns)
            if run.shard is not None and run.student is None:
                shards.write_record(run.out, run.name, run.shard, class_ids, results, columns)
    ordered = [results[key] for key in sorted(results)]
    run.problems += [f"{r.student_id}: {error}" for r in ordered for error in r.grader_errors]
    return ordered


def confinement_mode(limits: Limits, notebooks_too: bool, repo_root: Path, log, folders=()) -> isolation.Mode:
    """How student code will be confined, logged with the true reason when it is less than the whole jail.

    In the uid mode it also logs what of the grader's a throwaway uid could read (``exposed_in_uid_mode``;
    ``folders``: more (what, path) to try, such as the submissions and the output folder).

    Raises JailUnavailable when it cannot be confined at all and ``limits.unconfined`` does not allow that.
    """
    mode = isolation.probe() if limits.confine else isolation.Mode(None, "confinement was turned off")
    if mode.kind is None:
        if limits.confine and not limits.unconfined:
            raise JailUnavailable(f"student code cannot be confined here: {mode.reason}; grade with --unconfined "
                                  "to run it anyway (docs/security.md says what that leaves open)")
        log(f"student code runs unconfined: {mode.reason}; see docs/security.md")
    elif mode.kind == "uid":
        log(f"student code{' and notebook kernels' if notebooks_too else ''} run as a throwaway uid without "
            f"namespaces: {mode.reason}")
        for what, path in exposed_in_uid_mode(repo_root, folders):
            log(f"{what} ({path}) can be read by a throwaway uid, so student code can read it in this mode: "
                "make a folder above it private (chmod 700; docs/security.md)")
    return mode



def exposed_in_uid_mode(repo_root: Path, folders=()) -> list[tuple[str, Path]]:
    """(what, path) of the grader's files that a throwaway uid (without namespaces) could read: the
    instructor tree's reference solutions, a PyTorch (``interpreter.pytorch_installations``), and those of
    ``folders`` ((what, path) pairs; a folder counts when it can list it). Tried as a fresh uid with no groups
    (``isolation.readable_by``), so it needs root."""
    uid = isolation.new_uid()
    candidates = [("the instructor tree", Path(repo_root) / config.PACKAGE_NAME / "conv.py")]
    candidates += [("the grader's PyTorch", path) for path in interpreter.pytorch_installations()]
    candidates += [(what, Path(path)) for what, path in folders]
    return [(what, path) for what, path in candidates if path.exists() and isolation.readable_by(uid, path)]



def _grade_packages(run: ClassRun, assignment, prepared: list, found, results: dict, work: Path, template: Path,
                    mode: isolation.Mode) -> None:
    """Grade every submission's package functions into ``results``; one submission's failure is its own."""
    plans = runs.write_plans(prepared, work)
    for path in (runs.RUNNER, runs.PROTOCOL):
        shutil.copyfile(path, work / path.name)
    (work / "jail").mkdir()
    setup = runs.ClassSetup(assignment, prepared, work, plans, run.limits, mode, interpreter.build(work / "python"))
    started = {}
    for s in found:
        try:
            started[s.student_id] = runs.prepare(s, setup)
        except Exception as error:
            results[s.student_id] = failed_result(s.student_id, assignment,
                                                  run.trouble(s.student_id, "preparing its run", error), s.notes)
    with tqdm(total=len(found), initial=len(results), unit="submission", desc="package",
              disable=not run.progress) as bar:
        def done(key):
            try:
                results[key] = runs.grade(started[key])
                for error in results[key].grader_errors:
                    run.log(f"{key}: {error}")
            except Exception as error:
                results[key] = failed_result(key, assignment, run.trouble(key, "grading", error),
                                             started[key].submission.notes)
            shutil.rmtree(started[key].sandbox, ignore_errors=True)
            bar.update(1)

        def ended(job):
            try:
                follow_up = None if job.start_error else runs.follow_up(started[job.key])
            except Exception as error:
                started[job.key].errors.append(f"following up its run: {describe_error(error)}")
                follow_up = None
            if follow_up is None:
                done(job.key)
            return follow_up

        for key in [key for key, one in started.items() if one.job is None]:  # nothing of theirs to run
            done(key)
        processes.run_jobs([one.job for one in started.values() if one.job], run.jobs, ended,
                           before_start=lambda job: runs.build_sandbox(started[job.key], template))


def _grade_notebooks(run: ClassRun, assignment, found, results: dict, work: Path, template: Path,
                     notebook_names) -> None:
    """Add the notebooks' parts (nbgrader) to ``results``; if nbgrader's grading fails, each student is told.

    The notebooks' folder holds the stubbed package (``template``) and the assignment's data, as a release has
    them next to its notebooks (students hand in their notebooks and ``cs7150/``, not the data)."""
    try:
        if assignment.data:
            with_data = work / "notebook-template"
            shutil.copytree(template, with_data)
            for rel in assignment.data:
                shutil.copytree(run.repo_root / rel, with_data / rel)
            template = with_data
        graded = nbgrade.grade(run, assignment, found, template, work, notebook_names)
    except Exception as error:
        reason = f"grading the notebooks: {describe_error(error)}"
        for submission in found:
            results[submission.student_id].notes.append(f"the grader could not finish {reason}")
            results[submission.student_id].grader_errors.append(run.trouble(submission.student_id, "notebooks", error))
        return
    for student_id, (parts, notes, seconds) in graded.items():
        results[student_id].parts.extend(parts)
        results[student_id].notes.extend(notes)
        results[student_id].execution_time += seconds


def _write_outputs(run: ClassRun, assignment, results: dict, columns: list) -> None:
    """Each student's folder (one failing write is that student's only), then grades.csv for everyone."""
    for key in sorted(results):
        try:
            report.write_student(run.out, results[key], run.name, assignment.visibility)
        except Exception as error:
            results[key].grader_errors.append(run.trouble(key, "writing its feedback", error))
    rows = [report.grade_row(results[key]) for key in sorted(results)]
    if run.student is None:
        report.write_grades(run.out / "grades.csv", rows, columns)
    else:
        report.update_grades(run.out / "grades.csv", rows, columns)
