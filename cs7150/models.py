"""LeNet-5 in PyTorch, the lecture's variants of it, two baselines, and a registry.

The lecture's LeNet-5 on a 1x28x28 MNIST digit::

    conv1  20 filters 5x5, pad 2   (N, 20, 28, 28)    520 parameters
    relu1, pool1 max 2x2 stride 2  (N, 20, 14, 14)
    conv2  50 filters 5x5, pad 2   (N, 50, 14, 14)    25,050
    relu2, pool2 max 2x2 stride 2  (N, 50, 7, 7)
    flatten                        (N, 2450)
    fc1    2450 -> 500, relu3      (N, 500)           1,225,500
    fc2    500 -> 10               (N, 10)            5,010   (total 1,256,080)

``build_model(name)`` builds any entry of ``MODELS``: the network above (the
reference ``cs7150.lenet5.LeNet5``, which student releases leave out), one
variant per lecture question (average pooling, no ReLU, 3x3 kernels, no
padding, batch normalization), a linear classifier on pixels, a chance
baseline, and the NumPy twin of LeNet-5 (``cs7150.numpy_lenet``).
``small_conv1_init`` starts a network's first convolution small, so that its
trained filters show what training put there (the assignment-2 notebook's
section 5 and the ``lenet5_filters`` demo).
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

# The architecture's numbers and option checks live in cs7150.lenet5_spec (no torch there, so the NumPy twin
# can be graded without it); re-exported here for the PyTorch network and its callers.
from cs7150.lenet5_spec import (CONV1_FILTERS, CONV2_FILTERS, FC1_UNITS, POOL_SIZE, POOLS,  # noqa: E402,F401
                                check_lenet5_options, lenet5_feature_size)


class ChanceClassifier(nn.Module):
    """Random guessing: every image gets a uniformly random class (about 1/num_classes accuracy).

    It has no parameters and is never trained. Its logits are uniform noise in
    [0, 1) drawn from its own seeded CPU generator, so the argmax is a uniformly
    random class and the cross-entropy stays close to ``log(num_classes)``.
    """

    def __init__(self, num_classes: int = 10, seed: int = 0):
        super().__init__()
        self.num_classes = num_classes
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Random logits (N, num_classes) on ``x``'s device for images ``x`` (N, ...)."""
        logits = torch.rand(x.shape[0], self.num_classes, generator=self.generator)
        return logits.to(device=x.device, dtype=x.dtype)


def linear_classifier(num_classes: int = 10, in_channels: int = 1, image_size: int = 28) -> nn.Sequential:
    """A linear classifier on raw pixels: flatten (N, C*H*W), then fc (C*H*W -> num_classes).

    7,850 parameters on MNIST; input (N, in_channels, image_size, image_size), output logits (N, num_classes).
    """
    return nn.Sequential(OrderedDict(
        flatten=nn.Flatten(),                                                   # (N, 784)
        fc=nn.Linear(in_channels * image_size * image_size, num_classes),      # (N, 10)
    ))


def _lenet5(**options):
    """The reference ``cs7150.lenet5.LeNet5(**options)``.

    Raises NotImplementedError in a student release, which leaves that file
    out: there the network is the student's own ``lenet5()`` (assignment 2).
    """
    try:
        from cs7150.lenet5 import LeNet5  # imported here: releases leave the file out
    except ModuleNotFoundError as error:
        if error.name != "cs7150.lenet5":
            raise
        raise NotImplementedError("the reference LeNet-5 (cs7150/lenet5.py) is not part of this release: "
                                  "build LeNet-5 yourself with lenet5() in lenet5.ipynb section 1") from None
    return LeNet5(**options)


def _numpy_lenet5(**options):
    from cs7150.numpy_lenet import NumpyLeNet5  # imported here: numpy_lenet imports this module

    return NumpyLeNet5(**options)


