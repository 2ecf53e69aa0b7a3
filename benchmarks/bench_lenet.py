"""Training LeNet-5: PyTorch on the CPU, the NumPy twin against it, and a GPU on full MNIST.

Three measurements, each with its target:

1. PyTorch LeNet-5 on the CPU with the 8,000-digit subset reaches >= 98.0%
   held-out accuracy (2,000 digits) within 30 s of training. One row per
   epoch: seconds, cumulative seconds, train and held-out accuracy.
2. The NumPy twin's epoch time within 3x PyTorch's on the CPU: both train one
   epoch on the first --twin-images digits with the same batch size, in
   turns, --twin-repeats times; medians are scaled to the 8,000-digit epoch.
3. With ``torch.cuda.is_available()``: LeNet-5 on full MNIST (60,000 digits,
   fetched beforehand with ``cs7150 data mnist --full``) to >= 99.0% on the
   official 10,000-digit test set in <= 3 s of training (data resident on
   the GPU, large batches, one-cycle, bf16 autocast, channels_last), with
   images/s and the GPU's name; otherwise the row says "no GPU".

Timings on a shared machine are noisy: rerun when it is quiet.

    python benchmarks/bench_lenet.py
    python benchmarks/bench_lenet.py --json lenet.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's cs7150

CPU_TARGET = (0.98, 30.0)  # held-out accuracy, seconds of training
TWIN_TARGET = 3.0  # NumPy epoch / PyTorch epoch
GPU_TARGET = (0.99, 3.0)


def parse_args(argv=None) -> argparse.Namespace:
    from cs7150.train import OPTIMIZERS, TrainConfig

    recipe = TrainConfig()  # `cs7150 train`'s defaults are the CPU recipe
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cpu = parser.add_argument_group("CPU recipe (subset; default: `cs7150 train`'s defaults)")
    cpu.add_argument("--epochs", type=int, default=recipe.epochs, help="(default %(default)s)")
    cpu.add_argument("--batch-size", type=int, default=recipe.batch_size, help="(default %(default)s)")
    cpu.add_argument("--optimizer", default=recipe.optimizer, choices=OPTIMIZERS, help="(default %(default)s)")
    cpu.add_argument("--lr", type=float, default=recipe.peak_lr(recipe.optimizer),
                     help="peak one-cycle learning rate (default %(default)s)")
    cpu.add_argument("--seed", type=int, default=recipe.seed, help="(default %(default)s)")
    twin = parser.add_argument_group("NumPy twin vs PyTorch")
    twin.add_argument("--twin-images", type=int, default=1024, help="digits per timed epoch (default %(default)s)")
    twin.add_argument("--twin-repeats", type=int, default=3,
                      help="timed epochs of each, in turns (default %(default)s)")
    twin.add_argument("--skip-twin", action="store_true", help="skip the NumPy twin comparison")
    gpu = parser.add_argument_group("GPU recipe (full MNIST)")
    gpu.add_argument("--gpu-epochs", type=int, default=5, help="(default %(default)s)")
    gpu.add_argument("--gpu-batch-size", type=int, default=512, help="(default %(default)s)")
    gpu.add_argument("--gpu-lr", type=float, default=4e-3,
                     help="peak one-cycle Adam learning rate (default %(default)s)")
    parser.add_argument("--json", type=Path, help="also write every measurement to this JSON file")
    return parser.parse_args(argv)


def _cumulative(history: list[dict]) -> list[dict]:
    """The history with ``cumulative_seconds`` added to every epoch."""
    total, rows = 0.0, []
    for row in history:
        total += row["seconds"]
        rows.append({**row, "cumulative_seconds": total})
    return rows


def _first_reaching(rows: list[dict], accuracy: float) -> dict | None:
    return next((row for row in rows if row["test_acc"] >= accuracy), None)


def _epoch_table(rows: list[dict]) -> str:
    from cs7150.tables import format_table

    return format_table(
        ["epoch", "seconds", "cumulative s", "train loss", "train acc", "held-out acc"],
        [[r["epoch"], f"{r['seconds']:.2f}", f"{r['cumulative_seconds']:.2f}", f"{r['train_loss']:.4f}",
          f"{100 * r['train_acc']:.2f}%", f"{100 * r['test_acc']:.2f}%"] for r in rows], "rrrrrr")


def _target_line(name: str, rows: list[dict], accuracy: float, seconds: float) -> dict:
    """Did ``rows`` reach ``accuracy`` within ``seconds`` of training? Prints and returns the verdict."""
    reached = _first_reaching(rows, accuracy)
    met = reached is not None and reached["cumulative_seconds"] <= seconds
    if reached is None:
        detail = f"not reached; best {100 * max(r['test_acc'] for r in rows):.2f}%"
    else:
        detail = f"reached at epoch {reached['epoch']} after {reached['cumulative_seconds']:.1f} s"
    print(f"{name}: >= {100 * accuracy:.1f}% within {seconds:g} s: {detail} -> {'MET' if met else 'NOT MET'}")
    return {"target": f">= {100 * accuracy:.1f}% within {seconds:g} s", "met": met,
            "epoch": None if reached is None else reached["epoch"],
            "seconds": None if reached is None else reached["cumulative_seconds"]}


def bench_cpu(args, train_set, test_set) -> dict:
    from cs7150.models import build_model
    from cs7150.train import TrainConfig, fit

    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                         seed=args.seed, progress=False)
    print(f"\n1. PyTorch LeNet-5 on the CPU, {len(train_set[1]):,} training / {len(test_set[1]):,} held-out digits: "
          f"{config.optimizer}, one-cycle peak lr {args.lr:g}, batch {config.batch_size}, {config.epochs} epochs")
    rows = _cumulative(fit(build_model("lenet5", seed=args.seed), train_set, test_set, config, "cpu"))
    print(_epoch_table(rows))
    return {"recipe": {**vars(config), "lr": args.lr}, "epochs": rows,
            "target": _target_line("CPU target", rows, *CPU_TARGET)}


def bench_twin(args, train_set, test_set) -> dict:
    from cs7150.models import build_model
    from cs7150.train import TrainConfig, fit

    n = min(args.twin_images, len(train_set[1]))
    subset = (train_set[0][:n], train_set[1][:n])
    small_test = (test_set[0][:100], test_set[1][:100])
    config = TrainConfig(epochs=1, batch_size=args.batch_size, optimizer="sgd", lr=0.05, progress=False)
    times = {"torch": [], "numpy": []}
    for _ in range(args.twin_repeats):  # in turns, so a load spike slows both alike
        times["torch"].append(fit(build_model("lenet5"), subset, small_test, config, "cpu")[0]["seconds"])
        times["numpy"].append(fit(build_model("numpy-lenet5"), subset, small_test, config)[0]["seconds"])
    scale = len(train_set[1]) / n
    epoch = {name: scale * statistics.median(values) for name, values in times.items()}
    ratio = epoch["numpy"] / epoch["torch"]
    met = ratio <= TWIN_TARGET
    print(f"\n2. NumPy twin (float32, cs7150.layers) vs PyTorch CPU, one epoch of {len(train_set[1]):,} digits, "
          f"batch {config.batch_size} (median of {args.twin_repeats} epochs of {n:,}, scaled)")
    print(f"PyTorch {epoch['torch']:.1f} s, NumPy {epoch['numpy']:.1f} s, ratio {ratio:.1f}x "
          f"(target <= {TWIN_TARGET:g}x) -> {'MET' if met else 'NOT MET'}")
    return {"epoch_seconds": epoch, "raw_seconds": times, "images_timed": n, "ratio": ratio, "met": met}


def bench_gpu(args) -> dict:
    import torch

    if not torch.cuda.is_available():
        print("\n3. GPU row: no GPU (torch.cuda.is_available() is False)")
        return {"status": "no GPU"}
    from cs7150.data import DATA_DIR, load_mnist
    from cs7150.models import build_model
    from cs7150.train import TrainConfig, fit

    name = torch.cuda.get_device_name()
    try:
        train_set = load_mnist("train", DATA_DIR / "mnist-full", device="cuda")
        test_set = load_mnist("test", DATA_DIR / "mnist-full", device="cuda")
    except FileNotFoundError as err:
        print(f"\n3. GPU row ({name}): full MNIST missing; fetch it first with `cs7150 data mnist --full` ({err})")
        return {"status": "full MNIST missing", "gpu": name}
    torch.backends.cudnn.benchmark = True
    config = TrainConfig(epochs=args.gpu_epochs, batch_size=args.gpu_batch_size, optimizer="adam", lr=args.gpu_lr,
                         amp=True, channels_last=True, progress=False)
    warmup = dataclasses.replace(config, epochs=1)
    n_warmup = 8 * config.batch_size + len(train_set[1]) % config.batch_size  # every batch shape of the run
    warmup_set = (train_set[0][:n_warmup], train_set[1][:n_warmup])
    fit(build_model("lenet5"), warmup_set, test_set, warmup, "cuda")  # CUDA context, cuDNN autotuning
    rows = _cumulative(fit(build_model("lenet5"), train_set, test_set, config, "cuda"))
    seconds = rows[-1]["cumulative_seconds"]
    images_per_second = config.epochs * len(train_set[1]) / seconds
    print(f"\n3. GPU row: LeNet-5 on full MNIST on {name}: adam, one-cycle peak lr {args.gpu_lr:g}, batch "
          f"{config.batch_size}, {config.epochs} epochs, autocast, channels_last; "
          f"{seconds:.2f} s of training, {images_per_second:,.0f} images/s")
    print(_epoch_table(rows))
    return {"status": "ran", "gpu": name, "recipe": vars(config), "epochs": rows, "seconds": seconds,
            "images_per_second": images_per_second, "target": _target_line("GPU target", rows, *GPU_TARGET)}


def summary_table(results: dict) -> str:
    """One row per measurement: what, target, measured, met."""
    from cs7150.tables import format_table

    def verdict(met):
        return "yes" if met else "no"

    cpu = results["cpu"]
    best = max(cpu["epochs"], key=lambda r: r["test_acc"])
    measured = (f"{100 * best['test_acc']:.2f}% best; " + (
        f">= {100 * CPU_TARGET[0]:.0f}% at epoch {cpu['target']['epoch']}, {cpu['target']['seconds']:.1f} s"
        if cpu["target"]["epoch"] else "target accuracy not reached"))
    rows = [["PyTorch CPU, subset", f">= {100 * CPU_TARGET[0]:.1f}% in <= {CPU_TARGET[1]:g} s", measured,
             verdict(cpu["target"]["met"])]]
    if "twin" in results:
        twin = results["twin"]
        rows.append(["NumPy twin / PyTorch epoch", f"<= {TWIN_TARGET:g}x",
                     f"{twin['ratio']:.1f}x ({twin['epoch_seconds']['numpy']:.1f} s / "
                     f"{twin['epoch_seconds']['torch']:.1f} s)", verdict(twin["met"])])
    gpu = results["gpu"]
    target = f">= {100 * GPU_TARGET[0]:.1f}% in <= {GPU_TARGET[1]:g} s"
    if gpu["status"] == "ran":
        best = max(r["test_acc"] for r in gpu["epochs"])
        rows.append([f"GPU, full MNIST ({gpu['gpu']})", target,
                     f"{100 * best:.2f}% best, {gpu['seconds']:.2f} s, {gpu['images_per_second']:,.0f} images/s",
                     verdict(gpu["target"]["met"])])
    else:
        rows.append(["GPU, full MNIST", target, gpu["status"], "-"])
    return format_table(["measurement", "target", "measured", "met"], rows, "llll")


def main(argv=None) -> int:
    args = parse_args(argv)
    import numpy as np
    import torch

    from cs7150.data import load_mnist

    print(f"LeNet-5 training benchmark (numpy {np.__version__}, torch {torch.__version__}, "
          f"torch threads: {torch.get_num_threads()}, {os.cpu_count()} CPUs, {platform.machine()})")
    train_set, test_set = load_mnist("train"), load_mnist("test")
    results = {"config": {"numpy": np.__version__, "torch": torch.__version__, "python": platform.python_version(),
                          "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count()},
               "cpu": bench_cpu(args, train_set, test_set)}
    if not args.skip_twin:
        results["twin"] = bench_twin(args, train_set, test_set)
    results["gpu"] = bench_gpu(args)
    print("\nSummary (timings are wall-clock on a possibly shared machine)")
    print(summary_table(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
