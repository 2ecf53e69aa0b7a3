"""One grading of a class: what was asked (its options), where (its folders), within what limits, and who
is told (its log). Every step of ``autograder.autograde`` takes this one object."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from autograder import config
from autograder.results import describe_error
from autograder.output import sanitise
from autograder.output.shards import Shard


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



@dataclass
class ClassRun:
    """A class run: ``autograder.autograde.autograde(ClassRun("assignment1", submissions))``.

    ``out`` defaults to ``assignments/autograded-package/<name>``; ``jobs`` to the machine's cores; with
    ``student`` only that submission is graded (its row of grades.csv replaced in place); with ``shard`` only
    that part of the class. ``problems`` receives one line per refused entry of the submissions folder and per
    submission the grader had trouble with. ``log`` receives every message cleaned of control characters.
    """

    name: str
    submissions: Path
    out: Path | None = None
    jobs: int | None = None
    student: str | None = None
    limits: Limits = field(default_factory=Limits)
    progress: bool = True
    notebooks_too: bool = False
    repo_root: Path = config.REPO_ROOT
    config_dir: Path = config.ASSIGNMENTS_DIR
    log: Callable = print
    problems: list = field(default_factory=list)
    shard: Shard | None = None

    def __post_init__(self):
        self.submissions, self.repo_root, self.config_dir = Path(self.submissions), Path(self.repo_root), Path(self.config_dir)
        self.out = Path(self.out) if self.out else self.course_root / "autograded-package" / self.name
        self.jobs = max(1, self.jobs or os.cpu_count() or 1)
        told = self.log
        self.log = lambda message: told(sanitise.clean_text(message))

    @property
    def course_root(self) -> Path:
        """The nbgrader course of the instructor tree (``<repo_root>/assignments``)."""
        return self.repo_root / "assignments"

    def trouble(self, student_id: str, what: str, error: BaseException) -> str:
        """Log what went wrong for one submission and return it as a reason (``"grading: ValueError: ..."``)."""
        reason = f"{what}: {describe_error(error)}"
        self.log(f"{student_id}: {reason}")
        return reason
