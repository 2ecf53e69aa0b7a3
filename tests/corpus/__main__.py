"""``PYTHONPATH=tests python -m corpus [--fast] [--table FILE] [--jobs N] [--assignment NAME]``: grade the hostile corpus.

Grades every attack of every corpus (``CORPORA``; ``--assignment``: of that one
only; ``--fast``: only the CI subset) with two honest students: an
assignment's package attacks in one run, its notebook attacks in a second run
with ``--notebooks``, the honest students alone after each. Prints
the Markdown table of what happened (``--table FILE`` also writes it there,
e.g. ``docs/attack-table.md``, as its corpus section). It asserts nothing: ``pytest -m slow
tests/autograder/test_attacks.py`` runs the same corpus and checks every outcome.
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

from corpus import (CORPORA, LIMITS, SECRET_NAME, SECRET_VALUE, attack_table, attacks_for, run_corpus,
                               update_table)

parser = argparse.ArgumentParser(prog="PYTHONPATH=tests python -m corpus", description=__doc__)
parser.add_argument("--fast", action="store_true", help="only the attacks of the CI subset")
parser.add_argument("--table", type=Path, help="also write the Markdown table to this file")
parser.add_argument("--jobs", type=int, default=2, help="submissions graded at the same time (default 2)")
parser.add_argument("--assignment", choices=CORPORA, action="append", help="only this assignment's corpus")
args = parser.parse_args()
os.environ[SECRET_NAME] = SECRET_VALUE  # so that a leak would show
runs = []
with tempfile.TemporaryDirectory(prefix="cs7150-corpus-") as tmp:
    for name in args.assignment or CORPORA:
        attacks = [a for a in attacks_for(name) if a.fast or not args.fast]
        for notebooks_too in (False, True):
            group = [a for a in attacks if a.notebooks == notebooks_too]
            if not group:
                continue
            root = Path(tmp) / name / ("notebooks" if notebooks_too else "package")
            (root / "canary").mkdir(parents=True)
            (root / "canary" / "victim.txt").write_text("canary\n")
            runs.append(run_corpus(group, root, LIMITS, jobs=args.jobs, notebooks_too=notebooks_too, name=name))
command = ("PYTHONPATH=tests python -m corpus" + (" --fast" if args.fast else "") + (f" --table {args.table}" if args.table else "")
           + "".join(f" --assignment {name}" for name in args.assignment or ()))
table = attack_table(runs, command)
print(table)
if args.table:
    update_table(args.table, "corpus", table)
sys.exit(0)
