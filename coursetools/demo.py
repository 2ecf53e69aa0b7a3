"""``cs7150 demo``: the lecture's worked numbers, LeNet-5's layer table, a short timing table,
and the instructor's cycle (release, autograde, grade table) on synthetic students.

Every number printed is computed by ``cs7150.shapes`` or measured by
``coursetools.timing``; nothing is typed in. The default timing settings finish
in well under a minute on a laptop.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from cs7150.shapes import LENET5, conv_macs, conv_output_size, conv_params, receptive_field, summarize


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options to ``parser``."""
    parser.add_argument("--batch", type=int, default=32, help="batch size of the timing table (default 32)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement, median kept (default 3)")
    parser.add_argument("--naive-batch", type=int, default=1,
                        help="batch the naive loops run on, scaled to --batch (default 1)")
    parser.add_argument("--no-timing", action="store_true", help="skip the timing table")
    parser.add_argument("--no-grading", action="store_true",
                        help="skip the instructor's cycle (release, autograde the synthetic students)")
    parser.add_argument("--out", type=Path, default=Path("out") / "demo",
                        help="folder for the release, the submissions and the grades (default out/demo)")


def _heading(title: str) -> None:
    print(f"\n{title}\n{'=' * len(title)}")


def print_output_sizes() -> None:
    """The lecture's output-size examples: a 7x7 input under a 3x3 filter, and "same" padding."""
    _heading("Output size: floor((W - K + 2P) / S) + 1")
    for size, kernel, pad, stride in ((7, 3, 0, 1), (7, 3, 0, 2), (7, 3, 1, 1), (7, 3, 0, 3)):
        out = conv_output_size(size, kernel, pad, stride)
        line = f"W={size}, K={kernel}, P={pad}, S={stride}  ->  {out} x {out}"
        remainder = (size - kernel + 2 * pad) % stride
        if remainder:
            exact = (size - kernel + 2 * pad) / stride + 1
            line += f"   ((W - K + 2P) / S + 1 = {exact:.2f}: does not fit evenly, floored)"
        print(line)
    same = "; ".join(f"K={k}, P={(k - 1) // 2} -> {conv_output_size(32, k, (k - 1) // 2)}" for k in (3, 5, 7))
    print(f'"same" padding P = (K - 1) / 2 on W=32:  {same}')


def print_counts() -> None:
    """Ten 5x5 filters on a 3 x 32 x 32 input with pad 2: output size, parameters, multiply-adds."""
    c_in, size, c_out, kernel, pad = 3, 32, 10, 5, 2
    _heading(f"Input {c_in} x {size} x {size}, {c_out} filters {kernel}x{kernel}, P={pad}, S=1")
    out = conv_output_size(size, kernel, pad)
    print(f"output:        {c_out} x {out} x {out}")
    print(f"parameters:    {c_out} x ({c_in} x {kernel} x {kernel}) + {c_out} = {conv_params(c_in, c_out, kernel):,}")
    macs = conv_macs(c_in, c_out, kernel, out)
    print(f"multiply-adds: {c_out} x {out} x {out} x ({c_in} x {kernel} x {kernel}) = {macs:,}")


def print_receptive_fields() -> None:
    """Receptive fields of stacked 3x3 convolutions and of LeNet-5's last pooling layer."""
    _heading("Receptive field: 1 + L(K - 1) for L stacked KxK convolutions, stride 1")
    for kernel in (3, 5):
        fields = ", ".join(f"L={depth}: {receptive_field([(kernel, 1, 1)] * depth)}" for depth in range(1, 6))
        print(f"K={kernel}:  {fields}")
    field = receptive_field(LENET5[:6])
    print(f"LeNet-5, one unit after pool2: {field} x {field} pixels of the 28 x 28 digit")


def run(args) -> int:
    """Print the worked numbers, the LeNet-5 table, the timing table and run the instructor's cycle.

    ``--no-timing`` and ``--no-grading`` skip the last two.
    """
    print_output_sizes()
    print_counts()
    print_receptive_fields()
    _heading("LeNet-5 on a 1 x 28 x 28 digit (MACs: multiply-adds per sample)")
    summarize(LENET5, (1, 28, 28))
    if not args.no_timing:
        from coursetools.timing import format_timings, layer_timings

        _heading(f"Forward + backward time, batch {args.batch}, median of {args.repeats}")
        rows = layer_timings(batch=args.batch, repeats=args.repeats, naive_batch=args.naive_batch)
        print(format_timings(rows))
        print(f"naive loops ran on batch {rows[0]['naive_batch']} and are scaled linearly to batch {args.batch}; "
              "`python benchmarks/bench_layers.py` runs the full comparison")
    if not args.no_grading:
        from coursetools.cycle import run_cycle

        _heading("The instructor's cycle on assignment 1's synthetic students")
        run_cycle("assignment1", args.out)
    return 0
