"""Grade an assignment's notebooks with ``nbgrader autograde`` and turn the scores into parts.

Its specification: docs/grader.md, `autograder/notebook/nbgrade.py`.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from autograder import config, submissions
from autograder.notebook import evidence, nbgrader_course
from autograder.sandbox import isolation, processes
from autograder.results import CaseResult, PartResult
from autograder.sandbox.protocol import open_regular

MAX_NOTEBOOK_BYTES = 20 * 2**20
MAX_PAGE_BYTES = 2 * MAX_NOTEBOOK_BYTES  # a feedback page: the notebook's outputs plus nbgrader's styles
ERROR_TEXT = 300
FEEDBACK_S = 300.0  # nbgrader generate_feedback for one submission's notebooks
# Once its last cell has run, the kernel is killed rather than asked to exit (its atexit hooks and the wait for
# them grade nothing; the grader kills every process of its uid anyway).
AUTOGRADE_OPTIONS = ["--Execute.shutdown_kernel=immediate"]


@dataclass
class NotebookPart(PartResult):
    """A notebook's part, with nbgrader's feedback page (hidden tests removed) once it is written."""

    feedback_html: str | None = None


def notebook_names(name: str, course_root: Path = config.COURSE_ROOT) -> list[str]:
    """The notebooks of ``source/<name>/`` (file names), sorted."""
    return sorted(p.name for p in (Path(course_root) / "source" / name).glob("*.ipynb"))


def base_course(name: str, course_root: Path, work: Path, kernel_confined: bool = False) -> Path:
    """A temporary course with the assignment generated into its gradebook (and feedback without hidden tests;
    with ``kernel_confined``, the kernels run in the jail, so the pages may show the outputs of student code)."""
    from autograder.notebook import nbgrader_main

    nbgrader_main.block_unused_imports()
    from autograder.notebook import feedback  # imports nbgrader: only when notebooks are graded

    base = work / "nbgrader-base"
    config_file = (Path(course_root) / "nbgrader_config.py").resolve()
    nbgrader_course.generate(name, course_root, base, feedback.nbgrader_config(kernel_confined, config_file))
    return base


def _student_course(base: Path, submission, name: str, student_files, template: Path, names) -> tuple[Path, dict]:
    """The student's course copy with their notebooks and package in ``submitted/``; returns it and the
    notebooks not given to nbgrader, with why (a phrase after the notebook's name)."""
    course = base.parent / "nbgrader" / submission.student_id
    shutil.copytree(base, course)
    target = course / "submitted" / submission.student_id / name
    shutil.copytree(template, target)
    submissions.write_files(submissions.read_student_files(submission, student_files)[0], target)
    missing = {}
    for notebook in names:
        found = submission.root / notebook if submission.root else None
        if found is None or not found.is_file() or found.is_symlink():
            missing[notebook] = "was not found in the submission"
        elif found.stat().st_size > MAX_NOTEBOOK_BYTES:
            missing[notebook] = f"is larger than {MAX_NOTEBOOK_BYTES >> 20} MiB; it was not graded"
        else:
            try:
                data = json.loads(found.read_bytes())
                if isinstance(data, dict) and isinstance(data.get("metadata"), dict):
                    data["metadata"].pop(evidence.RECORD, None)  # only the grader's executor writes that record
                (target / notebook).write_text(json.dumps(data), encoding="utf-8")
            except (ValueError, RecursionError) as error:  # deep nesting: the parser's own limit
                missing[notebook] = f"is not valid JSON ({error}); it was not graded"
    return course, missing


def _grade_ids(notebook: Path) -> list[str]:
    """The grade ids of a notebook's cells, in notebook order."""
    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", []) if notebook.is_file() else []
    return [cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") for cell in cells]


def _executed(notebook: Path) -> tuple[dict[str, str | None], dict]:
    """grade_id -> the error (or stderr) each graded cell of nbgrader's executed copy printed (None: none), and
    the executor's record of what it ran (``evidence.RECORD``; {} where there is none)."""
    cells = {}
    file = open_regular(notebook)  # written by nbgrader; never read through a link or from a FIFO
    if file is None:
        return cells, {}
    with file:
        try:
            executed = json.loads(file.read(MAX_NOTEBOOK_BYTES))
            found = executed.get("cells", [])
            record = executed.get("metadata", {}).get(evidence.RECORD, {})
        except (ValueError, RecursionError, AttributeError):
            return cells, {}
    for cell in found:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        cells[grade_id] = None
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                text = f"{output.get('ename')}: {output.get('evalue')}"
            elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                text = "wrote to stderr (nbgrader scores that 0): " + "".join(output.get("text", ""))
            else:
                continue
            cells[grade_id] = text if len(text) <= ERROR_TEXT else text[:ERROR_TEXT] + "..."
            break
    return cells, record if isinstance(record, dict) else {}


EXCEPTION_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt))(: .*)?$")


