"""Run graded child processes a few at a time, each limited, watched, and ended with all it started.

Its specification: docs/grader.md, `autograder/sandbox/processes.py`.
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psutil

from autograder.sandbox import isolation

POLL_SECONDS = 0.02
WATCH_SECONDS = 0.25  # how often memory (and, every 4th time, disk) is measured


@dataclass
class Job:
    """One child process to run: its command, folder, limits, and (once run) its outcome."""

    key: str
    command: list[str]
    cwd: Path
    log_dir: Path  # stdout.txt and stderr.txt go here
    wall_s: float
    memory_mb: int
    file_mb: int
    allow_processes: bool = False  # nbgrader starts a kernel; an unconfined package runner may not fork
    uid: int | None = None  # the confined uid whose processes all belong to this job
    disk_folders: tuple = ()  # folders whose files together may hold at most disk_mb
    disk_mb: int = 0
    env: dict = field(default_factory=dict)  # added to the scrubbed environment
    # Starts the process instead of subprocess.Popen: spawner(job, env, stdout path, stderr path) -> an object
    # with Popen's pid, poll(), wait() and returncode, in a session of its own with the job's limits
    # (``autograder.notebook.warm_nbgrader``: nbgrader forked from a warm process).
    spawner: Callable | None = None
    process: subprocess.Popen | None = None
    root: psutil.Process | None = None  # the child, identified by pid and start time (its pid may be reused)
    started: float = 0.0
    elapsed: float = 0.0
    stopped: str | None = None  # the limit the grader stopped it at: "time", "memory" or "disk"
    start_error: str | None = None  # why it could not be started (then it never ran)
    seen: dict = field(default_factory=dict)  # pid -> psutil.Process of every process seen in the job

    @property
    def killed(self) -> bool:
        """Stopped at its wall-time limit."""
        return self.stopped == "time"

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    def stderr_tail(self, size: int = 1500) -> str:
        path = self.log_dir / "stderr.txt"
        return path.read_bytes()[-size:].decode("utf-8", errors="replace").strip() if path.is_file() else ""


def limit_resources(memory_mb: int, file_mb: int, allow_processes: bool):
    """A ``preexec_fn`` that sets the child's resource limits."""
    memory, size = memory_mb << 20, file_mb << 20

    def apply():
        os.umask(0o077)  # what a job writes (nbgrader's gradebook, logs, graded notebooks) is private to its uid
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if not allow_processes and os.geteuid() != 0:
            resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))

    return apply


