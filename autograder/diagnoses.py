"""Common mistakes, recognized by computing the mistaken outputs and comparing.

For a failing case the grader computes, in its own process, what a function
with a typical mistake would return on the same inputs (mostly the reference
run on altered inputs; the unaccumulated ``=`` variants with short loops), and
reports the first mistake whose output matches the student's. Each variant is
``(diagnosis, {output name: array})``.
"""
from __future__ import annotations

import itertools
from typing import Iterator

import numpy as np

from autograder.cases import RUNNING, PreparedCase, reference_function
from autograder.compare import matches

Variant = tuple[str, dict]

BIAS = "bias missing: the output equals the convolution without the + b[f] term"
FLIPPED = ("kernel flipped: the output equals a true convolution (w flipped along its spatial axes); "
           "the layer is a cross-correlation, so use w as it is")
STRIDE = "stride ignored: the output equals a stride-1 result; move each window by the stride (i * stride_h, j * stride_w)"
ONE_SIDED = "padding on one side only: the output equals padding added on one side; pad pad_h rows and pad_w columns on BOTH sides"
DILATION = "dilation ignored: the output equals the result with dilation 1; space the kernel taps by the dilation"
DX_ASSIGNED = ("gradient not accumulated over overlapping windows: dx matches dx[...] = ... instead of dx[...] += ...; "
               "a pixel in several windows must receive the sum of their gradients")
DW_ASSIGNED = "dw not accumulated: dw matches dw[f] = ... instead of dw[f] += ...; sum over samples and positions"
DW_ONE_CHUNK = ("dw not accumulated over the batch chunks: dw matches the sum over the last samples of the batch "
                "only (dw = ... where dw += ... belongs in the loop over chunks); dw sums over every sample")
DX_PADDED = "dx still padded: dx has the padded input's shape; crop dx_padded back to (H, W)"
TIES = ("max-pool gradient sent to every tied maximum: only the first maximum of a window (row-major order, "
        "as np.argmax) receives the gradient")
SUM_POOL = "window sum instead of mean: divide by pool_height * pool_width"
NOT_DIVIDED = "gradient not divided by the window size: each pixel gets dout / (pool_height * pool_width)"
BIASED_RUNNING_VAR = ("running_var averaged with the biased batch variance: the running average takes the unbiased "
                      "one, var * N / (N - 1), as PyTorch (the normalization itself uses the biased one)")
MOMENTUM_SWAPPED = ("momentum the wrong way round: running = momentum * running + (1 - momentum) * batch statistic "
                    "keeps the fraction momentum of the old value")
TEST_WITH_BATCH = "test mode normalized with the batch's mean and variance: use bn_param's running statistics"
DX_CONSTANT_STATS = ("dx treats the batch mean and variance as constants: in train mode they depend on x, so "
                     "dx = (g - mean(g) - x_hat * mean(g * x_hat)) / std with g = dout * gamma")
AFFINE_BIAS = "bias missing: out equals x @ w without the + b term"
AFFINE_DB_MEAN = "db averaged over the batch: db is the sum of dout over the N samples, not their mean"
RELU_AT_ZERO = "gradient passed where x = 0: ReLU's gradient is 0 at x = 0 (it passes only where x > 0), as PyTorch"
LOSS_SUMMED = "loss summed over the batch: the loss is the mean over the N samples, and dx is divided by N"
DX_NOT_DIVIDED = "dx not divided by N: the loss is the mean over the batch, so its gradient carries a factor 1 / N"
TWIN_WRONG_POOL = ("the other pooling: the twin's output matches max pooling where it was built with average "
                   "pooling, or the reverse; use self.pool_forward and self.pool_backward")
TWIN_NO_RELU = "ReLU applied to every layer: the twin's layers list has no ReLU when activation=False; follow self.layers"
TWIN_GRADS_SUMMED = "gradients of the summed loss: they equal N times PyTorch's; softmax_loss's mean carries the 1 / N"


def _tuple(value, n: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,) * n


def _try(function, *args):
    """``function(*args)[0]``, or None when the altered inputs are invalid (kernel does not fit)."""
    try:
        return function(*args)[0]
    except ValueError:
        return None