def _nbgrader_complaints(job: processes.Job | None, limit: int = 500) -> str:
    """nbgrader's own errors about a submission: the class of the exception that stopped it (the last line of a
    traceback in its log; its message could quote anything), its error lines, then its warnings (without their
    prefix): a warning such as a changed checksum is never given alone when something else failed."""
    if job is None:
        return ""
    log = job.stderr_tail(20000).splitlines()
    raised = [f"nbgrader stopped on a {match.group(1)}" for match in map(EXCEPTION_LINE.match, log) if match]
    errors = [line.split("]", 1)[1].strip() for line in log if line.startswith("[AutogradeApp | ERROR]")
              and "Removing failed assignment" not in line and "Traceback" not in line]
    warnings = [line.split("]", 1)[1].strip() for line in log if line.startswith("[AutogradeApp | WARNING]")]
    text = "; ".join(dict.fromkeys([*raised[-1:], *errors, *warnings]))
    return text if len(text) <= limit else text[:limit] + "..."


def _parts(course: Path, student_id: str, name: str, names, missing, job: processes.Job | None,
           proofs: dict | None = None) -> tuple[list, list]:
    """One part per notebook from the student's gradebook (autograded scores only), and notes on failures.

    A test cell's points are given only where the executor's record (checked against the job's ``proofs``)
    says it ran in the grader and passed, and nbgrader scored it so too."""
    from nbgrader.api import Gradebook, MissingEntry

    parts, notes = [], []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for notebook in names:
            stem = Path(notebook).stem
            max_score = gradebook.find_notebook(stem, name).max_code_score
            part = NotebookPart(notebook, notebook, 0, max_score)
            parts.append(part)
            if notebook in missing:
                part.problem = f"{notebook} {missing[notebook]}"
                continue
            executed = course / "autograded" / student_id / name / notebook
            try:
                graded = gradebook.find_submission_notebook(stem, name, student_id)
            except MissingEntry:
                graded = None
            if graded is None or not executed.is_file():
                reason = ("stopped at the time limit" if job and job.killed else _nbgrader_complaints(job)
                          or f"exit status {job and job.returncode}")
                part.problem = f"nbgrader could not grade {notebook}: {reason}"
                continue
            cells, record = _executed(executed)
            why = evidence.unproven(record, proofs.get("autograde") if proofs is not None else None)
            if why is not None:
                part.problem = f"{notebook} was not graded: {why}"
                continue
            order = _grade_ids(course / "source" / name / notebook)
            for grade in sorted(graded.grades, key=lambda g: order.index(g.name) if g.name in order else len(order)):
                if grade.cell.cell_type != "code":
                    continue  # written answers: graded by hand
                ran = record["tests"].get(grade.name)
                passed = ran == evidence.PASSED and grade.auto_score == grade.max_score  # the executor and nbgrader agree
                summary = ("passed" if passed else cells.get(grade.name) or (
                    str(ran) if isinstance(ran, str) and ran.startswith(evidence.NOT_RUN) else
                    "failed" if grade.name in cells else "the cell is missing from the notebook; nbgrader scores it 0"))
                part.cases.append(CaseResult(grade.name, grade.max_score if passed else 0, grade.max_score, summary))
            part.score = sum(case.score for case in part.cases)  # nothing manual: only what nbgrader just ran
    if job and job.killed:
        notes.append(f"grading the notebooks was stopped at the {job.wall_s:g} s time limit")
    return parts, notes


