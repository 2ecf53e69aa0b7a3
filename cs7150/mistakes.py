"""Likely mistakes in the convolution and pooling layers, recognized by computing the mistaken outputs.

One place for the diagnoses both the notebooks' checks (``cs7150.oracle``) and
the course's grader (``autograder.package.diagnoses``) name. For a failing case, what a
function with a typical mistake would return on the same inputs is computed
(mostly a reference run on altered inputs; the unaccumulated ``=`` variants with
short loops), and the first mistake whose outputs all match the student's is the
diagnosis. The reference is passed in: the grader's own implementation, or
PyTorch in a notebook. Each variant is ``(diagnosis, {output name: array})``.
"""
from __future__ import annotations

import itertools
import numbers
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from cs7150.gradcheck import rel_error

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

MATCH_TOLERANCE = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-4}
"""Largest relative error at which an output counts as equal to a reference (by the reference's dtype)."""


def matches(array: np.ndarray, reference: np.ndarray) -> bool:
    """Same shape, all finite, and ``rel_error`` within the reference dtype's tolerance (dtype not checked)."""
    array, reference = np.asarray(array), np.asarray(reference)
    return (array.shape == reference.shape and bool(np.all(np.isfinite(array)))
            and rel_error(array, reference) <= MATCH_TOLERANCE.get(reference.dtype, 1e-4))


@dataclass
class LayerCase:
    """One failing call of a layer function, with what the reference computes for it.

    kind: ``"conv_forward"``, ``"conv_backward"``, ``"max_pool_forward"``, ``"avg_pool_forward"``,
        ``"max_pool_backward"`` or ``"avg_pool_backward"``.
    inputs: ``{"x", "w", "b"}`` (convolution) or ``{"x"}`` (pooling), plus ``"dout"`` for a backward pass;
        x is (N, C, *spatial), w (F, C/groups, *kernel), b (F,), dout shaped like the output.
    params: the ``conv_param`` / ``pool_param`` of the call.
    reference: the right outputs by name: ``{"out"}`` or ``{"dx", "dw", "db"}`` / ``{"dx"}``.
    forward: the reference forward pass, ``forward(x, w, b, conv_param)`` or ``forward(x, pool_param)``,
        returning ``(out, cache)``; it raises ValueError when the kernel does not fit.
    backward: the reference backward pass ``backward(dout, cache)`` (convolution backward kinds only).
    fast: whether the function under test goes through the batch in chunks (``*_fast``).
    """

    kind: str
    inputs: dict
    params: dict
    reference: dict
    forward: Callable
    backward: Callable | None = None
    fast: bool = False


def _tuple(value, n: int) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,) * n


def _int_pads(pad) -> bool:
    """Whether every entry of ``pad`` is one int (equal padding on both sides), not "same"/"valid" or a pair."""
    return all(isinstance(p, numbers.Integral) for p in pad)


def _try(function, *args):
    """``function(*args)[0]``, or None when the altered inputs are invalid (kernel does not fit)."""
    try:
        return function(*args)[0]
    except ValueError:
        return None


def _conv_forward(case: LayerCase) -> Iterator[Variant]:
    x, w, b = case.inputs["x"], case.inputs["w"], case.inputs["b"]
    params, forward = case.params, case.forward
    nd = x.ndim - 2
    spatial = tuple(range(2, 2 + nd))
    yield BIAS, {"out": case.reference["out"] - b.reshape(-1, *(1,) * nd)}
    yield FLIPPED, {"out": _try(forward, x, np.flip(w, axis=spatial).copy(), b, params)}
    if any(s > 1 for s in _tuple(params["stride"], nd)):
        stride_one = _try(forward, x, w, b, {**params, "stride": 1})
        yield STRIDE, {"out": stride_one}
        if stride_one is not None:  # window not moved by the stride, output size still right
            yield STRIDE, {"out": stride_one[(..., *(slice(0, n) for n in case.reference["out"].shape[2:]))]}
    pad = _tuple(params["pad"], nd)
    if _int_pads(pad) and any(pad):
        for sides in ((2, 0), (0, 2), (1, 0), (0, 1)):
            widths = ((0, 0), (0, 0), *((p * sides[0], p * sides[1]) for p in pad))
            yield ONE_SIDED, {"out": _try(forward, np.pad(x, widths), w, b, {**params, "pad": 0})}
    if any(d > 1 for d in _tuple(params.get("dilation", 1), nd)):
        undilated = _try(forward, x, w, b, {**params, "dilation": 1})
        yield DILATION, {"out": undilated}
        if undilated is not None:  # taps next to each other, output size still right
            yield DILATION, {"out": undilated[(..., *(slice(0, n) for n in case.reference["out"].shape[2:]))]}


