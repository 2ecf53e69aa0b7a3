"""Sizes and counts from the lecture: output sizes, receptive fields, parameters, MACs.

``conv_output_size`` is the single place the output-size formula lives; the
layers in ``cs7150.layers`` call it too.
"""
from __future__ import annotations


def conv_output_size(size: int, kernel: int, pad: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """Output length of a convolution along one axis, exactly as PyTorch computes it.

    ``floor((size + 2*pad - dilation*(kernel - 1) - 1) / stride) + 1``; with
    ``dilation=1`` this is the lecture's ``floor((W - K + 2P) / S) + 1``.

    Raises ValueError when the (dilated) kernel does not fit in the padded
    input, i.e. when the output would be empty.
    """
    span = dilation * (kernel - 1) + 1
    if span > size + 2 * pad:
        raise ValueError(
            f"kernel of size {kernel} (dilation {dilation}, span {span}) is larger than the "
            f"padded input of size {size} + 2*{pad} = {size + 2 * pad}"
        )
    return (size + 2 * pad - span) // stride + 1