def _conv_forward(pc: PreparedCase) -> Iterator[Variant]:
    x, w, b = pc.inputs["x"], pc.inputs["w"], pc.inputs["b"]
    params = pc.case.params
    nd = x.ndim - 2
    spatial = tuple(range(2, 2 + nd))
    forward = reference_function(pc.part.function)
    yield BIAS, {"out": pc.reference["out"] - b.reshape(-1, *(1,) * nd)}
    yield FLIPPED, {"out": _try(forward, x, np.flip(w, axis=spatial).copy(), b, params)}
    if any(s > 1 for s in _tuple(params["stride"], nd)):
        stride_one = _try(forward, x, w, b, {**params, "stride": 1})
        yield STRIDE, {"out": stride_one}
        if stride_one is not None:  # window not moved by the stride, output size still right
            yield STRIDE, {"out": stride_one[(..., *(slice(0, n) for n in pc.reference["out"].shape[2:]))]}
    pad = _tuple(params["pad"], nd)
    if any(pad):
        for sides in ((2, 0), (0, 2), (1, 0), (0, 1)):
            widths = ((0, 0), (0, 0), *((p * sides[0], p * sides[1]) for p in pad))
            yield ONE_SIDED, {"out": _try(forward, np.pad(x, widths), w, b, {**params, "pad": 0})}
    if any(d > 1 for d in _tuple(params.get("dilation", 1), nd)):
        yield DILATION, {"out": _try(forward, x, w, b, {**params, "dilation": 1})}


def _conv_windows(pc: PreparedCase):
    """(x_padded, geometry) of a 2-D convolution case, for the loop variants."""
    x, w = pc.inputs["x"], pc.inputs["w"]
    params = pc.case.params
    (sh, sw), (ph, pw) = _tuple(params["stride"], 2), _tuple(params["pad"], 2)
    dil_h, dil_w = _tuple(params.get("dilation", 1), 2)
    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    groups = params.get("groups", 1)
    F, C_g, HH, WW = w.shape
    H_out, W_out = pc.inputs["dout"].shape[2:]

    def window(f, i, j):
        g = f // (F // groups)
        return (slice(g * C_g, (g + 1) * C_g),
                slice(i * sh, i * sh + dil_h * (HH - 1) + 1, dil_h), slice(j * sw, j * sw + dil_w * (WW - 1) + 1, dil_w))

    return x_padded, (ph, pw), window, (F, H_out, W_out)


def _conv_backward(pc: PreparedCase) -> Iterator[Variant]:
    x, w, dout = pc.inputs["x"], pc.inputs["w"], pc.inputs["dout"]
    nd = x.ndim - 2
    params = pc.case.params
    pad = _tuple(params["pad"], nd)
    if any(pad):  # dx_padded is the gradient of the same convolution on the pre-padded input
        x_pre = np.pad(x, ((0, 0), (0, 0), *((p, p) for p in pad)))
        forward, backward = reference_function(pc.part.forward), reference_function(pc.part.function)
        _, cache = forward(x_pre, w, pc.inputs["b"], {**params, "pad": 0})
        yield DX_PADDED, {"dx": backward(dout, cache)[0]}
    if pc.part.function.endswith("_fast"):
        yield from _dw_last_chunk(pc)
    if nd != 2:
        return
    x_padded, (ph, pw), window, (F, H_out, W_out) = _conv_windows(pc)
    N, (H, W) = x.shape[0], x.shape[2:]
    crop = (slice(None), slice(None), slice(ph, ph + H), slice(pw, pw + W))
    # dx[...] = ... in three loop orders: f outside (i, j); f inside; f summed at each (i, j)
    for order in ("fij", "ijf", "ij"):
        dx_padded = np.zeros_like(x_padded)
        for n in range(N):
            if order == "ij":
                if params.get("groups", 1) != 1:
                    continue
                for i, j in itertools.product(range(H_out), range(W_out)):
                    channels, hs, ws = window(0, i, j)
                    dx_padded[n, :, hs, ws] = np.tensordot(dout[n, :, i, j], w, axes=1)
                continue
            loops = itertools.product(range(F), range(H_out), range(W_out))
            if order == "ijf":
                loops = ((f, i, j) for i, j, f in itertools.product(range(H_out), range(W_out), range(F)))
            for f, i, j in loops:
                channels, hs, ws = window(f, i, j)
                dx_padded[n, channels, hs, ws] = dout[n, f, i, j] * w[f]
        yield DX_ASSIGNED, {"dx": dx_padded[crop]}
    dw_last = np.zeros_like(w)  # dw[f] = ... : the last (n, i, j) wins
    for f in range(F):
        channels, hs, ws = window(f, H_out - 1, W_out - 1)
        dw_last[f] = dout[N - 1, f, H_out - 1, W_out - 1] * x_padded[N - 1, channels, hs, ws]
    yield DW_ASSIGNED, {"dw": dw_last}


