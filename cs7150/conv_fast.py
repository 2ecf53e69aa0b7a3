"""Fast convolution in NumPy: im2col, one matrix product, col2im.

One N-d implementation serves 1-D (N, C, L), 2-D (N, C, H, W) and 3-D
(N, C, D, H, W) inputs; the public functions are thin wrappers that check
their inputs and call it. Assignment 1 requires the 2-D case with groups 1
(``conv_forward_fast``, ``conv_backward_fast``; section 6); 1-D, 3-D and
groups (``conv1d_*_fast``, ``conv3d_*_fast``; section 9) are its extension,
graded as extra credit.

- ``im2col`` copies every (dilated, strided) window of the padded input into
  a matrix ``cols`` of shape (C, *kernel_size, *out_size, N): one row per
  filter weight, one column per output position of every sample.
- The forward pass is then one matrix product per group,
  ``(F_g, C_g*K) @ (C_g*K, P*N)``, where K is the number of kernel taps and
  P the number of output positions.
- The backward pass needs two more: ``dw = dout @ cols.T`` and
  ``dcols = w.T @ dout``; ``col2im`` adds ``dcols`` back into the input, one
  kernel offset at a time (overlapping windows add up).

Memory layout: inside this module the padded input and the columns keep the
batch axis last, (C, *spatial, N). Every window copy then moves runs of N
contiguous numbers instead of a handful, which is what makes im2col and
col2im cheap next to the matrix products; the inputs and results of the
public functions are ordinary (N, C, *spatial) arrays.

Chunks: the batch goes through in chunks of a few samples (``_batch_chunks``,
about ``CHUNK_BYTES`` of columns each). A chunk's columns are used while they
are still in the processor's cache, and the backward pass builds them again
instead of keeping the whole batch's from the forward pass: for LeNet-5's
conv2 at batch 128 those are 50 MB in float32, and writing and reading them
back from memory cost more than the copies (measured in docs/benchmarks.md of the
course repository; a student release does not include it).

Results equal ``cs7150.conv.conv_forward_naive`` / ``conv_backward_naive`` up
to floating-point rounding. ``conv_param`` takes the same keys, one int per
spatial axis where they take pairs ('stride', 'pad' as an int, a tuple, 'same'
or 'valid', 'dilation', 'groups'), checked by ``cs7150._windows``; any other
key is a ValueError.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cs7150._windows import check_conv_dout, conv_geometry

CHUNK_BYTES = 4 * 2**20  # columns per batch chunk: about what stays in this course's machines' caches
MIN_CHUNK = 8  # samples: the shortest run of contiguous numbers im2col copies


def im2col(x_padded, kernel_size, stride, dilation):
    """Copy every window of a padded, batch-last input into the columns of a matrix.

    Inputs:
    - x_padded: (C, *padded_size, N) array with ``nd = len(kernel_size)`` spatial axes
    - kernel_size, stride, dilation: ``nd``-tuples of ints (each >= 1)

    Returns cols, a C-contiguous array of shape (C, *kernel_size, *out_size, N)
    with ``cols[c, *k, *o, n] = x_padded[c, *(o*stride + k*dilation), n]``;
    out_size is the number of window positions along each axis.
    """
    ### BEGIN SOLUTION
    nd = len(kernel_size)
    spatial_axes = tuple(range(1, 1 + nd))
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation))
    windows = sliding_window_view(x_padded, spans, axis=spatial_axes)  # (C, *positions, N, *spans)
    every_stride = tuple(slice(None, None, s) for s in stride)
    every_dilation = tuple(slice(None, None, d) for d in dilation)
    windows = windows[(slice(None), *every_stride, slice(None), *every_dilation)]  # (C, *out_size, N, *kernel)
    kernel_axes = tuple(range(2 + nd, 2 + 2 * nd))
    return np.ascontiguousarray(windows.transpose(0, *kernel_axes, *spatial_axes, 1 + nd))
    ### END SOLUTION


def col2im(dcols, padded_size, stride, dilation):
    """Add the columns of ``dcols`` back into the windows they came from (im2col's adjoint).

    Inputs:
    - dcols: (C, *kernel_size, *out_size, N), laid out as ``im2col`` returns
    - padded_size: the ``nd`` spatial sizes of the padded input
    - stride, dilation: ``nd``-tuples of ints (each >= 1)

    Returns dx_padded of shape (C, *padded_size, N), dtype of dcols, where every
    entry is the sum over all windows that contain it.
    """
    ### BEGIN SOLUTION
    nd = len(padded_size)
    C, N = dcols.shape[0], dcols.shape[-1]
    kernel_size, out_size = dcols.shape[1:1 + nd], dcols.shape[1 + nd:-1]
    dx_padded = np.zeros((C, *padded_size, N), dtype=dcols.dtype)
    for offset in np.ndindex(*kernel_size):
        window = tuple(
            slice(k * d, k * d + s * (o - 1) + 1, s) for k, d, s, o in zip(offset, dilation, stride, out_size)
        )
        dx_padded[(slice(None), *window)] += dcols[(slice(None), *offset)]  # (C, *out_size, N)
    return dx_padded
    ### END SOLUTION


def _batch_chunks(N, bytes_per_sample):
    """Slices of the batch, each small enough that its columns stay in the processor's cache.

    A chunk holds ``CHUNK_BYTES // bytes_per_sample`` samples (at least
    ``MIN_CHUNK``: the batch axis is the innermost one of ``cols``, so fewer
    samples would make im2col copy runs of a few numbers), the last one the rest.
    """
    size = min(N, max(MIN_CHUNK, CHUNK_BYTES // bytes_per_sample))
    return [slice(start, min(start + size, N)) for start in range(0, N, size)]


def _pad_batch_last(x, pad, dtype):
    """(n, C, *size) -> zero-padded (C, *padded_size, n) in ``dtype``: the layout ``im2col`` reads.

    ``pad`` holds the zeros (before, after) of each spatial axis.
    """
    n, C, *size = x.shape
    x_padded = np.zeros((C, *(before + m + after for m, (before, after) in zip(size, pad)), n), dtype=dtype)
    interior = tuple(slice(before, before + m) for m, (before, _) in zip(size, pad))
    x_padded[(slice(None), *interior)] = np.moveaxis(x, 0, -1)
    return x_padded


def _column_chunks(x, kernel_size, out_size, stride, pad, dilation, dtype):
    """(batch slice, cols) for each chunk of the batch (``_batch_chunks``), in the order of the batch.

    cols is ``im2col`` of the chunk's padded input, (C, *kernel_size, *out_size, n)
    in ``dtype``; the forward and the backward pass each build them chunk by chunk.
    """
    N, C = x.shape[:2]
    bytes_per_sample = C * math.prod(kernel_size) * math.prod(out_size) * np.dtype(dtype).itemsize
    for batch in _batch_chunks(N, bytes_per_sample):
        yield batch, im2col(_pad_batch_last(x[batch], pad, dtype), kernel_size, stride, dilation)


def conv_nd_forward(x, w, b, stride, pad, dilation, groups):
    """Convolution forward pass with already validated parameters, any number of spatial axes.

    Section 6 needs ``nd == 2`` and ``groups == 1`` only; any ``nd`` and groups are the extra-credit extension.

    Inputs:
    - x: (N, C, *size); w: (F, C // groups, *kernel_size); b: (F,)
    - stride, dilation: ``nd``-tuples of ints; pad: ``nd`` (before, after)
      pairs of ints; groups: int dividing C and F

    Returns out: (N, F, *out_size), dtype ``np.result_type(x, w)``, with
    out_size[i] = floor((size[i] + before + after - dilation[i]*(kernel_size[i] - 1) - 1) / stride[i]) + 1.

    The batch goes through in chunks (``_column_chunks``: pad, ``im2col``), one
    product per group, add the bias, and move the chunk's result to the
    batch-first output while its columns are still in cache. One chunk of all
    N samples gives the same result.
    """
    ### BEGIN SOLUTION
    N, C, *size = x.shape
    F, C_g, *kernel_size = w.shape
    nd = len(size)
    dtype = np.result_type(x, w)
    out_size = tuple((n + before + after - d * (k - 1) - 1) // s + 1
                     for n, k, (before, after), s, d in zip(size, kernel_size, pad, stride, dilation))
    K = math.prod(kernel_size)  # kernel taps
    w_by_group = w.reshape(groups, F // groups, C_g * K).astype(dtype, copy=False)  # (groups, F_g, C_g*K)
    out = np.empty((N, F, *out_size), dtype=dtype)
    for batch, cols in _column_chunks(x, kernel_size, out_size, stride, pad, dilation, dtype):
        out_chunk = np.matmul(w_by_group, cols.reshape(groups, C_g * K, -1)).reshape(F, *out_size, -1)
        out_chunk += b.reshape(F, *(1,) * (nd + 1))
        out[batch] = np.moveaxis(out_chunk, -1, 0)  # (n, F, *out_size)
    return out
    ### END SOLUTION


def conv_nd_backward(dout, x, w, stride, pad, dilation, groups):
    """Convolution backward pass with already validated parameters, any number of spatial axes.

    Section 6 needs ``nd == 2`` and ``groups == 1`` only; any ``nd`` and groups are the extra-credit extension.

    Inputs:
    - dout: (N, F, *out_size), upstream gradient
    - x: (N, C, *size) and w: (F, C // groups, *kernel_size) from the forward pass
    - stride, dilation: ``nd``-tuples of ints; pad: ``nd`` (before, after)
      pairs of ints; groups: int dividing C and F

    Returns (dx, dw, db): (N, C, *size), (F, C // groups, *kernel_size) and
    (F,), dx and dw in the dtypes of x and w, db in that of dout.

    Chunk by chunk of the batch, as the forward pass: ``im2col`` again
    (cheaper than keeping every chunk's columns from the forward pass),
    ``dw += dout @ cols.T``, ``dcols = w.T @ dout``, and ``col2im(dcols)`` less
    the padding is the chunk's dx.
    """
    ### BEGIN SOLUTION
    N, C, *size = x.shape
    F, C_g, *kernel_size = w.shape
    nd = len(size)
    dtype = np.result_type(dout, x, w)
    K = math.prod(kernel_size)  # kernel taps
    padded_size = tuple(before + n + after for n, (before, after) in zip(size, pad))
    interior = tuple(slice(before, before + n) for n, (before, _) in zip(size, pad))
    db = dout.sum(axis=(0, *range(2, 2 + nd)))  # (F,)
    w_by_group = w.reshape(groups, F // groups, C_g * K).astype(dtype, copy=False)  # (groups, F_g, C_g*K)
    dw = np.zeros(w_by_group.shape, dtype=dtype)
    dx = np.empty(x.shape, dtype=x.dtype)
    for batch, cols in _column_chunks(x, kernel_size, dout.shape[2:], stride, pad, dilation, dtype):
        cols_by_group = cols.reshape(groups, C_g * K, -1)  # (groups, C_g*K, P*n)
        dout_batch_last = np.ascontiguousarray(np.moveaxis(dout[batch], 0, -1), dtype=dtype)  # (F, *out_size, n)
        dout_by_group = dout_batch_last.reshape(groups, F // groups, -1)  # (groups, F_g, P*n)
        # dw += dout @ cols.T, computed as (cols @ dout.T).T: OpenBLAS is faster this way round (measured by the course)
        dw += np.matmul(cols_by_group, dout_by_group.swapaxes(1, 2)).swapaxes(1, 2)
        dcols = np.matmul(w_by_group.swapaxes(1, 2), dout_by_group).reshape(cols.shape)
        dx_padded = col2im(dcols, padded_size, stride, dilation)  # (C, *padded_size, n)
        dx[batch] = np.moveaxis(dx_padded[(slice(None), *interior)], -1, 0)  # (n, C, *size)
    return dx, dw.reshape(w.shape).astype(w.dtype, copy=False), db
    ### END SOLUTION


def _forward(x, w, b, conv_param, nd):
    """Validate, then run ``conv_nd_forward``; the cache is (x, w, b, conv_param)."""
    stride, pad, dilation, groups, _ = conv_geometry(x, w, b, conv_param, nd)
    return conv_nd_forward(x, w, b, stride, pad, dilation, groups), (x, w, b, conv_param)


def _backward(dout, cache, nd):
    """Validate dout against the cache, then run ``conv_nd_backward``."""
    x, w, b, conv_param = cache
    geometry = conv_geometry(x, w, b, conv_param, nd)
    check_conv_dout(dout, x, w, geometry)
    stride, pad, dilation, groups, _ = geometry
    dx, dw, db = conv_nd_backward(dout, x, w, stride, pad, dilation, groups)
    return dx, dw, db.astype(b.dtype, copy=False)


def conv_forward_fast(x, w, b, conv_param):
    """Fast 2-D convolution forward pass; same inputs and output as ``conv_forward_naive``.

    Inputs:
    - x: (N, C, H, W), float32 or float64
    - w: (F, C // groups, HH, WW); b: (F,)
    - conv_param: 'stride' (int or pair), 'pad' (int, pair, 'same' or 'valid'), optional
      'dilation' (int or pair), 'groups' (int; groups > 1 is the extra-credit extension); no other key

    Returns (out, cache): out (N, F, H_out, W_out) with dtype ``np.result_type(x, w)``;
    cache for ``conv_backward_fast``.

    Raises TypeError/ValueError for bad shapes, dtypes or conv_param entries (or an unknown key).
    """
    return _forward(x, w, b, conv_param, nd=2)


def conv_backward_fast(dout, cache):
    """Fast 2-D convolution backward pass; same results as ``conv_backward_naive``.

    Inputs:
    - dout: (N, F, H_out, W_out)
    - cache: from ``conv_forward_fast``

    Returns (dx, dw, db): (N, C, H, W), (F, C // groups, HH, WW), (F,), in the
    dtypes of x, w and b.

    Raises TypeError/ValueError when dout is not a float array of the output's shape.
    """
    return _backward(dout, cache, nd=2)


def conv1d_forward_fast(x, w, b, conv_param):
    """Fast 1-D convolution forward pass (as ``torch.nn.functional.conv1d``).

    Inputs:
    - x: (N, C, L), float32 or float64
    - w: (F, C // groups, K); b: (F,)
    - conv_param: 'stride' (int or 1-tuple), 'pad' (int, 1-tuple, 'same' or 'valid'), optional
      'dilation' (int or 1-tuple), 'groups' (int); no other key

    Returns (out, cache): out (N, F, L_out) with
    L_out = floor((L + 2*pad - dilation*(K - 1) - 1) / stride) + 1 (L_out = L for 'same');
    cache for ``conv1d_backward_fast``.

    Raises TypeError/ValueError for bad shapes, dtypes or conv_param entries (or an unknown key).
    """
    return _forward(x, w, b, conv_param, nd=1)


def conv1d_backward_fast(dout, cache):
    """Backward pass of ``conv1d_forward_fast``.

    Inputs:
    - dout: (N, F, L_out)
    - cache: from ``conv1d_forward_fast``

    Returns (dx, dw, db): (N, C, L), (F, C // groups, K), (F,), in the dtypes of x, w and b.

    Raises TypeError/ValueError when dout is not a float array of the output's shape.
    """
    return _backward(dout, cache, nd=1)


def conv3d_forward_fast(x, w, b, conv_param):
    """Fast 3-D convolution forward pass (as ``torch.nn.functional.conv3d``).

    Inputs:
    - x: (N, C, D, H, W), float32 or float64
    - w: (F, C // groups, KD, KH, KW); b: (F,)
    - conv_param: 'stride' (int or 3-tuple), 'pad' (int, 3-tuple, 'same' or 'valid'), optional
      'dilation' (int or 3-tuple), 'groups' (int); no other key

    Returns (out, cache): out (N, F, D_out, H_out, W_out); cache for ``conv3d_backward_fast``.

    Raises TypeError/ValueError for bad shapes, dtypes or conv_param entries (or an unknown key).
    """
    return _forward(x, w, b, conv_param, nd=3)


def conv3d_backward_fast(dout, cache):
    """Backward pass of ``conv3d_forward_fast``.

    Inputs:
    - dout: (N, F, D_out, H_out, W_out)
    - cache: from ``conv3d_forward_fast``

    Returns (dx, dw, db): (N, C, D, H, W), (F, C // groups, KD, KH, KW), (F,),
    in the dtypes of x, w and b.

    Raises TypeError/ValueError when dout is not a float array of the output's shape.
    """
    return _backward(dout, cache, nd=3)