def _conv_windows(case: LayerCase):
    """(x_padded, (pad_h, pad_w), window, (F, H_out, W_out)) of a 2-D convolution case, for the loop variants."""
    x, w = case.inputs["x"], case.inputs["w"]
    params = case.params
    (sh, sw), (ph, pw) = _tuple(params["stride"], 2), _tuple(params["pad"], 2)
    dil_h, dil_w = _tuple(params.get("dilation", 1), 2)
    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    groups = params.get("groups", 1)
    F, C_g, HH, WW = w.shape
    H_out, W_out = case.inputs["dout"].shape[2:]

    def window(f, i, j):
        g = f // (F // groups)
        return (slice(g * C_g, (g + 1) * C_g),
                slice(i * sh, i * sh + dil_h * (HH - 1) + 1, dil_h), slice(j * sw, j * sw + dil_w * (WW - 1) + 1, dil_w))

    return x_padded, (ph, pw), window, (F, H_out, W_out)


def _conv_backward(case: LayerCase) -> Iterator[Variant]:
    x, w, dout = case.inputs["x"], case.inputs["w"], case.inputs["dout"]
    nd = x.ndim - 2
    params = case.params
    pad = _tuple(params["pad"], nd)
    if not _int_pads(pad):
        return  # "same" / "valid" or (before, after) pairs: the loop variants below assume equal int padding
    if any(pad):  # dx_padded is the gradient of the same convolution on the pre-padded input
        x_pre = np.pad(x, ((0, 0), (0, 0), *((p, p) for p in pad)))
        _, cache = case.forward(x_pre, w, case.inputs["b"], {**params, "pad": 0})
        yield DX_PADDED, {"dx": case.backward(dout, cache)[0]}
    if case.fast:
        yield from _dw_last_chunk(case)
    yield DX_ASSIGNED, {"dx": _conv_taps_assigned(case)}
    if nd != 2:
        return
    x_padded, (ph, pw), window, (F, H_out, W_out) = _conv_windows(case)
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


def _conv_taps_assigned(case: LayerCase) -> np.ndarray:
    """dx of a col2im that assigns (=) where it must add: a loop over the kernel's taps in row-major order, each
    writing what that tap of every window sends back into one strided slice of dx_padded, so at a pixel in several
    windows the last tap wins (equal int padding; any number of spatial axes, groups)."""
    x, w, dout = case.inputs["x"], case.inputs["w"], case.inputs["dout"]
    nd = x.ndim - 2
    params = case.params
    pad, stride = _tuple(params["pad"], nd), _tuple(params["stride"], nd)
    dilation, groups = _tuple(params.get("dilation", 1), nd), params.get("groups", 1)
    F_g, out_size = w.shape[0] // groups, dout.shape[2:]
    dx_padded = np.zeros((*x.shape[:2], *(n + 2 * p for n, p in zip(x.shape[2:], pad))), dtype=np.result_type(x, w))
    for offset in np.ndindex(*w.shape[2:]):
        per_group = [np.tensordot(dout[:, g * F_g:(g + 1) * F_g], w[(slice(g * F_g, (g + 1) * F_g), slice(None), *offset)],
                                  axes=([1], [0])) for g in range(groups)]  # (N, *out_size, C // groups) each
        window = tuple(slice(k * d, k * d + s * (o - 1) + 1, s) for k, d, s, o in zip(offset, dilation, stride, out_size))
        dx_padded[(slice(None), slice(None), *window)] = np.moveaxis(np.concatenate(per_group, axis=-1), -1, 1)
    return dx_padded[(slice(None), slice(None), *(slice(p, p + n) for p, n in zip(pad, x.shape[2:])))]


def _dw_last_chunk(case: LayerCase) -> Iterator[Variant]:
    """dw of the last k samples only, for every k < N: what a chunked loop with ``dw =`` returns, whatever
    its chunk size (each sample's dw from the reference, summed from the end)."""
    x, w, b, dout = case.inputs["x"], case.inputs["w"], case.inputs["b"], case.inputs["dout"]
    total = None
    for n in range(x.shape[0] - 1, 0, -1):
        _, cache = case.forward(x[n:n + 1], w, b, case.params)
        dw = case.backward(dout[n:n + 1], cache)[1]
        total = dw if total is None else total + dw
        yield DW_ONE_CHUNK, {"dw": total}


def _pool_geometry(case: LayerCase):
    """(PH, PW, window corners in row-major order, (H_out, W_out)) of a pooling case without padding."""
    params = case.params
    sh, sw = _tuple(params["stride"], 2)
    PH, PW = params["pool_height"], params["pool_width"]
    H, W = case.inputs["x"].shape[2:]
    H_out, W_out = (H - PH) // sh + 1, (W - PW) // sw + 1
    windows = [(i * sh, j * sw) for i in range(H_out) for j in range(W_out)]
    return PH, PW, windows, (H_out, W_out)


