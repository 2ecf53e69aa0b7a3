"""The windows of convolution and pooling: ``conv_param`` and ``pool_param`` checked, and what they describe.

The layer files (``cs7150.conv``, ``conv_fast``, ``pool``, ``pool_fast``) call
these checks at the top of their functions, outside the parts a student
writes, so the released stubs validate their input too; and since no layer
file imports another, a mistake in one costs only that file.

Each dict accepts exactly the keys listed below; any other key (a typo such
as ``'padding'``, or an option the layer lacks such as ``'dilation'`` in
pooling) is a ValueError naming it and the accepted ones.

``conv_param``:
    'stride':   int or one int per spatial axis, >= 1 (required)
    'pad':      int or one int per axis, >= 0 (zeros on both sides), or
                'valid' (no padding) or 'same' (stride 1 only: the output
                keeps the input's size; the D*(K - 1) zeros of an axis go
                half before, half after, the odd one after, as PyTorch's
                ``padding='same'``) (required)
    'dilation': int or one int per axis, >= 1 (optional, default 1)
    'groups':   int >= 1 dividing C and F (optional, default 1)

``pool_param`` (as ``torch.nn.MaxPool2d`` / ``AvgPool2d``):
    'pool_height', 'pool_width': ints >= 1, the window PH x PW (required)
    'stride':     int or (stride_h, stride_w), >= 1 (required)
    'pad':        int or (pad_h, pad_w), at most half the window
                  (pad_h <= PH // 2), on both sides; max pooling pads with
                  -inf, average pooling with zeros (optional, default 0)
    'ceil_mode':  bool: round the output size up, so a last, partial window
                  counts too, unless it would start in the padding
                  (optional, default False)
    'count_include_pad': bool, average pooling only: whether the padding's
                  zeros count in a window's divisor (optional, default True)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cs7150._params import as_tuple, check_array, check_dout, check_keys, get_param

CONV_KEYS = ("stride", "pad", "dilation", "groups")
MAX_POOL_KEYS = ("pool_height", "pool_width", "stride", "pad", "ceil_mode")
AVG_POOL_KEYS = MAX_POOL_KEYS + ("count_include_pad",)

CONV_LAYOUTS = {  # axis names for messages, by number of spatial axes: x, w, out
    1: ("(N, C, L)", "(F, C // groups, K)", "(N, F, L_out)"),
    2: ("(N, C, H, W)", "(F, C // groups, HH, WW)", "(N, F, H_out, W_out)"),
    3: ("(N, C, D, H, W)", "(F, C // groups, KD, KH, KW)", "(N, F, D_out, H_out, W_out)"),
}
POOL_OUT_LAYOUT = "(N, C, H_out, W_out)"


def conv_padding(pad, kernel_size, stride, dilation) -> tuple[tuple[int, int], ...]:
    """``conv_param['pad']`` as the zeros (before, after) of each spatial axis.

    Inputs: ``pad`` as documented above; ``kernel_size``, ``stride`` and
    ``dilation`` are tuples with one int per spatial axis.

    Raises ValueError for 'same' with a stride other than 1, a negative pad or
    another string; TypeError for a pad that is neither.
    """
    nd = len(kernel_size)
    if isinstance(pad, str):
        if pad == "valid":
            return ((0, 0),) * nd
        if pad != "same":
            raise ValueError(f"conv_param['pad'] must be an int, a tuple of {nd} ints, 'same' or 'valid', got {pad!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"conv_param['pad'] = 'same' needs stride 1 (as PyTorch), got stride {stride}")
        totals = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
        return tuple((total // 2, total - total // 2) for total in totals)
    return tuple((p, p) for p in as_tuple(pad, nd, "conv_param['pad']", 0))


class ConvGeometry(NamedTuple):
    """A checked convolution: ``nd``-tuples stride, dilation and out_size, pad as (before, after) pairs."""

    stride: tuple[int, ...]
    pad: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]
    groups: int
    out_size: tuple[int, ...]


def conv_geometry(x, w, b, conv_param, nd: int) -> ConvGeometry:
    """Validate a convolution's inputs and return its geometry.

    Inputs:
    - x: (N, C, *spatial) float array with ``nd`` spatial axes
    - w: (F, C // groups, *kernel) float array
    - b: (F,) float array
    - conv_param: dict with the keys of the module docstring
    - nd: number of spatial axes (1, 2 or 3)

    Returns ConvGeometry(stride, pad, dilation, groups, out_size): stride,
    dilation and out_size ``nd``-tuples of ints, pad ``nd`` (before, after)
    pairs (``np.pad``'s form), groups an int.

    Raises TypeError for non-float arrays, a non-dict or non-int parameters,
    ValueError for an unknown or missing key, a wrong number of dimensions,
    mismatched channels, groups that do not divide C and F, a bias of the
    wrong shape, a stride or dilation below 1, a negative pad, 'same' with a
    stride, or a kernel larger than the padded input.
    """
    x_layout, w_layout, _ = CONV_LAYOUTS[nd]
    check_array(x, "x", nd + 2, x_layout)
    check_array(w, "w", nd + 2, w_layout)
    check_array(b, "b", 1, "(F,)")
    check_keys(conv_param, "conv_param", CONV_KEYS)
    stride = as_tuple(get_param(conv_param, "stride", "conv_param"), nd, "conv_param['stride']", 1)
    dilation = as_tuple(get_param(conv_param, "dilation", "conv_param", 1), nd, "conv_param['dilation']", 1)
    (groups,) = as_tuple(get_param(conv_param, "groups", "conv_param", 1), 1, "conv_param['groups']", 1)
    kernel_size = w.shape[2:]
    pad = conv_padding(get_param(conv_param, "pad", "conv_param"), kernel_size, stride, dilation)

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

    out_size = []  # windows that fit: one per stride while the whole (dilated) kernel stays inside
    for axis, (size, k, (before, after), s, d) in enumerate(zip(x.shape[2:], kernel_size, pad, stride, dilation)):
        span, padded = d * (k - 1) + 1, before + size + after
        if span > padded:
            raise ValueError(f"w of shape {w.shape} does not fit x of shape {x.shape} along spatial axis {axis}: "
                             f"the kernel of size {k} (dilation {d}, span {span}) is longer than the padded "
                             f"input ({before} + {size} + {after} = {padded})")
        out_size.append((padded - span) // s + 1)
    return ConvGeometry(stride, pad, dilation, groups, tuple(out_size))


def check_conv_dout(dout, x, w, geometry: ConvGeometry) -> None:
    """Check that ``dout`` is a float array of the forward output's shape (N, F, *out_size).

    Raises TypeError for a non-float array, ValueError for any other shape.
    """
    nd = len(geometry.out_size)
    check_dout(dout, (x.shape[0], w.shape[0], *geometry.out_size), CONV_LAYOUTS[nd][2])


def _flag(pool_param, key: str, default: bool) -> bool:
    """``pool_param[key]`` if it is a bool (``np.bool_`` too); TypeError otherwise."""
    value = get_param(pool_param, key, "pool_param", default)
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"pool_param[{key!r}] must be True or False, got {value!r}")
    return bool(value)


def pool_output_length(size: int, window: int, pad: int, stride: int, ceil_mode: bool) -> int:
    """Output length of pooling along one axis, as PyTorch computes it (``pooling_output_shape``).

    ``floor((size + 2*pad - window) / stride) + 1``, or ``ceil`` of the same
    fraction in ceil mode; arguments are checked ints (pad <= window // 2).

    In ceil mode the count is rounded up, then a last window that would start
    in the padding after the input is dropped. Raises ValueError when no
    window remains.
    """
    span_left = size + 2 * pad - window + (stride - 1 if ceil_mode else 0)
    count = span_left // stride + 1
    if ceil_mode and (count - 1) * stride >= size + pad:
        count -= 1
    if count < 1:
        raise ValueError(f"the window of {window} is larger than the padded input ({size} + 2*{pad} = {size + 2 * pad})")
    return count


class PoolGeometry(NamedTuple):
    """A checked pooling layer: window PH x PW, strides, pads (each side) and output size, all ints."""

    PH: int
    PW: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    H_out: int
    W_out: int


def pool_geometry(x, pool_param, average: bool) -> PoolGeometry:
    """Validate a pooling layer's input and return its geometry.

    Inputs:
    - x: (N, C, H, W) float array
    - pool_param: dict with the keys of the module docstring
      ('count_include_pad' only when ``average``)
    - average: True for average pooling, False for max pooling

    Returns PoolGeometry(PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out).

    Raises TypeError for a non-float ``x``, a non-dict, non-int sizes or
    non-bool flags, ValueError for a wrong number of dimensions, an unknown or
    missing key, a window or stride below 1, a negative pad or one above half
    the window, or a window that does not fit the padded input.
    """
    check_array(x, "x", 4, "(N, C, H, W)")
    check_keys(pool_param, "pool_param", AVG_POOL_KEYS if average else MAX_POOL_KEYS)
    (PH,) = as_tuple(get_param(pool_param, "pool_height", "pool_param"), 1, "pool_param['pool_height']", 1)
    (PW,) = as_tuple(get_param(pool_param, "pool_width", "pool_param"), 1, "pool_param['pool_width']", 1)
    stride_h, stride_w = as_tuple(get_param(pool_param, "stride", "pool_param"), 2, "pool_param['stride']", 1)
    pad_h, pad_w = as_tuple(get_param(pool_param, "pad", "pool_param", 0), 2, "pool_param['pad']", 0)
    ceil_mode = _flag(pool_param, "ceil_mode", False)
    if average:
        _flag(pool_param, "count_include_pad", True)
    if pad_h > PH // 2 or pad_w > PW // 2:
        raise ValueError(f"pool_param['pad'] = {pool_param['pad']!r} must be at most half the "
                         f"{PH}x{PW} window (pad_h <= {PH // 2}, pad_w <= {PW // 2}), as in PyTorch")
    H, W = x.shape[2:]
    try:
        H_out = pool_output_length(H, PH, pad_h, stride_h, ceil_mode)
        W_out = pool_output_length(W, PW, pad_w, stride_w, ceil_mode)
    except ValueError as err:
        raise ValueError(f"the {PH}x{PW} pooling window (pool_height x pool_width) does not fit "
                         f"x of shape {x.shape}: {err}") from None
    return PoolGeometry(PH, PW, stride_h, stride_w, pad_h, pad_w, H_out, W_out)


def check_pool_dout(dout, x, geometry: PoolGeometry) -> None:
    """Check that ``dout`` is a float array of the forward output's shape (N, C, H_out, W_out).

    Raises TypeError for a non-float array, ValueError for any other shape.
    """
    check_dout(dout, (*x.shape[:2], geometry.H_out, geometry.W_out), POOL_OUT_LAYOUT)
