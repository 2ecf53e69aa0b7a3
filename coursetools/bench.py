"""``cs7150 bench [--quick] [--only GROUPS] [--json PATH] [--csv PATH] [--compare OLD.json] [--fresh-memory]``.

Runs the benchmarks of ``benchmarks/`` and prints one table, one row per
measurement, each with its figures, the reference it is compared with, the
ratio to it and, where the course sets one, the target and PASS/MISS:

- ``conv``, ``pool``: LeNet-5's layers (batch 128) and the wider
  ``WIDE_CONV`` (64 -> 128 channels, 3x3, pad 1, 32x32, batch 32), naive
  (scaled from a small batch), fast and PyTorch CPU, float32 and float64,
  forward and backward apart and summed (``coursetools.timing.layer_timings``);
  achieved GFLOP/s (2 FLOPs per multiply-add forward, twice that backward)
  next to NumPy's square matrix product in the same dtype, the machine's
  limit (``matmul`` rows, measured whenever conv or pool runs).
- ``lenet``: PyTorch LeNet-5 trained on the MNIST subset (time to 98%
  held-out) and the NumPy twin's epoch against PyTorch's
  (``benchmarks/bench_lenet.py``).
- ``autograde``: seconds per submission and submissions per minute with
  ``--jobs 1`` and ``--jobs 2`` (``benchmarks/bench_autograde.py``).
- ``notebooks``: honest submissions graded whole, package and notebooks
  (``--notebooks``), with ``--jobs 2``: seconds per submission against 4 s
  (``benchmarks/bench_autograde.py --notebooks``).
- ``gpu``: LeNet-5 to 99% on full MNIST when ``torch.cuda.is_available()``,
  otherwise a row saying "no GPU" (``benchmarks/bench_lenet.py``).

All pairs compared are measured in the same run, each library in its own
blocks, medians after a warm-up; the process keeps freed memory for reuse
(``coursetools.timing.keep_freed_memory``) unless ``--fresh-memory``. ``--quick``
uses tiny sizes and single repeats (seconds; for tests), so its PASS/MISS
say nothing about the targets.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import datetime
import importlib.util
import io
import json
import os
import platform
import sys
from pathlib import Path

GROUPS = ("conv", "pool", "lenet", "autograde", "notebooks", "gpu")
BENCHMARKS_DIR = Path(__file__).resolve().parents[1] / "benchmarks"
# Every row of the table, JSON and CSV has these keys (None where a figure does not apply); seconds unless named.
FIELDS = ("id", "group", "case", "impl", "dtype", "input", "fwd_s", "bwd_s", "total_s", "gflops", "limit_gflops",
          "rate", "rate_unit", "accuracy", "reference", "ratio", "target", "result", "note")


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How big and how often each benchmark runs (``FULL`` or ``QUICK``)."""

    batch: int  # LeNet-5 layers
    naive_batch: int  # naive loops, scaled to batch
    wide_batch: int  # WIDE_CONV
    wide_naive_batch: int | None  # None: no naive loops for WIDE_CONV
    repeats: int
    rounds: int  # alternating blocks of fast and PyTorch layer passes (coursetools.timing.block_median_times)
    matmul_size: int
    lenet_argv: tuple[str, ...]  # options of benchmarks/bench_lenet.py
    lenet_images: tuple[int, int] | None  # (train, held-out) digits used; None: the whole subset
    copies: int  # reference submissions graded
    mistakes: tuple[str, ...] | None  # mistake samples graded; None: bench_autograde's default
    autograde_repeats: int  # whole autograde runs per --jobs value
    notebook_copies: int  # honest submissions (package and notebooks) graded with --notebooks --jobs 2


FULL = Sizes(batch=128, naive_batch=4, wide_batch=32, wide_naive_batch=1, repeats=5, rounds=3,
             matmul_size=1024, lenet_argv=(), lenet_images=None, copies=16, mistakes=None, autograde_repeats=3,
             notebook_copies=4)
