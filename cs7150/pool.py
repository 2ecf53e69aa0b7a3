"""Max and average pooling as the lecture writes them: loops over samples, channels and output positions.

Each output value summarizes one ``pool_height x pool_width`` window of one
channel: its maximum (max pooling) or its mean (average pooling). Windows
start every ``stride`` pixels, so they overlap when the stride is smaller than
the window; the backward passes then *accumulate* (``+=``) the gradients an
input pixel receives from every window it belongs to. These are the readable
versions; ``cs7150.pool_fast`` computes the same numbers without Python loops
over positions.

``pool_param`` is a dict with exactly these keys, as ``torch.nn.MaxPool2d`` /
``AvgPool2d`` (any other is a ValueError naming it; ``cs7150._windows``
checks them):
    'pool_height': int >= 1, the window's height PH (required)
    'pool_width':  int >= 1, the window's width PW (required)
    'stride':      int or (stride_h, stride_w), >= 1 (required)
    'pad':         int or (pad_h, pad_w), 0 <= pad_h <= PH // 2, on both sides:
                   -inf for max pooling, zeros for average pooling (default 0)
    'ceil_mode':   bool, round the output size up (default False)
    'count_include_pad': bool, average pooling only: do the padding's zeros
                   count in a window's divisor (default True)
The output size along each axis is ``floor((H + 2*pad_h - PH) / stride_h) + 1``
(ceil instead of floor in ceil mode, less a last window that would start in
the padding after the input, as PyTorch). Without 'pad' and 'ceil_mode' this
is ``floor((H - PH) / stride_h) + 1``: every window lies inside the input.

Assignment 1 checks and grades windows inside the input only (no 'pad',
'ceil_mode' off: ``pad_h = pad_w = 0``); 'pad', 'ceil_mode' and
'count_include_pad' are an optional extension (the lecture pads pooling too),
worth no points (notebook section 5).
"""
from __future__ import annotations

import numpy as np

from cs7150._windows import check_pool_dout, pool_geometry


def max_pool_forward_naive(x, pool_param):
    """Forward pass of max pooling, written as loops.

    Inputs:
    - x: input, (N, C, H, W), float32 or float64
    - pool_param: dict with 'pool_height', 'pool_width' (ints >= 1) and
      'stride' (int or pair, >= 1), all required, and optional 'pad' (int or
      pair, at most half the window; -inf around x) and 'ceil_mode' (bool)

    Returns a tuple of:
    - out: (N, C, H_out, W_out), dtype of x, where
      H_out = floor((H + 2*pad_h - pool_height) / stride_h) + 1 (same for W;
      see the module docstring for ceil mode)
    - cache: (x, pool_param) for ``max_pool_backward_naive``

    Raises TypeError/ValueError for a non-float or non-4-D x, an unknown,
    missing or out-of-range pool_param entry, or a window larger than the
    padded input.
    """
    PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out = pool_geometry(x, pool_param, average=False)
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    padding = ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w))
    x_padded = np.pad(x, padding, constant_values=-np.inf)  # (N, C, H + 2*pad_h, W + 2*pad_w)
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    h0, w0 = i * stride_h, j * stride_w
                    # in ceil mode the last window may reach past x_padded: the slice stops at its end
                    window = x_padded[n, c, h0:h0 + PH, w0:w0 + PW]  # (PH, PW) or fewer
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
    geometry = pool_geometry(x, pool_param, average=False)
    check_pool_dout(dout, x, geometry)
    PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out = geometry
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    padding = ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w))
    x_padded = np.pad(x, padding, constant_values=-np.inf)
    dx_padded = np.zeros(x_padded.shape, dtype=x.dtype)  # (N, C, H + 2*pad_h, W + 2*pad_w)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    h0, w0 = i * stride_h, j * stride_w
                    window = x_padded[n, c, h0:h0 + PH, w0:w0 + PW]
                    r, s = np.unravel_index(np.argmax(window), window.shape)  # first maximum (never -inf padding)
                    # Windows overlap when stride < window: accumulate, never assign.
                    dx_padded[n, c, h0 + r, w0 + s] += dout[n, c, i, j]
    return dx_padded[:, :, pad_h:pad_h + H, pad_w:pad_w + W]  # (N, C, H, W)
    ### END SOLUTION


