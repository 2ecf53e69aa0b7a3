"""``python -m coursetools.samples ASSIGNMENT DIR``: write the synthetic submissions of an assignment."""
import argparse
import sys
from pathlib import Path

from coursetools.samples import write_samples

parser = argparse.ArgumentParser(prog="python -m coursetools.samples", description=__doc__)
parser.add_argument("assignment")
parser.add_argument("dest", type=Path)
args = parser.parse_args()
for sample in write_samples(args.assignment, args.dest):
    print(f"{sample.name}: expected {sample.expected}")
sys.exit(0)
