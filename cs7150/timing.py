"""Forward + backward timings of LeNet-5's layers: naive loops, the fast NumPy layers, PyTorch on the CPU.

``layer_timings`` measures each of LeNet-5's convolution and pooling layers
at the lecture's sizes (batch 128 by default) in float32 and float64 and
returns one row per (layer, dtype) with the ratios fast/torch and naive/fast;
``format_timings`` prints them and ``check_targets`` says which of the
course's speed targets were met. The naive loops are slow, so they run on a
smaller batch and their time is scaled linearly to the full batch; the table
says so in its column title.
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from cs7150.shapes import conv_output_size, format_table

# (name, kind, one sample's input shape, filter shape or None); every conv has pad 2 and stride 1,
# every pool a 2x2 window with stride 2.
LENET5_LAYERS = (
    ("conv1", "conv", (1, 28, 28), (20, 1, 5, 5)),
    ("conv2", "conv", (20, 14, 14), (50, 20, 5, 5)),
    ("pool1 max", "max", (20, 28, 28), None),
    ("pool1 avg", "avg", (20, 28, 28), None),
    ("pool2 max", "max", (50, 14, 14), None),
    ("pool2 avg", "avg", (50, 14, 14), None),
)
CONV_PARAM = {"stride": 1, "pad": 2}
POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}

# The course's speed targets: (kinds of layer, dtype or None for any, ratio key, bound, description).
TARGETS = (
    (("conv",), "float32", "fast_over_torch", ("<=", 1.5), "fast conv within 1.5x PyTorch float32"),
    (("conv",), "float64", "fast_over_torch", ("<", 1.0), "fast conv faster than PyTorch float64"),
    (("conv",), None, "naive_over_fast", (">=", 20.0), "fast conv >= 20x faster than naive"),
    (("max", "avg"), None, "fast_over_torch", ("<=", 2.0), "fast pool within 2x PyTorch"),
)


def median_times(fns, repeats: int = 5, warmup: int = 1) -> list[float]:
    """Median wall-clock time of each callable in seconds, timed in turns.

    The calls interleave (``fns[0]``, ``fns[1]``, ..., then again), so a load
    spike on a shared machine slows every callable alike and their ratios
    stay meaningful.

    Args:
        fns: sequence of callables with no arguments.
        repeats: int >= 1, timed calls of each.
        warmup: int >= 0, untimed calls of each first (caches, allocator, thread pools).
    Returns:
        list of floats, seconds, one per callable (``time.perf_counter``).
    Raises:
        ValueError: ``repeats < 1`` or ``warmup < 0``.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, fn_times in zip(fns, times):
            start = time.perf_counter()
            fn()
            fn_times.append(time.perf_counter() - start)
    return [statistics.median(fn_times) for fn_times in times]


