"""Grade every submission: package functions in sandboxed children, then (optionally) notebooks.

For each submission the grader builds a fresh temporary folder holding the
student release's ``cs7150/`` package (every solution region stubbed, so no
reference code) with the student's allow-listed files copied over it, and runs
``autograder/sandbox/runner.py`` there as ``python -I -S -B`` under the limits of
``autograder.sandbox.processes`` (memory, file size, processes, wall time, scrubbed
environment, own process group). Where the grader can (Linux, as root) the
child runs in the jail of ``autograder.sandbox.isolation``: its own uid, a root that
holds only Python and the submission's own folders, no network. The inputs
were chosen and the reference outputs computed here before any child starts,
and each child's arrays are compared here (``autograder.package.grading``): the child
only reports.

A submission's cases run in two phases, each in children of its own: the
naive functions' in a sandbox without the fast path's files, then the
others'. When a child ends before all its cases did, for any reason but the
wall-time limit (an exit, a crash, the memory or disk limit), the case that
was running scores 0 with the reason and a new child grades the remaining
cases, at most ``MAX_RUNS`` children per phase within the same wall time.

With ``notebooks=True`` the assignment's notebooks are then graded by
``nbgrader autograde`` (``autograder.notebook.nbgrade``) and each notebook becomes one
more part of the student's results, grades.csv row and feedback.
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from autograder import config, results, submissions
from autograder.notebook import nbgrade
from autograder.output import points, report, sanitise, shards
from autograder.package import cases, grading
from autograder.release import build
from autograder.sandbox import interpreter, isolation, processes, protocol

RUNNER = Path(__file__).resolve().parent / "sandbox" / "runner.py"
PROTOCOL = Path(protocol.__file__).resolve()  # the runner loads it from beside itself
MAX_RUNS = 6  # children per phase of a submission (naive functions, then the others): the first and restarts


@dataclass(frozen=True)
class Limits:
    """Per-submission limits."""

    wall_s: float = 120.0  # the package run of one submission
    case_s: float = 20.0  # one graded call (import + forward + backward)
    memory_mb: int = 2048  # address space; PyTorch alone needs ~1 GiB of it
    file_mb: int = 64  # any file a child writes, stdout and stderr included
    notebook_s: float = 900.0  # nbgrader autograde of one submission's notebooks
    notebook_memory_mb: int = 4096
    processes: int = 64  # processes and threads of one confined submission together
    disk_mb: int = 256  # the files a confined submission writes, together
    confine: bool = True  # run student code in the jail where the grader can (Linux, root); False: never
    unconfined: bool = False  # where it cannot be confined at all (not root, not Linux): grade anyway, unconfined


class JailUnavailable(RuntimeError):
    """Student code cannot be confined here, and running it unconfined was not asked for."""


@dataclass
class Run:
    """One submission's files, plan and child jobs; its sandbox exists only while they run."""

    submission: submissions.Submission
    folder: Path
    files: dict  # student file -> its bytes
    missing: dict  # student file -> why it is missing ("was not found in the submission", ...)
    cases: list
    confinement: isolation.Confinement | None = None
    python: interpreter.SandboxPython | None = None  # the installation its child runs with
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


def default_out(name: str, course_root: Path = config.COURSE_ROOT) -> Path:
    return Path(course_root) / "autograded-package" / name


def _job(run: Run, pending: list, plans: dict, limits: Limits, wall_s: float) -> processes.Job:
    """A child job grading the prepared cases ``pending`` (of one phase), confined when ``run.confinement``.

    ``plans``: the class's plan of each phase (``write_plans``); the child reads its phase's, and its own
    header (its folders, its limits and the ids of ``pending``: nothing of the inputs) is its last argument.
    """
    plan = plans[pending[0].part.is_naive]
    python = run.python
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


def _prepare(submission, assignment, prepared, work: Path, plans: dict, limits: Limits,
             mode: isolation.Mode, python: interpreter.SandboxPython) -> Run:
    """Read the student's files and make its first job; the sandbox is built just before the child starts.

    Confined (``mode.kind``: "namespaces" or "uid") the run gets a uid of its own; its folder is reachable
    but not listable by others (0711), its sandbox and home are its own and private (0700), and in its
    results folder (the grader's) only its pre-created status and output files are its, private (0600).
    """
    folder = work / "runs" / submission.student_id
    files, missing = submissions.read_student_files(submission, assignment.student_files)
    run = Run(submission, folder, files, missing, [pc for pc in prepared if pc.part.file not in missing],
              python=python)
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
        run.jobs.append(_job(run, run.phases[0], plans, limits, limits.wall_s))
    return run


