"""One submission's package run: its sandbox, its child processes (naive functions first, then the others),
what the grader does when a child ends early, and the grade read from what the children left.

A child that ends before all its cases did, for any reason but the wall-time limit, costs the case it was
running (0, with the reason), and a new child grades the rest of its phase, at most ``MAX_RUNS`` children per
phase within the same wall time (docs/grader.md).
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from autograder import config, submissions
from autograder.classrun import Limits
from autograder.package import cases, grading
from autograder.results import StudentResult, describe_error, not_graded
from autograder.sandbox import interpreter, isolation, processes, protocol

RUNNER = Path(protocol.__file__).resolve().with_name("runner.py")

PROTOCOL = Path(protocol.__file__).resolve()  # the runner loads it from beside itself

MAX_RUNS = 6  # children per phase of a submission (naive functions, then the others): the first and restarts



@dataclass(frozen=True)
class ClassSetup:
    """What every submission's run in a class shares."""

    assignment: config.Assignment
    prepared: list  # every case of the assignment, with inputs and reference outputs (cases.prepare)
    work: Path  # the class run's private folder
    plans: dict  # the class's plan of each phase (write_plans)
    limits: Limits
    mode: isolation.Mode  # how student code is confined
    python: interpreter.SandboxPython  # the installation the children run with


@dataclass
class Run:
    """One submission's files, plan and child jobs; its sandbox exists only while they run."""

    setup: ClassSetup
    submission: submissions.Submission
    folder: Path
    files: dict  # student file -> its bytes
    missing: dict  # student file -> why it is missing ("was not found in the submission", ...)
    cases: list
    confinement: isolation.Confinement | None = None
    phases: list = field(default_factory=list)  # its cases in the order they run: the naive functions', the others'
    fast_files: tuple = ()  # the fast path's files: not in the sandbox while naive functions are graded
    phase: int = 0  # the phase the last child ran
    phase_start: int = 0  # how many children had run when it began
    jobs: list = field(default_factory=list)  # the children run so far, the last one last
    ended: dict = field(default_factory=dict)  # case id -> the grader's own record of a case its child died in
    errors: list = field(default_factory=list)  # what the grader itself failed to do for this run

    @property
    def job(self) -> processes.Job | None:
        return self.jobs[-1] if self.jobs else None

    @property
    def results(self) -> Path:
        return self.folder / "results"

    @property
    def sandbox(self) -> Path:
        return self.folder / "sandbox"

    @property
    def sources(self) -> dict:
        return {rel: data.decode("utf-8") for rel, data in self.files.items()}


def _job(run: Run, pending: list, wall_s: float) -> processes.Job:
    """A child job grading the prepared cases ``pending`` (of one phase), confined when ``run.confinement``.

    The child reads its phase's plan (``write_plans``), and its own header (its folders, its limits and the
    ids of ``pending``: nothing of the inputs) is its last argument.
    """
    plan, python, limits = run.setup.plans[pending[0].part.is_naive], run.setup.python, run.setup.limits
    header = json.dumps({
        "sandbox": str(run.sandbox), "site_packages": [str(python.site_packages)], "results": str(run.results),
        "case_timeout": limits.case_s, "confined": run.confinement is not None, "cases": [pc.id for pc in pending],
    })
    confinement = run.confinement
    child = run.folder.parent.parent / RUNNER.name  # the grader's copies: the instructor tree need not be readable
    if confinement is None:
        command = [str(python.executable), "-I", "-S", "-B", str(child), str(plan), header]
    else:  # the plan comes on stdin, opened by the jail as root: it is not in the uid's world
        confinement.read_only[:] = [str(child), str(child.with_name(PROTOCOL.name)), str(python.root)]
        confinement.stdin = str(plan)
        command = confinement.command([str(python.executable), "-I", "-S", "-B", str(child), "-", header])
    return processes.Job(
        key=run.submission.student_id, command=command, cwd=run.sandbox, log_dir=run.folder, wall_s=wall_s,
        memory_mb=limits.memory_mb, file_mb=limits.file_mb,
        uid=confinement.uid if confinement else None, disk_folders=(run.sandbox, run.results, run.folder / "home"),
        disk_mb=limits.disk_mb, env={**python.env, "PATH": os.pathsep.join([str(python.executable.parent), os.defpath])},
    )