def _pool_taps_assigned(case: LayerCase, shares: np.ndarray) -> np.ndarray:
    """dx of an add_windows that assigns (=) where it must add: for each pixel (r, s) of the window in row-major
    order, ``shares[..., r, s]`` (N, C, H_out, W_out) written into one strided slice of dx, the last one winning."""
    sh, sw = _tuple(case.params["stride"], 2)
    H_out, W_out, PH, PW = shares.shape[2:]
    dx = np.zeros_like(case.inputs["x"])
    for r, s in np.ndindex(PH, PW):
        dx[:, :, r:r + sh * (H_out - 1) + 1:sh, s:s + sw * (W_out - 1) + 1:sw] = shares[..., r, s]
    return dx


def _unpadded(case: LayerCase) -> bool:
    return not any(_tuple(case.params.get("pad", 0), 2)) and not case.params.get("ceil_mode", False)


def _pool_forward(case: LayerCase) -> Iterator[Variant]:
    params = case.params
    if any(s > 1 for s in _tuple(params["stride"], 2)):
        stride_one = _try(case.forward, case.inputs["x"], {**params, "stride": 1})
        yield STRIDE, {"out": stride_one}
        if stride_one is not None:
            yield STRIDE, {"out": stride_one[(..., *(slice(0, n) for n in case.reference["out"].shape[2:]))]}
    if case.kind == "avg_pool_forward" and _unpadded(case):
        yield SUM_POOL, {"out": case.reference["out"] * (params["pool_height"] * params["pool_width"])}


def _max_pool_backward(case: LayerCase) -> Iterator[Variant]:
    if not _unpadded(case):
        return
    x, dout = case.inputs["x"], case.inputs["dout"]
    PH, PW, windows, (H_out, W_out) = _pool_geometry(case)
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
    shares = np.zeros((*dout.shape, PH * PW), dtype=np.result_type(x, dout))  # dout at each window's first maximum
    for k, (h0, w0) in enumerate(windows):
        i, j = divmod(k, W_out)
        first = x[:, :, h0:h0 + PH, w0:w0 + PW].reshape(*x.shape[:2], -1).argmax(axis=2)  # (N, C)
        np.put_along_axis(shares[:, :, i, j], first[..., None], dout[:, :, i, j, None], axis=2)
    yield DX_ASSIGNED, {"dx": _pool_taps_assigned(case, shares.reshape(*dout.shape, PH, PW))}


def _avg_pool_backward(case: LayerCase) -> Iterator[Variant]:
    if not _unpadded(case):
        return
    x, dout = case.inputs["x"], case.inputs["dout"]
    PH, PW, windows, (H_out, W_out) = _pool_geometry(case)
    yield NOT_DIVIDED, {"dx": case.reference["dx"] * (PH * PW)}
    dx = np.zeros_like(x)
    for k, (h0, w0) in enumerate(windows):
        i, j = divmod(k, W_out)
        dx[:, :, h0:h0 + PH, w0:w0 + PW] = dout[:, :, i:i + 1, j:j + 1] / (PH * PW)
    yield DX_ASSIGNED, {"dx": dx}
    shares = np.broadcast_to((dout / (PH * PW))[..., None, None], (*dout.shape, PH, PW))
    yield DX_ASSIGNED, {"dx": _pool_taps_assigned(case, shares)}


VARIANTS = {
    "conv_forward": _conv_forward,
    "conv_backward": _conv_backward,
    "max_pool_forward": _pool_forward,
    "avg_pool_forward": _pool_forward,
    "max_pool_backward": _max_pool_backward,
    "avg_pool_backward": _avg_pool_backward,
}
"""The variant generator of each layer kind."""


def differing(found: Iterable[Variant], reference: dict) -> Iterator[Variant]:
    """Of the variants ``found``, those whose outputs (those not None) differ from ``reference`` (name -> array)."""
    for diagnosis, outputs in found:
        outputs = {name: array for name, array in outputs.items() if array is not None}
        if outputs and not all(matches(array, reference[name]) for name, array in outputs.items()):
            yield diagnosis, outputs


def first_match(found: Iterable[Variant], student: dict) -> str | None:
    """The diagnosis of the first variant whose outputs all match ``student`` (output name -> array), or None."""
    for diagnosis, outputs in found:
        if all(name in student and matches(student[name], array) for name, array in outputs.items()):
            return diagnosis
    return None


def variants(case: LayerCase) -> Iterator[Variant]:
    """The mistaken outputs for this case that differ from the reference.

    Raises ValueError for a ``case.kind`` not in ``VARIANTS``.
    """
    if case.kind not in VARIANTS:
        raise ValueError(f"no likely mistakes are known for kind {case.kind!r}; known: {sorted(VARIANTS)}")
    return differing(VARIANTS[case.kind](case), case.reference)


def diagnose(case: LayerCase, student: dict) -> str | None:
    """The first likely mistake whose outputs all match ``student`` (output name -> array), or None."""
    return first_match(variants(case), student)