def environment(home: Path) -> dict:
    """A scrubbed environment: no PYTHONPATH, tokens or proxies; one BLAS thread; HOME in the job's folder."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.defpath]),
        "HOME": str(home), "TMPDIR": str(home), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        # A course configuration that fails to load stops nbgrader (traitlets would only log it and grade with
        # stock settings: no executor apart, no feedback filters).
        "TRAITLETS_APPLICATION_RAISE_CONFIG_FILE_ERROR": "1",
    }


def _start(job: Job) -> tuple:
    job.log_dir.mkdir(parents=True, exist_ok=True)
    home = job.log_dir / "home"
    env = {**environment(home), **job.env}
    if job.uid is not None:
        os.chown(home, job.uid, job.uid)
    job.started = time.monotonic()
    if job.spawner is not None:  # the spawned process opens its log files itself
        files = ()
        job.process = job.spawner(job, env, job.log_dir / "stdout.txt", job.log_dir / "stderr.txt")
    else:
        files = tuple(os.fdopen(os.open(job.log_dir / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW,
                                        0o600), "ab")  # what a student's code printed is private to the grader
                      for name in ("stdout.txt", "stderr.txt"))
        try:
            job.process = subprocess.Popen(
                job.command, cwd=job.cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=files[0], stderr=files[1], start_new_session=True,
                preexec_fn=limit_resources(job.memory_mb, job.file_mb, job.allow_processes),
            )
        except BaseException:
            for file in files:
                file.close()
            raise
    try:
        job.root = psutil.Process(job.process.pid)
    except psutil.Error:  # already gone
        job.root = None
    return files


def _job_processes(job: Job, table: dict) -> list[psutil.Process]:
    """The job's processes now (``table``: pid -> (process, ppid, uid, session)): its child's descendants, the
    processes of its session (orphans too) and of its confined uid."""
    found = {pid for pid, (_, _, uid, _) in table.items() if job.uid is not None and uid == job.uid}
    entry = table.get(job.process.pid)
    if job.root is None or (entry is not None and entry[0] != job.root):  # its pid now names another process
        return [table[pid][0] for pid in found]
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    stack = [job.process.pid]
    while stack:
        pid = stack.pop()
        if pid in table and pid not in found:
            found.add(pid)
            stack.extend(children.get(pid, []))
    found |= {pid for pid, (_, _, _, session) in table.items() if session == job.process.pid}
    return [table[pid][0] for pid in found]


def _process_table() -> dict:
    table = {}
    for process in psutil.process_iter(["ppid", "uids"]):
        uids = process.info["uids"]
        try:
            session = os.getsid(process.pid)
        except OSError:
            continue
        table[process.pid] = (process, process.info["ppid"], uids.real if uids else None, session)
    return table


def _watch(running: list, checks: int) -> None:
    """Stop the jobs past their memory limit (all their processes together) or, every 4th check, their disk limit."""
    table = _process_table()
    for job, _ in running:
        if job.stopped or job.process.poll() is not None:
            continue
        processes = _job_processes(job, table)
        job.seen.update({p.pid: p for p in processes})
        if isolation.memory_bytes(processes) > job.memory_mb << 20:
            _stop(job, "memory")
        elif job.disk_mb and checks % 4 == 0 and isolation.folder_bytes(job.disk_folders) > job.disk_mb << 20:
            _stop(job, "disk")


def _stop(job: Job, why: str) -> None:
    job.stopped = why
    _kill_group(job.process)
    job.process.wait()


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _end(job: Job, rounds: int = 5) -> None:
    """Kill whatever the job left running: its process group, session and descendants, every process seen
    in it, its uid's processes; again while new ones appear (a fork bomb forks while it is killed)."""
    _kill_group(job.process)
    for _ in range(rounds):
        alive = [p for p in {**job.seen, **{p.pid: p for p in _job_processes(job, _process_table())}}.values()
                 if p.pid != job.process.pid and p.is_running()]
        if not alive:
            break
        for process in alive:
            try:
                process.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=1)
    if job.uid is not None:
        isolation.kill_user(job.uid)
        isolation.remove_user_files(job.uid)


def run_jobs(jobs: list[Job], parallel: int, on_done: Callable[[Job], Job | None],
             before_start: Callable[[Job], None] | None = None) -> None:
    """Run ``jobs``, at most ``parallel`` at once; ``before_start(job)`` just before each starts,
    ``on_done(job)`` as each ends (both in this thread). A job that ``on_done`` returns starts
    before the rest of the queue. A job that ``before_start`` or starting its process failed for
    never runs: it gets ``start_error`` and goes to ``on_done`` like the others.

    When jobs end, the next ones start first and ``on_done`` runs while they do, so the
    parent's grading overlaps the children's work instead of leaving a core idle.
    """
    queue, running, checks, last_watch = list(jobs), [], 0, 0.0

    unstarted = []

    def start_queued():
        while queue and len(running) < parallel:
            job = queue.pop(0)
            try:
                if before_start:
                    before_start(job)
                running.append((job, _start(job)))
            except Exception as error:  # this job's own trouble (its files, its process): the others go on
                job.start_error = f"{type(error).__name__}: {error}"
                if job.process is not None:
                    _end(job)
                unstarted.append(job)

    while queue or running or unstarted:
        start_queued()
        if time.monotonic() - last_watch >= WATCH_SECONDS:
            _watch(running, checks)
            checks, last_watch = checks + 1, time.monotonic()
        ended = []
        for entry in list(running):
            job, files = entry
            if job.process.poll() is None:
                if time.monotonic() - job.started <= job.wall_s:
                    continue
                _stop(job, "time")
            _end(job)
            job.elapsed = time.monotonic() - job.started
            for file in files:
                file.close()
            running.remove(entry)
            ended.append(job)
        start_queued()  # into the slots just freed, before grading what ended
        ended += unstarted
        unstarted.clear()
        for job in ended:
            follow_up = on_done(job)
            if follow_up is not None:
                queue.insert(0, follow_up)
        if running and not ended:
            time.sleep(POLL_SECONDS)
