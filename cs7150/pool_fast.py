"""Max and average pooling without Python loops over positions: every window at once.

The naive loops (``cs7150.pool``) take one window ``x_padded[n, c, h0:h0 + PH, w0:w0 + PW]``
for each output value. Here the loops are swapped: there are only PH * PW
offsets (r, s) inside a window, and for each offset the pixels
``x_padded[n, c, i*stride_h + r, j*stride_w + s]`` of every window form one
strided slice of ``x_padded``, shape (N, C, H_out, W_out). ``window_view``
returns all of them at once, as a view (no copy) of shape
(N, C, H_out, W_out, PH, PW): ``windows[n, c, i, j]`` is the window of output
value (n, c, i, j), the lecture's window, for every output value together.

- Max pooling keeps each window's maximum and, in its cache, the position of
  the window's first maximum in row-major order (``np.argmax`` of the
  flattened window): where the naive loops, and PyTorch on the CPU, send the
  gradient. The backward pass puts each window's ``dout`` there (a mask that
  is 1 at the argmax) and adds every window back into the input.
- Average pooling divides each window's sum by its divisor; the backward pass
  gives every pixel of a window its share ``dout / divisor``.
- ``add_windows`` is ``window_view``'s adjoint (pooling's col2im): it adds
  every window's values back where the window came from, so a pixel in two
  overlapping windows receives the sum of both.

Padding and ceil mode: ``_padded`` puts x into a larger array filled with
-inf (max) or zeros (average), long enough for the last window (in ceil mode
it may reach past the padding); the backward passes add into an array of that
size and cut x's part out of it. Average pooling's divisor is the product of a
row count and a column count (``_window_counts``). As for the naive versions,
assignment 1 checks and grades windows inside the input only; padding and
ceil mode are an optional extension worth no points.

The results equal ``cs7150.pool``'s naive loops (sums up to rounding: they
add in another order). ``pool_param`` (the same keys; any other is a
ValueError) and the output size are as in ``cs7150.pool``. A cache from a
``*_forward_fast`` function goes to its ``*_backward_fast`` twin only
(``max_pool_forward_fast`` caches the argmax; the naive one does not).
"""
from __future__ import annotations

import numpy as np

from cs7150._windows import check_pool_dout, pool_geometry


def _padded_size(size, pad, window, stride, n_out):
    """Length of the padded axis: ``pad`` before x's ``size``, and room for the last window's end."""
    return max(pad + size, (n_out - 1) * stride + window)


def _padded_shape(x, geometry):
    """(N, C, H_padded, W_padded): x's shape with each spatial axis as long as ``_padded_size`` makes it."""
    PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out = geometry
    N, C, H, W = x.shape
    return N, C, _padded_size(H, pad_h, PH, stride_h, H_out), _padded_size(W, pad_w, PW, stride_w, W_out)


def _padded(x, geometry, fill):
    """x inside an (N, C, H_padded, W_padded) array of ``fill``, at offset (pad_h, pad_w).

    H_padded is ``_padded_size`` along H: at least pad_h + H, and long enough
    for the last window (in ceil mode it may end after the padding). Without
    padding or ceil mode's extra window that is x's own size: x itself, no copy.
    """
    pad_h, pad_w = geometry.pad_h, geometry.pad_w
    shape = _padded_shape(x, geometry)
    if shape == x.shape:
        return x
    H, W = x.shape[2:]
    x_padded = np.full(shape, fill, dtype=x.dtype)
    x_padded[:, :, pad_h:pad_h + H, pad_w:pad_w + W] = x
    return x_padded


def _window_counts(size, pad, window, stride, n_out, count_include_pad):
    """Each window's length along one axis for the average's divisor, as PyTorch: (n_out,) ints.

    The window is cut at the end of the padded input (``size + 2*pad``; ceil
    mode's last window may reach past it); with ``count_include_pad=False``
    it is cut to x itself (``[pad, pad + size)`` of the padded axis).
    """
    start = np.arange(n_out) * stride
    end = np.minimum(start + window, size + 2 * pad)
    if not count_include_pad:
        start, end = np.maximum(start, pad), np.minimum(end, pad + size)
    return end - start


def _divisors(x, geometry, count_include_pad):
    """(H_out, W_out) array in x's dtype: the divisor of each average-pooling window."""
    PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out = geometry
    H, W = x.shape[2:]
    rows = _window_counts(H, pad_h, PH, stride_h, H_out, count_include_pad)  # (H_out,)
    cols = _window_counts(W, pad_w, PW, stride_w, W_out, count_include_pad)  # (W_out,)
    return np.multiply.outer(rows, cols).astype(x.dtype)


