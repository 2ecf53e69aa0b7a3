"""Convolution as the lecture writes it: loops over samples, filters and output positions.

``conv_forward_naive`` pads the input into ``x_padded``, slides each filter
over it and takes a dot product at every output position (cross-correlation:
the kernel is not flipped). ``conv_backward_naive`` walks the same loops and
sends each upstream gradient back to the patch and the filter it came from.
These are the readable versions; ``cs7150.conv_fast`` computes the same
numbers with a few large matrix products.

``conv_param`` is a dict with
    'stride':   int or (stride_h, stride_w), >= 1 (required)
    'pad':      int or (pad_h, pad_w), >= 0, zeros on both sides (required)
    'dilation': int or (dil_h, dil_w), >= 1 (optional, default 1)
    'groups':   int >= 1 dividing C and F (optional, default 1)
and the output size along each axis is ``cs7150.shapes.conv_output_size``.
"""
from __future__ import annotations

import numpy as np

from cs7150._params import as_tuple, check_array, check_dout, get_param
from cs7150.shapes import conv_output_size

# Axis names used in error messages, by number of spatial dimensions.
_LAYOUTS = {
    1: ("(N, C, L)", "(F, C // groups, K)", "(N, F, L_out)"),
    2: ("(N, C, H, W)", "(F, C // groups, HH, WW)", "(N, F, H_out, W_out)"),
    3: ("(N, C, D, H, W)", "(F, C // groups, KD, KH, KW)", "(N, F, D_out, H_out, W_out)"),
}


def _check_conv_inputs(x, w, b, conv_param, nd):
    """Validate a convolution's inputs and return its geometry.

    Inputs:
    - x: (N, C, *spatial) float array with ``nd`` spatial axes
    - w: (F, C // groups, *kernel) float array
    - b: (F,) float array
    - conv_param: dict with 'stride', 'pad' and optional 'dilation', 'groups'
    - nd: number of spatial axes (1, 2 or 3)

    Returns (stride, pad, dilation, groups, out_size): three ``nd``-tuples of
    ints, the int ``groups`` and the ``nd``-tuple of output sizes.

    Raises TypeError for non-float arrays or non-int parameters, ValueError for
    a wrong number of dimensions, mismatched channels, groups that do not
    divide C and F, a bias of the wrong shape, a missing key, a stride or
    dilation below 1, a negative pad, or a kernel larger than the padded input.
    """
    x_layout, w_layout, _ = _LAYOUTS[nd]
    check_array(x, "x", nd + 2, x_layout)
    check_array(w, "w", nd + 2, w_layout)
    check_array(b, "b", 1, "(F,)")
    stride = as_tuple(get_param(conv_param, "stride", "conv_param"), nd, "conv_param['stride']", 1)
    pad = as_tuple(get_param(conv_param, "pad", "conv_param"), nd, "conv_param['pad']", 0)
    dilation = as_tuple(get_param(conv_param, "dilation", "conv_param", 1), nd, "conv_param['dilation']", 1)
    (groups,) = as_tuple(get_param(conv_param, "groups", "conv_param", 1), 1, "conv_param['groups']", 1)

    C, F = x.shape[1], w.shape[0]
    if C % groups or F % groups:
        raise ValueError(
            f"conv_param['groups'] = {groups} must divide both the C = {C} input channels "
            f"(x shape {x.shape}) and the F = {F} filters (w shape {w.shape})"
        )
    if w.shape[1] != C // groups:
        raise ValueError(
            f"w has shape {w.shape} but x of shape {x.shape} with groups = {groups} needs "
            f"w.shape[1] = C // groups = {C // groups}"
        )
    if b.shape != (F,):
        raise ValueError(f"b must have shape (F,) = ({F},) for w of shape {w.shape}, got {b.shape}")

    out_size = []
    for axis, (size, kernel, p, s, d) in enumerate(zip(x.shape[2:], w.shape[2:], pad, stride, dilation)):
        try:
            out_size.append(conv_output_size(size, kernel, p, s, d))
        except ValueError as err:
            raise ValueError(
                f"w of shape {w.shape} does not fit x of shape {x.shape} along spatial axis {axis}: {err}"
            ) from None
    return stride, pad, dilation, groups, tuple(out_size)


def _check_dout(dout, out_shape, nd):
    """Check that ``dout`` is a float array of the forward output's shape ``out_shape``.

    Raises TypeError for a non-float array, ValueError for any other shape.
    """
    check_dout(dout, out_shape, _LAYOUTS[nd][2])


def conv_forward_naive(x, w, b, conv_param):
    """Forward pass of a 2-D convolution (cross-correlation), written as loops.

    Inputs:
    - x: input, (N, C, H, W), float32 or float64
    - w: filters, (F, C // groups, HH, WW), float32 or float64
    - b: biases, (F,)
    - conv_param: dict with 'stride' and 'pad' (int or pair, required) and
      optional 'dilation' (int or pair, default 1) and 'groups' (int, default 1)

    Returns a tuple of:
    - out: (N, F, H_out, W_out) with dtype ``np.result_type(x, w)``, where
      H_out = floor((H + 2*pad_h - dil_h*(HH - 1) - 1) / stride_h) + 1 (same for W)
    - cache: (x, w, b, conv_param) for ``conv_backward_naive``

    Raises TypeError/ValueError for bad shapes, dtypes or conv_param entries
    (see ``_check_conv_inputs``).
    """
    stride, pad, dilation, groups, (H_out, W_out) = _check_conv_inputs(x, w, b, conv_param, nd=2)
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    F, C_g, HH, WW = w.shape
    F_g = F // groups  # filters per group
    (stride_h, stride_w), (pad_h, pad_w), (dil_h, dil_w) = stride, pad, dilation

    x_padded = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))  # (N, C, H + 2*pad_h, W + 2*pad_w)
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
    output's shape.
    """
    x, w, b, conv_param = cache
    stride, pad, dilation, groups, out_size = _check_conv_inputs(x, w, b, conv_param, nd=2)
    _check_dout(dout, (x.shape[0], w.shape[0], *out_size), nd=2)
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    F, C_g, HH, WW = w.shape
    F_g = F // groups
    H_out, W_out = out_size
    (stride_h, stride_w), (pad_h, pad_w), (dil_h, dil_w) = stride, pad, dilation

    x_padded = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    dtype = np.result_type(x, w, dout)
    dx_padded = np.zeros(x_padded.shape, dtype=dtype)  # (N, C, H + 2*pad_h, W + 2*pad_w)
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
    dx = dx_padded[:, :, pad_h:pad_h + H, pad_w:pad_w + W]  # (N, C, H, W)
    return dx.astype(x.dtype), dw.astype(w.dtype, copy=False), db.astype(b.dtype, copy=False)
    ### END SOLUTION
