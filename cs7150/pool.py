"""Max and average pooling as the lecture writes them: loops over samples, channels and output positions.

Each output value summarizes one ``pool_height x pool_width`` window of one
channel: its maximum (max pooling) or its mean (average pooling). Windows
start every ``stride`` pixels, so they overlap when the stride is smaller than
the window; the backward passes then *accumulate* (``+=``) the gradients an
input pixel receives from every window it belongs to. These are the readable
versions; ``cs7150.pool_fast`` computes the same numbers without Python loops
over positions.

``pool_param`` is a dict with (all required)
    'pool_height': int >= 1, the window's height PH
    'pool_width':  int >= 1, the window's width PW
    'stride':      int or (stride_h, stride_w), >= 1
and, as in PyTorch (no padding, ``ceil_mode=False``), the output size along
each axis is ``cs7150.shapes.conv_output_size(size, window, 0, stride)``,
i.e. ``floor((H - PH) / stride_h) + 1``.
"""
from __future__ import annotations

import numpy as np

from cs7150._params import as_tuple, check_array, check_dout, get_param
from cs7150.shapes import conv_output_size


def _check_pool_input(x, pool_param):
    """Validate a pooling layer's input and return its geometry.

    Inputs:
    - x: (N, C, H, W) float array
    - pool_param: dict with 'pool_height', 'pool_width' and 'stride'

    Returns (PH, PW, stride_h, stride_w, H_out, W_out), all ints.

    Raises TypeError for a non-float ``x`` or non-int parameters, ValueError
    for a wrong number of dimensions, a missing key, a window or stride below
    1, or a window larger than the input.
    """
    check_array(x, "x", 4, "(N, C, H, W)")
    (PH,) = as_tuple(get_param(pool_param, "pool_height", "pool_param"), 1, "pool_param['pool_height']", 1)
    (PW,) = as_tuple(get_param(pool_param, "pool_width", "pool_param"), 1, "pool_param['pool_width']", 1)
    stride_h, stride_w = as_tuple(get_param(pool_param, "stride", "pool_param"), 2, "pool_param['stride']", 1)
    H, W = x.shape[2:]
    try:
        H_out = conv_output_size(H, PH, 0, stride_h)
        W_out = conv_output_size(W, PW, 0, stride_w)
    except ValueError as err:
        raise ValueError(f"the {PH}x{PW} pooling window (pool_height x pool_width) does not fit "
                         f"x of shape {x.shape}: {err}") from None
    return PH, PW, stride_h, stride_w, H_out, W_out


def _check_dout(dout, out_shape):
    """Check that ``dout`` is a float array of the forward output's shape ``out_shape``.

    Raises TypeError for a non-float array, ValueError for any other shape.
    """
    check_dout(dout, out_shape, "(N, C, H_out, W_out)")


def max_pool_forward_naive(x, pool_param):
    """Forward pass of max pooling, written as loops.

    Inputs:
    - x: input, (N, C, H, W), float32 or float64
    - pool_param: dict with 'pool_height', 'pool_width' (ints >= 1) and
      'stride' (int or pair, >= 1), all required

    Returns a tuple of:
    - out: (N, C, H_out, W_out), dtype of x, where
      H_out = floor((H - pool_height) / stride_h) + 1 (same for W)
    - cache: (x, pool_param) for ``max_pool_backward_naive``

    Raises TypeError/ValueError for a non-float or non-4-D x, a missing or
    non-positive pool_param entry, or a window larger than the input.
    """
    PH, PW, stride_h, stride_w, H_out, W_out = _check_pool_input(x, pool_param)
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    h0, w0 = i * stride_h, j * stride_w
                    window = x[n, c, h0:h0 + PH, w0:w0 + PW]  # (PH, PW)
                    out[n, c, i, j] = window.max()
    cache = (x, pool_param)
    return out, cache
    ### END SOLUTION


def max_pool_backward_naive(dout, cache):
    """Backward pass of max pooling, written as the same loops.

    Each window's upstream gradient goes to the position of that window's
    maximum (the first one in row-major window order when there are ties, as
    PyTorch on the CPU). Overlapping windows add their gradients.

    Inputs:
    - dout: upstream gradient, (N, C, H_out, W_out)
    - cache: (x, pool_param) from ``max_pool_forward_naive``

    Returns:
    - dx: gradient with respect to x, (N, C, H, W), dtype of x

    Raises TypeError/ValueError when dout is not a float array of the forward
    output's shape.
    """
    x, pool_param = cache
    PH, PW, stride_h, stride_w, H_out, W_out = _check_pool_input(x, pool_param)
    _check_dout(dout, (*x.shape[:2], H_out, W_out))
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    dx = np.zeros_like(x)  # (N, C, H, W)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    h0, w0 = i * stride_h, j * stride_w
                    window = x[n, c, h0:h0 + PH, w0:w0 + PW]  # (PH, PW)
                    r, s = np.unravel_index(np.argmax(window), window.shape)  # first maximum
                    # Windows overlap when stride < window: accumulate, never assign.
                    dx[n, c, h0 + r, w0 + s] += dout[n, c, i, j]
    return dx
    ### END SOLUTION


def avg_pool_forward_naive(x, pool_param):
    """Forward pass of average pooling, written as loops.

    Inputs:
    - x: input, (N, C, H, W), float32 or float64
    - pool_param: dict with 'pool_height', 'pool_width' (ints >= 1) and
      'stride' (int or pair, >= 1), all required

    Returns a tuple of:
    - out: (N, C, H_out, W_out), dtype of x, each value the mean of its
      pool_height x pool_width window; H_out = floor((H - pool_height) / stride_h) + 1
    - cache: (x, pool_param) for ``avg_pool_backward_naive``

    Raises TypeError/ValueError for a non-float or non-4-D x, a missing or
    non-positive pool_param entry, or a window larger than the input.
    """
    PH, PW, stride_h, stride_w, H_out, W_out = _check_pool_input(x, pool_param)
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    h0, w0 = i * stride_h, j * stride_w
                    out[n, c, i, j] = x[n, c, h0:h0 + PH, w0:w0 + PW].mean()
    cache = (x, pool_param)
    return out, cache
    ### END SOLUTION


def avg_pool_backward_naive(dout, cache):
    """Backward pass of average pooling, written as the same loops.

    Every pixel of a window receives ``1 / (pool_height * pool_width)`` of the
    window's upstream gradient; overlapping windows add their shares.

    Inputs:
    - dout: upstream gradient, (N, C, H_out, W_out)
    - cache: (x, pool_param) from ``avg_pool_forward_naive``

    Returns:
    - dx: gradient with respect to x, (N, C, H, W), dtype of x

    Raises TypeError/ValueError when dout is not a float array of the forward
    output's shape.
    """
    x, pool_param = cache
    PH, PW, stride_h, stride_w, H_out, W_out = _check_pool_input(x, pool_param)
    _check_dout(dout, (*x.shape[:2], H_out, W_out))
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    dx = np.zeros_like(x)  # (N, C, H, W)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    h0, w0 = i * stride_h, j * stride_w
                    dx[n, c, h0:h0 + PH, w0:w0 + PW] += dout[n, c, i, j] / (PH * PW)
    return dx
    ### END SOLUTION
