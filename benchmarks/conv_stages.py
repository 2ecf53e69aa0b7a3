"""Where the fast 2-D convolution's time goes: each stage of cs7150.conv_fast's conv_forward_fast and
conv_backward_fast (groups 1, assignment 1's section 6) timed on its own.

For LeNet-5's conv1 and conv2 at a given batch, in float32 and float64: the
chunk size the layer picks (``_batch_chunks``), then every stage of one
chunk (pad, im2col, the products, col2im, the transposes) timed alone,
median of ``--repeats``, times the number of chunks; the products also in
GFLOP/s. The last two lines time the whole forward and backward passes. The
stages' sum falls short of the whole when the whole runs slower than its
parts (chunks cold in cache, a slow spell of a shared machine).

    python benchmarks/conv_stages.py                 # batch 128, both dtypes
    python benchmarks/conv_stages.py --layers conv2 --dtypes float32 --repeats 31
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's cs7150

LAYERS = {"conv1": ((1, 28, 28), (20, 1, 5, 5)), "conv2": ((20, 14, 14), (50, 20, 5, 5))}  # pad 2, stride 1
PAD, STRIDE, DILATION = (2, 2), (1, 1), (1, 1)
NP_PAD = ((0, 0), (0, 0), *((p, p) for p in PAD))  # np.pad's zeros before and after each axis of (n, C, H, W)
PRODUCTS = ("w @ cols", "dw = dout @ cols.T", "dcols = w.T @ dout")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128, help="samples (default 128)")
    parser.add_argument("--layers", nargs="+", default=list(LAYERS), choices=list(LAYERS))
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=15, help="timed calls per stage, median kept (default 15)")
    parser.add_argument("--fresh-memory", action="store_true",
                        help="leave malloc's defaults (see coursetools.timing.keep_freed_memory)")
    args = parser.parse_args(argv)
    if args.batch < 1 or args.repeats < 1:
        parser.error(f"--batch and --repeats must be >= 1, got {args.batch} and {args.repeats}")
    return args


def stage_times(layer: str, dtype: str, batch: int, repeats: int, seed: int = 0) -> dict:
    """Seconds per stage for the whole batch (one chunk's median times the number of chunks).

    Returns a dict with ``chunks``, ``chunk`` (samples per chunk), ``stages``
    (list of (name, seconds, GFLOP/s or None)), ``forward`` and ``backward``
    (seconds of the whole passes, median of ``repeats``).
    """
    import numpy as np

    from cs7150 import conv_fast
    from cs7150.stopwatch import median_time, median_times

    (C, H, W), (F, _, KH, KW) = LAYERS[layer]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, KH, KW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    dout = rng.standard_normal((batch, F, H, W)).astype(dtype)
    K, P = KH * KW, H * W  # taps; output positions (pad 2 keeps the size)
    chunks = conv_fast._batch_chunks(batch, C * K * P * x.itemsize)
    n = chunks[0].stop  # the first chunk's samples; the last one may be shorter
    x_padded = np.pad(x[:n], NP_PAD)  # (n, C, H + 4, W + 4)
    cols = conv_fast.im2col(x_padded, KH, KW, STRIDE, DILATION)  # (C*KH*KW, n*H*W)
    w_rows = w.reshape(F, C * K)
    out_rows = w_rows @ cols  # (F, n*H*W)
    out = np.empty((batch, F, H, W), dtype=dtype)
    dout_rows = dout[:n].transpose(1, 0, 2, 3).reshape(F, -1)  # (F, n*H*W)
    dcols = w_rows.T @ dout_rows
    dx_padded = conv_fast.col2im(dcols, x_padded.shape, KH, KW, STRIDE, DILATION)
    dx = np.empty_like(x)
    stages = {
        "pad": lambda: np.pad(x[:n], NP_PAD),
        "im2col": lambda: conv_fast.im2col(x_padded, KH, KW, STRIDE, DILATION),
        "w @ cols": lambda: w_rows @ cols,
        "out to (n, F, H, W)": lambda: np.copyto(out[:n], out_rows.reshape(F, n, H, W).transpose(1, 0, 2, 3)),
        "bias": lambda: np.add(out[:n], b.reshape(F, 1, 1), out=out[:n]),
        "dout to (F, n*H*W)": lambda: dout[:n].transpose(1, 0, 2, 3).reshape(F, -1),
        "dw = dout @ cols.T": lambda: dout_rows @ cols.T,
        "dcols = w.T @ dout": lambda: w_rows.T @ dout_rows,
        "col2im": lambda: conv_fast.col2im(dcols, x_padded.shape, KH, KW, STRIDE, DILATION),
        "dx without the padding": lambda: np.copyto(dx[:n], dx_padded[:, :, 2:-2, 2:-2]),
    }
    flops = 2 * batch * F * C * K * P  # one product over the whole batch
    rows = []
    for name, stage in stages.items():
        seconds = median_time(stage, repeats) * len(chunks)
        rows.append((name, seconds, flops / seconds / 1e9 if name in PRODUCTS else None))
    conv_param = {"stride": STRIDE, "pad": PAD}
    state = {}

    def forward():
        state["cache"] = conv_fast.conv_forward_fast(x, w, b, conv_param)[1]

    forward_s, backward_s = median_times([forward, lambda: conv_fast.conv_backward_fast(dout, state["cache"])],
                                         repeats)
    return {"chunks": len(chunks), "chunk": n, "stages": rows, "forward": forward_s, "backward": backward_s}


def main(argv=None) -> int:
    args = parse_args(argv)
    from coursetools.timing import keep_freed_memory

    kept = False if args.fresh_memory else keep_freed_memory()
    print(f"cs7150.conv_fast stages, batch {args.batch}, median of {args.repeats}, "
          f"{'freed memory kept for reuse' if kept else 'malloc defaults'}")
    for layer in args.layers:
        for dtype in args.dtypes:
            result = stage_times(layer, dtype, args.batch, args.repeats)
            print(f"\n{layer} {dtype}: {result['chunks']} chunk(s) of {result['chunk']} samples")
            for name, seconds, gflops in result["stages"]:
                rate = f"  {gflops:6.1f} GFLOP/s" if gflops is not None else ""
                print(f"  {name:24s} {seconds * 1e3:8.2f} ms{rate}")
            total = sum(seconds for _, seconds, _ in result["stages"])
            print(f"  {'sum of the stages':24s} {total * 1e3:8.2f} ms")
            print(f"  {'forward (whole)':24s} {result['forward'] * 1e3:8.2f} ms")
            print(f"  {'backward (whole)':24s} {result['backward'] * 1e3:8.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
