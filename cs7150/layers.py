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

A student release holds only its assignment's modules, so this namespace
re-exports the functions of the modules present in the package's folder.
Asking for a function whose module is absent raises an ``ImportError`` that
names the missing file (e.g. a file an assignment builds on that was not
copied in). A module that is present but fails to import raises its own error.
"""
import importlib
import importlib.util
from pathlib import Path

MODULES = {
    "conv": ("conv_backward_naive", "conv_forward_naive"),
    "conv_fast": ("conv1d_backward_fast", "conv1d_forward_fast", "conv3d_backward_fast", "conv3d_forward_fast",
                  "conv_backward_fast", "conv_forward_fast"),
    "pool": ("avg_pool_backward_naive", "avg_pool_forward_naive", "max_pool_backward_naive", "max_pool_forward_naive"),
    "pool_fast": ("avg_pool_backward_fast", "avg_pool_forward_fast", "max_pool_backward_fast", "max_pool_forward_fast"),
    "dense": ("affine_backward", "affine_forward", "flatten_backward", "flatten_forward", "relu_backward",
              "relu_forward"),
    "batchnorm": ("batchnorm_backward", "batchnorm_forward", "spatial_batchnorm_backward",
                  "spatial_batchnorm_forward"),
    "loss": ("softmax_loss",),
}
"""module of this package -> the layer functions it defines."""

_PACKAGE = __name__.rpartition(".")[0]
_FOLDER = Path(__file__).resolve().parent
_ABSENT = {}  # function -> the module file that would define it



def _present(module: str) -> bool:
    """Whether ``module``'s file is in this package's folder (not found elsewhere by another finder)."""
    spec = importlib.util.find_spec(f"{_PACKAGE}.{module}")
    return spec is not None and spec.origin is not None and Path(spec.origin).resolve().parent == _FOLDER


_loaded = None
for _module, _names in MODULES.items():
    if not _present(_module):
        _ABSENT.update(dict.fromkeys(_names, f"{_PACKAGE}/{_module}.py"))
        continue
    _loaded = importlib.import_module(f"{_PACKAGE}.{_module}")
    globals().update({name: getattr(_loaded, name) for name in _names})
del _module, _names, _loaded

__all__ = sorted(name for names in MODULES.values() for name in names if name not in _ABSENT)


def __getattr__(name: str):
    """Say which file is missing when a function of an absent module is asked for."""
    if name in _ABSENT:
        raise ImportError(
            f"{name} is defined in {_ABSENT[name]}, which is not in {_FOLDER}: if this assignment builds on an "
            f"earlier one, copy your own {_ABSENT[name]} from that assignment's folder into this one (see README.md)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
