"""Each likely mistake the grader diagnoses is named by the notebooks' own checks (``cs7150.oracle``) too.

Every test plants one mistake in a copy of a layer function, runs the check a notebook's test cell runs
(``check_conv`` / ``check_pool``, PyTorch as the reference) and expects the failure to name that mistake,
from ``cs7150.mistakes``, the code the grader's ``autograder.package.diagnoses`` uses.
"""
from __future__ import annotations

import numpy as np
import pytest

from cs7150 import conv_fast, mistakes, pool_fast
from cs7150.layers import (
    avg_pool_backward_naive, avg_pool_forward_naive, conv1d_backward_fast, conv1d_forward_fast, conv_backward_fast,
    conv_backward_naive, conv_forward_fast, conv_forward_naive, max_pool_backward_naive, max_pool_forward_naive,
)
from cs7150.oracle import check_conv, check_pool, tie_free

RNG = np.random.default_rng(21)
X, W, B = RNG.standard_normal((2, 3, 7, 7)), RNG.standard_normal((4, 3, 3, 3)), RNG.standard_normal(4)
OVERLAP = {"stride": 2, "pad": 1}  # 3x3 windows every 2 pixels: neighbouring windows overlap


def named(diagnosis: str, check, *args, **kwargs) -> None:
    with pytest.raises(AssertionError) as failure:
        check(*args, **kwargs)
    assert f"likely mistake: {diagnosis}" in str(failure.value), str(failure.value)


def forward_naming(forward):
    forward.__name__ = "planted_forward"
    return forward


# --- convolution forward ------------------------------------------------------------------------


def test_bias_missing():
    planted = forward_naming(lambda x, w, b, p: conv_forward_naive(x, w, np.zeros_like(b), p))
    named(mistakes.BIAS, check_conv, planted, None, X, W, B, OVERLAP)


def test_kernel_flipped():
    planted = forward_naming(lambda x, w, b, p: conv_forward_naive(x, w[:, :, ::-1, ::-1].copy(), b, p))
    named(mistakes.FLIPPED, check_conv, planted, None, X, W, B, {"stride": 1, "pad": 1})


def test_stride_ignored():
    def planted(x, w, b, p):  # every window moved by 1, the output still of the strided size
        out, cache = conv_forward_naive(x, w, b, p)
        return conv_forward_naive(x, w, b, {**p, "stride": 1})[0][:, :, :out.shape[2], :out.shape[3]], cache
    named(mistakes.STRIDE, check_conv, planted, None, X, W, B, OVERLAP)


def test_padding_on_one_side():
    def planted(x, w, b, p):  # 2 * pad zeros before each axis, none after
        x_one_sided = np.pad(x, ((0, 0), (0, 0), (2 * p["pad"], 0), (2 * p["pad"], 0)))
        return conv_forward_naive(x_one_sided, w, b, {**p, "pad": 0})
    named(mistakes.ONE_SIDED, check_conv, planted, None, X, W, B, OVERLAP)


def test_dilation_ignored():
    def planted(x, w, b, p):
        H_out = conv_forward_naive(x, w, b, p)[0].shape[2]
        return conv_forward_naive(x, w, b, {**p, "dilation": 1})[0][:, :, :H_out, :H_out], None
    named(mistakes.DILATION, check_conv, planted, None, X, W, B, {"stride": 1, "pad": 2, "dilation": 2})


# --- convolution backward -----------------------------------------------------------------------


def _backward_loops(dout, cache, assign_dx=False, assign_dw=False, crop=True):
    """The naive backward loops (stride, equal padding, no dilation or groups), with one planted mistake."""
    x, w, b, p = cache
    s, pad = p["stride"], p["pad"]
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_padded, dw = np.zeros_like(x_padded), np.zeros_like(w)
    N, F_, H_out, W_out = dout.shape
    K = w.shape[2]
    for n in range(N):
        for f in range(F_):
            for i in range(H_out):
                for j in range(W_out):
                    rows, cols = slice(i * s, i * s + K), slice(j * s, j * s + K)
                    if assign_dx:
                        dx_padded[n, :, rows, cols] = dout[n, f, i, j] * w[f]
                    else:
                        dx_padded[n, :, rows, cols] += dout[n, f, i, j] * w[f]
                    if assign_dw:
                        dw[f] = dout[n, f, i, j] * x_padded[n, :, rows, cols]
                    else:
                        dw[f] += dout[n, f, i, j] * x_padded[n, :, rows, cols]
    dx = dx_padded[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]] if crop else dx_padded
    return dx, dw, dout.sum(axis=(0, 2, 3))