QUICK = Sizes(batch=8, naive_batch=1, wide_batch=2, wide_naive_batch=None, repeats=1, rounds=1,
              matmul_size=512, lenet_argv=("--epochs", "1", "--twin-images", "64", "--twin-repeats", "1", "--gpu-epochs", "1"),
              lenet_images=(512, 500), copies=1, mistakes=("bias_missing",), autograde_repeats=1,
              notebook_copies=1)


def load_benchmark(name: str):
    """Import ``benchmarks/<name>.py`` of this checkout as a module (benchmarks/ is not a package).

    Raises:
        FileNotFoundError: the file does not exist (e.g. an install without the checkout).
    """
    path = BENCHMARKS_DIR / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; `cs7150 bench` runs from a checkout of the repository")
    module_name = f"cs7150_benchmarks.{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


def _row(group: str, case: str, impl: str, dtype: str | None = None, **figures) -> dict:
    """One table row with every key of ``FIELDS``; ``id`` names it uniquely for ``--compare``."""
    unknown = set(figures) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown row fields {sorted(unknown)}; expected some of {FIELDS}")
    row = dict.fromkeys(FIELDS)
    row.update(figures, group=group, case=case, impl=impl, dtype=dtype,
               id="/".join(part for part in (group, case, impl, dtype) if part))
    return row


def _verdict(met: bool) -> str:
    return "PASS" if met else "MISS"


def machine_info() -> dict:
    """CPU count and model, NumPy's BLAS, library versions, thread counts, load average."""
    import numpy as np
    import torch

    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                 platform.processor() or "unknown")
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": model, "machine": platform.machine(), "python": platform.python_version(),
        "numpy": np.__version__, "numpy_blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def matmul_rows(sizes: Sizes) -> tuple[list[dict], dict]:
    """Rows of NumPy's square matrix product per dtype, and {dtype: GFLOP/s}, the limit of the layer rows."""
    from coursetools.timing import matmul_gflops

    rows, limits = [], {}
    for dtype in ("float32", "float64"):
        result = matmul_gflops(dtype, sizes.matmul_size, sizes.repeats)
        limits[dtype] = result["gflops"]
        n = result["size"]
        rows.append(_row("matmul", f"{n}x{n} @ {n}x{n}", "numpy", dtype, input=f"{n} x {n}", total_s=result["seconds"],
                         gflops=result["gflops"], limit_gflops=result["gflops"], note="the limit (BLAS)"))
    return rows, limits


def _timing_rows(timings: list[dict], results: list[dict], limits: dict) -> list[dict]:
    """Rows per implementation from ``layer_timings`` rows and their ``check_targets`` results."""
    by_ratio = {(r["layer"], r["dtype"], r["ratio"]): r for r in results}
    rows = []
    for timing in timings:
        group = "conv" if timing["kind"] == "conv" else "pool"
        for impl, reference, ratio_key in (("naive", "fast", "naive_over_fast"), ("fast", "torch", "fast_over_torch"),
                                           ("torch", None, None)):
            total = timing[f"{impl}_s"]
            if total is None:
                continue
            target = by_ratio.get((timing["layer"], timing["dtype"], ratio_key))
            rows.append(_row(
                group, timing["layer"], impl, timing["dtype"], input=timing["input"], fwd_s=timing[f"{impl}_fwd_s"],
                bwd_s=timing[f"{impl}_bwd_s"], total_s=total,
                gflops=None if timing["flops"] is None else 3 * timing["flops"] / total / 1e9,  # backward = 2x forward
                limit_gflops=limits.get(timing["dtype"]), reference=reference,
                ratio=timing[ratio_key] if ratio_key else None,
                target=None if target is None else f"{target['bound']}x",
                result=None if target is None else _verdict(target["met"]),
                note=f"scaled from batch {timing['naive_batch']}" if impl == "naive" else None,
            ))
    return rows


