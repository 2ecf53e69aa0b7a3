"""Run graded child processes a few at a time, each limited and killable as a group.

Every child gets its own session (process group), stdout/stderr in files, and
resource limits set by ``preexec_fn`` between fork and exec: ``RLIMIT_AS``
(memory), ``RLIMIT_FSIZE`` (so the output files are capped too),
``RLIMIT_CORE`` = 0 and, for a child that must not start processes, and when
not root (root is exempt), ``RLIMIT_NPROC`` = 0. One thread polls every
child, so ``preexec_fn`` is safe (no other threads) and a hung child is
killed, with everything it started, when its wall time runs out.
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

POLL_SECONDS = 0.02


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
    allow_processes: bool = False  # nbgrader starts a kernel; the package runner may not fork
    process: subprocess.Popen | None = None
    started: float = 0.0
    elapsed: float = 0.0
    killed: bool = False

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
    }


def _start(job: Job) -> tuple:
    job.log_dir.mkdir(parents=True, exist_ok=True)
    stdout, stderr = open(job.log_dir / "stdout.txt", "wb"), open(job.log_dir / "stderr.txt", "wb")
    job.started = time.monotonic()
    job.process = subprocess.Popen(
        job.command, cwd=job.cwd, env=environment(job.log_dir / "home"), stdin=subprocess.DEVNULL,
        stdout=stdout, stderr=stderr, start_new_session=True,
        preexec_fn=limit_resources(job.memory_mb, job.file_mb, job.allow_processes),
    )
    return stdout, stderr


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_jobs(jobs: list[Job], parallel: int, on_done: Callable[[Job], None],
             before_start: Callable[[Job], None] | None = None) -> None:
    """Run ``jobs``, at most ``parallel`` at once; ``before_start(job)`` just before each starts,
    ``on_done(job)`` as each ends (both in this thread)."""
    queue, running = list(jobs), []
    while queue or running:
        while queue and len(running) < parallel:
            job = queue.pop(0)
            if before_start:
                before_start(job)
            running.append((job, _start(job)))
        for entry in list(running):
            job, files = entry
            if job.process.poll() is None:
                if time.monotonic() - job.started <= job.wall_s:
                    continue
                job.killed = True
                _kill_group(job.process)
                job.process.wait()
            _kill_group(job.process)  # whatever the child left running in its group
            job.elapsed = time.monotonic() - job.started
            for file in files:
                file.close()
            running.remove(entry)
            on_done(job)
        if running:
            time.sleep(POLL_SECONDS)
