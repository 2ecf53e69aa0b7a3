"""Every layer function of the course, in one namespace (CS231n-compatible API).

Each forward returns ``(out, cache)``; each backward takes ``(dout, cache)``.
Arrays are NumPy, NCHW (NCL for 1-D, NCDHW for 3-D), float32 or float64.

=====================  =============================================
module                 functions
=====================  =============================================
``cs7150.conv``        naive 2-D convolution (the lecture's loops)
``cs7150.conv_fast``   vectorized 1-D, 2-D and 3-D convolution
``cs7150.pool``        naive max and average pooling
``cs7150.pool_fast``   vectorized max and average pooling
``cs7150.dense``       affine, ReLU, flatten
``cs7150.batchnorm``   batch normalization, plain and spatial
``cs7150.loss``        softmax cross-entropy
=====================  =============================================
"""
from cs7150.batchnorm import (
    batchnorm_backward,
    batchnorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from cs7150.conv import conv_backward_naive, conv_forward_naive
from cs7150.conv_fast import (
    conv1d_backward_fast,
    conv1d_forward_fast,
    conv3d_backward_fast,
    conv3d_forward_fast,
    conv_backward_fast,
    conv_forward_fast,
)
from cs7150.dense import (
    affine_backward,
    affine_forward,
    flatten_backward,
    flatten_forward,
    relu_backward,
    relu_forward,
)
from cs7150.loss import softmax_loss
from cs7150.pool import (
    avg_pool_backward_naive,
    avg_pool_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)
from cs7150.pool_fast import (
    avg_pool_backward_fast,
    avg_pool_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)

__all__ = [
    "affine_backward", "affine_forward", "avg_pool_backward_fast", "avg_pool_backward_naive",
    "avg_pool_forward_fast", "avg_pool_forward_naive", "batchnorm_backward", "batchnorm_forward",
    "conv1d_backward_fast", "conv1d_forward_fast", "conv3d_backward_fast", "conv3d_forward_fast",
    "conv_backward_fast", "conv_backward_naive", "conv_forward_fast", "conv_forward_naive",
    "flatten_backward", "flatten_forward", "max_pool_backward_fast", "max_pool_backward_naive",
    "max_pool_forward_fast", "max_pool_forward_naive", "relu_backward", "relu_forward",
    "softmax_loss", "spatial_batchnorm_backward", "spatial_batchnorm_forward",
]
