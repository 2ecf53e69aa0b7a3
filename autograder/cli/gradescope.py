"""``cs7150 gradescope ASSIGNMENT [--out PATH.zip] [--notebooks]``.

Builds the zip to upload as the assignment's Gradescope autograder
(``autograder.gradescope``): ``setup.sh``, ``run_autograder``, the pinned
``requirements.txt``, the grader and the instructor's ``cs7150/`` package
(default ``dist/ASSIGNMENT-gradescope.zip``). ``--notebooks`` also grades the
notebooks with nbgrader on Gradescope. The zip holds the reference solutions
and hidden tests: never share it with students.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import config, gradescope


def default_out(name: str, repo_root: Path = config.REPO_ROOT) -> Path:
    return Path(repo_root) / "dist" / f"{name}-gradescope.zip"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``gradescope`` subcommand's arguments to ``parser``."""
    parser.add_argument("assignment", help=f"the assignment ({', '.join(config.available()) or 'none configured'})")
    parser.add_argument("--out", metavar="PATH.zip", type=Path, default=None,
                        help="where to write the zip (default: dist/ASSIGNMENT-gradescope.zip)")
    parser.add_argument("--notebooks", action="store_true",
                        help="also grade the notebooks with nbgrader on Gradescope (adds the source notebooks)")


def run(args: argparse.Namespace) -> int:
    """Build the zip; print where it is and what to do with it. 0 on success, 1 on a configuration or path error."""
    out = args.out or default_out(args.assignment)
    if out.suffix != ".zip":
        print(f"cs7150 gradescope: --out must name a .zip file, got {out}", file=sys.stderr)
        return 1
    try:
        entries = gradescope.build(args.assignment, out, notebooks_too=args.notebooks)
    except (config.ConfigError, FileNotFoundError) as error:
        print(f"cs7150 gradescope: {error}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({len(entries)} files, {out.stat().st_size / 1024:.0f} KiB)")
    print("upload it as the assignment's autograder on Gradescope (Configure Autograder > Zip file upload);")
    print("it holds the reference solutions and hidden tests: never share it with students")
    return 0
