"""``cs7150 autograde ASSIGNMENT --submissions PATH [--out DIR] [--jobs N] [--student ID] [--shard K/N]``.

Its specification: docs/grader.md, `autograder/cli/autograde.py`.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from autograder import autograde, config
from autograder.output import report, shards
from autograder.sandbox import isolation


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``autograde`` subcommand's arguments to ``parser``."""
    parser.add_argument("assignment", help=f"the assignment to grade ({', '.join(config.available()) or 'none configured'})")
    parser.add_argument("--submissions", metavar="PATH", type=Path, required=True,
                        help="folder with one folder or .zip per student id (or nbgrader's submitted/ folder)")
    parser.add_argument("--out", metavar="DIR", type=Path, default=None,
                        help="output folder (default: assignments/autograded-package/ASSIGNMENT/)")
    parser.add_argument("--jobs", metavar="N", type=int, default=os.cpu_count(),
                        help="submissions graded at the same time (default: the number of CPUs)")
    parser.add_argument("--student", metavar="ID", default=None, help="regrade only this student")
    parser.add_argument("--shard", metavar="K/N", default=None,
                        help="grade only the K-th of N disjoint parts of the class (1 <= K <= N; the part depends only "
                             "on the student ids); combine the parts with `cs7150 merge-grades`")
    limits = autograde.Limits()
    parser.add_argument("--time-limit", metavar="SECONDS", type=float, default=limits.wall_s,
                        help=f"wall time for one submission (default {limits.wall_s:g})")
    parser.add_argument("--case-time-limit", metavar="SECONDS", type=float, default=limits.case_s,
                        help=f"time for one graded call (default {limits.case_s:g})")
    parser.add_argument("--memory-limit", metavar="MB", type=int, default=limits.memory_mb,
                        help=f"memory of a submission: each process's address space, and all its processes "
                             f"together (default {limits.memory_mb})")
    parser.add_argument("--file-size-limit", metavar="MB", type=int, default=limits.file_mb,
                        help=f"largest file a submission may write, its output included (default {limits.file_mb}); "
                             f"all its files together: --disk-limit")
    parser.add_argument("--disk-limit", metavar="MB", type=int, default=limits.disk_mb,
                        help=f"all the files a submission writes in its folders, together (default {limits.disk_mb})")
    parser.add_argument("--process-limit", metavar="N", type=int, default=limits.processes,
                        help=f"processes and threads of a confined submission (default {limits.processes})")
    parser.add_argument("--require-jail", action="store_true",
                        help="refuse to grade unless student code can run in the whole jail (Linux, root, "
                             "namespaces; see docs/security.md)")
    parser.add_argument("--unconfined", action="store_true",
                        help="where student code cannot be confined at all (not root, not Linux), run it "
                             "unconfined instead of refusing (see docs/security.md for what that leaves open)")
    parser.add_argument("--notebooks", action="store_true",
                        help="also grade the notebooks with nbgrader autograde (one extra part per notebook)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.add_argument("--quiet", action=Renamed, new="--no-progress", help=argparse.SUPPRESS)


PROBLEMS = 3  # the exit status when the class was graded but some submissions had problems (2: a usage error)


class Renamed(argparse.Action):
    """An option's former name: a usage error (status 2) that names the option to use instead."""

    def __init__(self, option_strings, dest, new: str, **kwargs):
        super().__init__(option_strings, dest, nargs=0, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} was renamed {self.new} (the name `cs7150 train` and `compare` use too)")


def run(args: argparse.Namespace) -> int:
    """Grade; print a one-line summary per student. 0 when every submission was graded, ``PROBLEMS`` (3) when
    some could not be (fully) graded or were refused (listed on stderr; their feedback says why; every file was
    written), 1 on a configuration or path error; argparse's usage errors are 2."""
    if args.jobs is not None and args.jobs < 1:
        print("cs7150 autograde: --jobs must be at least 1", file=sys.stderr)
        return 1
    if args.require_jail and not isolation.supported():
        print(f"cs7150 autograde: --require-jail: the whole jail is not available here: {isolation.probe().reason}; "
              "see docs/security.md", file=sys.stderr)
        return 1
    try:
        shard = None if args.shard is None else shards.Shard.parse(args.shard)
    except ValueError as error:
        print(f"cs7150 autograde: {error}", file=sys.stderr)
        return 1
    if shard is not None and args.student is not None and not shard.holds(args.student):
        print(f"cs7150 autograde: student {args.student!r} is in shard "
              f"{shards.shard_of(args.student, shard.count)}/{shard.count}, not {shard}", file=sys.stderr)
        return 1
    limits = autograde.Limits(wall_s=args.time_limit, case_s=args.case_time_limit, memory_mb=args.memory_limit,
                              file_mb=args.file_size_limit, disk_mb=args.disk_limit, processes=args.process_limit,
                              unconfined=args.unconfined)
    run = autograde.ClassRun(args.assignment, args.submissions, args.out, jobs=args.jobs, student=args.student,
                             limits=limits, progress=not args.no_progress, notebooks_too=args.notebooks,
                             log=lambda message: print(message, file=sys.stderr), shard=shard)
    try:
        results = autograde.autograde(run)
    except (config.ConfigError, FileNotFoundError, autograde.JailUnavailable, report.ColumnsDiffer) as error:
        print(f"cs7150 autograde: {error}", file=sys.stderr)
        return 1
    for result in results:
        print(f"{result.student_id}: {result.short_score}")
    print(f"wrote {run.out / 'grades.csv'} and {len(results)} feedback folder(s) in {run.out / report.STUDENTS}")
    if run.problems:
        print(f"cs7150 autograde: {len(run.problems)} problem(s); the submissions concerned score 0 for what could not "
              "be graded:", file=sys.stderr)
        for problem in run.problems:
            print(f"  {problem}", file=sys.stderr)
        return PROBLEMS
    return 0