def _dw_last_chunk(pc: PreparedCase) -> Iterator[Variant]:
    """dw of the last k samples only, for every k < N: what a chunked loop with ``dw =`` returns, whatever
    its chunk size (each sample's dw from the reference, summed from the end)."""
    x, w, b, dout = pc.inputs["x"], pc.inputs["w"], pc.inputs["b"], pc.inputs["dout"]
    forward, backward = reference_function(pc.part.forward), reference_function(pc.part.function)
    total = None
    for n in range(x.shape[0] - 1, 0, -1):
        _, cache = forward(x[n:n + 1], w, b, pc.case.params)
        dw = backward(dout[n:n + 1], cache)[1]
        total = dw if total is None else total + dw
        yield DW_ONE_CHUNK, {"dw": total}


def _pool_geometry(pc: PreparedCase):
    params = pc.case.params
    sh, sw = _tuple(params["stride"], 2)
    PH, PW = params["pool_height"], params["pool_width"]
    N, C, H, W = pc.inputs["x"].shape
    H_out, W_out = (H - PH) // sh + 1, (W - PW) // sw + 1
    windows = [(i * sh, j * sw) for i in range(H_out) for j in range(W_out)]
    return PH, PW, windows, (H_out, W_out)


def _pool_forward(pc: PreparedCase) -> Iterator[Variant]:
    params = pc.case.params
    forward = reference_function(pc.part.function)
    if any(s > 1 for s in _tuple(params["stride"], 2)):
        stride_one = _try(forward, pc.inputs["x"], {**params, "stride": 1})
        yield STRIDE, {"out": stride_one}
        if stride_one is not None:
            yield STRIDE, {"out": stride_one[(..., *(slice(0, n) for n in pc.reference["out"].shape[2:]))]}
    if pc.part.kind == "avg_pool_forward":
        yield SUM_POOL, {"out": pc.reference["out"] * (params["pool_height"] * params["pool_width"])}


def _max_pool_backward(pc: PreparedCase) -> Iterator[Variant]:
    x, dout = pc.inputs["x"], pc.inputs["dout"]
    PH, PW, windows, (H_out, W_out) = _pool_geometry(pc)
    for tied_all, assign in ((True, False), (False, True), (True, True)):
        dx = np.zeros_like(x)
        for k, (h0, w0) in enumerate(windows):
            i, j = divmod(k, W_out)
            patch = x[:, :, h0:h0 + PH, w0:w0 + PW]  # (N, C, PH, PW)
            if tied_all:
                mask = patch == patch.max(axis=(2, 3), keepdims=True)
            else:
                flat = patch.reshape(*patch.shape[:2], -1).argmax(axis=2)
                mask = np.zeros(patch.shape, dtype=bool).reshape(*patch.shape[:2], -1)
                np.put_along_axis(mask, flat[..., None], True, axis=2)
                mask = mask.reshape(patch.shape)
            share = mask * dout[:, :, i:i + 1, j:j + 1]
            target = dx[:, :, h0:h0 + PH, w0:w0 + PW]
            if assign:
                target[mask] = share[mask]
            else:
                target += share
        yield {(True, False): TIES, (False, True): DX_ASSIGNED, (True, True): f"{TIES}; and {DX_ASSIGNED}"}[
            tied_all, assign], {"dx": dx}


def _avg_pool_backward(pc: PreparedCase) -> Iterator[Variant]:
    x, dout = pc.inputs["x"], pc.inputs["dout"]
    PH, PW, windows, (H_out, W_out) = _pool_geometry(pc)
    yield NOT_DIVIDED, {"dx": pc.reference["dx"] * (PH * PW)}
    dx = np.zeros_like(x)
    for k, (h0, w0) in enumerate(windows):
        i, j = divmod(k, W_out)
        dx[:, :, h0:h0 + PH, w0:w0 + PW] = dout[:, :, i:i + 1, j:j + 1] / (PH * PW)
    yield DX_ASSIGNED, {"dx": dx}


def _bn_rows(pc: PreparedCase, array: np.ndarray) -> np.ndarray:
    """(N, D) as it is, or (N, C, H, W) as (N * H * W, C): one column per normalized feature."""
    return array if array.ndim == 2 else np.moveaxis(array, 1, -1).reshape(-1, array.shape[1])


def _bn_forward(pc: PreparedCase) -> Iterator[Variant]:
    params = pc.case.params
    momentum = params.get("momentum", 0.9)
    forward = reference_function(pc.part.function)
    running = {name: pc.inputs[name] for name in RUNNING}
    if params["mode"] == "train":
        rows = _bn_rows(pc, pc.inputs["x"])
        biased = momentum * running["running_var"] + (1 - momentum) * rows.var(axis=0)
        yield BIASED_RUNNING_VAR, {"running_var": biased.astype(rows.dtype)}
        swapped = {**params, **{name: array.copy() for name, array in running.items()}, "momentum": 1 - momentum}
        forward(pc.inputs["x"], pc.inputs["gamma"], pc.inputs["beta"], swapped)
        yield MOMENTUM_SWAPPED, {name: swapped[name] for name in RUNNING}
    else:
        as_train = {**params, **{name: array.copy() for name, array in running.items()}, "mode": "train"}
        yield TEST_WITH_BATCH, {"out": forward(pc.inputs["x"], pc.inputs["gamma"], pc.inputs["beta"], as_train)[0]}