def _build_sandbox(run: Run, template: Path) -> None:
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


def _stopped_reason(job: processes.Job, limits: Limits) -> str:
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


def _follow_up(run: Run, plans: dict, limits: Limits) -> processes.Job | None:
    """After a child ended: record the case it died in, and a new child for the rest of its phase, or for the
    next phase (the fast path's functions after the naive ones), or None.

    The record goes to ``run.ended`` and to the status file too, for the next
    child: a case that died in its forward pass is graded again on its given
    cache (``autograder/sandbox/runner.py`` reads which forward passes were in trouble).
    """
    if _status_replaced(run):
        return None
    records = {**grading.read_status(run.results), **run.ended}
    by_id = {pc.id: pc for pc in run.phases[run.phase]}
    pending = [by_id[i] for i in protocol.unfinished(by_id, records)]
    culprit = by_id.get(protocol.culprit(by_id, records))
    retried = False
    if culprit is not None:
        ended = protocol.ended(records[culprit.id], id=culprit.id, reason=_stopped_reason(run.job, limits))
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
    run.jobs.append(_job(run, remaining, plans, limits, left_s))
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


def _run_notes(run: Run, records: dict, limits: Limits) -> tuple[str, list[str]]:
    """(why unrun cases did not run, notes for the student) from how the children ended."""
    notes = list(run.submission.notes)
    notes += [f"{rel} {why}; its functions score 0" for rel, why in run.missing.items()]
    unfinished = bool(protocol.unfinished([pc.id for pc in run.cases], records))
    if _status_replaced(run):
        notes.append("its code replaced results/status.jsonl, the file its results are written to, "
                     "so they could not be read")
    early = [job for job in run.jobs if job.stopped or job.returncode or (job is run.job and unfinished)]
    for job in early:
        notes.append(_stopped_reason(job, limits) + (
            "; the case that was running, and any not yet run, score 0" if job is run.job
            else "; the case that was running scores 0, and a new process graded the remaining cases"))
    if early and run.job.stderr_tail():
        notes.append("last lines of the run's error output:\n" + run.job.stderr_tail())
    return (_stopped_reason(run.job, limits) if unfinished else "the run ended before this case"), notes


