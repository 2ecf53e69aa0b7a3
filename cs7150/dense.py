"""The fully connected end of a CNN: affine (fully connected) layers, ReLU, and flatten.

``flatten_forward`` turns the (N, C, H, W) feature maps of the last pooling
layer into the (N, D) rows an affine layer multiplies; ``affine_forward``
flattens by itself too, so a network may use either.
"""
from __future__ import annotations

import math

import numpy as np

from cs7150._params import check_array, check_dout


def _check_batch(x, name, layout):
    """Return ``x`` if it is a float array with at least 2 dimensions (N, ...).

    Raises TypeError for a non-array or a non-float dtype, ValueError for
    fewer than 2 dimensions.
    """
    check_array(x, name, getattr(x, "ndim", 2), layout)  # type and dtype, any number of dimensions
    if x.ndim < 2:
        raise ValueError(f"{name} must have at least 2 dimensions {layout}, got shape {x.shape}")
    return x


def affine_forward(x, w, b):
    """Forward pass of an affine (fully connected) layer: ``out = x @ w + b``.

    Inputs:
    - x: input, (N, d_1, ..., d_k), float32 or float64; each sample is
      flattened to D = d_1 * ... * d_k values
    - w: weights, (D, M)
    - b: biases, (M,)

    Returns a tuple of:
    - out: (N, M)
    - cache: (x, w, b) for ``affine_backward``

    Raises TypeError for non-float arrays, ValueError when w is not (D, M) for
    x's D or b is not (M,).
    """
    _check_batch(x, "x", "(N, d_1, ..., d_k)")
    check_array(w, "w", 2, "(D, M)")
    check_array(b, "b", 1, "(M,)")
    D = math.prod(x.shape[1:])
    if w.shape[0] != D:
        raise ValueError(f"w must have shape (D, M) with D = {D} for x of shape {x.shape}, got {w.shape}")
    if b.shape != (w.shape[1],):
        raise ValueError(f"b must have shape (M,) = ({w.shape[1]},) for w of shape {w.shape}, got {b.shape}")
    ### BEGIN SOLUTION
    out = x.reshape(x.shape[0], D) @ w + b  # (N, M)
    cache = (x, w, b)
    return out, cache
    ### END SOLUTION


def affine_backward(dout, cache):
    """Backward pass of an affine layer.

    Inputs:
    - dout: upstream gradient, (N, M)
    - cache: (x, w, b) from ``affine_forward``

    Returns a tuple of:
    - dx: gradient with respect to x, x's shape (N, d_1, ..., d_k)
    - dw: gradient with respect to w, (D, M)
    - db: gradient with respect to b, (M,)

    Raises TypeError/ValueError when dout is not a float array of shape (N, M).
    """
    x, w, b = cache
    check_dout(dout, (x.shape[0], w.shape[1]), "(N, M)")
    ### BEGIN SOLUTION
    x_rows = x.reshape(x.shape[0], -1)  # (N, D)
    dx = (dout @ w.T).reshape(x.shape)  # (N, d_1, ..., d_k)
    dw = x_rows.T @ dout  # (D, M)
    db = dout.sum(axis=0)  # (M,)
    return dx, dw, db
    ### END SOLUTION


def relu_forward(x):
    """Forward pass of a rectified linear unit: ``out = max(x, 0)`` elementwise.

    Inputs:
    - x: input of any shape, e.g. (N, C, H, W) or (N, D), float32 or float64

    Returns a tuple of:
    - out: x's shape and dtype
    - cache: x, for ``relu_backward``

    Raises TypeError for a non-float array.
    """
    check_array(x, "x", getattr(x, "ndim", 0), "(any shape)")
    ### BEGIN SOLUTION
    out = np.maximum(x, 0)
    cache = x
    return out, cache
    ### END SOLUTION


def relu_backward(dout, cache):
    """Backward pass of a ReLU: the gradient passes where ``x > 0`` and is 0 elsewhere (x = 0 included).

    Inputs:
    - dout: upstream gradient, x's shape
    - cache: x from ``relu_forward``

    Returns:
    - dx: gradient with respect to x, x's shape

    Raises TypeError/ValueError when dout is not a float array of x's shape.
    """
    x = cache
    check_dout(dout, x.shape, of="input")
    ### BEGIN SOLUTION
    dx = dout * (x > 0)
    return dx
    ### END SOLUTION


def flatten_forward(x):
    """Flatten each sample: (N, d_1, ..., d_k) -> (N, D) with D = d_1 * ... * d_k.

    Row-major order, as ``torch.flatten(x, 1)``.

    Inputs:
    - x: input, (N, d_1, ..., d_k), float32 or float64, at least 2 dimensions

    Returns a tuple of:
    - out: (N, D), a view of x when x is contiguous
    - cache: x's shape, for ``flatten_backward``

    Raises TypeError for a non-float array, ValueError for fewer than 2 dimensions.
    """
    _check_batch(x, "x", "(N, d_1, ..., d_k)")
    out = x.reshape(x.shape[0], -1)  # (N, D)
    cache = x.shape
    return out, cache


def flatten_backward(dout, cache):
    """Backward pass of ``flatten_forward``: reshape the gradient back to the input's shape.

    Inputs:
    - dout: upstream gradient, (N, D)
    - cache: x's shape (N, d_1, ..., d_k) from ``flatten_forward``

    Returns:
    - dx: gradient with respect to x, (N, d_1, ..., d_k)

    Raises TypeError/ValueError when dout is not a float array of shape (N, D).
    """
    x_shape = cache
    out_shape = (x_shape[0], math.prod(x_shape[1:]))
    check_dout(dout, out_shape, "(N, D)")
    return dout.reshape(x_shape)
