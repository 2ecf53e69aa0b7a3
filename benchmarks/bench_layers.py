"""Forward + backward time of LeNet-5's layers: naive loops vs the fast NumPy layers vs PyTorch (CPU).

Prints one row per (layer, dtype) with the ratios fast/torch and naive/fast,
then the course's speed targets and whether each was met:

- fast conv within 1.5x PyTorch float32, and faster than PyTorch float64
- fast conv at least 20x faster than the naive loops
- fast max/avg pools within 2x PyTorch

The naive loops run on a smaller batch (--naive-batch) and are scaled
linearly to --batch; the table's column title says so.

    python benchmarks/bench_layers.py                     # batch 128, float32 and float64
    python benchmarks/bench_layers.py --threads 1 --json bench.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's cs7150


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128, help="batch size (default 128, the lecture's)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement and round, median kept (default 5)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating blocks of fast and PyTorch passes, median over all (default 3)")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    parser.add_argument("--naive-batch", type=int, default=4, help="batch the naive loops run on (default 4)")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive loops")
    parser.add_argument("--layers", nargs="+", help="time only these layers (e.g. conv1 'pool1 max')")
    parser.add_argument("--threads", type=int,
                        help="threads for NumPy's BLAS and PyTorch (default: each library's own default)")
    parser.add_argument("--fresh-memory", action="store_true",
                        help="leave malloc's defaults (see coursetools.timing.keep_freed_memory)")
    parser.add_argument("--json", type=Path, help="also write the rows and target results to this JSON file")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads is not None:  # before NumPy and PyTorch start their thread pools
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[variable] = str(args.threads)
    import numpy as np
    import torch

    from coursetools.timing import check_targets, format_targets, format_timings, keep_freed_memory, layer_timings

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    kept = False if args.fresh_memory else keep_freed_memory()  # before any layer allocates
    config = {
        "keeps_freed_memory": kept,
        "batch": args.batch, "repeats": args.repeats, "rounds": args.rounds, "dtypes": args.dtypes,
        "naive_batch": None if args.no_naive else min(args.naive_batch, args.batch),
        "torch_threads": torch.get_num_threads(), "threads_option": args.threads,
        "numpy": np.__version__, "torch": torch.__version__, "python": platform.python_version(),
        "machine": platform.machine(), "cpu_count": os.cpu_count(),
    }
    print(f"LeNet-5 layers, forward + backward, batch {args.batch}, median of {args.rounds} x {args.repeats} "
          f"(numpy {np.__version__}, torch {torch.__version__}, torch threads: {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs)")
    rows = layer_timings(batch=args.batch, repeats=args.repeats, dtypes=args.dtypes, naive=not args.no_naive,
                         naive_batch=args.naive_batch, layers=args.layers, progress=True, rounds=args.rounds)
    print(format_timings(rows))
    results = check_targets(rows)
    print()
    print(format_targets(results))
    print(f"\n{sum(r['met'] for r in results)} of {len(results)} target checks met")
    if args.json is not None:
        args.json.write_text(json.dumps({"config": config, "rows": rows, "targets": results}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