# name -> (builder, keyword options, one-line description); baselines first, then
# LeNet-5, then one variant per lecture question (the order `cs7150 compare` prints).
MODELS = {
    "chance": (ChanceClassifier, {}, "random guessing, never trained (~10% on 10 classes)"),
    "linear": (linear_classifier, {}, "linear classifier on the 784 pixels"),
    "lenet5": (_lenet5, {}, "the lecture's LeNet-5 (max pool, ReLU, 5x5 'same' convs)"),
    "lenet5-avgpool": (_lenet5, {"pool": "avg"}, "LeNet-5 with 2x2 average pooling"),
    "lenet5-norelu": (_lenet5, {"activation": False}, "LeNet-5 without ReLU: stacked linear maps collapse into one"),
    "lenet5-k3": (_lenet5, {"kernel_size": 3}, "LeNet-5 with 3x3 'same' convs (smaller receptive field)"),
    "lenet5-nopad": (_lenet5, {"padding": False}, "LeNet-5 without padding: 28->24->12->8->4, flatten 800"),
    "lenet5-bn": (_lenet5, {"batchnorm": True}, "LeNet-5 with batch normalization after conv1, conv2 and fc1"),
    "numpy-lenet5": (_numpy_lenet5, {}, "LeNet-5 in NumPy from cs7150.layers (trained with SGD + momentum)"),
}
BASELINES = ("chance", "linear")


def build_model(name: str, seed: int = 0, **kwargs):
    """Build the registered model ``name`` with seeded initial weights.

    Args:
        name: a key of ``MODELS`` (e.g. 'lenet5', 'lenet5-nopad', 'linear', 'chance').
        seed: int, seeds the initial weights (and the chance model's guesses);
            the global torch RNG state is left as it was.
        **kwargs: passed to the builder (e.g. ``num_classes``, ``dtype`` for
            'numpy-lenet5'); they override the registry's options.

    Returns:
        An ``nn.Module`` (input (N, 1, 28, 28) -> logits (N, 10)), or a
        ``NumpyLeNet5`` for 'numpy-lenet5'.

    Raises:
        ValueError: ``name`` is not registered (the message lists the valid names).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(MODELS)}")
    builder, options, _ = MODELS[name]
    options = {**options, **kwargs}
    if builder in (ChanceClassifier, _numpy_lenet5):
        return builder(seed=seed, **options)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return builder(**options)


SMALL_CONV1_SCALE = 0.01  # conv1's initial weights at 1/100 of PyTorch's default: the trained filters are learned


def small_conv1_init(model, scale: float = SMALL_CONV1_SCALE):
    """Shrink the initial weights of ``model.conv1`` by ``scale`` and zero its bias, in place; return ``model``.

    PyTorch draws a 5x5 single-channel filter uniformly from [-0.2, 0.2]. One epoch of Adam on a few thousand
    digits moves conv1's weights by a few hundredths, so after it every filter still correlates about 0.98 with
    its random start. Started at ``scale`` times that draw (the same random directions, 1/100 of the size, no
    bias) the filters become what training put there. The zero bias keeps every filter's ReLU alive at the
    start (a bias of -0.1 against weights of 0.002 would keep a response negative, and the filter untrained).

    Args:
        model: an ``nn.Module`` with an ``nn.Conv2d`` child ``conv1`` (LeNet-5 and its variants).
        scale: float in (0, 1], the factor applied to ``conv1.weight`` (F, C, K, K).

    Returns:
        ``model``, changed in place.

    Raises:
        TypeError: ``model`` has no ``nn.Conv2d`` named ``conv1``.
        ValueError: ``scale`` is not in (0, 1].
    """
    conv1 = getattr(model, "conv1", None)
    if not isinstance(conv1, nn.Conv2d):
        raise TypeError(f"small_conv1_init needs a model with an nn.Conv2d named conv1, got {type(model).__name__} "
                        f"whose conv1 is {type(conv1).__name__}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 1:
        raise ValueError(f"scale must be a number in (0, 1], got {scale!r}")
    with torch.no_grad():
        conv1.weight.mul_(scale)
        if conv1.bias is not None:
            conv1.bias.zero_()
    return model


def count_parameters(model) -> int:
    """Number of trainable scalars of an ``nn.Module`` or a ``NumpyLeNet5`` (1,256,080 for LeNet-5)."""
    if isinstance(model, nn.Module):
        return sum(p.numel() for p in model.parameters() if p.requires_grad)
    return sum(p.size for p in model.params.values())
