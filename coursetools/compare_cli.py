"""``cs7150 compare``: train the baselines, LeNet-5 and its variants on the same budget; one table.

Rows follow ``cs7150.models.MODELS``: the baselines first (chance, the linear
classifier), then LeNet-5, then each variant, with its held-out accuracy
relative to LeNet-5's.
"""
from __future__ import annotations

import argparse
import sys

from cs7150.models import MODELS, build_model
from cs7150.train import fit
from cs7150.tables import format_table
from coursetools.train_cli import ALIGN, HEADERS, add_training_arguments, prepare, result_row

COMPARED = tuple(name for name in MODELS if name != "numpy-lenet5")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``compare``'s options (those of ``train`` but ``--model`` and ``--out``) to ``parser``."""
    add_training_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Train every model of ``COMPARED`` with the same options and print one table; 2 on a usage error."""
    try:
        device, config, train_set, test_set = prepare(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"cs7150 compare: error: {err}", file=sys.stderr)
        return 2
    results = {}
    for name in COMPARED:
        model = build_model(name, seed=args.seed)
        history = fit(model, train_set, test_set, config, device, desc=name)
        results[name] = (result_row(name, model, history), history[-1]["test_acc"])
    reference = results["lenet5"][1]
    rows = [(*row, f"{100 * (acc - reference):+.2f}") for row, acc in results.values()]
    print(f"\n{len(COMPARED)} models on {device}, {config.epochs} epoch(s) each, {len(train_set[1]):,} training / "
          f"{len(test_set[1]):,} held-out images")
    print(format_table((*HEADERS, "vs lenet5 (points)"), rows, ALIGN + "r"))
    return 0
