"""LeNet-5 in NumPy: the PyTorch network of ``cs7150.models``, built from ``cs7150.layers``.

The parameters live in ``params``, a dict keyed and shaped exactly like
``LeNet5().state_dict()``::

    conv1.weight (20, C, K, K)   conv1.bias (20,)
    conv2.weight (50, 20, K, K)  conv2.bias (50,)
    fc1.weight   (500, D)        fc1.bias   (500,)     D = 2450 for the lecture's network
    fc2.weight   (10, 500)       fc2.bias   (10,)

Linear weights keep PyTorch's (out, in) layout; ``affine_forward`` wants
``w`` as (in, out) = (D, M), so the forward pass passes ``weight.T`` and the
backward pass transposes ``dw`` back. Hence ``load_torch_state`` and
``to_torch_state`` copy arrays one to one, and gradients from
``loss_and_grads`` compare directly with PyTorch's ``param.grad``.
"""
from __future__ import annotations

import numpy as np

from cs7150._params import check_array
from cs7150.layers import (
    affine_backward,
    affine_forward,
    avg_pool_backward_fast,
    avg_pool_forward_fast,
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
    relu_backward,
    relu_forward,
    softmax_loss,
)
from cs7150.lenet5_spec import POOL_SIZE, lenet5_param_shapes

_POOLS = {
    "max": (max_pool_forward_fast, max_pool_backward_fast),
    "avg": (avg_pool_forward_fast, avg_pool_backward_fast),
}


