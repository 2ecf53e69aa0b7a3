"""Forward + backward timings of LeNet-5's layers: naive loops, the fast NumPy layers, PyTorch on the CPU.

``layer_timings`` measures each of LeNet-5's convolution and pooling layers
at the lecture's sizes (batch 128 by default), and on request the wider
3x3 convolution ``WIDE_CONV``, in float32 and float64 and returns one row per
(layer, dtype): forward and backward times of each implementation, their
sums, the ratios fast/torch and naive/fast, and the forward FLOPs;
``format_timings`` prints them and ``check_targets`` says which of the
course's speed targets were met. The naive loops are slow, so they run on a
smaller batch and their time is scaled linearly to the full batch; the table
says so in its column title. ``matmul_gflops`` measures the machine's limit
(NumPy's square matrix product) that achieved GFLOP/s are compared with.
"""
from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

from cs7150._params import as_tuple
from cs7150.shapes import conv_macs, conv_output_size
from cs7150.tables import format_table
from cs7150.stopwatch import call_times, block_median_times, median_time, median_times

CONV_PARAM = {"stride": 1, "pad": 2}  # LeNet-5's convolutions
POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}  # LeNet-5's pools

# (name, kind, one sample's input shape, filter shape or None, conv_param or pool_param)
LENET5_LAYERS = (
    ("conv1", "conv", (1, 28, 28), (20, 1, 5, 5), CONV_PARAM),
    ("conv2", "conv", (20, 14, 14), (50, 20, 5, 5), CONV_PARAM),
    ("pool1 max", "max", (20, 28, 28), None, POOL_PARAM),
    ("pool1 avg", "avg", (20, 28, 28), None, POOL_PARAM),
    ("pool2 max", "max", (50, 14, 14), None, POOL_PARAM),
    ("pool2 avg", "avg", (50, 14, 14), None, POOL_PARAM),
)
# A wider convolution than LeNet-5's, where the arithmetic dominates: 64 -> 128 channels, 3x3, pad 1, on 32x32.
WIDE_CONV = ("conv3x3 64->128", "conv", (64, 32, 32), (128, 64, 3, 3), {"stride": 1, "pad": 1})
TIMED_LAYERS = LENET5_LAYERS + (WIDE_CONV,)

# The course's speed targets: (kinds of layer, dtype or None for any, ratio key, bound, description).
TARGETS = (
    (("conv",), "float32", "fast_over_torch", ("<=", 1.5), "fast conv within 1.5x PyTorch float32"),
    (("conv",), "float64", "fast_over_torch", ("<", 1.0), "fast conv faster than PyTorch float64"),
    (("conv",), None, "naive_over_fast", (">=", 20.0), "fast conv >= 20x faster than naive"),
    (("max", "avg"), None, "fast_over_torch", ("<=", 2.0), "fast pool within 2x PyTorch"),
)


def keep_freed_memory() -> bool:
    """Ask the C library's malloc to keep freed memory for reuse instead of returning it to the system.

    By default glibc maps every block over its mmap threshold (128 KiB at
    first, raised as blocks are freed) fresh from the kernel, returns it on
    free, and trims the heap's top; the first write to each new 4 KiB page
    then faults. Layers that allocate their outputs on every call (all of
    NumPy's, and PyTorch's) pay that again and again: on the 2-core course VM,
    fast avg pooling forward + backward (pool1, float64) took 3,638 page faults
    and 14.9 ms per call by default, 0 faults and 6.2 ms with memory kept
    (``resource.getrusage`` minor faults over 20 calls). Long-running
    processes usually run with such an allocator (PyTorch's CPU tuning guide
    recommends jemalloc or tcmalloc for the same reason). The setting holds for
    the rest of the process, for every library in it.

    Returns True when set (glibc: ``mallopt`` with M_MMAP_THRESHOLD 1 GiB and
    M_TRIM_THRESHOLD 2 GiB), False where there is no glibc ``mallopt`` (macOS,
    Windows, musl), which changes nothing.
    """
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, 2**30)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))


def conv_flops(x_shape, w_shape, conv_param) -> int:
    """Floating-point operations of one 2-D convolution's forward pass over a batch: 2 per multiply-add.

    The backward pass (dx and dw) costs twice as many; bias additions are not counted.

    Args:
        x_shape: (N, C, H, W) of the input.
        w_shape: (F, C // groups, HH, WW) of the filters.
        conv_param: dict with 'stride' and 'pad' (int or pair) and optional 'dilation', 'groups'.
    Returns:
        int, ``2 * N * conv_macs(C, F, (HH, WW), (H_out, W_out), groups)``.
    Raises:
        ValueError/TypeError: bad parameters or a kernel larger than the padded input
        (from ``conv_output_size`` and ``conv_macs``).
    """
    N, C, H, W = x_shape
    F, _, HH, WW = w_shape
    stride = as_tuple(conv_param["stride"], 2, "conv_param['stride']", 1)
    pad = as_tuple(conv_param["pad"], 2, "conv_param['pad']", 0)
    dilation = as_tuple(conv_param.get("dilation", 1), 2, "conv_param['dilation']", 1)
    out_size = tuple(conv_output_size(*args) for args in zip((H, W), (HH, WW), pad, stride, dilation))
    return 2 * N * conv_macs(C, F, (HH, WW), out_size, conv_param.get("groups", 1))


