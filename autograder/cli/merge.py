"""``cs7150 merge-grades OUT1 OUT2 ... --out DIR``: the shards' outputs of one class as one output.

Each ``OUTk`` is the output folder of ``cs7150 autograde ... --shard K/N``.
Writes ``DIR/grades.csv`` (as one run over the whole class writes it),
``DIR/students/<id>/`` for every student and ``DIR/shard.json``; refuses,
listing every reason, shards of different classes, assignments or columns,
a shard given twice or missing, a student in two outputs or in none, and a
``DIR`` that is one of the shards or holds anything but an earlier merge
(``autograder.output.shards``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.output import shards


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``merge-grades`` subcommand's arguments to ``parser``."""
    parser.add_argument("outputs", metavar="OUT", type=Path, nargs="+",
                        help="the output folder of each shard (`cs7150 autograde ... --shard K/N --out OUT`)")
    parser.add_argument("--out", metavar="DIR", type=Path, required=True,
                        help="the merged output folder (new, empty, or an earlier merge's, which is replaced)")


def run(args: argparse.Namespace) -> int:
    """Merge; 0 on success, 1 (every reason on stderr) when the outputs do not make one class."""
    try:
        students = shards.merge(args.outputs, args.out)
    except shards.MergeError as error:
        print("cs7150 merge-grades: refused, nothing written:\n  " + str(error).replace("\n", "\n  "),
              file=sys.stderr)
        return 1
    print(f"wrote {args.out / 'grades.csv'} and {len(students)} student folder(s) from {len(args.outputs)} shard(s)")
    return 0