def window_view(x_padded, PH, PW, stride, out_size):
    """Every pooling window of ``x_padded`` at once, as a view (no copy).

    Inputs:
    - x_padded: (N, C, H_padded, W_padded) array
    - PH, PW: the window's height and width (ints >= 1)
    - stride: (stride_h, stride_w), ints >= 1
    - out_size: (H_out, W_out), the number of windows along each axis; the last
      window, ``(H_out - 1)*stride_h + PH`` rows, fits in ``x_padded``

    Returns windows, a view of x_padded of shape (N, C, H_out, W_out, PH, PW) with
    ``windows[n, c, i, j, r, s] = x_padded[n, c, i*stride_h + r, j*stride_w + s]``.
    """
    ### BEGIN SOLUTION
    (stride_h, stride_w), (H_out, W_out) = stride, out_size
    every = np.lib.stride_tricks.sliding_window_view(x_padded, (PH, PW), axis=(2, 3))  # a window at every position
    return every[:, :, :stride_h * (H_out - 1) + 1:stride_h, :stride_w * (W_out - 1) + 1:stride_w]
    ### END SOLUTION


def add_windows(dwindows, padded_shape, stride):
    """Add every window's values back where ``window_view`` took them from (its adjoint).

    Inputs:
    - dwindows: (N, C, H_out, W_out, PH, PW), a value for every pixel of every window
    - padded_shape: (N, C, H_padded, W_padded), the shape of the array the windows were taken from
    - stride: (stride_h, stride_w), ints >= 1

    Returns dx_padded, an array of ``padded_shape`` in dwindows' dtype where each
    entry is the sum of the values of every window that contains it (0 where
    no window reaches): windows overlap when the stride is smaller than the window.
    """
    ### BEGIN SOLUTION
    N, C, H_out, W_out, PH, PW = dwindows.shape
    stride_h, stride_w = stride
    dx_padded = np.zeros(padded_shape, dtype=dwindows.dtype)
    for r in range(PH):
        for s in range(PW):
            # pixel (r, s) of every window: one strided slice of dx_padded, (N, C, H_out, W_out)
            rows = slice(r, r + stride_h * (H_out - 1) + 1, stride_h)
            columns = slice(s, s + stride_w * (W_out - 1) + 1, stride_w)
            dx_padded[:, :, rows, columns] += dwindows[:, :, :, :, r, s]
    return dx_padded
    ### END SOLUTION


def max_pool_forward_fast(x, pool_param):
    """Vectorized forward pass of max pooling; same results as ``max_pool_forward_naive``.

    Inputs:
    - x: input, (N, C, H, W), float32 or float64
    - pool_param: dict with 'pool_height', 'pool_width' (ints >= 1) and
      'stride' (int or pair, >= 1), all required, and optional 'pad' (int or
      pair, at most half the window; -inf around x) and 'ceil_mode' (bool)

    Returns a tuple of:
    - out: (N, C, H_out, W_out), dtype of x, where
      H_out = floor((H + 2*pad_h - pool_height) / stride_h) + 1 (same for W;
      see ``cs7150.pool`` for ceil mode)
    - cache: (x, pool_param, argmax) for ``max_pool_backward_fast``; argmax
      (N, C, H_out, W_out) ints is the position ``r * pool_width + s`` of each
      window's first maximum in row-major order (what ``np.argmax`` of the
      flattened window returns)

    Raises TypeError/ValueError for a non-float or non-4-D x, an unknown,
    missing or out-of-range pool_param entry, or a window larger than the
    padded input.
    """
    geometry = pool_geometry(x, pool_param, average=False)
    PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out = geometry
    x_padded = _padded(x, geometry, -np.inf)  # (N, C, H_padded, W_padded): -inf is never a window's maximum
    ### BEGIN SOLUTION
    windows = window_view(x_padded, PH, PW, (stride_h, stride_w), (H_out, W_out))  # (N, C, H_out, W_out, PH, PW)
    # One pass per window position (r, s), each over every window at once. The same argmax in one line, but
    # copying every window first: windows.reshape(N, C, H_out, W_out, PH * PW).argmax(axis=-1)
    out = windows[..., 0, 0].copy()  # (N, C, H_out, W_out): the largest value so far
    argmax = np.zeros(out.shape, dtype=np.intp)  # where it is, r * PW + s
    for r in range(PH):
        for s in range(PW):
            later = np.greater(windows[..., r, s], out)  # strictly: a tie keeps the first maximum
            np.copyto(argmax, r * PW + s, where=later)
            np.maximum(out, windows[..., r, s], out=out)
    cache = (x, pool_param, argmax)
    return out, cache
    ### END SOLUTION