def matmul_gflops(dtype="float64", size: int = 1024, repeats: int = 5, seed: int = 0) -> dict:
    """The machine's limit: GFLOP/s of NumPy's (BLAS) square matrix product in ``dtype``.

    Args:
        dtype: 'float32' or 'float64'.
        size: int >= 1, both matrices are (size, size); 2 * size**3 FLOPs per product.
        repeats: int >= 1, timed products after one warm-up; the fastest is
            kept: a limit is the best the machine did (a slow spell of a shared
            machine halved the median once, and the layers then passed "100%").
        seed: seed of the random matrices.
    Returns:
        dict with keys ``dtype``, ``size``, ``seconds`` (the fastest product) and ``gflops``.
    Raises:
        ValueError: a dtype that is not float32/float64, or a size or repeats below 1.
    """
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    if size < 1 or repeats < 1:
        raise ValueError(f"size and repeats must be >= 1, got size={size}, repeats={repeats}")
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal((size, size)).astype(dtype) for _ in range(2))  # (size, size) each
    seconds = min(call_times([lambda: a @ b], repeats, warmup=1)[0])
    return {"dtype": np.dtype(dtype).name, "size": size, "seconds": seconds, "gflops": 2 * size ** 3 / seconds / 1e9}


def _numpy_passes(kind: str, implementation: str, x, w, b, dout, param):
    """Two no-argument callables: one NumPy forward pass ('naive' or 'fast'), then a backward pass from its cache."""
    from cs7150 import layers

    prefix = "conv" if kind == "conv" else f"{kind}_pool"
    forward = getattr(layers, f"{prefix}_forward_{implementation}")
    backward = getattr(layers, f"{prefix}_backward_{implementation}")
    args = (x, w, b, param) if kind == "conv" else (x, param)
    state = {}

    def run_forward():
        state["cache"] = forward(*args)[1]

    def run_backward():
        backward(dout, state["cache"])

    return run_forward, run_backward


def _torch_passes(kind: str, x, w, b, dout, param):
    """Two no-argument callables: one PyTorch CPU forward pass (building the graph), then its autograd backward."""
    import torch
    import torch.nn.functional as F

    x_t = torch.from_numpy(x).requires_grad_()
    dout_t = torch.from_numpy(dout)
    if kind == "conv":
        w_t, b_t = torch.from_numpy(w).requires_grad_(), torch.from_numpy(b).requires_grad_()
        inputs = (x_t, w_t, b_t)

        def forward():
            return F.conv2d(x_t, w_t, b_t, stride=param["stride"], padding=param["pad"],
                            dilation=param.get("dilation", 1), groups=param.get("groups", 1))
    else:
        inputs = (x_t,)
        pool = F.max_pool2d if kind == "max" else F.avg_pool2d

        def forward():
            return pool(x_t, (param["pool_height"], param["pool_width"]), param["stride"])

    state = {}

    def run_forward():
        state["out"] = forward()

    def run_backward():
        torch.autograd.grad(state.pop("out"), inputs, dout_t)

    return run_forward, run_backward


def _layer_arrays(kind, sample_shape, w_shape, param, batch, dtype, rng):
    """Random ``x, w, b, dout`` for one layer (w and b None for a pool)."""
    x = rng.standard_normal((batch, *sample_shape)).astype(dtype)  # (N, C, H, W)
    if kind == "conv":
        F, _, HH, WW = w_shape
        w = rng.standard_normal(w_shape).astype(dtype)  # (F, C, HH, WW)
        b = rng.standard_normal(F).astype(dtype)  # (F,)
        out_shape = (batch, F, *(conv_output_size(s, k, param["pad"], param["stride"])
                                 for s, k in zip(sample_shape[1:], (HH, WW))))
    else:
        w = b = None
        size, stride = param["pool_height"], param["stride"]
        out_shape = (batch, sample_shape[0], *(conv_output_size(s, size, 0, stride) for s in sample_shape[1:]))
    dout = rng.standard_normal(out_shape).astype(dtype)  # (N, F or C, H_out, W_out)
    return x, w, b, dout