def test_loops_match_the_reference_without_a_planted_mistake():
    check_conv(conv_forward_naive, _backward_loops, X, W, B, OVERLAP)  # the planted copies start from a right one


def test_dx_assigned():
    named(mistakes.DX_ASSIGNED, check_conv, conv_forward_naive,
          lambda dout, cache: _backward_loops(dout, cache, assign_dx=True), X, W, B, OVERLAP)


def test_dw_assigned():
    named(mistakes.DW_ASSIGNED, check_conv, conv_forward_naive,
          lambda dout, cache: _backward_loops(dout, cache, assign_dw=True), X, W, B, {"stride": 1, "pad": 0})


def test_dx_still_padded():
    named(mistakes.DX_PADDED, check_conv, conv_forward_naive,
          lambda dout, cache: _backward_loops(dout, cache, crop=False), X, W, B, OVERLAP)


def test_dw_of_the_last_chunk_only():
    def planted(dout, cache):  # a chunked loop with dw = ...: the last chunk (here the last sample) wins
        x, w, b, p = cache
        dx, _, db = conv_backward_fast(dout, cache)
        _, last = conv_forward_fast(x[-1:], w, b, p)
        return dx, conv_backward_fast(dout[-1:], last)[1], db
    named(mistakes.DW_ONE_CHUNK, check_conv, conv_forward_fast, planted, X, W, B, OVERLAP)


def _col2im_assigned(dcols, padded_shape, HH, WW, stride, dilation):
    """Section 6's col2im with = where += belongs: the last tap written at a pixel wins."""
    N, C, H_padded, W_padded = padded_shape
    (sh, sw), (dh, dw) = stride, dilation
    H_out, W_out = (H_padded - dh * (HH - 1) - 1) // sh + 1, (W_padded - dw * (WW - 1) - 1) // sw + 1
    dcols = dcols.reshape(C, HH, WW, N, H_out, W_out)
    dx_padded = np.zeros(padded_shape, dtype=dcols.dtype)
    for p, q in np.ndindex(HH, WW):
        rows, columns = slice(p * dh, p * dh + sh * (H_out - 1) + 1, sh), slice(q * dw, q * dw + sw * (W_out - 1) + 1, sw)
        dx_padded[:, :, rows, columns] = dcols[:, p, q].transpose(1, 0, 2, 3)
    return dx_padded


@pytest.mark.parametrize("conv_param", [OVERLAP, {"stride": (1, 2), "pad": 2, "dilation": (2, 1)}])
def test_col2im_assigned(conv_param, monkeypatch):
    monkeypatch.setattr(conv_fast, "col2im", _col2im_assigned)
    named(mistakes.DX_ASSIGNED, check_conv, conv_forward_fast, conv_backward_fast, X, W, B, conv_param)


def test_col2im_nd_assigned(monkeypatch):
    """The extension's col2im_nd with =, in 1-D with groups: the same diagnosis."""
    def col2im_nd_assigned(dcols, padded_size, stride, dilation):
        C, N = dcols.shape[0], dcols.shape[-1]
        kernel_size, out_size = dcols.shape[1:2], dcols.shape[2:-1]
        dx_padded = np.zeros((C, *padded_size, N), dtype=dcols.dtype)
        for (k,) in np.ndindex(*kernel_size):
            dx_padded[:, k * dilation[0]:k * dilation[0] + stride[0] * (out_size[0] - 1) + 1:stride[0]] = dcols[:, k]
        return dx_padded
    monkeypatch.setattr(conv_fast, "col2im_nd", col2im_nd_assigned)
    rng = np.random.default_rng(22)
    x, w, b = rng.standard_normal((3, 4, 11)), rng.standard_normal((6, 2, 3)), rng.standard_normal(6)
    named(mistakes.DX_ASSIGNED, check_conv, conv1d_forward_fast, conv1d_backward_fast, x, w, b,
          {"stride": 1, "pad": 1, "groups": 2})


# --- pooling ------------------------------------------------------------------------------------

POOL = {"pool_height": 3, "pool_width": 3, "stride": 2}  # overlapping windows
XP = tie_free(np.random.default_rng(3), (2, 2, 7, 7))