def write_plans(prepared: list, folder: Path) -> dict[bool, Path]:
    """Write the class's plan of each phase into ``folder``, private to the grader (0600); return their paths
    by whether they hold the naive functions.

    A plan is frames of ``<length>\\n<bytes>``: for each graded function of the phase, in grading order, its
    calls (JSON, ``PreparedCase.call``) and then its inputs (``.npz`` bytes, ``cases.inputs_by_function``).
    ``autograder/sandbox/runner.py`` reads one function's frames only when that function's turn comes, and its
    workers cannot read the plan (see its docstring), so a graded function never holds the inputs of a
    function graded after it. Every child of a phase reads the same plan (its header says which cases are
    its own), so the inputs are written once per class.
    """
    inputs = cases.inputs_by_function(prepared)
    plans = {}
    for naive, name in ((True, "plan-naive"), (False, "plan-others")):
        plans[naive] = Path(folder) / name
        calls = [pc.call() for pc in prepared if pc.part.is_naive == naive]
        with open(os.open(plans[naive], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
            for function, group in itertools.groupby(calls, key=lambda call: call["function"]):
                for frame in (json.dumps(list(group)).encode(), inputs[function]):
                    file.write(b"%d\n" % len(frame) + frame)
    return plans


def prepare(submission, setup: ClassSetup) -> Run:
    """Read the student's files and make its first job; the sandbox is built just before the child starts.

    Confined (``mode.kind``: "namespaces" or "uid") the run gets a uid of its own; its folder is reachable
    but not listable by others (0711), its sandbox and home are its own and private (0700), and in its
    results folder (the grader's) only its pre-created status and output files are its, private (0600).
    """
    assignment, work, limits, mode = setup.assignment, setup.work, setup.limits, setup.mode
    folder = work / "runs" / submission.student_id
    files, missing = submissions.read_student_files(submission, assignment.student_files)
    run = Run(setup, submission, folder, files, missing, [pc for pc in setup.prepared if pc.part.file not in missing])
    run.phases = [phase for phase in ([pc for pc in run.cases if pc.part.is_naive],
                                      [pc for pc in run.cases if not pc.part.is_naive]) if phase]
    run.fast_files = tuple(sorted({part.file for part in assignment.parts if not part.is_naive}
                                  - {part.file for part in assignment.parts if part.is_naive}))
    run.results.mkdir(parents=True)
    if run.cases:
        if mode.kind is not None:
            folder.chmod(0o711)
            run.results.chmod(0o711)
            run.confinement = isolation.Confinement(
                isolation.new_uid(), work / "jail", given=[str(run.sandbox), str(folder / "home")],
                shared=[str(run.results)], cwd=str(run.sandbox), processes=limits.processes, tmp_mb=limits.file_mb,
                namespaces=mode.kind == "namespaces", python=False)
            for name in [protocol.STATUS_FILE, *(f"{pc.id}.npz" for pc in run.cases)]:  # the only files it can write
                (run.results / name).touch(mode=0o600)  # there: the folder stays the grader's, so none can be
                os.chown(run.results / name, run.confinement.uid, run.confinement.uid)  # replaced
        run.jobs.append(_job(run, run.phases[0], limits.wall_s))
    return run


def build_sandbox(run: Run, template: Path) -> None:
    """The stubbed package with the student's files over it (before each child), owned by its confined uid.

    While naive functions are graded the fast path's files are not in it at all: whatever a naive function
    tries (an import by a computed name, ``importlib``, reading the file), the fast path is not there.
    """
    if not run.sandbox.exists():
        shutil.copytree(template, run.sandbox)
        submissions.write_files(run.files, run.sandbox)
        if all(pc.part.is_naive for pc in run.phases[run.phase]):
            for rel in run.fast_files:
                (run.sandbox / rel).unlink(missing_ok=True)
    if run.confinement is not None:
        run.confinement.give()


def stopped_reason(job: processes.Job, limits: Limits) -> str:
    if job.start_error:
        return f"the grader could not start the run ({job.start_error})"
    if job.stopped == "time":
        return f"the run was stopped at the {limits.wall_s:g} s time limit for a submission"
    if job.stopped == "memory":
        return f"the run was stopped: its processes together used more than the {limits.memory_mb} MiB memory limit"
    if job.stopped == "disk":
        return f"the run was stopped: the files it wrote passed the {limits.disk_mb} MiB disk limit"
    if job.returncode is not None and job.returncode < 0:
        return f"the run was ended by signal {-job.returncode} (for example a crash, or another process killing it)"
    return f"the run ended early with exit status {job.returncode} (for example os._exit or a crash)"


def follow_up(run: Run) -> processes.Job | None:
    """After a child ended: record the case it died in, and a new child for the rest of its phase, or for the
    next phase (the fast path's functions after the naive ones), or None.

    The record goes to ``run.ended`` and to the status file too, for the next
    child: a case that died in its forward pass is graded again on its given
    cache (``autograder/sandbox/runner.py`` reads which forward passes were in trouble).
    """
    limits = run.setup.limits
    if _status_replaced(run):
        return None
    records = {**grading.read_status(run.results), **run.ended}
    by_id = {pc.id: pc for pc in run.phases[run.phase]}
    pending = [by_id[i] for i in protocol.unfinished(by_id, records)]
    culprit = by_id.get(protocol.culprit(by_id, records))
    retried = False
    if culprit is not None:
        ended = protocol.ended(records[culprit.id], id=culprit.id, reason=stopped_reason(run.job, limits))
        retried = ended.get("phase") == "forward" and culprit.part.cache is not None
        if not retried:
            run.ended[culprit.id] = ended
        status = protocol.open_regular(run.results / protocol.STATUS_FILE, "ab")
        if status is None:  # replaced by the student's code: nothing more is run for it
            return None
        with status:
            status.write(protocol.line(ended).encode())
    remaining = [pc for pc in pending if pc is not culprit or retried]
    left_s = limits.wall_s - sum(j.elapsed for j in run.jobs)
    if run.job.stopped == "time" or left_s < 1:
        return None
    if not (remaining and len(run.jobs) - run.phase_start < MAX_RUNS):
        if run.phase + 1 == len(run.phases):
            return None
        run.phase, run.phase_start, remaining = run.phase + 1, len(run.jobs), run.phases[run.phase + 1]
    _reset(run)
    run.jobs.append(_job(run, remaining, left_s))
    return run.job


def _status_replaced(run: Run) -> bool:
    """Whether the student's code replaced its status file (by a link, a FIFO...): its records are lost."""
    path = run.results / protocol.STATUS_FILE
    return os.path.lexists(path) and not stat.S_ISREG(os.lstat(path).st_mode)


def _reset(run: Run) -> None:
    """Before a new child: a fresh sandbox and home, and only the status and case outputs kept in results."""
    shutil.rmtree(run.sandbox, ignore_errors=True)
    shutil.rmtree(run.folder / "home", ignore_errors=True)
    kept = {protocol.STATUS_FILE} | {f"{pc.id}.npz" for pc in run.cases}
    for path in run.results.iterdir():
        if path.name not in kept or not path.is_file() or path.is_symlink():
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def _run_notes(run: Run, records: dict) -> tuple[str, list[str]]:
    """(why unrun cases did not run, notes for the student) from how the children ended."""
    limits = run.setup.limits
    notes = list(run.submission.notes)
    notes += [f"{rel} {why}; its functions score 0" for rel, why in run.missing.items()]
    unfinished = bool(protocol.unfinished([pc.id for pc in run.cases], records))
    if _status_replaced(run):
        notes.append("its code replaced results/status.jsonl, the file its results are written to, "
                     "so they could not be read")
    early = [job for job in run.jobs if job.stopped or job.returncode or (job is run.job and unfinished)]
    for job in early:
        notes.append(stopped_reason(job, limits) + (
            "; the case that was running, and any not yet run, score 0" if job is run.job
            else "; the case that was running scores 0, and a new process graded the remaining cases"))
    if early and run.job.stderr_tail():
        notes.append("last lines of the run's error output:\n" + run.job.stderr_tail())
    return (stopped_reason(run.job, limits) if unfinished else "the run ended before this case"), notes


def grade(run: Run) -> StudentResult:
    records = {**grading.read_status(run.results), **run.ended}
    assignment, prepared, limits = run.setup.assignment, run.setup.prepared, run.setup.limits
    run_note, notes = _run_notes(run, records)
    sources = run.sources
    parts, errors = [], list(run.errors)
    for part in assignment.parts:
        try:
            parts.append(grading.grade_part(
                part, [pc for pc in prepared if pc.part is part], records, run.results, source=sources.get(part.file),
                run_note=run_note, limits=limits,
                missing=run.missing.get(part.file, "was not found in the submission")))
        except Exception as error:  # this part only: the others are graded
            errors.append(f"grading {part.function}: {describe_error(error)}")
            parts.append(not_graded(part, errors[-1]))
    threads = sorted({pc.part.function for pc in run.cases if records.get(pc.id, {}).get("threads_left")})
    if threads:
        notes.append(f"{', '.join(threads)} left threads running after returning; the grader stopped them")
    for part in assignment.parts:
        strays = records.get(part.function, {})
        if strays.get("status") == protocol.STRAYS:
            notes.append(f"{part.function} left {strays.get('processes')} process(es) running; the grader killed them")
    if run.job is not None and run.job.start_error:
        errors.append(f"starting its run: {run.job.start_error}")
    notes += [f"the grader could not finish {error}; what it could not grade scores 0" for error in errors]
    return StudentResult(run.submission.student_id, assignment.title, parts, notes,
                                sum(job.elapsed for job in run.jobs), grader_errors=errors)

