"""Max and average pooling without Python loops over positions: one loop over the window's offsets.

For a window offset ``(r, s)``, the pixels ``x[:, :, i*stride_h + r, j*stride_w + s]``
of all output positions ``(i, j)`` form one strided view of ``x`` of shape
``(N, C, H_out, W_out)`` (no copy). A window has ``PH * PW`` offsets, so max
pooling is ``PH * PW - 1`` elementwise ``np.maximum`` calls over such views, and
the backward pass adds each offset's share of ``dout`` into the same view of
``dx``. The results equal ``cs7150.pool``'s naive loops; only the order of the
work differs. ``pool_param`` and the output size are as in ``cs7150.pool``.

A cache from a ``*_forward_fast`` function goes to its ``*_backward_fast``
twin only (``max_pool_forward_fast`` also caches ``out``; the naive one does not).
"""
from __future__ import annotations

import numpy as np

from cs7150.pool import _check_dout, _check_pool_input


def _window_offsets(PH, PW, stride_h, stride_w, H_out, W_out):
    """Index tuples, one per window offset (r, s) in row-major window order.

    ``x[index]`` for the offset (r, s) is the (N, C, H_out, W_out) strided view
    holding ``x[n, c, i*stride_h + r, j*stride_w + s]`` at ``[n, c, i, j]``.
    """
    return [
        (slice(None), slice(None),
         slice(r, r + stride_h * (H_out - 1) + 1, stride_h),
         slice(s, s + stride_w * (W_out - 1) + 1, stride_w))
        for r in range(PH) for s in range(PW)
    ]


def max_pool_forward_fast(x, pool_param):
    """Vectorized forward pass of max pooling; same results as ``max_pool_forward_naive``.

    Inputs:
    - x: input, (N, C, H, W), float32 or float64
    - pool_param: dict with 'pool_height', 'pool_width' (ints >= 1) and
      'stride' (int or pair, >= 1), all required

    Returns a tuple of:
    - out: (N, C, H_out, W_out), dtype of x, where
      H_out = floor((H - pool_height) / stride_h) + 1 (same for W)
    - cache: (x, pool_param, out) for ``max_pool_backward_fast``

    Raises TypeError/ValueError for a non-float or non-4-D x, a missing or
    non-positive pool_param entry, or a window larger than the input.
    """
    PH, PW, stride_h, stride_w, H_out, W_out = _check_pool_input(x, pool_param)
    ### BEGIN SOLUTION
    first, *rest = _window_offsets(PH, PW, stride_h, stride_w, H_out, W_out)
    out = x[first].copy()  # (N, C, H_out, W_out)
    for offset in rest:
        np.maximum(out, x[offset], out=out)
    cache = (x, pool_param, out)
    return out, cache
    ### END SOLUTION


def max_pool_backward_fast(dout, cache):
    """Vectorized backward pass of max pooling; same results as ``max_pool_backward_naive``.

    Each window's upstream gradient goes to the first position (row-major
    window order) that holds the window's maximum; overlapping windows add.

    Inputs:
    - dout: upstream gradient, (N, C, H_out, W_out)
    - cache: (x, pool_param, out) from ``max_pool_forward_fast``

    Returns:
    - dx: gradient with respect to x, (N, C, H, W), dtype of x

    Raises TypeError/ValueError when dout is not a float array of the forward
    output's shape.
    """
    x, pool_param, out = cache
    PH, PW, stride_h, stride_w, H_out, W_out = _check_pool_input(x, pool_param)
    _check_dout(dout, out.shape)
    ### BEGIN SOLUTION
    dx = np.zeros_like(x)  # (N, C, H, W)
    overlapping = stride_h < PH or stride_w < PW
    offsets = _window_offsets(PH, PW, stride_h, stride_w, H_out, W_out)
    unrouted = np.ones(out.shape, dtype=bool)  # (N, C, H_out, W_out): windows whose maximum is not found yet
    for k, offset in enumerate(offsets):
        if k < len(offsets) - 1:
            is_max = np.equal(x[offset], out)  # (N, C, H_out, W_out)
            is_max &= unrouted  # ties: only the first maximum of a window gets the gradient
            unrouted ^= is_max
        else:
            is_max = unrouted  # a window with no maximum so far has it at its last pixel
        if overlapping:
            dx[offset] += dout * is_max  # a pixel may be the maximum of several windows
        else:
            np.multiply(dout, is_max, out=dx[offset])  # each pixel is in at most one window
    return dx
    ### END SOLUTION


def avg_pool_forward_fast(x, pool_param):
    """Vectorized forward pass of average pooling; same results as ``avg_pool_forward_naive``.

    Inputs:
    - x: input, (N, C, H, W), float32 or float64
    - pool_param: dict with 'pool_height', 'pool_width' (ints >= 1) and
      'stride' (int or pair, >= 1), all required

    Returns a tuple of:
    - out: (N, C, H_out, W_out), dtype of x, each value the mean of its
      pool_height x pool_width window; H_out = floor((H - pool_height) / stride_h) + 1
    - cache: (x, pool_param) for ``avg_pool_backward_fast``

    Raises TypeError/ValueError for a non-float or non-4-D x, a missing or
    non-positive pool_param entry, or a window larger than the input.
    """
    PH, PW, stride_h, stride_w, H_out, W_out = _check_pool_input(x, pool_param)
    ### BEGIN SOLUTION
    first, *rest = _window_offsets(PH, PW, stride_h, stride_w, H_out, W_out)
    out = x[first].copy()  # (N, C, H_out, W_out)
    for offset in rest:
        out += x[offset]
    out /= PH * PW
    cache = (x, pool_param)
    return out, cache
    ### END SOLUTION


def avg_pool_backward_fast(dout, cache):
    """Vectorized backward pass of average pooling; same results as ``avg_pool_backward_naive``.

    Inputs:
    - dout: upstream gradient, (N, C, H_out, W_out)
    - cache: (x, pool_param) from ``avg_pool_forward_fast``

    Returns:
    - dx: gradient with respect to x, (N, C, H, W), dtype of x

    Raises TypeError/ValueError when dout is not a float array of the forward
    output's shape.
    """
    x, pool_param = cache
    PH, PW, stride_h, stride_w, H_out, W_out = _check_pool_input(x, pool_param)
    _check_dout(dout, (*x.shape[:2], H_out, W_out))
    ### BEGIN SOLUTION
    dx = np.zeros_like(x)  # (N, C, H, W)
    overlapping = stride_h < PH or stride_w < PW
    share = dout / (PH * PW)  # (N, C, H_out, W_out): each pixel's part of its window's gradient
    for offset in _window_offsets(PH, PW, stride_h, stride_w, H_out, W_out):
        if overlapping:
            dx[offset] += share  # a pixel may lie in several windows
        else:
            dx[offset] = share  # each pixel is in at most one window
    return dx
    ### END SOLUTION
