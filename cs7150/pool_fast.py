"""Max and average pooling without Python loops over positions: one axis at a time.

Max and sum over a PH x PW window are separable: the window's maximum is the
maximum over its PH rows of each row's PW-pixel segment maximum (the same for
sums). So pooling is two short loops over window offsets, one per axis:

1. along W: for an offset ``s < PW`` the pixels ``x[n, c, h, j*stride_w + s]`` of
   all output columns ``j`` form one strided view of ``x`` (no copy) of shape
   ``(N, C, H, W_out)``; combining the PW views with ``np.maximum`` (or ``+``)
   gives every row segment's maximum (or sum);
2. along H: the PH views ``[n, c, i*stride_h + r, j]`` of that result give the
   windows' values, ``(N, C, H_out, W_out)``.

That is PW passes over x and PH over a PW-times smaller array, instead of
PH * PW passes over x. Max pooling also keeps, at each step, the first offset
that holds the maximum (``first_col`` per row segment, ``first_row`` per
window): the window's first row holding its maximum, then that row's first
pixel holding it, is the first maximum in row-major window order, where the
naive loops (and PyTorch on CPU) send the gradient. The backward passes run the
two steps in reverse, spreading ``dout`` over rows, then over columns.

Padding and ceil mode: ``_padded`` puts x into a larger array filled with
-inf (max) or zeros (average), long enough for the last window (in ceil mode
it may reach past the padding); the backward passes spread over that array
and cut x's part out of it. Average pooling divides each window's sum by its
divisor, the product of a row count and a column count (``_window_counts``).
Without padding or ceil mode x is pooled as it is, without a copy. As for the
naive versions, assignment 1 checks and grades windows inside the input only;
padding and ceil mode are an optional extension worth no points.

The results equal ``cs7150.pool``'s naive loops (sums up to rounding: they
add in another order). ``pool_param`` (the same keys; any other is a
ValueError) and the output size are as in ``cs7150.pool``. A cache from a ``*_forward_fast`` function goes to its
``*_backward_fast`` twin only (``max_pool_forward_fast`` caches the first-maximum
offsets; the naive one does not).
"""
from __future__ import annotations

import numpy as np

from cs7150._windows import check_pool_dout, pool_geometry

W_AXIS, H_AXIS = 3, 2  # spatial axes of (N, C, H, W)


def _offset_view(a, axis, offset, stride, n_out):
    """The strided view of ``a`` holding ``a[..., offset + i*stride, ...]`` at index ``i < n_out`` along ``axis``.

    For an (N, C, H, W) array, ``_offset_view(x, 3, s, stride_w, W_out)`` is the
    (N, C, H, W_out) view with ``x[n, c, h, j*stride_w + s]`` at ``[n, c, h, j]``.
    """
    index = [slice(None)] * a.ndim
    index[axis] = slice(offset, offset + stride * (n_out - 1) + 1, stride)
    return a[tuple(index)]


def _padded_size(size, pad, window, stride, n_out):
    """Length of the padded axis: ``pad`` before x's ``size``, and room for the last window's end."""
    return max(pad + size, (n_out - 1) * stride + window)


def _padded(x, geometry, fill):
    """x inside an (N, C, H_padded, W_padded) array of ``fill``, at offset (pad_h, pad_w).

    H_padded is ``_padded_size`` along H: at least pad_h + H, and long enough
    for the last window (in ceil mode it may end after the padding). Without
    padding or ceil mode's extra window that is x's own size: x itself, no copy.
    """
    PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out = geometry
    N, C, H, W = x.shape
    size = (_padded_size(H, pad_h, PH, stride_h, H_out), _padded_size(W, pad_w, PW, stride_w, W_out))
    if size == (H, W):
        return x
    x_padded = np.full((N, C, *size), fill, dtype=x.dtype)
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


def _max_along(a, axis, size, stride, n_out):
    """Maximum over ``size`` window offsets along ``axis``, and the first offset holding it.

    Returns (best, first), both of a's shape with ``n_out`` along ``axis``:
    ``best`` in a's dtype, ``first`` (unsigned ints) the smallest offset k with
    ``_offset_view(a, axis, k, stride, n_out) == best``.
    """
    ### BEGIN SOLUTION
    best = _offset_view(a, axis, 0, stride, n_out).copy()
    first = np.zeros(best.shape, dtype=np.min_scalar_type(size - 1))
    for k in range(1, size):
        # a contiguous copy first: np.maximum and np.greater on a strided view run several times slower
        values = np.ascontiguousarray(_offset_view(a, axis, k, stride, n_out))
        later = np.greater(values, best)  # strictly: a tie keeps the earlier offset
        np.maximum(first, later * first.dtype.type(k), out=first)  # k exceeds every earlier offset
        np.maximum(best, values, out=best)
    return best, first
    ### END SOLUTION


def _sum_along(a, axis, size, stride, n_out):
    """Sum over ``size`` window offsets along ``axis``: a's shape with ``n_out`` along ``axis``, a's dtype."""
    ### BEGIN SOLUTION
    total = _offset_view(a, axis, 0, stride, n_out).copy()
    for k in range(1, size):
        total += _offset_view(a, axis, k, stride, n_out)
    return total
    ### END SOLUTION


