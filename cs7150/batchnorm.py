"""Batch normalization, for fully connected (N, D) and convolutional (N, C, H, W) activations.

Train mode normalizes every feature with its mean and variance over the batch,
as the lecture writes it::

    mu = mean(x, axis=0),  var = mean((x - mu)**2, axis=0)     # biased variance
    x_hat = (x - mu) / sqrt(var + eps),  out = gamma * x_hat + beta

and keeps running averages for test mode, which normalizes with them instead::

    running_mean = momentum * running_mean + (1 - momentum) * mu
    running_var  = momentum * running_var  + (1 - momentum) * var * N / (N - 1)

The running variance uses the *unbiased* batch variance (divided by N - 1),
as PyTorch does, while the normalization itself uses the biased one (divided
by N). ``momentum`` is the fraction of the old running value that is kept
(CS231n's convention); PyTorch's ``momentum`` argument is ``1 - momentum``.

``bn_param`` is a dict with
    'mode':         'train' or 'test' (required)
    'eps':          float > 0 added to the variance (optional, default 1e-5)
    'momentum':     float in [0, 1] (optional, default 0.9)
    'running_mean': (D,) array (optional; zeros are stored on first use)
    'running_var':  (D,) array (optional; ones are stored on first use)
Train mode updates ``running_mean`` and ``running_var`` in place. Any other
key (a typo such as ``'momemtum'``) is a ValueError naming it.
"""
from __future__ import annotations

import numbers

import numpy as np

from cs7150._params import check_array, check_dout, check_keys, get_param

BN_KEYS = ("mode", "eps", "momentum", "running_mean", "running_var")


def _check_features(v, name, size, axis="D"):
    """Return ``v`` if it is a float array of shape (size,); raise TypeError/ValueError otherwise.

    ``axis`` names the size in the message: "D" features, or "C" channels.
    """
    check_array(v, name, 1, f"({axis},)")
    if v.shape != (size,):
        raise ValueError(f"{name} must have shape ({axis},) = ({size},), got {v.shape}")
    return v