def _grade(run: Run, assignment, prepared, limits: Limits) -> results.StudentResult:
    records = {**grading.read_status(run.results), **run.ended}
    run_note, notes = _run_notes(run, records, limits)
    sources = run.sources
    parts, errors = [], list(run.errors)
    for part in assignment.parts:
        try:
            parts.append(grading.grade_part(
                part, [pc for pc in prepared if pc.part is part], records, run.results, source=sources.get(part.file),
                run_note=run_note, max_bytes=limits.file_mb << 20, limits=limits,
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
    return results.StudentResult(run.submission.student_id, assignment.title, parts, notes,
                                sum(job.elapsed for job in run.jobs), grader_errors=errors)


def describe_error(error: BaseException, limit: int = 300) -> str:
    """``"RecursionError: maximum recursion depth exceeded"``, shortened to ``limit`` characters."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def not_graded(part, reason: str) -> results.PartResult:
    """A part the grader could not grade: 0 points, every case listed, and why."""
    cases = [results.CaseResult(case.name, 0, case.points, "not graded") for case in part.cases]
    return results.PartResult(part.function, part.file, 0, part.max_score, cases, problem=f"not graded: {reason}",
                              extra_credit=part.extra_credit)


def failed_result(student_id: str, assignment, reason: str, notes=()) -> results.StudentResult:
    """The result of a submission the grader could not grade at all: 0 for every part, and why."""
    return results.StudentResult(
        student_id, assignment.title, [not_graded(part, reason) for part in assignment.parts],
        [*notes, f"the grader could not finish {reason}; what it could not grade scores 0"], grader_errors=[reason])


def grade_columns(assignment, notebook_names=()) -> list[str]:
    """grades.csv's columns: each part's points (extra-credit parts too), each notebook's, then ``total`` and ``max``
    (the required points earned and possible) and, for an assignment with extra credit, ``extra_credit`` (the
    extra-credit points earned, on top of ``total``)."""
    extra = ["extra_credit"] if assignment.extra_max else []
    return ["student_id", *(part.function for part in assignment.parts), *notebook_names, "total", "max", *extra]


def autograde(name: str, submissions_path: Path, out: Path | None = None, jobs: int | None = None,
              student: str | None = None, limits: Limits = Limits(), progress: bool = True,
              notebooks_too: bool = False, repo_root: Path = config.REPO_ROOT,
              config_dir: Path = config.ASSIGNMENTS_DIR, log=print,
              problems: list | None = None, shard: shards.Shard | None = None) -> list[results.StudentResult]:
    """Grade every submission under ``submissions_path`` (or only ``student``) and write the results.

    Writes ``<out>/grades.csv`` (rewritten; with ``student``: that row
    replaced in place) and ``<out>/students/<id>/{results.json, feedback.txt,
    feedback.html}``. With ``notebooks_too`` the notebooks of
    ``assignments/source/<name>/`` are graded by nbgrader as extra parts.
    With ``shard`` only the students of that part of the class are graded,
    and ``<out>/shard.json`` records which (``autograder.output.shards``, for
    ``cs7150 merge-grades``).

    Whatever goes wrong for one submission (its files, its run, grading or
    writing its feedback) is that submission's only: what could not be graded
    scores 0 with the reason in its feedback, it is logged, and the others are
    graded; grades.csv is always written, for every submission found (also
    when an error of the whole run is raised after grading began).
    ``problems`` (a list, if given) receives one line per refused entry of the
    submissions folder and per submission the grader had trouble with.

    Returns the results in student-id order. Raises ConfigError for a bad
    configuration (``points.PointsMismatch``: the notebook header states other
    points), FileNotFoundError for a missing submissions folder or an unknown
    ``student``, report.ColumnsDiffer (nothing graded or written) when
    ``student`` is regraded into a grades.csv with other columns (the class
    graded with notebooks, this regrade without, or the other way round).
    """
    repo_root = Path(repo_root)
    course_root = repo_root / "assignments"
    assignment = config.load(name, config_dir, repo_root)
    configured = points.check(assignment, course_root / "source" / name, config_dir)
    out = Path(out) if out else default_out(name, course_root)
    parallel = max(1, jobs or os.cpu_count() or 1)
    prepared = cases.prepare(assignment)
    notebook_names = nbgrade.notebook_names(name, course_root) if notebooks_too else []
    if student is not None:
        report.check_columns(out / "grades.csv", grade_columns(assignment, notebook_names),
                             "regrade with the options of the class's run (--notebooks or not), or into another --out")
    problems = [] if problems is None else problems
    log = _clean_log(log)
    results: dict[str, results.StudentResult] = {}
    found = []

    def trouble(student_id: str, what: str, error: BaseException) -> str:
        reason = f"{what}: {describe_error(error)}"
        log(f"{student_id}: {reason}")
        return reason

    mode = confinement_mode(limits, notebooks_too, repo_root, log,
                            folders=[("the submissions", submissions_path), ("the output folder", out)])
    with tempfile.TemporaryDirectory(prefix="cs7150-autograde-") as tmp:
        work = Path(tmp)
        work.chmod(0o711)  # a confined uid reaches its own run's folder, and lists nothing
        (work / "runs").mkdir(mode=0o711)
        plans = write_plans(prepared, work)
        for path in (RUNNER, PROTOCOL):
            shutil.copyfile(path, work / path.name)
        template = work / "template"
        build.stub_package(repo_root / config.PACKAGE_NAME, template / config.PACKAGE_NAME,
                             build.stub_message(config.all_sections(name, config_dir)))
        class_ids = []  # every student id of the class, in a shard or not

        def in_shard(student_id: str) -> bool:
            class_ids.append(student_id)
            return shard.holds(student_id)

        (work / "extracted").mkdir(mode=0o700)  # other students' unpacked zips: no throwaway uid may enter
        found, skipped = submissions.discover(submissions_path, name, work / "extracted", package=config.PACKAGE_NAME,
                                              only=student, keep=None if shard is None else in_shard)
        for note in skipped:
            log(f"skipped {note}")
            if note.refused:
                problems.append(f"skipped {note}")
        if student is not None and not found:
            raise FileNotFoundError(f"no submission for student {student!r} in {submissions_path}")
        try:
            _grade_all(found, results, trouble, assignment, prepared, work, plans, template, limits, mode,
                       parallel, progress, log)
            if notebook_names:
                _grade_notebooks(name, found, results, trouble, assignment, template, work, course_root,
                                 notebook_names, parallel, limits, progress)
        finally:
            for submission in found:  # those an error of the whole run left ungraded
                if submission.student_id not in results:
                    results[submission.student_id] = failed_result(
                        submission.student_id, assignment, "grading: the grader stopped before grading it")
            for result in results.values():  # what the pages state beside the autograded score
                result.pending = configured.written if configured else 0.0
                result.not_run = configured.autograded if configured and not notebook_names else 0.0
            _write_outputs(out, name, results, assignment, notebook_names, student, trouble)
            if shard is not None and student is None:
                shards.write_record(out, name, shard, class_ids, results, grade_columns(assignment, notebook_names))
    ordered = [results[key] for key in sorted(results)]
    problems += [f"{r.student_id}: {error}" for r in ordered for error in r.grader_errors]
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


def _clean_log(log):
    """``log`` that receives each message without escape sequences or control characters (student ids and
    error messages reach it)."""
    return lambda message: log(sanitise.clean_text(message))


def _grade_all(found, results, trouble, assignment, prepared, work, plans, template, limits, mode, parallel,
               progress, log) -> None:
    """Grade every submission's package functions into ``results``; one submission's failure is its own."""
    (work / "jail").mkdir()
    python = interpreter.build(work / "python")
    runs = {}
    for s in found:
        try:
            runs[s.student_id] = _prepare(s, assignment, prepared, work, plans, limits, mode, python)
        except Exception as error:
            results[s.student_id] = failed_result(s.student_id, assignment,
                                                  trouble(s.student_id, "preparing its run", error), s.notes)
    with tqdm(total=len(found), initial=len(results), unit="submission", desc="package",
              disable=not progress) as bar:
        def done(key):
            try:
                results[key] = _grade(runs[key], assignment, prepared, limits)
                for error in results[key].grader_errors:
                    log(f"{key}: {error}")
            except Exception as error:
                results[key] = failed_result(key, assignment, trouble(key, "grading", error), runs[key].submission.notes)
            shutil.rmtree(runs[key].sandbox, ignore_errors=True)
            bar.update(1)

        def ended(job):
            try:
                follow_up = None if job.start_error else _follow_up(runs[job.key], plans, limits)
            except Exception as error:
                runs[job.key].errors.append(f"following up its run: {describe_error(error)}")
                follow_up = None
            if follow_up is None:
                done(job.key)
            return follow_up

        for key in [key for key, run in runs.items() if run.job is None]:  # nothing of theirs to run
            done(key)
        processes.run_jobs([run.job for run in runs.values() if run.job], parallel, ended,
                           before_start=lambda job: _build_sandbox(runs[job.key], template))


def _grade_notebooks(name, found, results, trouble, assignment, template, work, course_root, notebook_names,
                     parallel, limits, progress) -> None:
    """Add the notebooks' parts (nbgrader) to ``results``; if nbgrader's grading fails, each student is told.

    The notebooks' folder holds the stubbed package (``template``) and the assignment's data, as a release has
    them next to its notebooks (students hand in their notebooks and ``cs7150/``, not the data)."""
    try:
        if assignment.data:
            with_data = work / "notebook-template"
            shutil.copytree(template, with_data)
            for rel in assignment.data:
                shutil.copytree(Path(course_root).parent / rel, with_data / rel)
            template = with_data
        graded = nbgrade.grade(name, found, assignment.student_files, template, work, course_root,
                                 notebook_names, parallel, limits, progress)
    except Exception as error:
        reason = f"grading the notebooks: {describe_error(error)}"
        for submission in found:
            results[submission.student_id].notes.append(f"the grader could not finish {reason}")
            results[submission.student_id].grader_errors.append(trouble(submission.student_id, "notebooks", error))
        return
    for student_id, (parts, notes, seconds) in graded.items():
        results[student_id].parts.extend(parts)
        results[student_id].notes.extend(notes)
        results[student_id].execution_time += seconds


def _write_outputs(out: Path, name: str, results: dict, assignment, notebook_names, student, trouble) -> None:
    """Each student's folder (one failing write is that student's only), then grades.csv for everyone."""
    for key in sorted(results):
        try:
            report.write_student(out, results[key], name, assignment.visibility)
        except Exception as error:
            results[key].grader_errors.append(trouble(key, "writing its feedback", error))
    rows, columns = [report.grade_row(results[key]) for key in sorted(results)], grade_columns(assignment, notebook_names)
    if student is None:
        report.write_grades(out / "grades.csv", rows, columns)
    else:
        report.update_grades(out / "grades.csv", rows, columns)
