"""cs7150: convolution and pooling from scratch, LeNet-5, and the course's autograder.

Submodules (import what you need; nothing heavy happens at import time):

- ``cs7150.layers``     every layer function (conv, pool, affine, relu, batchnorm, loss)
- ``cs7150.gradcheck``  numerical gradients and relative errors
- ``cs7150.shapes``     output sizes, receptive fields, parameter/MAC counts, ``summarize``
- ``cs7150.data``       the MNIST IDX reader and the offline subset
- ``cs7150.models``     LeNet-5 in PyTorch, its variants and the baselines
- ``cs7150.numpy_lenet`` the NumPy twin of LeNet-5, built from ``cs7150.layers``
- ``cs7150.train``      the trainer used by ``cs7150 train``; ``cs7150.plots`` its figures
- ``cs7150.timing``     timing helpers; ``cs7150.bench`` the ``cs7150 bench`` command
- ``cs7150.cli``        the ``cs7150`` command (demo, bench, data, train, compare,
                        release, gradescope, autograde)
"""
__version__ = "0.1.0"
