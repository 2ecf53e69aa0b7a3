"""Inputs on which a layer's likely mistakes are visible: the pictures beside a failing notebook check.

A wrong feature map computed on random data looks like noise next to the right one. On a stroke image
of the letter F (asymmetric: no flip or rotation maps it onto itself) a mistake has a shape:

- a kernel flipped: the probe kernel has a strong tap in its top-left corner and a faint one in its
  bottom-right, so the right output shows a strong F and a faint F; flipped, the two copies swap places;
- padding on one side: the whole F moves by the padding;
- stride ignored: the F is not shrunk by the stride, so the output shows its top-left part enlarged;
- dilation ignored: the faint copy moves closer to the strong one;
- a missing bias: the background is off by the bias.

``cs7150.oracle``'s checks run the student's functions on these inputs, with the failing case's
``conv_param`` / ``pool_param``, beside PyTorch's answer. NumPy only.
"""
from __future__ import annotations

import numpy as np

CONV_DESCRIPTION = "a stroke image; kernel: a strong top-left tap and a faint bottom-right one"
POOL_DESCRIPTION = "a stroke image"
"""What each probe is, for a picture's title."""
SIZE = 16
"""The probe images' smallest height and width, times the stride (so the output shows an F about SIZE wide)."""
BIAS = 0.25
"""Every probe filter's bias."""
FAINT = 0.5
"""The probe kernel's bottom-right tap (its top-left tap is 1)."""


def letter_f(height: int, width: int) -> np.ndarray:
    """A stroke image of the letter F, (height, width): 1 on the strokes, 0 elsewhere.

    A stem down the left third, a bar along the top and a shorter one through the middle; strokes are
    ``max(1, min(height, width) // 8)`` pixels thick. Raises ValueError below 5 x 5.
    """
    if height < 5 or width < 5:
        raise ValueError(f"the letter F needs at least 5 x 5 pixels, got {height} x {width}")
    t = max(1, min(height, width) // 8)
    top, bottom = height // 6, height - height // 6
    left, right = width // 4, width - width // 5
    image = np.zeros((height, width))
    image[top:bottom, left:left + t] = 1.0  # stem
    image[top:top + t, left:right] = 1.0  # top bar
    middle = (top + bottom) // 2 - t // 2
    image[middle:middle + t, left:left + (2 * (right - left)) // 3] = 1.0  # middle bar
    return image


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


def _sizes(kernel, params: dict) -> tuple[int, int]:
    """Probe height and width: ``SIZE`` times the stride, and at least 8 more than the dilated kernel's extent."""
    strides, dilations = _pair(params.get("stride", 1)), _pair(params.get("dilation", 1))
    return tuple(max(SIZE * s, d * (k - 1) + 1 + 8) for k, s, d in zip(kernel, strides, dilations))


def conv_probe(x_shape, w_shape, conv_param: dict, dtype=np.float64):
    """``(x, w, b)`` for a 2-D convolution shaped like a case with ``x_shape`` (N, C, H, W), ``w_shape`` (F, C/G, KH, KW).

    x is (1, C, H', W'), the letter F in every channel (H', W' ``SIZE`` times the stride, or more); w has ``w_shape``, each
    (filter, channel) slice 1 at its top-left tap and ``FAINT`` at its bottom-right one, divided by C/G (so
    the strong copy of the F has height 1); b is ``BIAS`` for every filter.
    Raises ValueError unless both shapes are 4-dimensional.
    """
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"a 2-D probe needs x (N, C, H, W) and w (F, C/G, KH, KW), got {x_shape} and {w_shape}")
    H, W = _sizes(w_shape[2:], conv_param)
    x = np.broadcast_to(letter_f(H, W), (1, x_shape[1], H, W)).astype(dtype)
    w = np.zeros(w_shape, dtype=dtype)
    w[:, :, -1, -1] = FAINT / w_shape[1]
    w[:, :, 0, 0] = 1.0 / w_shape[1]  # a 1 x 1 kernel: the one tap is both corners
    b = np.full(w_shape[0], BIAS, dtype=dtype)
    return x, w, b


def pool_probe(x_shape, pool_param: dict, dtype=np.float64) -> np.ndarray:
    """x (1, C, H', W') for pooling shaped like a case with ``x_shape`` (N, C, H, W): the letter F, tie-free.

    Each channel is the letter F plus a ramp below 0.05 that makes every value different (each max-pooling
    window has one maximum, as in the checks' ``tie_free`` inputs). Raises ValueError unless 4-dimensional.
    """
    if len(x_shape) != 4:
        raise ValueError(f"a pooling probe needs x (N, C, H, W), got {x_shape}")
    H, W = _sizes((pool_param["pool_height"], pool_param["pool_width"]), pool_param)
    ramp = 0.05 * np.arange(H * W).reshape(H, W) / (H * W)
    return np.broadcast_to(letter_f(H, W) + ramp, (1, x_shape[1], H, W)).astype(dtype)


def output_probe(out_shape, dtype=np.float64) -> np.ndarray:
    """dout shaped ``out_shape`` (N, C, H_out, W_out): the letter F in every map (or ones below 5 x 5)."""
    H, W = out_shape[2:]
    image = letter_f(H, W) if min(H, W) >= 5 else np.ones((H, W))
    return np.broadcast_to(image, tuple(out_shape)).astype(dtype)