def max_pool_backward_fast(dout, cache):
    """Vectorized backward pass of max pooling; same results as ``max_pool_backward_naive``.

    Each window's upstream gradient goes to the first position (row-major
    window order) that holds the window's maximum; overlapping windows add.

    Inputs:
    - dout: upstream gradient, (N, C, H_out, W_out)
    - cache: (x, pool_param, argmax) from ``max_pool_forward_fast``

    Returns:
    - dx: gradient with respect to x, (N, C, H, W), dtype of x

    Raises TypeError/ValueError when dout is not a float array of the forward
    output's shape.
    """
    x, pool_param, argmax = cache
    geometry = pool_geometry(x, pool_param, average=False)
    check_pool_dout(dout, x, geometry)
    PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out = geometry
    padded_shape = _padded_shape(x, geometry)  # (N, C, H_padded, W_padded), as the forward pass padded x
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    dwindows = np.zeros((N, C, H_out, W_out, PH * PW), dtype=x.dtype)  # a gradient for every pixel of every window
    np.put_along_axis(dwindows, argmax[..., None], dout[..., None], axis=-1)  # dout at each window's first maximum
    dx_padded = add_windows(dwindows.reshape(N, C, H_out, W_out, PH, PW), padded_shape, (stride_h, stride_w))
    return dx_padded[:, :, pad_h:pad_h + H, pad_w:pad_w + W]  # (N, C, H, W)
    ### END SOLUTION


def avg_pool_forward_fast(x, pool_param):
    """Vectorized forward pass of average pooling; same results as ``avg_pool_forward_naive``.

    Inputs:
    - x: input, (N, C, H, W), float32 or float64
    - pool_param: dict with 'pool_height', 'pool_width' (ints >= 1) and
      'stride' (int or pair, >= 1), all required, and optional 'pad' (int or
      pair, at most half the window; zeros around x), 'ceil_mode' (bool) and
      'count_include_pad' (bool, default True)

    Returns a tuple of:
    - out: (N, C, H_out, W_out), dtype of x, each value the sum of its
      window divided by its divisor (``pool_height * pool_width`` for a window
      inside the input; see ``avg_pool_forward_naive``);
      H_out = floor((H + 2*pad_h - pool_height) / stride_h) + 1 (see
      ``cs7150.pool`` for ceil mode)
    - cache: (x, pool_param) for ``avg_pool_backward_fast``

    Raises TypeError/ValueError for a non-float or non-4-D x, an unknown,
    missing or out-of-range pool_param entry, or a window larger than the
    padded input.
    """
    geometry = pool_geometry(x, pool_param, average=True)
    PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out = geometry
    x_padded = _padded(x, geometry, 0)  # (N, C, H_padded, W_padded), zeros around x
    divisors = _divisors(x, geometry, pool_param.get("count_include_pad", True))  # (H_out, W_out)
    ### BEGIN SOLUTION
    windows = window_view(x_padded, PH, PW, (stride_h, stride_w), (H_out, W_out))  # (N, C, H_out, W_out, PH, PW)
    out = windows[..., 0, 0].copy()  # one pass per window position (r, s), as in max pooling
    for r in range(PH):
        for s in range(PW):
            if r or s:
                out += windows[..., r, s]
    out /= divisors
    cache = (x, pool_param)
    return out, cache
    ### END SOLUTION


def avg_pool_backward_fast(dout, cache):
    """Vectorized backward pass of average pooling; same results as ``avg_pool_backward_naive``.

    Every pixel of a window receives ``1 / divisor`` of the window's upstream
    gradient; overlapping windows add their shares.

    Inputs:
    - dout: upstream gradient, (N, C, H_out, W_out)
    - cache: (x, pool_param) from ``avg_pool_forward_fast``

    Returns:
    - dx: gradient with respect to x, (N, C, H, W), dtype of x

    Raises TypeError/ValueError when dout is not a float array of the forward
    output's shape.
    """
    x, pool_param = cache
    geometry = pool_geometry(x, pool_param, average=True)
    check_pool_dout(dout, x, geometry)
    PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out = geometry
    padded_shape = _padded_shape(x, geometry)  # (N, C, H_padded, W_padded), as the forward pass padded x
    divisors = _divisors(x, geometry, pool_param.get("count_include_pad", True))  # (H_out, W_out)
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    share = (dout / divisors).astype(x.dtype, copy=False)  # (N, C, H_out, W_out): what each pixel of a window gets
    dwindows = np.broadcast_to(share[..., None, None], (N, C, H_out, W_out, PH, PW))  # no copy
    dx_padded = add_windows(dwindows, padded_shape, (stride_h, stride_w))
    return dx_padded[:, :, pad_h:pad_h + H, pad_w:pad_w + W]  # (N, C, H, W)
    ### END SOLUTION
