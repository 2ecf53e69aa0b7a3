"""LeNet-5's architecture as numbers: filter counts, pooling, feature sizes, and its options' checks.

Shared by the PyTorch network (``cs7150.models``) and the NumPy twin
(``cs7150.numpy_lenet``); it imports no PyTorch, so the NumPy twin can be
imported, and graded, where PyTorch is not installed.
"""
from __future__ import annotations

from cs7150.shapes import conv_output_size

CONV1_FILTERS = 20
CONV2_FILTERS = 50
FC1_UNITS = 500
POOL_SIZE = 2
POOLS = ("max", "avg")


def lenet5_feature_size(image_size: int = 28, kernel_size: int = 5, padding: bool = True) -> tuple[int, int]:
    """Side of conv2's pooled output and the length of the flattened vector fed to fc1.

    Args:
        image_size: int, the side H = W of the square input image.
        kernel_size: int, the odd side K of both convolutions' kernels.
        padding: bool, "same" padding ``K // 2`` on both convolutions (else none).

    Returns:
        ``(side, flat)``: e.g. ``(7, 2450)`` for the lecture's network and
        ``(4, 800)`` without padding (28 -> 24 -> 12 -> 8 -> 4).

    Raises:
        ValueError: the kernel or a pooling window no longer fits the image.
    """
    pad = kernel_size // 2 if padding else 0
    side = image_size
    for _ in range(2):  # conv -> pool, twice
        side = conv_output_size(side, kernel_size, pad)
        side = conv_output_size(side, POOL_SIZE, 0, POOL_SIZE)
    return side, CONV2_FILTERS * side * side


def lenet5_param_shapes(num_classes: int = 10, in_channels: int = 1, image_size: int = 28, *, pool: str = "max",
                        activation: bool = True, kernel_size: int = 5, padding: bool = True) -> dict[str, tuple]:
    """The shapes of LeNet-5's parameters, keyed like ``LeNet5(...).state_dict()`` (and ``NumpyLeNet5.params``).

    Args: as ``cs7150.lenet5.LeNet5`` (``pool`` and ``activation`` change no shape; they are checked).

    Returns:
        ``{"conv1.weight": (20, C, K, K), "conv1.bias": (20,), "conv2.weight": (50, 20, K, K), "conv2.bias": (50,),
        "fc1.weight": (500, D), "fc1.bias": (500,), "fc2.weight": (num_classes, 500), "fc2.bias": (num_classes,)}``
        with D from ``lenet5_feature_size``.

    Raises:
        ValueError / TypeError: a bad option (``check_lenet5_options``), or a kernel that does not fit the image.
    """
    check_lenet5_options(pool, activation, kernel_size, padding)
    _, flat = lenet5_feature_size(image_size, kernel_size, padding)
    return {
        "conv1.weight": (CONV1_FILTERS, in_channels, kernel_size, kernel_size), "conv1.bias": (CONV1_FILTERS,),
        "conv2.weight": (CONV2_FILTERS, CONV1_FILTERS, kernel_size, kernel_size), "conv2.bias": (CONV2_FILTERS,),
        "fc1.weight": (FC1_UNITS, flat), "fc1.bias": (FC1_UNITS,),
        "fc2.weight": (num_classes, FC1_UNITS), "fc2.bias": (num_classes,),
    }


def check_lenet5_options(pool: str, activation: bool, kernel_size: int, padding: bool) -> None:
    """Validate the LeNet-5 constructor options shared by ``LeNet5`` and ``NumpyLeNet5``.

    Raises:
        ValueError: ``pool`` is not 'max' or 'avg', or ``kernel_size`` is not a
            positive odd int ("same" padding ``K // 2`` needs an odd kernel).
        TypeError: ``activation`` or ``padding`` is not a bool.
    """
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
    if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd int (for 'same' padding K // 2), got {kernel_size!r}")
    for name, value in (("activation", activation), ("padding", padding)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool, got {value!r}")