class NumpyLeNet5:
    """LeNet-5 (and its variants) as NumPy arrays and the course's layer functions.

    Args:
        num_classes, in_channels, image_size, pool, activation, kernel_size,
            padding: as ``cs7150.lenet5.LeNet5``.
        dtype: np.float32 (default, for training) or np.float64 (for checks).
        seed: int, seeds the initial weights, drawn like PyTorch's defaults:
            uniform in ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` for weights and biases.

    Attributes:
        params: dict name -> ndarray, keyed and shaped like ``LeNet5().state_dict()``.
        layers: list of ``(name, kind)`` in forward order, named like
            ``LeNet5``'s children (kind: 'conv', 'relu', 'pool', 'affine').

    Raises:
        ValueError / TypeError: a bad option or dtype.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 28, *, pool: str = "max",
                 activation: bool = True, kernel_size: int = 5, padding: bool = True, dtype=np.float32, seed: int = 0):
        shapes = lenet5_param_shapes(num_classes, in_channels, image_size, pool=pool, activation=activation,
                                     kernel_size=kernel_size, padding=padding)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.input_shape = (in_channels, image_size, image_size)
        self.conv_param = {"stride": 1, "pad": kernel_size // 2 if padding else 0}
        self.pool_param = {"pool_height": POOL_SIZE, "pool_width": POOL_SIZE, "stride": POOL_SIZE}
        self.pool_forward, self.pool_backward = _POOLS[pool]
        rng = np.random.default_rng(seed)
        self.params = {}
        for name, shape in shapes.items():
            layer = name.split(".")[0]
            bound = 1 / np.sqrt(np.prod(shapes[f"{layer}.weight"][1:]))  # 1 / sqrt(fan_in)
            self.params[name] = rng.uniform(-bound, bound, size=shape).astype(self.dtype)
        kinds = [("conv1", "conv"), ("relu1", "relu"), ("pool1", "pool"), ("conv2", "conv"), ("relu2", "relu"),
                 ("pool2", "pool"), ("fc1", "affine"), ("relu3", "relu"), ("fc2", "affine")]
        self.layers = [(name, kind) for name, kind in kinds if activation or kind != "relu"]

    def _check_batch(self, x, y=None):
        check_array(x, "x", 4, "(N, C, H, W)")
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"x must have shape (N, {', '.join(map(str, self.input_shape))}), got {x.shape}")
        if y is not None and (not isinstance(y, np.ndarray) or y.shape != (x.shape[0],)):
            raise ValueError(f"y must be an int ndarray of shape ({x.shape[0]},), got {getattr(y, 'shape', type(y))}")
        return x.astype(self.dtype, copy=False)

    def _forward_with_caches(self, x: np.ndarray) -> tuple[np.ndarray, list]:
        """Logits (N, num_classes) and the caches of ``self.layers`` (in order) for x (N, C, H, W)."""
        ### BEGIN SOLUTION
        caches = []
        h = x  # (N, C, H, W), then (N, 20, 28, 28), ..., (N, 500), (N, num_classes)
        for name, kind in self.layers:
            if kind == "conv":
                h, cache = conv_forward_fast(h, self.params[f"{name}.weight"], self.params[f"{name}.bias"],
                                             self.conv_param)
            elif kind == "relu":
                h, cache = relu_forward(h)
            elif kind == "pool":
                h, cache = self.pool_forward(h, self.pool_param)
            else:  # affine flattens (N, 50, 7, 7) to (N, 2450) itself; w is (D, M) = weight.T
                h, cache = affine_forward(h, self.params[f"{name}.weight"].T, self.params[f"{name}.bias"])
            caches.append(cache)
        return h, caches
        ### END SOLUTION

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Logits (N, num_classes) for images ``x`` (N, C, H, W) float ndarray.

        Raises ValueError/TypeError for an array of another shape or a non-float dtype.
        """
        return self._forward_with_caches(self._check_batch(x))[0]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted classes, int64 (N,), for images ``x`` (N, C, H, W)."""
        return self.forward(x).argmax(axis=1)

    def logits_loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, dict]:
        """Forward and backward pass on one batch.

        Args:
            x: float ndarray (N, C, H, W).
            y: int ndarray (N,) of class indices.

        Returns:
            ``(logits, loss, grads)``: logits (N, num_classes), the mean
            softmax cross-entropy (float), and ``grads`` keyed and shaped like
            ``params`` (PyTorch layout).

        Raises:
            ValueError / TypeError: ``x`` or ``y`` of the wrong shape or dtype.
        """
        x = self._check_batch(x, y)
        ### BEGIN SOLUTION
        logits, caches = self._forward_with_caches(x)
        loss, dh = softmax_loss(logits, y)  # dh: (N, num_classes)
        grads = {}
        for (name, kind), cache in zip(reversed(self.layers), reversed(caches)):
            if kind == "conv":
                dh, grads[f"{name}.weight"], grads[f"{name}.bias"] = conv_backward_fast(dh, cache)
            elif kind == "relu":
                dh = relu_backward(dh, cache)
            elif kind == "pool":
                dh = self.pool_backward(dh, cache)
            else:
                dh, dw, grads[f"{name}.bias"] = affine_backward(dh, cache)
                grads[f"{name}.weight"] = dw.T  # (D, M) -> PyTorch's (M, D)
        return logits, float(loss), grads
        ### END SOLUTION

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, dict]:
        """``(loss, grads)`` of ``logits_loss_and_grads`` (mean cross-entropy, grads keyed like ``params``)."""
        _, loss, grads = self.logits_loss_and_grads(x, y)
        return loss, grads

    def load_torch_state(self, state_dict) -> None:
        """Copy a ``LeNet5`` state dict (tensors, any device) into ``params``, cast to ``self.dtype``.

        Raises:
            ValueError: keys or shapes differ from ``params`` (the message names them).
        """
        if set(state_dict) != set(self.params):
            raise ValueError(f"state dict keys {sorted(state_dict)} do not match {sorted(self.params)}")
        for name, tensor in state_dict.items():
            if tuple(tensor.shape) != self.params[name].shape:
                raise ValueError(f"{name} has shape {tuple(tensor.shape)}, expected {self.params[name].shape}")
            self.params[name] = tensor.detach().cpu().numpy().astype(self.dtype)

    def to_torch_state(self) -> dict:
        """``params`` as a dict of CPU tensors (same dtype), loadable by ``LeNet5.load_state_dict``."""
        import torch

        return {name: torch.from_numpy(p.copy()) for name, p in self.params.items()}