def avg_pool_forward_naive(x, pool_param):
    """Forward pass of average pooling, written as loops.

    Inputs:
    - x: input, (N, C, H, W), float32 or float64
    - pool_param: dict with 'pool_height', 'pool_width' (ints >= 1) and
      'stride' (int or pair, >= 1), all required, and optional 'pad' (int or
      pair, at most half the window; zeros around x), 'ceil_mode' (bool) and
      'count_include_pad' (bool, default True)

    Returns a tuple of:
    - out: (N, C, H_out, W_out), dtype of x, each value the sum of its
      pool_height x pool_width window divided by the window's size (with
      count_include_pad=False: by the number of x's pixels in it);
      H_out = floor((H + 2*pad_h - pool_height) / stride_h) + 1 (see the
      module docstring for ceil mode)
    - cache: (x, pool_param) for ``avg_pool_backward_naive``

    Raises TypeError/ValueError for a non-float or non-4-D x, an unknown,
    missing or out-of-range pool_param entry, or a window larger than the
    padded input.
    """
    PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out = pool_geometry(x, pool_param, average=True)
    count_include_pad = pool_param.get("count_include_pad", True)  # checked: a bool
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))  # zeros
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    h0, w0 = i * stride_h, j * stride_w
                    window = x_padded[n, c, h0:h0 + PH, w0:w0 + PW]  # ends at x_padded's end in ceil mode
                    if count_include_pad:
                        divisor = window.size
                    else:  # x's own pixels: x_padded's rows pad_h .. pad_h + H - 1, columns pad_w .. pad_w + W - 1
                        rows = min(h0 + PH, pad_h + H) - max(h0, pad_h)
                        cols = min(w0 + PW, pad_w + W) - max(w0, pad_w)
                        divisor = rows * cols
                    out[n, c, i, j] = window.sum() / divisor
    cache = (x, pool_param)
    return out, cache
    ### END SOLUTION


def avg_pool_backward_naive(dout, cache):
    """Backward pass of average pooling, written as the same loops.

    Every pixel of a window receives ``1 / divisor`` of the window's upstream
    gradient (``pool_height * pool_width`` for windows inside the input);
    overlapping windows add their shares.

    Inputs:
    - dout: upstream gradient, (N, C, H_out, W_out)
    - cache: (x, pool_param) from ``avg_pool_forward_naive``

    Returns:
    - dx: gradient with respect to x, (N, C, H, W), dtype of x

    Raises TypeError/ValueError when dout is not a float array of the forward
    output's shape.
    """
    x, pool_param = cache
    geometry = pool_geometry(x, pool_param, average=True)
    check_pool_dout(dout, x, geometry)
    PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out = geometry
    count_include_pad = pool_param.get("count_include_pad", True)  # checked: a bool
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    dx_padded = np.zeros((N, C, H + 2 * pad_h, W + 2 * pad_w), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    h0, w0 = i * stride_h, j * stride_w
                    window = dx_padded[n, c, h0:h0 + PH, w0:w0 + PW]  # a view: += writes into dx_padded
                    if count_include_pad:
                        divisor = window.size
                    else:
                        rows = min(h0 + PH, pad_h + H) - max(h0, pad_h)
                        cols = min(w0 + PW, pad_w + W) - max(w0, pad_w)
                        divisor = rows * cols
                    window += dout[n, c, i, j] / divisor
    return dx_padded[:, :, pad_h:pad_h + H, pad_w:pad_w + W]  # (N, C, H, W)
    ### END SOLUTION