def _check_bn_param(bn_param, D, dtype):
    """Validate ``bn_param`` and return (mode, eps, momentum, running_mean, running_var).

    Stores zeros/ones of shape (D,) and dtype ``dtype`` as 'running_mean' /
    'running_var' when they are missing. Raises TypeError for a non-dict or a
    non-float eps/momentum, ValueError for a key other than ``BN_KEYS``, a
    missing or bad 'mode', an eps <= 0, a momentum outside [0, 1], or running
    statistics of the wrong shape.
    """
    check_keys(bn_param, "bn_param", BN_KEYS)
    mode = get_param(bn_param, "mode", "bn_param")
    if mode not in ("train", "test"):
        raise ValueError(f"bn_param['mode'] must be 'train' or 'test', got {mode!r}")
    eps = get_param(bn_param, "eps", "bn_param", 1e-5)
    momentum = get_param(bn_param, "momentum", "bn_param", 0.9)
    for key, value in (("eps", eps), ("momentum", momentum)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(f"bn_param[{key!r}] must be a float, got {value!r}")
    if not eps > 0:
        raise ValueError(f"bn_param['eps'] must be positive, got {eps!r}")
    if not 0 <= momentum <= 1:
        raise ValueError(f"bn_param['momentum'] must be in [0, 1], got {momentum!r}")
    running_mean = bn_param.setdefault("running_mean", np.zeros(D, dtype=dtype))
    running_var = bn_param.setdefault("running_var", np.ones(D, dtype=dtype))
    _check_features(running_mean, "bn_param['running_mean']", D)
    _check_features(running_var, "bn_param['running_var']", D)
    return mode, eps, momentum, running_mean, running_var


def batchnorm_forward(x, gamma, beta, bn_param):
    """Forward pass of batch normalization over the batch axis of (N, D) activations.

    Inputs:
    - x: input, (N, D), float32 or float64
    - gamma: scale, (D,)
    - beta: shift, (D,)
    - bn_param: dict with 'mode' ('train' or 'test') and optional 'eps',
      'momentum', 'running_mean', 'running_var' (see the module docstring);
      train mode updates the running statistics in place

    Returns a tuple of:
    - out: (N, D)
    - cache: (mode, x_hat, gamma, std) for ``batchnorm_backward``, where
      x_hat is (N, D) and std = sqrt(var + eps) is (D,)

    Raises TypeError for non-float arrays, ValueError for a gamma, beta or
    running statistic that is not (D,), a bad bn_param entry, or N < 2 in
    train mode (the unbiased variance needs two samples).
    """
    check_array(x, "x", 2, "(N, D)")
    N, D = x.shape
    _check_features(gamma, "gamma", D)
    _check_features(beta, "beta", D)
    mode, eps, momentum, running_mean, running_var = _check_bn_param(bn_param, D, x.dtype)
    if mode == "train" and N < 2:
        raise ValueError(f"bn_param['mode'] = 'train' needs at least 2 values per feature to average "
                         f"(N >= 2; N * H * W >= 2 for spatial batch norm), got {N}")
    ### BEGIN SOLUTION
    if mode == "train":
        mu = x.mean(axis=0)  # (D,)
        var = ((x - mu) ** 2).mean(axis=0)  # (D,) biased: normalizes the batch
        running_mean *= momentum
        running_mean += (1 - momentum) * mu
        running_var *= momentum
        running_var += (1 - momentum) * var * N / (N - 1)  # unbiased, as PyTorch
    else:
        mu, var = running_mean, running_var
    std = np.sqrt(var + eps)  # (D,)
    x_hat = (x - mu) / std  # (N, D)
    out = gamma * x_hat + beta  # (N, D)
    cache = (mode, x_hat, gamma, std)
    return out, cache
    ### END SOLUTION


def batchnorm_backward(dout, cache):
    """Backward pass of batch normalization, in the simplified form derived in the notebook (section 6c).

    In train mode mu and var depend on every x of the batch: dx is the graph's
    backward pass (section 6b) simplified to a function of g = dout * gamma,
    x_hat and std alone. In test mode they are constants and dx = dout * gamma / std.

    Inputs:
    - dout: upstream gradient, (N, D)
    - cache: (mode, x_hat, gamma, std) from ``batchnorm_forward``

    Returns a tuple of:
    - dx: gradient with respect to x, (N, D)
    - dgamma: gradient with respect to gamma, (D,)
    - dbeta: gradient with respect to beta, (D,)

    Raises TypeError/ValueError when dout is not a float array of shape (N, D).
    """
    mode, x_hat, gamma, std = cache
    check_dout(dout, x_hat.shape, "(N, D)")
    ### BEGIN SOLUTION
    dbeta = dout.sum(axis=0)  # (D,)
    dgamma = (dout * x_hat).sum(axis=0)  # (D,)
    dx_hat = dout * gamma  # (N, D)
    if mode == "train":
        dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)) / std
    else:
        dx = dx_hat / std
    return dx, dgamma, dbeta
    ### END SOLUTION


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Forward pass of spatial batch normalization: one mean and variance per channel of (N, C, H, W).

    Each channel is normalized over the N * H * W values it has in the batch,
    by moving the channels last, flattening to (N * H * W, C) and calling
    ``batchnorm_forward``.

    Inputs:
    - x: input, (N, C, H, W), float32 or float64
    - gamma: scale, (C,)
    - beta: shift, (C,)
    - bn_param: as for ``batchnorm_forward``, with (C,) running statistics

    Returns a tuple of:
    - out: (N, C, H, W)
    - cache: (x.shape, batchnorm cache) for ``spatial_batchnorm_backward``

    Raises TypeError for non-float arrays, ValueError for a gamma, beta or
    running statistic that is not (C,), a bad bn_param entry, or
    N * H * W < 2 in train mode.
    """
    check_array(x, "x", 4, "(N, C, H, W)")
    _check_features(gamma, "gamma", x.shape[1], axis="C")
    _check_features(beta, "beta", x.shape[1], axis="C")
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    x_rows = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)  # (N*H*W, C)
    out_rows, bn_cache = batchnorm_forward(x_rows, gamma, beta, bn_param)
    out = out_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)  # (N, C, H, W)
    cache = (x.shape, bn_cache)
    return out, cache
    ### END SOLUTION


def spatial_batchnorm_backward(dout, cache):
    """Backward pass of spatial batch normalization.

    Inputs:
    - dout: upstream gradient, (N, C, H, W)
    - cache: (x.shape, batchnorm cache) from ``spatial_batchnorm_forward``

    Returns a tuple of:
    - dx: gradient with respect to x, (N, C, H, W)
    - dgamma: gradient with respect to gamma, (C,)
    - dbeta: gradient with respect to beta, (C,)

    Raises TypeError/ValueError when dout is not a float array of x's shape.
    """
    x_shape, bn_cache = cache
    check_dout(dout, x_shape, "(N, C, H, W)")
    ### BEGIN SOLUTION
    N, C, H, W = x_shape
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(N * H * W, C)  # (N*H*W, C)
    dx_rows, dgamma, dbeta = batchnorm_backward(dout_rows, bn_cache)
    dx = dx_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)  # (N, C, H, W)
    return dx, dgamma, dbeta
    ### END SOLUTION