def _spread_along(grad, axis, size, stride, full_size, dtype, first=None):
    """Adjoint of ``_sum_along`` (``first=None``) or of ``_max_along`` (``first`` from it).

    Sends every value of ``grad`` (``n_out`` along ``axis``) back to the ``size``
    positions it was combined from (sum), or to the one offset ``first`` names
    (max). Returns an array of grad's shape with ``full_size`` along ``axis``, in
    ``dtype``; where windows overlap (``stride < size``) the shares add up.
    """
    ### BEGIN SOLUTION
    shape = list(grad.shape)
    shape[axis] = full_size
    spread = np.zeros(shape, dtype=dtype)  # positions no window reads keep gradient 0
    overlapping = stride < size
    for k in range(size):
        target = _offset_view(spread, axis, k, stride, grad.shape[axis])
        mask = 1 if first is None else np.equal(first, k)
        if overlapping:
            target += grad * mask  # a position may be in several windows
        else:
            np.multiply(grad, mask, out=target)  # each position is in at most one window
    return spread
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
    - cache: (x, pool_param, first_row, first_col) for ``max_pool_backward_fast``;
      first_row (N, C, H_out, W_out) is the window offset r of each window's
      first row holding its maximum, first_col (N, C, H_padded, W_out) the
      offset s of each row segment's first maximum (H_padded = H without
      padding or ceil mode, else the rows ``_padded`` gives)

    Raises TypeError/ValueError for a non-float or non-4-D x, an unknown,
    missing or out-of-range pool_param entry, or a window larger than the
    padded input.
    """
    geometry = pool_geometry(x, pool_param, average=False)
    PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out = geometry
    ### BEGIN SOLUTION
    x_padded = _padded(x, geometry, -np.inf)  # (N, C, H_padded, W_padded): -inf is never a window's maximum
    row_max, first_col = _max_along(x_padded, W_AXIS, PW, stride_w, W_out)  # (N, C, H_padded, W_out)
    out, first_row = _max_along(row_max, H_AXIS, PH, stride_h, H_out)  # (N, C, H_out, W_out)
    cache = (x, pool_param, first_row, first_col)
    return out, cache
    ### END SOLUTION


def max_pool_backward_fast(dout, cache):
    """Vectorized backward pass of max pooling; same results as ``max_pool_backward_naive``.

    Each window's upstream gradient goes to the first position (row-major
    window order) that holds the window's maximum; overlapping windows add.

    Inputs:
    - dout: upstream gradient, (N, C, H_out, W_out)
    - cache: (x, pool_param, first_row, first_col) from ``max_pool_forward_fast``

    Returns:
    - dx: gradient with respect to x, (N, C, H, W), dtype of x

    Raises TypeError/ValueError when dout is not a float array of the forward
    output's shape.
    """
    x, pool_param, first_row, first_col = cache
    geometry = pool_geometry(x, pool_param, average=False)
    check_pool_dout(dout, x, geometry)
    PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out = geometry
    ### BEGIN SOLUTION
    H, W = x.shape[2:]
    H_padded = _padded_size(H, pad_h, PH, stride_h, H_out)
    W_padded = _padded_size(W, pad_w, PW, stride_w, W_out)
    row_grad = _spread_along(dout, H_AXIS, PH, stride_h, H_padded, x.dtype, first_row)  # (N, C, H_padded, W_out)
    dx_padded = _spread_along(row_grad, W_AXIS, PW, stride_w, W_padded, x.dtype, first_col)
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
      window divided by its divisor (as ``avg_pool_forward_naive``);
      H_out = floor((H + 2*pad_h - pool_height) / stride_h) + 1 (see
      ``cs7150.pool`` for ceil mode)
    - cache: (x, pool_param) for ``avg_pool_backward_fast``

    Raises TypeError/ValueError for a non-float or non-4-D x, an unknown,
    missing or out-of-range pool_param entry, or a window larger than the
    padded input.
    """
    geometry = pool_geometry(x, pool_param, average=True)
    PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out = geometry
    count_include_pad = pool_param.get("count_include_pad", True)  # checked: a bool
    ### BEGIN SOLUTION
    H, W = x.shape[2:]
    row_sums = _sum_along(_padded(x, geometry, 0), W_AXIS, PW, stride_w, W_out)  # (N, C, H_padded, W_out)
    out = _sum_along(row_sums, H_AXIS, PH, stride_h, H_out)  # (N, C, H_out, W_out)
    rows = _window_counts(H, pad_h, PH, stride_h, H_out, count_include_pad)  # (H_out,)
    cols = _window_counts(W, pad_w, PW, stride_w, W_out, count_include_pad)  # (W_out,)
    out /= np.multiply.outer(rows, cols).astype(x.dtype)  # (H_out, W_out) divisors
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
    geometry = pool_geometry(x, pool_param, average=True)
    check_pool_dout(dout, x, geometry)
    PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out = geometry
    count_include_pad = pool_param.get("count_include_pad", True)  # checked: a bool
    ### BEGIN SOLUTION
    H, W = x.shape[2:]
    rows = _window_counts(H, pad_h, PH, stride_h, H_out, count_include_pad)  # (H_out,)
    cols = _window_counts(W, pad_w, PW, stride_w, W_out, count_include_pad)  # (W_out,)
    share = dout / np.multiply.outer(rows, cols).astype(x.dtype)  # (N, C, H_out, W_out): each pixel's part
    H_padded = _padded_size(H, pad_h, PH, stride_h, H_out)
    W_padded = _padded_size(W, pad_w, PW, stride_w, W_out)
    row_grad = _spread_along(share, H_AXIS, PH, stride_h, H_padded, x.dtype)  # (N, C, H_padded, W_out)
    dx_padded = _spread_along(row_grad, W_AXIS, PW, stride_w, W_padded, x.dtype)
    return dx_padded[:, :, pad_h:pad_h + H, pad_w:pad_w + W]  # (N, C, H, W)
    ### END SOLUTION