def layer_timings(batch: int = 128, repeats: int = 3, dtypes=("float32", "float64"), naive: bool = True,
                  naive_batch: int = 4, layers=None, seed: int = 0, progress: bool = False,
                  rounds: int = 3) -> list[dict]:
    """Time the forward and the backward pass of LeNet-5's layers with each implementation.

    Args:
        batch: int >= 1, the batch size of every measurement (the lecture's 128).
        repeats: int >= 1, timed runs per measurement and round (the median
            is kept; forward and backward passes run in turns after one
            untimed warm-up run each, naive runs once without warm-up).
        dtypes: names of the floating dtypes to time, e.g. ``("float32", "float64")``.
        naive: whether to time the naive loops at all.
        naive_batch: int >= 1, the batch the naive loops run on; their time is
            multiplied by ``batch / naive_batch`` (capped at ``batch``).
        layers: names from ``TIMED_LAYERS`` to time (default: all of ``LENET5_LAYERS``).
        seed: seed of the random inputs.
        progress: show a progress bar (tqdm).
        rounds: int >= 1, alternating blocks of fast and PyTorch passes
            (``block_median_times``).
    Returns:
        list of dicts, one per (layer, dtype), with keys ``layer``, ``kind``
        (``"conv"``, ``"max"``, ``"avg"``), ``input`` (``"128 x 1 x 28 x 28"``),
        ``dtype``, ``batch``, ``naive_batch`` (None without naive), seconds
        ``naive_fwd_s``, ``naive_bwd_s`` (scaled to ``batch``; None without
        naive), ``fast_fwd_s``, ``fast_bwd_s``, ``torch_fwd_s``, ``torch_bwd_s``
        and their sums ``naive_s``, ``fast_s``, ``torch_s``; ``fast_over_torch``
        and ``naive_over_fast`` (None without naive) of the sums, and ``flops``
        (forward FLOPs of the batch, ``conv_flops``; None for a pool).
    Raises:
        ValueError: a non-positive batch, naive_batch or repeats, an unknown
            layer name, or a dtype that is not float32/float64.
    """
    from tqdm.auto import tqdm

    if batch < 1 or naive_batch < 1 or repeats < 1 or rounds < 1:
        raise ValueError("batch, naive_batch, repeats and rounds must be >= 1, "
                         f"got {batch}, {naive_batch}, {repeats}, {rounds}")
    known = [spec[0] for spec in TIMED_LAYERS]
    unknown = sorted(set(layers or ()) - set(known))
    if unknown:
        raise ValueError(f"unknown layers {unknown}; choose from {known}")
    bad = [d for d in dtypes if np.dtype(d) not in (np.float32, np.float64)]
    if bad:
        raise ValueError(f"dtypes must be float32 or float64, got {bad}")
    naive_batch = min(naive_batch, batch)
    specs = LENET5_LAYERS if layers is None else [spec for spec in TIMED_LAYERS if spec[0] in layers]
    rng = np.random.default_rng(seed)
    rows = []
    jobs = [(spec, np.dtype(d).name) for spec in specs for d in dtypes]
    for (name, kind, sample_shape, w_shape, param), dtype in tqdm(jobs, desc="timing layers", disable=not progress):
        x, w, b, dout = _layer_arrays(kind, sample_shape, w_shape, param, batch, dtype, rng)
        fast, torch_ = block_median_times(
            [_numpy_passes(kind, "fast", x, w, b, dout, param), _torch_passes(kind, x, w, b, dout, param)], repeats, rounds)
        times = [*fast, *torch_]
        row = {"layer": name, "kind": kind, "input": " x ".join(map(str, x.shape)), "dtype": dtype, "batch": batch,
               "naive_batch": naive_batch if naive else None, "naive_fwd_s": None, "naive_bwd_s": None,
               "fast_fwd_s": times[0], "fast_bwd_s": times[1], "torch_fwd_s": times[2], "torch_bwd_s": times[3]}
        if naive:
            passes = _numpy_passes(kind, "naive", x[:naive_batch], w, b, dout[:naive_batch], param)
            row["naive_fwd_s"], row["naive_bwd_s"] = (t * batch / naive_batch
                                                      for t in median_times(passes, repeats, warmup=0))
        for implementation in ("naive", "fast", "torch"):
            pair = row[f"{implementation}_fwd_s"], row[f"{implementation}_bwd_s"]
            row[f"{implementation}_s"] = None if pair[0] is None else sum(pair)
        row["fast_over_torch"] = row["fast_s"] / row["torch_s"]
        row["naive_over_fast"] = None if row["naive_s"] is None else row["naive_s"] / row["fast_s"]
        row["flops"] = conv_flops(x.shape, w_shape, param) if kind == "conv" else None
        rows.append(row)
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
        ``target`` (description), ``layer``, ``dtype``, ``ratio`` (the row's
        key compared: ``"fast_over_torch"`` or ``"naive_over_fast"``),
        ``value`` (the ratio), ``bound`` (e.g. ``"<= 1.5"``) and ``met``
        (bool). Rows without naive times are skipped for the naive target.
    """
    compare = {"<=": lambda v, t: v <= t, "<": lambda v, t: v < t, ">=": lambda v, t: v >= t}
    results = []
    for kinds, dtype, key, (op, threshold), description in TARGETS:
        for row in rows:
            if row["kind"] in kinds and dtype in (None, row["dtype"]) and row[key] is not None:
                results.append({
                    "target": description, "layer": row["layer"], "dtype": row["dtype"], "ratio": key,
                    "value": row[key],
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