def _bn_backward(pc: PreparedCase) -> Iterator[Variant]:
    if pc.case.params["mode"] != "train":
        return
    eps = pc.case.params.get("eps", 1e-5)
    x, gamma, dout = pc.inputs["x"], pc.inputs["gamma"], pc.inputs["dout"]
    std = np.sqrt(_bn_rows(pc, x).var(axis=0) + eps)  # (D,) or (C,)
    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
    yield DX_CONSTANT_STATS, {"dx": (dout * (gamma / std).reshape(shape)).astype(x.dtype)}


def _affine_forward(pc: PreparedCase) -> Iterator[Variant]:
    yield AFFINE_BIAS, {"out": pc.reference["out"] - pc.inputs["b"]}


def _affine_backward(pc: PreparedCase) -> Iterator[Variant]:
    yield AFFINE_DB_MEAN, {"db": pc.reference["db"] / len(pc.inputs["x"])}


def _no_variants(pc: PreparedCase) -> Iterator[Variant]:
    return iter(())


def _relu_backward(pc: PreparedCase) -> Iterator[Variant]:
    yield RELU_AT_ZERO, {"dx": pc.inputs["dout"] * (pc.inputs["x"] >= 0)}


def _softmax_loss(pc: PreparedCase) -> Iterator[Variant]:
    N = len(pc.inputs["x"])
    if N > 1:
        yield LOSS_SUMMED, {"loss": pc.reference["loss"] * N, "dx": pc.reference["dx"] * N}
        yield DX_NOT_DIVIDED, {"dx": pc.reference["dx"] * N}


def _twin_variant(pc: PreparedCase, **changes):
    """The reference twin built with ``changes`` to the case's options, on the case's weights (None if invalid)."""
    from autograder.cases import reference_twin

    options = {**pc.case.spec.get("options", {}), **changes}
    case = type(pc.case)(pc.case.name, pc.case.points, {**pc.case.spec, "options": options})
    return reference_twin(case, pc.inputs)


def _twin_forward(pc: PreparedCase) -> Iterator[Variant]:
    options = pc.case.spec.get("options", {})
    other = "max" if options.get("pool", "max") == "avg" else "avg"
    yield TWIN_WRONG_POOL, {"logits": _twin_variant(pc, pool=other).forward(pc.inputs["x"])}
    if not options.get("activation", True):
        yield TWIN_NO_RELU, {"logits": _twin_variant(pc, activation=True).forward(pc.inputs["x"])}


def _twin_grads(pc: PreparedCase) -> Iterator[Variant]:
    N = len(pc.inputs["x"])
    yield TWIN_GRADS_SUMMED, {name: array * N for name, array in pc.reference.items() if name.startswith("grads[")}


VARIANTS = {
    "affine_forward": _affine_forward,
    "affine_backward": _affine_backward,
    "relu_forward": _no_variants,  # max(x, 0) has no typical mistake of its own
    "relu_backward": _relu_backward,
    "softmax_loss": _softmax_loss,
    "twin_forward": _twin_forward,
    "twin_grads": _twin_grads,
    "batchnorm_forward": _bn_forward,
    "spatial_batchnorm_forward": _bn_forward,
    "batchnorm_backward": _bn_backward,
    "spatial_batchnorm_backward": _bn_backward,
    "conv_forward": _conv_forward,
    "conv_backward": _conv_backward,
    "max_pool_forward": _pool_forward,
    "avg_pool_forward": _pool_forward,
    "max_pool_backward": _max_pool_backward,
    "avg_pool_backward": _avg_pool_backward,
}


def variants(pc: PreparedCase) -> Iterator[Variant]:
    """The mistaken outputs for this case that differ from the reference."""
    for diagnosis, outputs in VARIANTS[pc.part.kind](pc):
        outputs = {name: array for name, array in outputs.items() if array is not None}
        if outputs and not all(matches(array, pc.reference[name]) for name, array in outputs.items()):
            yield diagnosis, outputs


def diagnose(pc: PreparedCase, student: dict) -> str | None:
    """The first mistake whose outputs all match the student's, or None."""
    for diagnosis, outputs in variants(pc):
        if all(name in student and matches(student[name], array) for name, array in outputs.items()):
            return diagnosis
    return None