def median_time(fn, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock time of ``fn()`` in seconds; see ``median_times`` for the arguments and errors."""
    return median_times([fn], repeats, warmup)[0]


def _numpy_step(kind: str, implementation: str, x, w, b, dout):
    """A no-argument callable running one NumPy forward + backward pass ('naive' or 'fast')."""
    from cs7150 import layers

    if kind == "conv":
        forward = getattr(layers, f"conv_forward_{implementation}")
        backward = getattr(layers, f"conv_backward_{implementation}")

        def step():
            _, cache = forward(x, w, b, CONV_PARAM)
            backward(dout, cache)
    else:
        forward = getattr(layers, f"{kind}_pool_forward_{implementation}")
        backward = getattr(layers, f"{kind}_pool_backward_{implementation}")

        def step():
            _, cache = forward(x, POOL_PARAM)
            backward(dout, cache)

    return step


def _torch_step(kind: str, x, w, b, dout):
    """A no-argument callable running one PyTorch CPU forward + autograd backward pass."""
    import torch
    import torch.nn.functional as F

    x_t = torch.from_numpy(x).requires_grad_()
    dout_t = torch.from_numpy(dout)
    if kind == "conv":
        w_t, b_t = torch.from_numpy(w).requires_grad_(), torch.from_numpy(b).requires_grad_()
        inputs = (x_t, w_t, b_t)

        def forward():
            return F.conv2d(x_t, w_t, b_t, stride=CONV_PARAM["stride"], padding=CONV_PARAM["pad"])
    else:
        inputs = (x_t,)
        pool = F.max_pool2d if kind == "max" else F.avg_pool2d

        def forward():
            return pool(x_t, POOL_PARAM["pool_height"], POOL_PARAM["stride"])

    def step():
        torch.autograd.grad(forward(), inputs, dout_t)

    return step


def _layer_arrays(kind, sample_shape, w_shape, batch, dtype, rng):
    """Random ``x, w, b, dout`` for one layer (w and b None for a pool)."""
    x = rng.standard_normal((batch, *sample_shape)).astype(dtype)  # (N, C, H, W)
    if kind == "conv":
        F, _, HH, WW = w_shape
        w = rng.standard_normal(w_shape).astype(dtype)  # (F, C, HH, WW)
        b = rng.standard_normal(F).astype(dtype)  # (F,)
        pad, stride = CONV_PARAM["pad"], CONV_PARAM["stride"]
        out_shape = (batch, F, *(conv_output_size(s, k, pad, stride) for s, k in zip(sample_shape[1:], (HH, WW))))
    else:
        w = b = None
        size, stride = POOL_PARAM["pool_height"], POOL_PARAM["stride"]
        out_shape = (batch, sample_shape[0], *(conv_output_size(s, size, 0, stride) for s in sample_shape[1:]))
    dout = rng.standard_normal(out_shape).astype(dtype)  # (N, F or C, H_out, W_out)
    return x, w, b, dout


def layer_timings(batch: int = 128, repeats: int = 3, dtypes=("float32", "float64"), naive: bool = True,
                  naive_batch: int = 4, layers=None, seed: int = 0, progress: bool = False) -> list[dict]:
    """Time forward + backward of LeNet-5's layers with each implementation.

    Args:
        batch: int >= 1, the batch size of every measurement (the lecture's 128).
        repeats: int >= 1, timed runs per measurement (the median is kept;
            fast and PyTorch run in turns after one untimed warm-up run each,
            naive runs without warm-up).
        dtypes: names of the floating dtypes to time, e.g. ``("float32", "float64")``.
        naive: whether to time the naive loops at all.
        naive_batch: int >= 1, the batch the naive loops run on; their time is
            multiplied by ``batch / naive_batch`` (capped at ``batch``).
        layers: names from ``LENET5_LAYERS`` to time (default: all of them).
        seed: seed of the random inputs.
        progress: show a progress bar (tqdm).
    Returns:
        list of dicts, one per (layer, dtype), with keys ``layer``, ``kind``
        (``"conv"``, ``"max"``, ``"avg"``), ``input`` (``"128 x 1 x 28 x 28"``),
        ``dtype``, ``batch``, ``naive_batch`` (None without naive), ``naive_s``
        (scaled to ``batch``; None without naive), ``fast_s``, ``torch_s`` (seconds),
        ``fast_over_torch`` and ``naive_over_fast`` (None without naive).
    Raises:
        ValueError: a non-positive batch, naive_batch or repeats, an unknown
            layer name, or a dtype that is not float32/float64.
    """
    from tqdm.auto import tqdm

    if batch < 1 or naive_batch < 1 or repeats < 1:
        raise ValueError(f"batch, naive_batch and repeats must be >= 1, got {batch}, {naive_batch}, {repeats}")
    known = [spec[0] for spec in LENET5_LAYERS]
    unknown = sorted(set(layers or ()) - set(known))
    if unknown:
        raise ValueError(f"unknown layers {unknown}; choose from {known}")
    bad = [d for d in dtypes if np.dtype(d) not in (np.float32, np.float64)]
    if bad:
        raise ValueError(f"dtypes must be float32 or float64, got {bad}")
    naive_batch = min(naive_batch, batch)
    specs = [spec for spec in LENET5_LAYERS if layers is None or spec[0] in layers]
    rng = np.random.default_rng(seed)
    rows = []
    jobs = [(spec, np.dtype(d).name) for spec in specs for d in dtypes]
    for (name, kind, sample_shape, w_shape), dtype in tqdm(jobs, desc="timing layers", disable=not progress):
        x, w, b, dout = _layer_arrays(kind, sample_shape, w_shape, batch, dtype, rng)
        fast_s, torch_s = median_times([_numpy_step(kind, "fast", x, w, b, dout), _torch_step(kind, x, w, b, dout)],
                                       repeats)
        naive_s = None
        if naive:
            step = _numpy_step(kind, "naive", x[:naive_batch], w, b, dout[:naive_batch])
            naive_s = median_time(step, repeats, warmup=0) * batch / naive_batch
        rows.append({
            "layer": name, "kind": kind, "input": " x ".join(map(str, x.shape)), "dtype": dtype, "batch": batch,
            "naive_batch": naive_batch if naive else None, "naive_s": naive_s, "fast_s": fast_s, "torch_s": torch_s,
            "fast_over_torch": fast_s / torch_s, "naive_over_fast": None if naive_s is None else naive_s / fast_s,
        })
    return rows


def format_timings(rows: list[dict]) -> str:
    """The rows of ``layer_timings`` as an aligned plain-text table (times in milliseconds).

    Args:
        rows: list of dicts from ``layer_timings``.
    Returns:
        str (no trailing newline); the naive column's title names the batch it
        was scaled from, e.g. ``"naive ms (scaled from batch 4)"``.
    """
    naive_batches = sorted({r["naive_batch"] for r in rows if r["naive_batch"] is not None})
    naive_title = f"naive ms (scaled from batch {', '.join(map(str, naive_batches))})" if naive_batches else "naive ms"

    def ms(seconds):
        return "-" if seconds is None else f"{seconds * 1e3:.2f}"

    def ratio(value):
        return "-" if value is None else f"{value:.2f}x"

    headers = ["Layer", "Input", "dtype", naive_title, "fast ms", "torch ms", "fast/torch", "naive/fast"]
    table = [
        [r["layer"], r["input"], r["dtype"], ms(r["naive_s"]), ms(r["fast_s"]), ms(r["torch_s"]),
         ratio(r["fast_over_torch"]), ratio(r["naive_over_fast"])]
        for r in rows
    ]
    return format_table(headers, table, "lllrrrrr")


def check_targets(rows: list[dict]) -> list[dict]:
    """Compare the rows of ``layer_timings`` with the course's speed targets.

    Targets: fast conv within 1.5x PyTorch float32 and faster than PyTorch
    float64, fast conv at least 20x faster than naive, fast pools within 2x
    PyTorch.

    Args:
        rows: list of dicts from ``layer_timings``.
    Returns:
        list of dicts, one per (target, row it applies to), with keys
        ``target`` (description), ``layer``, ``dtype``, ``value`` (the ratio),
        ``bound`` (e.g. ``"<= 1.5"``) and ``met`` (bool). Rows without naive
        times are skipped for the naive target.
    """
    compare = {"<=": lambda v, t: v <= t, "<": lambda v, t: v < t, ">=": lambda v, t: v >= t}
    results = []
    for kinds, dtype, key, (op, threshold), description in TARGETS:
        for row in rows:
            if row["kind"] in kinds and dtype in (None, row["dtype"]) and row[key] is not None:
                results.append({
                    "target": description, "layer": row["layer"], "dtype": row["dtype"], "value": row[key],
                    "bound": f"{op} {threshold:g}", "met": bool(compare[op](row[key], threshold)),
                })
    return results


def format_targets(results: list[dict]) -> str:
    """The results of ``check_targets`` as an aligned table with a met / NOT MET column."""
    table = [
        [r["target"], r["layer"], r["dtype"], f"{r['value']:.2f}x", r["bound"], "met" if r["met"] else "NOT MET"]
        for r in results
    ]
    return format_table(["Target", "Layer", "dtype", "ratio", "needs", "result"], table, "lllrrl")