def layer_rows(groups, sizes: Sizes, limits: dict) -> list[dict]:
    """Conv and/or pool rows: LeNet-5's layers at ``sizes.batch`` (with targets), conv also ``WIDE_CONV``."""
    from coursetools.timing import LENET5_LAYERS, WIDE_CONV, check_targets, layer_timings

    kinds = {"conv"} if "conv" in groups else set()
    kinds |= {"max", "avg"} if "pool" in groups else set()
    names = [spec[0] for spec in LENET5_LAYERS if spec[1] in kinds]
    timings = layer_timings(batch=sizes.batch, repeats=sizes.repeats, naive_batch=sizes.naive_batch, layers=names,
                            rounds=sizes.rounds)
    rows = _timing_rows(timings, check_targets(timings), limits)  # the targets hold at LeNet-5's shapes
    if "conv" in groups:
        wide = layer_timings(batch=sizes.wide_batch, repeats=sizes.repeats, naive=sizes.wide_naive_batch is not None,
                             naive_batch=sizes.wide_naive_batch or 1, layers=[WIDE_CONV[0]], rounds=sizes.rounds)
        rows += _timing_rows(wide, [], limits)
    return rows


def _lenet_sets(sizes: Sizes):
    from cs7150.data import load_mnist

    (x, y), (x_test, y_test) = load_mnist("train"), load_mnist("test")
    if sizes.lenet_images is None:
        return (x, y), (x_test, y_test)
    n, n_test = sizes.lenet_images
    return (x[:n], y[:n]), (x_test[:n_test], y_test[:n_test])


def lenet_rows(sizes: Sizes, logs: dict) -> list[dict]:
    """PyTorch CPU training to 98% held-out, and the NumPy twin's epoch against PyTorch's."""
    bench_lenet = load_benchmark("bench_lenet")
    args = bench_lenet.parse_args(list(sizes.lenet_argv))
    train_set, test_set = _lenet_sets(sizes)
    n = len(train_set[1])
    with contextlib.redirect_stdout(io.StringIO()) as text:
        cpu = bench_lenet.bench_cpu(args, train_set, test_set)
        twin = bench_lenet.bench_twin(args, train_set, test_set)
    logs["lenet"] = text.getvalue()
    accuracy, seconds = bench_lenet.CPU_TARGET
    epochs, reached = cpu["epochs"], cpu["target"]
    time_s = reached["seconds"] if reached["epoch"] else epochs[-1]["cumulative_seconds"]
    case = f"{n:,} digits"
    rows = [_row("lenet", f"{100 * accuracy:g}% held-out, {case}", "torch", "float32", input=f"{n} x 1 x 28 x 28",
                 total_s=time_s, rate=n * len(epochs) / epochs[-1]["cumulative_seconds"], rate_unit="images/s",
                 accuracy=max(r["test_acc"] for r in epochs), reference=f"{seconds:g} s", ratio=time_s / seconds,
                 target=f">= {100 * accuracy:g}% in <= {seconds:g} s", result=_verdict(reached["met"]),
                 note=(f"reached at epoch {reached['epoch']} of {len(epochs)}" if reached["epoch"]
                       else f"not reached in {len(epochs)} epochs"))]
    epoch = twin["epoch_seconds"]
    note = f"median of {len(twin['raw_seconds']['torch'])} epochs of {twin['images_timed']:,}, scaled"
    rows.append(_row("lenet", f"epoch, {case}", "torch", "float32", total_s=epoch["torch"], rate=n / epoch["torch"],
                     rate_unit="images/s", note=note))
    rows.append(_row("lenet", f"epoch, {case}", "numpy", "float32", total_s=epoch["numpy"], rate=n / epoch["numpy"],
                     rate_unit="images/s", reference="torch", ratio=twin["ratio"],
                     target=f"<= {bench_lenet.TWIN_TARGET:g}x", result=_verdict(twin["met"]), note=note))
    return rows


