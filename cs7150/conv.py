"""Convolution as the lecture writes it: loops over samples, filters and output positions.

``conv_forward_naive`` pads the input into ``x_padded``, slides each filter
over it and takes a dot product at every output position (cross-correlation:
the kernel is not flipped). ``conv_backward_naive`` walks the same loops and
sends each upstream gradient back to the patch and the filter it came from.
These are the readable versions; ``cs7150.conv_fast`` computes the same
numbers with a few large matrix products.

``conv_param`` is a dict with exactly these keys (any other is a ValueError
naming it; ``cs7150._windows`` checks them):
    'stride':   int or (stride_h, stride_w), >= 1 (required)
    'pad':      int or (pad_h, pad_w), >= 0, zeros on both sides; or 'valid'
                (none) or 'same' (stride 1: the output keeps the input's size;
                an odd number of zeros puts the extra one after, as PyTorch)
                (required)
    'dilation': int or (dil_h, dil_w), >= 1 (optional, default 1)
    'groups':   int >= 1 dividing C and F (optional, default 1)
The output size along each axis is
``floor((H + pad_top + pad_bottom - dil_h*(HH - 1) - 1) / stride_h) + 1``, as PyTorch.
With equal padding P and no dilation that is ``floor((H - HH + 2P) / S) + 1``, the
same number as the slide's ``ceil((H - HH + 1 + 2P) / S)`` (notebook section 1).
"""
from __future__ import annotations

import numpy as np

from cs7150._windows import check_conv_dout, conv_geometry


def conv_forward_naive(x, w, b, conv_param):
    """Forward pass of a 2-D convolution (cross-correlation), written as loops.

    Inputs:
    - x: input, (N, C, H, W), float32 or float64
    - w: filters, (F, C // groups, HH, WW), float32 or float64
    - b: biases, (F,)
    - conv_param: dict with 'stride' (int or pair) and 'pad' (int, pair, 'same'
      or 'valid'), both required, and optional 'dilation' (int or pair,
      default 1) and 'groups' (int, default 1); no other key

    Returns a tuple of:
    - out: (N, F, H_out, W_out) with dtype ``np.result_type(x, w)``, where
      H_out = floor((H + pad_top + pad_bottom - dil_h*(HH - 1) - 1) / stride_h) + 1
      (same for W; pad_top = pad_bottom = pad_h unless 'same' needs an odd number)
    - cache: (x, w, b, conv_param) for ``conv_backward_naive``

    Raises TypeError/ValueError for bad shapes, dtypes or conv_param entries,
    an unknown key among them (see ``cs7150._windows.conv_geometry``).
    """
    # pad: ((pad_top, pad_bottom), (pad_left, pad_right)), the zeros before and after each axis
    stride, pad, dilation, groups, (H_out, W_out) = conv_geometry(x, w, b, conv_param, nd=2)
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    F, C_g, HH, WW = w.shape
    F_g = F // groups  # filters per group
    (stride_h, stride_w), (dil_h, dil_w) = stride, dilation

    x_padded = np.pad(x, ((0, 0), (0, 0), *pad))  # (N, C, pad_top + H + pad_bottom, pad_left + W + pad_right)
    out = np.zeros((N, F, H_out, W_out), dtype=np.result_type(x, w))
    for n in range(N):
        for f in range(F):
            channels = slice(f // F_g * C_g, (f // F_g + 1) * C_g)  # the input channels of f's group
            for i in range(H_out):
                for j in range(W_out):
                    h_window = slice(i * stride_h, i * stride_h + dil_h * (HH - 1) + 1, dil_h)
                    w_window = slice(j * stride_w, j * stride_w + dil_w * (WW - 1) + 1, dil_w)
                    patch = x_padded[n, channels, h_window, w_window]  # (C_g, HH, WW)
                    out[n, f, i, j] = np.sum(patch * w[f]) + b[f]
    cache = (x, w, b, conv_param)
    return out, cache
    ### END SOLUTION


def conv_backward_naive(dout, cache):
    """Backward pass of ``conv_forward_naive``, written as the same loops.

    Inputs:
    - dout: upstream gradient, (N, F, H_out, W_out)
    - cache: (x, w, b, conv_param) from ``conv_forward_naive``

    Returns a tuple of:
    - dx: gradient with respect to x, (N, C, H, W), dtype of x
    - dw: gradient with respect to w, (F, C // groups, HH, WW), dtype of w
    - db: gradient with respect to b, (F,), dtype of b

    Raises TypeError/ValueError when dout is not a float array of the forward
    output's shape, or when the cache's conv_param is bad.
    """
    x, w, b, conv_param = cache
    geometry = conv_geometry(x, w, b, conv_param, nd=2)
    check_conv_dout(dout, x, w, geometry)
    stride, pad, dilation, groups, (H_out, W_out) = geometry
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    F, C_g, HH, WW = w.shape
    F_g = F // groups
    (stride_h, stride_w), (dil_h, dil_w) = stride, dilation
    (pad_top, _), (pad_left, _) = pad

    x_padded = np.pad(x, ((0, 0), (0, 0), *pad))
    dtype = np.result_type(x, w, dout)
    dx_padded = np.zeros(x_padded.shape, dtype=dtype)  # (N, C, pad_top + H + pad_bottom, pad_left + W + pad_right)
    dw = np.zeros(w.shape, dtype=dtype)  # (F, C_g, HH, WW)
    db = dout.sum(axis=(0, 2, 3))  # (F,)
    for n in range(N):
        for f in range(F):
            channels = slice(f // F_g * C_g, (f // F_g + 1) * C_g)
            for i in range(H_out):
                for j in range(W_out):
                    h_window = slice(i * stride_h, i * stride_h + dil_h * (HH - 1) + 1, dil_h)
                    w_window = slice(j * stride_w, j * stride_w + dil_w * (WW - 1) + 1, dil_w)
                    dw[f] += dout[n, f, i, j] * x_padded[n, channels, h_window, w_window]
                    # Patches overlap when stride < kernel: accumulate, never assign.
                    dx_padded[n, channels, h_window, w_window] += dout[n, f, i, j] * w[f]
    dx = dx_padded[:, :, pad_top:pad_top + H, pad_left:pad_left + W]  # (N, C, H, W)
    return dx.astype(x.dtype), dw.astype(w.dtype, copy=False), db.astype(b.dtype, copy=False)
    ### END SOLUTION