def _nbgrader_job(warm, args: list[str], network: bool, limits, **job) -> processes.Job:
    """An nbgrader subcommand as a job (``job``: the other fields of ``processes.Job``: its key, folder, logs, wall
    time, uid, environment), forked from the class's warm nbgrader (``warm``, an
    ``autograder.notebook.warm_nbgrader.WarmNbgrader``) or, without one, started as a new interpreter; with
    ``network`` in a network namespace of its own with only ``lo`` (its kernel's and nobody else's)."""
    command = [*nbgrader_course.NBGRADER, *args]
    spawner = None
    if warm is not None:
        def spawner(job, job_env, stdout, stderr):
            return warm.spawn(args, job.cwd, job_env, stdout, stderr, job.memory_mb, job.file_mb,
                              job.allow_processes, network)
    elif network:
        command = isolation.network_only(command)
    return processes.Job(command=command, memory_mb=limits.notebook_memory_mb, file_mb=limits.file_mb,
                         allow_processes=True, spawner=spawner, **job)


def _feedback_job(warm, course: Path, student_id: str, name: str, limits, proof: str) -> processes.Job:
    """``nbgrader generate_feedback`` for one student's graded notebooks (it renders them, runs none of their code);
    ``proof`` goes in its environment (``evidence.FEEDBACK_PROOF_ENV``) for the course's exporter to put in each page."""
    args = ["generate_feedback", name, f"--student={student_id}", "--force", f"--CourseDirectory.root={course}",
            "--log-level=WARN"]
    return _nbgrader_job(warm, args, False, limits, key=student_id, cwd=course, log_dir=course / "feedback-logs",
                         wall_s=FEEDBACK_S, env={evidence.FEEDBACK_PROOF_ENV: proof})


def _attach_pages(course: Path, student_id: str, name: str, parts, job: processes.Job, proof: str) -> list[str]:
    """Put each graded notebook's feedback page on its part, rebuilt safe to open (``feedback.safe_page``: nh3
    over the body, a restrictive Content-Security-Policy); return notes on the pages that could not be had.

    What a page shows cannot hold a hidden test by construction (``autograder.notebook.executor``,
    ``autograder.notebook.feedback``), so no page is withheld for what it seems to contain; but a page without the
    feedback job's ``proof`` was not made by the course's filters (its configuration was not in force): that
    notebook is not graded, and its page is not shown.
    """
    from autograder.notebook import feedback

    notes = []
    for part in parts:
        if part.problem is not None:
            continue
        file = open_regular(course / "feedback" / student_id / name / f"{Path(part.file).stem}.html")
        if file is None:
            why = f"stopped at the {job.wall_s:g} s time limit" if job.killed else f"exit status {job.returncode}"
            notes.append(f"nbgrader could not write the feedback page of {part.file} ({why})")
            continue
        with file:
            data = file.read(MAX_PAGE_BYTES + 1)
        if len(data) > MAX_PAGE_BYTES:
            notes.append(f"the feedback page of {part.file} is larger than {MAX_PAGE_BYTES >> 20} MiB; it is not shown")
            continue
        if feedback.page_proof(data.decode("utf-8", errors="replace")) != proof:
            part.score, part.cases = 0, []
            part.problem = (f"{part.file} was not graded: its feedback page was not written by the course's feedback "
                            "filters (autograder.notebook.feedback: the course's nbgrader_config.py was not in force)")
            continue
        part.feedback_html = feedback.safe_page(data.decode("utf-8", errors="replace"))
    return notes


KERNEL_NAME = "python3"  # the name the source notebooks use; nbgrader writes it back into every submission