def gpu_rows(sizes: Sizes, logs: dict) -> list[dict]:
    """LeNet-5 on full MNIST on the GPU to 99%, or one row saying why it did not run."""
    bench_lenet = load_benchmark("bench_lenet")
    with contextlib.redirect_stdout(io.StringIO()) as text:
        gpu = bench_lenet.bench_gpu(bench_lenet.parse_args(list(sizes.lenet_argv)))
    logs["gpu"] = text.getvalue()
    accuracy, seconds = bench_lenet.GPU_TARGET
    case = f"{100 * accuracy:g}% test, full MNIST"
    if gpu["status"] != "ran":
        return [_row("gpu", case, "torch", note=gpu["status"] + (f" ({gpu['gpu']})" if "gpu" in gpu else ""))]
    reached = gpu["target"]
    time_s = reached["seconds"] if reached["epoch"] else gpu["seconds"]
    return [_row("gpu", case, "torch", "bf16", total_s=time_s, rate=gpu["images_per_second"], rate_unit="images/s",
                 accuracy=max(r["test_acc"] for r in gpu["epochs"]), reference=f"{seconds:g} s",
                 ratio=time_s / seconds, target=f">= {100 * accuracy:g}% in <= {seconds:g} s",
                 result=_verdict(reached["met"]), note=gpu["gpu"])]


def autograde_rows(sizes: Sizes, logs: dict) -> list[dict]:
    """Seconds per submission and submissions per minute with --jobs 1 and --jobs 2."""
    bench_autograde = load_benchmark("bench_autograde")
    mistakes = bench_autograde.MISTAKES if sizes.mistakes is None else sizes.mistakes
    result = bench_autograde.bench_autograde(sizes.copies, mistakes, jobs=(1, 2), repeats=sizes.autograde_repeats)
    logs["autograde"] = bench_autograde.format_runs(result)
    budget = bench_autograde.PER_SUBMISSION_TARGET
    case = f"{result['submissions']} submissions"
    rows = []
    for run in result["runs"]:
        if run["jobs"] == 1:  # against the time budget of one submission
            target = result["targets"]["per_submission"]
            compared = {"reference": f"{budget:g} s", "ratio": run["seconds_per_submission"] / budget,
                        "target": f"{target['bound']} per submission"}
        else:  # against the throughput of --jobs 1
            target = result["targets"]["scaling"]
            compared = {"reference": "jobs 1", "ratio": run["speedup"], "target": f"{target['bound']} throughput"}
        rows.append(_row("autograde", case, f"jobs {run['jobs']}", total_s=run["seconds_per_submission"],
                         rate=run["per_minute"], rate_unit="submissions/min", **compared,
                         result=_verdict(target["met"] and run["scores_ok"]),
                         note=f"run {run['seconds']:.1f} s, child {run['child_seconds']:.2f} s"
                              + ("" if run["scores_ok"] else ", WRONG SCORES")))
    return rows


def notebook_rows(sizes: Sizes, logs: dict) -> list[dict]:
    """Seconds per submission, package and notebooks together, with --jobs 2, against the 4 s target."""
    bench_autograde = load_benchmark("bench_autograde")
    result = bench_autograde.bench_autograde(sizes.notebook_copies, (), jobs=(2,), notebooks=True)
    logs["notebooks"] = bench_autograde.format_runs(result)
    run, target = result["runs"][0], result["targets"]["notebooks"]
    budget = bench_autograde.NOTEBOOK_TARGET
    return [_row("notebooks", f"{result['submissions']} honest submissions, package + notebooks", "jobs 2",
                 total_s=run["seconds_per_submission"], rate=run["per_minute"], rate_unit="submissions/min",
                 reference=f"{budget:g} s", ratio=run["seconds_per_submission"] / budget,
                 target=f"{target['bound']} per submission", result=_verdict(target["met"] and run["scores_ok"]),
                 note=f"run {run['seconds']:.1f} s" + ("" if run["scores_ok"] else ", WRONG SCORES"))]


