"""``cs7150 release ASSIGNMENT [--out DIR]``: build the student version of an assignment.

Writes the nbgrader-generated notebooks, the ``cs7150/`` package with every
solution region replaced by a ``NotImplementedError`` stub, and the
assignment's data into ``DIR`` (default ``assignments/release/ASSIGNMENT/``),
replacing any previous release there in one rename.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import config, markers, release


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``release`` subcommand's arguments to ``parser``."""
    parser.add_argument("assignment", help=f"the assignment to release ({', '.join(config.available()) or 'none configured'})")
    parser.add_argument("--out", metavar="DIR", type=Path, default=None,
                        help="folder to write (default: assignments/release/ASSIGNMENT/)")


def run(args: argparse.Namespace) -> int:
    """Build the release; 0 on success, 1 with the reason on stderr otherwise."""
    try:
        out = release.release(args.assignment, args.out)
    except (config.ConfigError, markers.MarkerError, release.ReleaseError) as error:
        print(f"cs7150 release: {error}", file=sys.stderr)
        return 1
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    print(f"released {args.assignment} to {out} ({len(files)} files)")
    for rel in files:
        if not rel.startswith(config.PACKAGE_NAME + "/"):
            print(f"  {rel}")
    print(f"  {config.PACKAGE_NAME}/ (every solution region stubbed)")
    return 0