def _pool_backward_loops(dout, cache, kind, assign=False, all_ties=False, divide=True):
    """Naive pooling backward (no padding), with one planted mistake."""
    x, p = cache
    K, s = p["pool_height"], p["stride"]
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dout.shape):
        window = x[n, c, i * s:i * s + K, j * s:j * s + K]
        if kind == "avg":
            share = np.full(window.shape, dout[n, c, i, j] / (K * K if divide else 1))
        elif all_ties:
            share = (window == window.max()) * dout[n, c, i, j]
        else:
            share = np.zeros(window.shape)
            share[np.unravel_index(np.argmax(window), window.shape)] = dout[n, c, i, j]
        target = dx[n, c, i * s:i * s + K, j * s:j * s + K]
        if assign:
            mask = share != 0 if kind == "max" else np.ones(share.shape, dtype=bool)
            target[mask] = share[mask]
        else:
            target += share
    return dx


def test_pool_loops_match_the_reference_without_a_planted_mistake():
    check_pool("max", max_pool_forward_naive, lambda d, c: _pool_backward_loops(d, c, "max"), XP, POOL)
    check_pool("avg", avg_pool_forward_naive, lambda d, c: _pool_backward_loops(d, c, "avg"), XP, POOL)


def test_pool_stride_ignored():
    def planted(x, p):
        out, cache = max_pool_forward_naive(x, p)
        return max_pool_forward_naive(x, {**p, "stride": 1})[0][:, :, :out.shape[2], :out.shape[3]], cache
    named(mistakes.STRIDE, check_pool, "max", forward_naming(planted), None, XP, POOL)


def test_window_sum_instead_of_mean():
    planted = forward_naming(lambda x, p: (avg_pool_forward_naive(x, p)[0] * 9, (x, p)))
    named(mistakes.SUM_POOL, check_pool, "avg", planted, None, XP, POOL)


def test_avg_gradient_not_divided():
    named(mistakes.NOT_DIVIDED, check_pool, "avg", avg_pool_forward_naive,
          lambda d, c: _pool_backward_loops(d, c, "avg", divide=False), XP, POOL)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_dx_assigned(kind):
    forward = max_pool_forward_naive if kind == "max" else avg_pool_forward_naive
    named(mistakes.DX_ASSIGNED, check_pool, kind, forward,
          lambda d, c: _pool_backward_loops(d, c, kind, assign=True), XP, POOL)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_add_windows_assigned(kind, monkeypatch):
    """Section 6's add_windows with = where += belongs: the fast backward passes' last window pixel wins."""
    def add_windows_assigned(dwindows, padded_shape, stride):
        N, C, H_out, W_out, PH, PW = dwindows.shape
        dx_padded = np.zeros(padded_shape, dtype=dwindows.dtype)
        for r, s in np.ndindex(PH, PW):
            dx_padded[:, :, r:r + stride[0] * (H_out - 1) + 1:stride[0], s:s + stride[1] * (W_out - 1) + 1:stride[1]] = \
                dwindows[..., r, s]
        return dx_padded
    monkeypatch.setattr(pool_fast, "add_windows", add_windows_assigned)
    forward, backward = (getattr(pool_fast, f"{kind}_pool_{step}_fast") for step in ("forward", "backward"))
    named(mistakes.DX_ASSIGNED, check_pool, kind, forward, backward, XP, POOL)


def test_every_tied_maximum_gets_the_gradient():
    x = np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 2.0], [3.0, 1.0, 2.0]]]])  # the notebook's tie check
    named(mistakes.TIES, check_pool, "max", max_pool_forward_naive,
          lambda d, c: _pool_backward_loops(d, c, "max", all_ties=True), x,
          {"pool_height": 2, "pool_width": 2, "stride": 1}, dout=np.ones((1, 1, 2, 2)))


def test_every_conv_and_pool_diagnosis_has_a_test():
    tested = {mistakes.BIAS, mistakes.FLIPPED, mistakes.STRIDE, mistakes.ONE_SIDED, mistakes.DILATION,
              mistakes.DX_ASSIGNED, mistakes.DW_ASSIGNED, mistakes.DX_PADDED, mistakes.DW_ONE_CHUNK,
              mistakes.SUM_POOL, mistakes.NOT_DIVIDED, mistakes.TIES}
    diagnoses = {value for name, value in vars(mistakes).items() if name.isupper() and isinstance(value, str)}
    assert diagnoses == tested


def test_an_unknown_kind_is_a_value_error():
    case = mistakes.LayerCase("relu_forward", {}, {}, {}, forward=None)
    with pytest.raises(ValueError, match="relu_forward"):
        list(mistakes.variants(case))


def test_a_right_answer_has_no_diagnosis():
    check_conv(conv_forward_naive, conv_backward_naive, X, W, B, OVERLAP)
    check_pool("max", max_pool_forward_naive, max_pool_backward_naive, XP, POOL)
