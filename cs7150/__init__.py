"""cs7150: convolution and pooling from scratch, LeNet-5, and the course's autograder.

Submodules (import what you need; nothing heavy happens at import time):

- ``cs7150.layers``     every layer function (conv, pool, affine, relu, batchnorm, loss)
- ``cs7150.gradcheck``  numerical gradients and relative errors
- ``cs7150.shapes``     output sizes, receptive fields, parameter/MAC counts, ``summarize``
- ``cs7150.data``       the MNIST IDX reader and the offline subset
- ``cs7150.models``     LeNet-5 in PyTorch and its NumPy twin
- ``cs7150.train``      the trainer used by ``cs7150 train``
"""
__version__ = "0.1.0"
