"""The softmax cross-entropy loss that trains a classifier such as LeNet-5."""
from __future__ import annotations

import numpy as np

from cs7150._params import check_array


def softmax_loss(x, y):
    """Mean softmax cross-entropy of class scores, and its gradient.

    With p = softmax(x[i]) for each sample i, the loss is
    ``mean_i(-log p[y[i]])`` and its gradient is ``(p - onehot(y)) / N``.
    The scores are shifted by their row maximum before exponentiating, so
    large scores do not overflow.

    Inputs:
    - x: class scores, (N, C), float32 or float64, N >= 1
    - y: labels, (N,), integer dtype, each in [0, C)

    Returns a tuple of:
    - loss: float, the mean cross-entropy over the N samples
    - dx: gradient of the loss with respect to x, (N, C)

    Raises TypeError for non-float scores or non-integer labels, ValueError
    for an empty batch, a y that is not (N,), or a label outside [0, C).
    """
    check_array(x, "x", 2, "(N, C)")
    N, C = x.shape
    if N == 0 or C == 0:
        raise ValueError(f"x must have at least one sample and one class (N, C), got shape {x.shape}")
    if not isinstance(y, np.ndarray) or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must be a numpy.ndarray of integer labels, shape (N,), got "
                        f"{getattr(y, 'dtype', type(y).__name__)}")
    if y.shape != (N,):
        raise ValueError(f"y must have shape (N,) = ({N},) for x of shape {x.shape}, got {y.shape}")
    if y.min() < 0 or y.max() >= C:
        raise ValueError(f"labels y must lie in [0, C) = [0, {C}), got values from {y.min()} to {y.max()}")
    ### BEGIN SOLUTION
    shifted = x - x.max(axis=1, keepdims=True)  # (N, C), every row's maximum is 0
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (N, C)
    loss = -log_probs[np.arange(N), y].mean()
    dx = np.exp(log_probs)  # (N, C), the softmax probabilities
    dx[np.arange(N), y] -= 1
    dx /= N
    return float(loss), dx
    ### END SOLUTION