def run_bench(groups=GROUPS, quick: bool = False, log=None, fresh_memory: bool = False) -> dict:
    """Run the chosen benchmark groups and collect their rows.

    Args:
        groups: names from ``GROUPS``.
        quick: tiny sizes and single repeats (``QUICK``) instead of ``FULL``.
        log: callable taking a status line (default: print to stderr).
        fresh_memory: leave the C library's malloc as it is; by default this
            process keeps freed memory for reuse (``coursetools.timing.keep_freed_memory``,
            for NumPy and PyTorch alike), so that page faults on fresh
            allocations do not dominate memory-bound layers.
    Returns:
        dict with ``config`` (date, groups, sizes, ``machine_info()``, load
        average at the end, ``keeps_freed_memory``), ``rows``
        (list of dicts with the keys of ``FIELDS``) and ``logs`` (the
        benchmarks' own printed tables, by group).
    Raises:
        ValueError: an unknown group.
    """
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise ValueError(f"unknown benchmark groups {unknown}; choose from {list(GROUPS)}")
    from coursetools.timing import keep_freed_memory

    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    sizes = QUICK if quick else FULL
    kept = False if fresh_memory else keep_freed_memory()  # before any benchmark allocates
    config = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "quick": quick, "groups": [g for g in GROUPS if g in groups], "sizes": dataclasses.asdict(sizes),
              "keeps_freed_memory": kept, **machine_info()}
    rows, logs = [], {}
    if {"conv", "pool"} & set(groups):
        log("bench: matmul limit")
        matmul, limits = matmul_rows(sizes)
        log("bench: " + " and ".join(g for g in ("conv", "pool") if g in groups) + " layers")
        rows += matmul + layer_rows(groups, sizes, limits)
    for group, make_rows in (("lenet", lenet_rows), ("autograde", autograde_rows), ("notebooks", notebook_rows),
                             ("gpu", gpu_rows)):
        if group in groups:
            log(f"bench: {group}")
            rows += make_rows(sizes, logs)
    config["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return {"config": config, "rows": rows, "logs": logs}


def _seconds(value) -> str:
    if value is None:
        return "-"
    return f"{value * 1e3:.2f} ms" if value < 1 else f"{value:.2f} s"


def _other(row: dict) -> str:
    """The row's figures beyond time and GFLOP/s: accuracy, rate, note."""
    parts = []
    if row["accuracy"] is not None:
        parts.append(f"{100 * row['accuracy']:.2f}% acc")
    if row["rate"] is not None:
        parts.append(f"{row['rate']:,.0f} {row['rate_unit']}" if row["rate"] >= 100 else
                     f"{row['rate']:.1f} {row['rate_unit']}")
    if row["note"]:
        parts.append(row["note"])
    return "; ".join(parts)


def format_rows(rows: list[dict]) -> str:
    """The rows of ``run_bench`` as one aligned table (no trailing newline)."""
    from cs7150.tables import format_table

    def gflops(row):
        if row["gflops"] is None:
            return "-"
        if row["group"] == "matmul" or not row["limit_gflops"]:
            return f"{row['gflops']:.1f}"
        return f"{row['gflops']:.1f} ({100 * row['gflops'] / row['limit_gflops']:.0f}%)"

    table = [[row["group"], row["case"], row["impl"], row["dtype"] or "-", _seconds(row["fwd_s"]),
              _seconds(row["bwd_s"]), _seconds(row["total_s"]), gflops(row), row["reference"] or "-",
              "-" if row["ratio"] is None else f"{row['ratio']:.2f}x", row["target"] or "-", row["result"] or "-",
              _other(row)] for row in rows]
    headers = ["group", "case", "impl", "dtype", "fwd", "bwd", "total", "GFLOP/s (% matmul)", "vs", "ratio",
               "target", "result", "other"]
    return format_table(headers, table, "llllrrrrlrlll")


def write_json(path: Path, report: dict) -> None:
    Path(path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def write_csv(path: Path, rows: list[dict]) -> None:
    """The rows with the columns of ``FIELDS``; a missing figure is an empty cell."""
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows({key: "" if row[key] is None else row[key] for key in FIELDS} for row in rows)


def compare_rows(new_rows: list[dict], old_rows: list[dict]) -> str:
    """Table of new/old per row ``id``: total seconds and the ratio to the reference (rows in both runs)."""
    from cs7150.tables import format_table

    old_by_id = {row["id"]: row for row in old_rows}

    def quotient(new, old):
        return "-" if new is None or not old else f"{new / old:.2f}x"

    table = []
    for row in new_rows:
        old = old_by_id.get(row["id"])
        if old is None:
            table.append([row["id"], "-", _seconds(row["total_s"]), "new row", "-"])
            continue
        table.append([row["id"], _seconds(old["total_s"]), _seconds(row["total_s"]),
                      quotient(row["total_s"], old["total_s"]), quotient(row["ratio"], old["ratio"])])
    new_ids = {row["id"] for row in new_rows}
    table += [[row["id"], _seconds(row["total_s"]), "-", "not run now", "-"] for row in old_rows
              if row["id"] not in new_ids]
    return format_table(["row", "old total", "new total", "new/old total", "new/old ratio"], table, "lrrrr")


def _groups(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(GROUPS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown groups {unknown or [text]}; choose from {','.join(GROUPS)}")
    return names


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench`` subcommand's options to ``parser``."""
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and single repeats: seconds, for tests; the targets are not judged fairly")
    parser.add_argument("--only", type=_groups, default=list(GROUPS), metavar="GROUPS",
                        help=f"comma-separated groups to run (default: all of {','.join(GROUPS)})")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the rows and the machine's details as JSON")
    parser.add_argument("--csv", type=Path, metavar="PATH", help="write the rows as CSV")
    parser.add_argument("--compare", type=Path, metavar="OLD.json",
                        help="also print new/old per row against an earlier --json file")
    parser.add_argument("--fresh-memory", action="store_true",
                        help="leave malloc's defaults: every large array gets fresh, page-faulting memory "
                             "(by default freed memory is kept for reuse, for NumPy and PyTorch alike)")


def run(args: argparse.Namespace) -> int:
    """Run, print the table, write JSON/CSV, compare. 0 on success, 1 on an unreadable --compare file."""
    old_rows = None
    if args.compare is not None:
        try:
            old_rows = json.loads(args.compare.read_text(encoding="utf-8"))["rows"]
        except (OSError, ValueError, KeyError) as error:
            print(f"cs7150 bench: cannot read rows from {args.compare}: {error}", file=sys.stderr)
            return 1
    report = run_bench(args.only, args.quick, fresh_memory=args.fresh_memory)
    config, rows = report["config"], report["rows"]
    load = (f", load average {config['load_average'][0]:.1f} at start, {config['load_average_end'][0]:.1f} at end"
            if config["load_average"] else "")
    print(f"cs7150 bench{' --quick' if args.quick else ''}, {config['date']}: {config['nproc']} CPUs "
          f"({config['cpu_model']}), numpy {config['numpy']} ({config['numpy_blas']}), torch {config['torch']} "
          f"({config['torch_threads']} threads){load}, "
          f"{'freed memory kept for reuse' if config['keeps_freed_memory'] else 'malloc defaults'}")
    print(format_rows(rows))
    judged = [row for row in rows if row["result"]]
    print(f"\n{sum(row['result'] == 'PASS' for row in judged)} of {len(judged)} targets PASS"
          + (" (--quick: sizes too small to judge the targets)" if args.quick else ""))
    if args.json is not None:
        write_json(args.json, report)
        print(f"wrote {args.json}")
    if args.csv is not None:
        write_csv(args.csv, rows)
        print(f"wrote {args.csv}")
    if old_rows is not None:
        print(f"\nnew / old against {args.compare}")
        print(compare_rows(rows, old_rows))
    return 0
