"""Fast convolution in NumPy: im2col, one matrix product, col2im.

Assignment 1, section 6 (required): the 2-D convolution of the lecture,
batch first, (N, C, H, W), groups 1.

- ``im2col`` copies every (strided, dilated) window of the padded input into
  one column of a matrix ``cols`` of shape (C*HH*WW, N*H_out*W_out). Its rows
  are ordered as a filter's entries, so ``w.reshape(F, C*HH*WW) @ cols`` is
  every output value at once: the lecture's product of one position's
  (N, C*HH*WW) patches with the (C*HH*WW, F) filters, for all positions in
  one matrix product (transposed: one column per patch).
- The backward pass needs two more products, ``dw = dout @ cols.T`` and
  ``dcols = w.T @ dout``; ``col2im`` adds every column of ``dcols`` back into
  the window it came from. Windows overlap, so a pixel receives the sum of
  its windows' gradients: the ``+=`` of the lecture's backward loop.
- Both copy one kernel tap (p, q) at a time: for that tap, the pixels of
  every window form one strided slice of the padded input, (N, C, H_out, W_out).

The reference goes through the batch in chunks of a few samples
(``_batch_chunks``, about ``CHUNK_BYTES`` of columns each): a chunk's columns
are used while they are still in the processor's cache, and the backward pass
builds them again instead of keeping the whole batch's. One chunk of all N
samples gives the same results.

The extension (section 9, extra credit): the same for any number of spatial
axes (1-D (N, C, L), 3-D (N, C, D, H, W)) and for groups, with the batch axis
last inside the layer: ``im2col_nd``, ``col2im_nd``, ``conv_nd_forward``,
``conv_nd_backward`` behind ``conv1d_*_fast``, ``conv3d_*_fast`` and the 2-D
functions with ``groups > 1``.

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
MIN_CHUNK = 8  # samples per chunk in the extension: the shortest run of contiguous numbers im2col_nd copies


def _batch_chunks(N, bytes_per_sample, min_chunk=1):
    """Slices of the batch, each small enough that its columns stay in the processor's cache.

    A chunk holds ``CHUNK_BYTES // bytes_per_sample`` samples (at least
    ``min_chunk``), the last one the rest.
    """
    size = min(N, max(min_chunk, CHUNK_BYTES // bytes_per_sample))
    return [slice(start, min(start + size, N)) for start in range(0, N, size)]


# ---- Section 6: the 2-D convolution, batch first ------------------------------------------------


def im2col(x_padded, HH, WW, stride, dilation):
    """Copy every window of a padded input into one column of a matrix.

    Inputs:
    - x_padded: (N, C, H_padded, W_padded) array, the input with its padding
    - HH, WW: the kernel's height and width (ints >= 1)
    - stride: (stride_h, stride_w); dilation: (dil_h, dil_w); ints >= 1

    Returns cols, an array of shape (C*HH*WW, N*H_out*W_out) in x_padded's dtype:
    column ``n*H_out*W_out + i*W_out + j`` holds the window of output position
    (i, j) of sample n, row ``c*HH*WW + p*WW + q`` its tap (c, p, q):
    ``cols[c*HH*WW + p*WW + q, n*H_out*W_out + i*W_out + j] =
    x_padded[n, c, i*stride_h + p*dil_h, j*stride_w + q*dil_w]``, where
    H_out = (H_padded - dil_h*(HH - 1) - 1) // stride_h + 1 (the same for W_out).
    The rows are in the order of ``w[f].reshape(-1)``, so
    ``w.reshape(F, C*HH*WW) @ cols`` holds every output value (without the bias).
    """
    ### BEGIN SOLUTION
    N, C, H_padded, W_padded = x_padded.shape
    (stride_h, stride_w), (dil_h, dil_w) = stride, dilation
    H_out = (H_padded - dil_h * (HH - 1) - 1) // stride_h + 1
    W_out = (W_padded - dil_w * (WW - 1) - 1) // stride_w + 1
    cols = np.empty((C, HH, WW, N, H_out, W_out), dtype=x_padded.dtype)
    for p in range(HH):
        for q in range(WW):
            # tap (p, q) of every window: one strided slice of x_padded, (N, C, H_out, W_out)
            rows = slice(p * dil_h, p * dil_h + stride_h * (H_out - 1) + 1, stride_h)
            columns = slice(q * dil_w, q * dil_w + stride_w * (W_out - 1) + 1, stride_w)
            cols[:, p, q] = x_padded[:, :, rows, columns].transpose(1, 0, 2, 3)  # (C, N, H_out, W_out)
    return cols.reshape(C * HH * WW, N * H_out * W_out)
    ### END SOLUTION


def col2im(dcols, padded_shape, HH, WW, stride, dilation):
    """Add every column of ``dcols`` back into the window it came from (im2col's adjoint).

    Inputs:
    - dcols: (C*HH*WW, N*H_out*W_out), laid out as ``im2col`` returns its columns
    - padded_shape: (N, C, H_padded, W_padded), the shape of the padded input
    - HH, WW: the kernel's height and width; stride: (stride_h, stride_w);
      dilation: (dil_h, dil_w)

    Returns dx_padded, an array of ``padded_shape`` in dcols' dtype where every
    entry is the sum of the values of ``dcols`` at the places ``im2col`` copied
    it to (windows overlap when the stride is smaller than the kernel: a pixel
    in several windows receives the sum; 0 where no window reaches).
    """
    ### BEGIN SOLUTION
    N, C, H_padded, W_padded = padded_shape
    (stride_h, stride_w), (dil_h, dil_w) = stride, dilation
    H_out = (H_padded - dil_h * (HH - 1) - 1) // stride_h + 1
    W_out = (W_padded - dil_w * (WW - 1) - 1) // stride_w + 1
    dcols = dcols.reshape(C, HH, WW, N, H_out, W_out)
    dx_padded = np.zeros(padded_shape, dtype=dcols.dtype)
    for p in range(HH):
        for q in range(WW):
            rows = slice(p * dil_h, p * dil_h + stride_h * (H_out - 1) + 1, stride_h)
            columns = slice(q * dil_w, q * dil_w + stride_w * (W_out - 1) + 1, stride_w)
            # add, never assign: another tap of a neighbouring window may already have written here
            dx_padded[:, :, rows, columns] += dcols[:, p, q].transpose(1, 0, 2, 3)  # (N, C, H_out, W_out)
    return dx_padded
    ### END SOLUTION


def conv_forward_fast(x, w, b, conv_param):
    """Fast 2-D convolution forward pass; same inputs and output as ``conv_forward_naive``.

    Inputs:
    - x: (N, C, H, W), float32 or float64
    - w: (F, C // groups, HH, WW); b: (F,)
    - conv_param: 'stride' (int or pair), 'pad' (int, pair, 'same' or 'valid'), optional
      'dilation' (int or pair) and 'groups' (int); no other key

    Returns (out, cache): out (N, F, H_out, W_out) with dtype ``np.result_type(x, w)``;
    cache (x, w, b, conv_param) for ``conv_backward_fast``.

    Pad x (``pad`` holds the zeros (before, after) of each axis: ``np.pad``'s form),
    ``im2col``, one matrix product, add the bias; going through the batch in chunks
    is optional. ``groups > 1`` is the extension's (``conv_nd_forward``, section 9).

    Raises TypeError/ValueError for bad shapes, dtypes or conv_param entries (or an unknown key).
    """
    # pad: ((pad_top, pad_bottom), (pad_left, pad_right)); stride, dilation: pairs of ints
    stride, pad, dilation, groups, (H_out, W_out) = conv_geometry(x, w, b, conv_param, nd=2)
    if groups > 1:  # grouped convolution: the extension (section 9)
        return conv_nd_forward(x, w, b, stride, pad, dilation, groups), (x, w, b, conv_param)
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    dtype = np.result_type(x, w)
    w_rows = w.reshape(F, C * HH * WW).astype(dtype, copy=False)  # (F, C*HH*WW): one row per filter
    out = np.empty((N, F, H_out, W_out), dtype=dtype)
    for batch in _batch_chunks(N, C * HH * WW * H_out * W_out * np.dtype(dtype).itemsize):
        x_padded = np.pad(x[batch].astype(dtype, copy=False), ((0, 0), (0, 0), *pad))  # (n, C, H_padded, W_padded)
        cols = im2col(x_padded, HH, WW, stride, dilation)  # (C*HH*WW, n*H_out*W_out)
        out_rows = w_rows @ cols  # (F, n*H_out*W_out): every output value of the chunk
        out[batch] = out_rows.reshape(F, -1, H_out, W_out).transpose(1, 0, 2, 3)  # (n, F, H_out, W_out)
    out += b.reshape(F, 1, 1)
    cache = (x, w, b, conv_param)
    return out, cache
    ### END SOLUTION


def conv_backward_fast(dout, cache):
    """Fast 2-D convolution backward pass; same results as ``conv_backward_naive``.

    Inputs:
    - dout: (N, F, H_out, W_out)
    - cache: (x, w, b, conv_param) from ``conv_forward_fast``

    Returns (dx, dw, db): (N, C, H, W), (F, C // groups, HH, WW), (F,), in the
    dtypes of x, w and b.

    ``im2col`` of the padded x again, ``dw = dout @ cols.T``, ``dcols = w.T @ dout``,
    ``col2im(dcols)`` without the padding is dx. ``groups > 1`` is the extension's
    (``conv_nd_backward``, section 9).

    Raises TypeError/ValueError when dout is not a float array of the output's shape.
    """
    x, w, b, conv_param = cache
    geometry = conv_geometry(x, w, b, conv_param, nd=2)
    check_conv_dout(dout, x, w, geometry)
    stride, pad, dilation, groups, (H_out, W_out) = geometry
    if groups > 1:  # grouped convolution: the extension (section 9)
        dx, dw, db = conv_nd_backward(dout, x, w, stride, pad, dilation, groups)
        return dx, dw, db.astype(b.dtype, copy=False)
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    (pad_top, _), (pad_left, _) = pad
    dtype = np.result_type(dout, x, w)
    w_rows = w.reshape(F, C * HH * WW).astype(dtype, copy=False)  # (F, C*HH*WW)
    dw_rows = np.zeros((F, C * HH * WW), dtype=dtype)
    dx = np.empty(x.shape, dtype=x.dtype)
    db = dout.sum(axis=(0, 2, 3))  # (F,)
    for batch in _batch_chunks(N, C * HH * WW * H_out * W_out * np.dtype(dtype).itemsize):
        x_padded = np.pad(x[batch].astype(dtype, copy=False), ((0, 0), (0, 0), *pad))  # (n, C, H_padded, W_padded)
        cols = im2col(x_padded, HH, WW, stride, dilation)  # (C*HH*WW, n*H_out*W_out)
        dout_rows = dout[batch].transpose(1, 0, 2, 3).reshape(F, -1)  # (F, n*H_out*W_out), columns as in cols
        dw_rows += dout_rows @ cols.T  # every sample and position adds to dw: +=, also across chunks
        dcols = w_rows.T @ dout_rows  # (C*HH*WW, n*H_out*W_out)
        dx_padded = col2im(dcols, x_padded.shape, HH, WW, stride, dilation)  # (n, C, H_padded, W_padded)
        dx[batch] = dx_padded[:, :, pad_top:pad_top + H, pad_left:pad_left + W]
    return dx, dw_rows.reshape(w.shape).astype(w.dtype, copy=False), db.astype(b.dtype, copy=False)
    ### END SOLUTION


# ---- Section 9 (extension, extra credit): any number of spatial axes, groups, the batch axis last --------


def im2col_nd(x_padded, kernel_size, stride, dilation):
    """Copy every window of a padded, batch-last input into the columns of a matrix (any number of axes).

    Inputs:
    - x_padded: (C, *padded_size, N) array with ``nd = len(kernel_size)`` spatial axes
    - kernel_size, stride, dilation: ``nd``-tuples of ints (each >= 1)

    Returns cols, a C-contiguous array of shape (C, *kernel_size, *out_size, N)
    with ``cols[c, *k, *o, n] = x_padded[c, *(o*stride + k*dilation), n]``;
    out_size is the number of window positions along each axis. With the batch
    last, every window copy moves runs of N neighbouring numbers.
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


def col2im_nd(dcols, padded_size, stride, dilation):
    """Add the columns of ``dcols`` back into the windows they came from (``im2col_nd``'s adjoint).

    Inputs:
    - dcols: (C, *kernel_size, *out_size, N), laid out as ``im2col_nd`` returns
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


def _pad_batch_last(x, pad, dtype):
    """(n, C, *size) -> zero-padded (C, *padded_size, n) in ``dtype``: the layout ``im2col_nd`` reads.

    ``pad`` holds the zeros (before, after) of each spatial axis.
    """
    n, C, *size = x.shape
    x_padded = np.zeros((C, *(before + m + after for m, (before, after) in zip(size, pad)), n), dtype=dtype)
    interior = tuple(slice(before, before + m) for m, (before, _) in zip(size, pad))
    x_padded[(slice(None), *interior)] = np.moveaxis(x, 0, -1)
    return x_padded


def _column_chunks(x, kernel_size, out_size, stride, pad, dilation, dtype):
    """(batch slice, cols) for each chunk of the batch (``_batch_chunks``), in the order of the batch.

    cols is ``im2col_nd`` of the chunk's padded input, (C, *kernel_size, *out_size, n)
    in ``dtype``; the forward and the backward pass each build them chunk by chunk.
    A chunk holds at least ``MIN_CHUNK`` samples: the batch axis is the innermost
    one of ``cols``, so fewer samples would make ``im2col_nd`` copy runs of a few numbers.
    """
    N, C = x.shape[:2]
    bytes_per_sample = C * math.prod(kernel_size) * math.prod(out_size) * np.dtype(dtype).itemsize
    for batch in _batch_chunks(N, bytes_per_sample, MIN_CHUNK):
        yield batch, im2col_nd(_pad_batch_last(x[batch], pad, dtype), kernel_size, stride, dilation)


def conv_nd_forward(x, w, b, stride, pad, dilation, groups):
    """Convolution forward pass with already validated parameters, any number of spatial axes and groups.

    Inputs:
    - x: (N, C, *size); w: (F, C // groups, *kernel_size); b: (F,)
    - stride, dilation: ``nd``-tuples of ints; pad: ``nd`` (before, after)
      pairs of ints; groups: int dividing C and F

    Returns out: (N, F, *out_size), dtype ``np.result_type(x, w)``, with
    out_size[i] = floor((size[i] + before + after - dilation[i]*(kernel_size[i] - 1) - 1) / stride[i]) + 1.

    The batch goes through in chunks (``_column_chunks``: pad batch-last,
    ``im2col_nd``), one product per group, add the bias, and move the chunk's
    result to the batch-first output while its columns are still in cache. One
    chunk of all N samples gives the same result.
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
    """Convolution backward pass with already validated parameters, any number of spatial axes and groups.

    Inputs:
    - dout: (N, F, *out_size), upstream gradient
    - x: (N, C, *size) and w: (F, C // groups, *kernel_size) from the forward pass
    - stride, dilation: ``nd``-tuples of ints; pad: ``nd`` (before, after)
      pairs of ints; groups: int dividing C and F

    Returns (dx, dw, db): (N, C, *size), (F, C // groups, *kernel_size) and
    (F,), dx and dw in the dtypes of x and w, db in that of dout.

    Chunk by chunk of the batch, as the forward pass: ``im2col_nd`` again
    (cheaper than keeping every chunk's columns from the forward pass),
    ``dw += dout @ cols.T``, ``dcols = w.T @ dout``, and ``col2im_nd(dcols)`` less
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
        dx_padded = col2im_nd(dcols, padded_size, stride, dilation)  # (C, *padded_size, n)
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
