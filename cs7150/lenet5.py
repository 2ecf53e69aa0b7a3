"""The reference LeNet-5 in PyTorch (``cs7150.models`` builds it and its variants by name).

Assignment 2 asks students to write this network themselves, so its release
leaves this file out; ``cs7150.models.build_model("lenet5")`` then says so.
"""
from __future__ import annotations

import torch
from torch import nn

from cs7150.lenet5_spec import CONV1_FILTERS, CONV2_FILTERS, FC1_UNITS, POOL_SIZE, check_lenet5_options, lenet5_feature_size


class LeNet5(nn.Module):
    """The lecture's LeNet-5; the keyword options build its variants.

    Child modules are registered in forward order with stable names
    (conv1, relu1, pool1, conv2, relu2, pool2, flatten, fc1, relu3, fc2), so
    ``cs7150.shapes.summarize`` can walk them; without ``activation`` the relu
    modules are absent; with ``batchnorm`` a batch-normalization layer follows
    conv1, conv2 (``bn1``, ``bn2``: ``nn.BatchNorm2d``) and fc1 (``bn3``:
    ``nn.BatchNorm1d``), before the ReLU.

    Args:
        num_classes: int, outputs of fc2.
        in_channels: int, channels C of the input (1 for MNIST).
        image_size: int, side of the square input (28 for MNIST).
        pool: 'max' or 'avg', the 2x2 stride-2 pooling after each convolution.
        activation: bool, ReLU after conv1, conv2 and fc1 (without it the
            network is linear between the pooling layers).
        kernel_size: int, odd side K of both convolutions' kernels.
        padding: bool, "same" padding K // 2 (else none: 28 -> 24 -> 12 -> 8 -> 4).
        batchnorm: bool, batch normalization after conv1, conv2 and fc1
            (1,257,220 parameters instead of 1,256,080).

    Input ``x``: float tensor (N, in_channels, image_size, image_size);
    output: logits (N, num_classes).

    Raises:
        ValueError / TypeError: a bad option, or an image too small for the kernels.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 28, *,
                 pool: str = "max", activation: bool = True, kernel_size: int = 5, padding: bool = True,
                 batchnorm: bool = False):
        super().__init__()
        check_lenet5_options(pool, activation, kernel_size, padding)
        if not isinstance(batchnorm, bool):
            raise TypeError(f"batchnorm must be a bool, got {batchnorm!r}")
        _, flat = lenet5_feature_size(image_size, kernel_size, padding)
        pad = kernel_size // 2 if padding else 0
        ### BEGIN SOLUTION
        pool_layer = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
        layers = [
            ("conv1", nn.Conv2d(in_channels, CONV1_FILTERS, kernel_size, padding=pad)),  # (N, 20, H1, W1)
            ("bn1", nn.BatchNorm2d(CONV1_FILTERS)),
            ("relu1", nn.ReLU()),
            ("pool1", pool_layer(POOL_SIZE)),                                             # (N, 20, H1/2, W1/2)
            ("conv2", nn.Conv2d(CONV1_FILTERS, CONV2_FILTERS, kernel_size, padding=pad)),  # (N, 50, H2, W2)
            ("bn2", nn.BatchNorm2d(CONV2_FILTERS)),
            ("relu2", nn.ReLU()),
            ("pool2", pool_layer(POOL_SIZE)),                                             # (N, 50, side, side)
            ("flatten", nn.Flatten()),                                                    # (N, flat)
            ("fc1", nn.Linear(flat, FC1_UNITS)),                                          # (N, 500)
            ("bn3", nn.BatchNorm1d(FC1_UNITS)),
            ("relu3", nn.ReLU()),
            ("fc2", nn.Linear(FC1_UNITS, num_classes)),                                   # (N, num_classes)
        ]
        for name, module in layers:
            if (activation or not name.startswith("relu")) and (batchnorm or not name.startswith("bn")):
                self.add_module(name, module)
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, num_classes) for images ``x`` (N, C, H, W): the children in order."""
        for layer in self.children():
            x = layer(x)
        return x