def _kernel_jail(course: Path, student_id: str, name: str, work: Path, limits, mode: isolation.Mode,
                 python_group: int | None) -> tuple[int, dict, list[str]]:
    """Make this course's ``python3`` kernel start confined; return its uid, the job's environment and nbgrader's
    options for the kernel's connection.

    The kernelspec lies in ``<course>/jupyter`` (first on ``JUPYTER_PATH``).
    The kernel runs as a uid of its own (with ``python_group``, where the
    Python installation is private: ``isolation.python_access``) and reads,
    not writes, the notebook's folder ``autograded/<id>/<assignment>/`` (the
    student's notebooks and package). In the whole jail it sees nothing else
    of the grader's: not the gradebook, the source notebooks, the hidden tests
    or other students; nbgrader itself runs outside it, in a network namespace
    of its own that the kernel shares (they talk over its loopback). In the
    uid mode (no namespaces) it shares the file system, where everything of
    the course but the path to its notebook's folder is private to root
    (``_private_course``), and works in a home folder of its own.

    Also returns nbgrader's options for the kernel's connection: in the uid
    mode nbgrader and the kernel share the machine's network, where a TCP port
    chosen free before the kernel binds it (and reused when the kernel is
    restarted) can be taken meanwhile by any other process (another grader's
    kernel, any outgoing connection): the kernel then dies at start or answers
    no one. There they talk over abstract Unix sockets of a random name, which
    nothing else on the machine picks by chance; in the jail nbgrader's network
    namespace is theirs alone.
    """
    uid = isolation.new_uid()
    groups = [python_group] if python_group is not None else []
    if mode.kind == "namespaces":
        confinement = isolation.Confinement(
            uid, work / "jail", read_only=[str(course / "autograded" / student_id / name)],
            processes=limits.processes, tmp_mb=limits.file_mb, network=None, handoff="-f", groups=groups,
            share_cwd=True, env={"HOME": "/tmp", "TMPDIR": "/tmp", "MPLCONFIGDIR": "/tmp", "IPYTHONDIR": "/tmp/.ipython"})
    else:
        home = work / "kernels" / student_id
        confinement = isolation.Confinement(
            uid, work / "jail", given=[str(home)], processes=limits.processes, network=None, handoff="-f",
            namespaces=False, groups=groups, share_cwd=True, handoff_dir=str(home),
            env={"HOME": str(home), "TMPDIR": str(home), "MPLCONFIGDIR": str(home), "IPYTHONDIR": str(home / ".ipython")})
        confinement.give()
    kernel = course / "jupyter" / "kernels" / KERNEL_NAME
    kernel.mkdir(parents=True)
    argv = confinement.command([sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"])
    spec = {"argv": argv, "display_name": "Python 3 (cs7150 grading jail)", "language": "python"}
    (kernel / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    options = [] if mode.kind == "namespaces" else [
        "--KernelManager.transport=ipc", f"--KernelManager.ip=@cs7150-kernel-{secrets.token_hex(8)}"]
    return uid, {"JUPYTER_PATH": str(course / "jupyter")}, options


def _sources_out_of_reach(mode: isolation.Mode, course_root: Path, name: str) -> bool:
    """Whether a confined kernel cannot read the assignment's source notebooks (with their hidden tests): in the
    whole jail never; as a throwaway uid only where the instructor's tree is private (tried as such a uid)."""
    if mode.kind == "namespaces":
        return True
    sources = list((Path(course_root) / "source" / name).glob("*.ipynb"))
    return mode.kind == "uid" and not any(isolation.readable_by(isolation.new_uid(), path) for path in sources)


def _private_course(course: Path, student_id: str) -> None:
    """Make the student's course private to root but for the path to its notebook's folder, which the kernel
    enters (its folders can be entered, not listed; nbgrader makes the notebook's folder, and the jail lets the
    kernel's group read it)."""
    for root, dirs, files in os.walk(course):
        for entry in [root, *(os.path.join(root, n) for n in dirs + files)]:
            if not os.path.islink(entry):
                os.chmod(entry, os.stat(entry).st_mode & 0o700)
    folder = course
    for part in ("", "autograded", student_id):
        folder = folder / part if part else folder
        folder.mkdir(exist_ok=True)
        folder.chmod(0o711)


def _warm_nbgrader(work: Path):
    """The class's warm nbgrader (``autograder.notebook.warm_nbgrader``), or None where it cannot start (every nbgrader
    command is then a new interpreter: the same grading, slower)."""
    from autograder.notebook import warm_nbgrader

    try:
        return warm_nbgrader.WarmNbgrader(processes.environment(work / "warm-nbgrader"),
                                           work / "warm-nbgrader" / "server.log")
    except (OSError, RuntimeError):
        return None


def grade(run, assignment, found, template: Path, work: Path, names) -> dict:
    """student id -> (notebook parts, notes, seconds) for every submission in ``found`` of the class run ``run``
    (``autograder.classrun.ClassRun``), its notebooks ``names`` graded in the folder ``work``.

    Where the grader can confine code (``autograder.sandbox.isolation``), each
    student's kernel runs as a uid of its own: in the jail, with nbgrader in a
    network namespace of its own, or, without namespaces, as a throwaway uid
    in a course private to root (``_kernel_jail``); otherwise both run as the
    grader.
    """
    name, course_root, limits = run.name, run.course_root, run.limits
    mode = isolation.probe() if limits.confine else isolation.Mode(None, "confinement was turned off")
    confine = mode.kind is not None
    base = base_course(name, course_root, work, kernel_confined=_sources_out_of_reach(mode, course_root, name))
    base.chmod(0o700)
    (work / "jail").mkdir(exist_ok=True)
    (work / "kernels").mkdir(mode=0o711, exist_ok=True)
    courses, graded, jobs, proofs = {}, {}, [], {}
    for submission in found:
        courses[submission.student_id] = _student_course(base, submission, name, assignment.student_files, template, names)
        if confine:
            _private_course(courses[submission.student_id][0], submission.student_id)
    if courses and confine:
        (work / "nbgrader").chmod(0o711)
    with contextlib.ExitStack() as stack, \
            tqdm(total=len(courses), unit="submission", desc="notebooks", disable=not run.progress) as bar:
        python_group = stack.enter_context(isolation.python_access()) if confine else None
        warm = _warm_nbgrader(work) if any(len(missing) < len(names) for _, missing in courses.values()) else None
        if warm is not None:
            stack.callback(warm.close)
        for student_id, (course, missing) in courses.items():
            if len(missing) == len(names):
                continue
            uid, env, options = (_kernel_jail(course, student_id, name, work, limits, mode, python_group) if confine
                                 else (None, {}, []))
            args = ["autograde", name, f"--student={student_id}", "--force", *AUTOGRADE_OPTIONS, *options,
                    f"--CourseDirectory.root={course}", "--log-level=WARN"]
            proofs[student_id] = {"autograde": evidence.new_proof(), "feedback": evidence.new_proof()}
            jobs.append(_nbgrader_job(warm, args, mode.kind == "namespaces", limits, key=student_id, cwd=course,
                                      log_dir=course / "logs", wall_s=limits.notebook_s, uid=uid,
                                      env={**env, evidence.GRADING_PROOF_ENV: proofs[student_id]["autograde"]}))

        def done(job):
            """After autograde: the parts, then the feedback job (run next); after that job: the pages."""
            course, missing = courses[job.key]
            if job.key in graded:
                parts, notes, seconds = graded[job.key]
                pages = _attach_pages(course, job.key, name, parts, job, proofs[job.key]["feedback"])
                graded[job.key] = (parts, notes + pages, seconds + job.elapsed)
            else:
                parts, notes = _parts(course, job.key, name, names, missing, job, proofs[job.key])
                graded[job.key] = (parts, notes, job.elapsed)
                if any(part.problem is None for part in parts):
                    return _feedback_job(warm, course, job.key, name, limits, proofs[job.key]["feedback"])
            bar.update(1)
            return None

        for student_id, (course, missing) in courses.items():
            if len(missing) == len(names):  # no notebook submitted: nothing to run
                graded[student_id] = (*_parts(course, student_id, name, names, missing, None), 0.0)
                bar.update(1)
        processes.run_jobs(jobs, run.jobs, done)
    return graded
