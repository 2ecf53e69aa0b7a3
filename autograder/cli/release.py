"""``cs7150 release ASSIGNMENT [--out DIR] [--with-reference] [--no-gradebook]``: build the student version.

Writes what the assignment's manifest (``autograder/assignments/ASSIGNMENT.json``)
lists: the nbgrader-generated notebooks, its student files with every solution
region replaced by a ``NotImplementedError`` stub, its helpers and data, a
student README, requirements.txt and build.json, into ``DIR`` (default
``assignments/release/ASSIGNMENT/``), replacing a previous release of the same
assignment there in one rename. A folder holding anything else is refused.
Unless ``--no-gradebook``, nbgrader's ``generate_assignment`` also records the
assignment in the course gradebook (``assignments/gradebook.db``), so that
``nbgrader release_assignment``, ``autograde``, formgrader and
``generate_feedback`` work on this release: use it instead of
``nbgrader generate_assignment``, which would skip or (with ``--force``)
replace the full release by the notebooks alone.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import config
from autograder.release import build, markers


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``release`` subcommand's arguments to ``parser``."""
    parser.add_argument("assignment", help=f"the assignment to release ({', '.join(config.available()) or 'none configured'})")
    parser.add_argument("--out", metavar="DIR", type=Path, default=None,
                        help="folder to write: absent, empty, or a previous release of this assignment "
                             "(default: assignments/release/ASSIGNMENT/)")
    parser.add_argument("--with-reference", action="store_true",
                        help="ship the instructor's reference of the earlier assignments' files this one builds on "
                             "(default: students bring their own)")
    parser.add_argument("--no-gradebook", action="store_true",
                        help="do not record the assignment in the course gradebook (assignments/gradebook.db)")


def run(args: argparse.Namespace) -> int:
    """Build the release; 0 on success, 1 with the reason on stderr otherwise."""
    try:
        gradebook = None if args.no_gradebook else config.COURSE_ROOT / "gradebook.db"
        out = build.release(args.assignment, args.out, with_reference=args.with_reference, gradebook=gradebook)
    except (config.ConfigError, markers.MarkerError, build.ReleaseError) as error:
        print(f"cs7150 release: {error}", file=sys.stderr)
        return 1
    assignment = config.load(args.assignment)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    print(f"released {args.assignment} to {out} ({len(files)} files)"
          + ("" if args.no_gradebook else f"; recorded in the gradebook {config.COURSE_ROOT / 'gradebook.db'}"))
    stubbed = set(assignment.own_files)
    for rel in files:
        note = " (solution regions stubbed)" if rel in stubbed else ""
        if not any(rel.startswith(data + "/") for data in assignment.data):
            print(f"  {rel}{note}")
    for data in assignment.data:
        print(f"  {data}/ (data)")
    for earlier, brought in assignment.builds_on.items():
        how = "the reference, as asked" if args.with_reference else "left out: students bring their own"
        print(f"  from {earlier}: {', '.join(brought)} ({how})")
    return 0
