"""Sizes and counts from the lecture: output sizes, receptive fields, parameters, MACs.

``conv_output_size`` and ``pool_output_size`` (with padding and ceil mode)
give the output sizes along one axis; the layers compute their own (the
output size is part of what a student implements), and the tests hold both
to PyTorch.

A network is described either by a list of small layer specs::

    LENET5 = [Conv(20, 5, pad=2), ReLU(), MaxPool(2, 2), Conv(50, 5, pad=2), ReLU(), MaxPool(2, 2),
              Flatten(), Linear(500), ReLU(), Linear(10)]

or by a PyTorch ``nn.Module``; ``summarize(model, (1, 28, 28))`` prints the
lecture's table (Layer | Output Size | Weight Size | Params | MACs) for either.
PyTorch is imported only when a module is summarized.
"""
from __future__ import annotations

import math
import numbers
import sys
from dataclasses import dataclass

from cs7150._params import as_tuple
from cs7150._windows import pool_output_length
from cs7150.tables import format_table


def conv_output_size(size: int, kernel: int, pad: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """Output length of a convolution along one axis, exactly as PyTorch computes it.

    ``floor((size + 2*pad - dilation*(kernel - 1) - 1) / stride) + 1``; with
    ``dilation=1`` this is ``floor((W - K + 2P) / S) + 1``, equal for integers to
    the slide's ``ceil((W - K + 1 + 2P) / S)`` (``ceil((a + 1) / S) = floor(a / S) + 1``
    for every integer ``a >= 0``: both count the window starts 0, S, 2S, ... <= a).

    Raises ValueError when the (dilated) kernel does not fit in the padded
    input, i.e. when the output would be empty.
    """
    span = dilation * (kernel - 1) + 1
    if span > size + 2 * pad:
        raise ValueError(
            f"kernel of size {kernel} (dilation {dilation}, span {span}) is larger than the "
            f"padded input of size {size} + 2*{pad} = {size + 2 * pad}"
        )
    return (size + 2 * pad - span) // stride + 1


def _int_at_least(value, name: str, minimum: int) -> int:
    """``value`` as an int, if it is an integer ``>= minimum`` (not a bool); else TypeError/ValueError."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _ndim(*values, default: int = 2) -> int:
    """The number of axes implied by the first sequence (tuple, list, array) among ``values`` (else ``default``)."""
    for value in values:
        if hasattr(value, "__len__"):
            return len(value)
    return default


def pool_output_size(size: int, kernel: int, stride: int | None = None, pad: int = 0, ceil_mode: bool = False) -> int:
    """Output length of a pooling window along one axis, as ``torch.nn.MaxPool1d`` / ``AvgPool1d``.

    Args:
        size: int >= 1, the input length (W).
        kernel: int >= 1, the window length (K).
        stride: int >= 1, the step (S); ``None`` means ``kernel`` (PyTorch's default).
        pad: int, 0 <= P <= K // 2 (as PyTorch), added on both sides.
        ceil_mode: bool, round up instead of down, less a last window that
            would start in the padding after the input (as PyTorch).
    Returns:
        ``floor((W + 2P - K) / S) + 1`` (``ceil`` in ceil mode).
    Raises:
        TypeError: a non-int size or a non-bool ``ceil_mode``. ValueError: a
        non-positive size, a pad above half the window, or a window longer
        than the padded input.
    """
    stride = kernel if stride is None else stride
    size = _int_at_least(size, "size", 1)
    kernel = _int_at_least(kernel, "kernel", 1)
    stride = _int_at_least(stride, "stride", 1)
    pad = _int_at_least(pad, "pad", 0)
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"ceil_mode must be True or False, got {ceil_mode!r}")
    if pad > kernel // 2:
        raise ValueError(f"pad = {pad} must be at most half the window of {kernel} (<= {kernel // 2}), as in PyTorch")
    return pool_output_length(size, kernel, pad, stride, ceil_mode)


def conv_params(c_in: int, c_out: int, kernel: int | tuple[int, ...], groups: int = 1, bias: bool = True) -> int:
    """Number of learnable parameters of a convolution layer.

    ``c_out * (c_in / groups) * prod(kernel)`` weights plus ``c_out`` biases:
    ten 3x5x5 filters have ``10 * 75 + 10 = 760``.

    Args:
        c_in, c_out: ints >= 1, input and output channels, both divisible by ``groups``.
        kernel: int (a square 2-D kernel) or a tuple with one size per spatial axis.
        groups: int >= 1.
        bias: whether each filter has a bias.
    Returns:
        int.
    Raises:
        TypeError: a non-int size. ValueError: a size below 1, or ``groups``
        not dividing ``c_in`` and ``c_out``.
    """
    kernel = as_tuple(kernel, _ndim(kernel), "kernel", 1)
    c_in, c_out, groups = _channels(c_in, c_out, groups)
    return c_out * (c_in // groups) * math.prod(kernel) + (c_out if bias else 0)


def conv_macs(c_in: int, c_out: int, kernel: int | tuple[int, ...], out_size: int | tuple[int, ...],
              groups: int = 1) -> int:
    """Multiply-adds of one convolution on one sample (bias additions not counted).

    Every output value is a dot product of length ``(c_in / groups) * prod(kernel)``:
    ``c_out * prod(out_size) * (c_in / groups) * prod(kernel)``; ten 5x5
    filters on a 3x32x32 input with pad 2 give ``10 * 32*32 * 75 = 768,000``.

    Args:
        c_in, c_out: ints >= 1, both divisible by ``groups``.
        kernel: int or per-axis tuple (kernel size).
        out_size: int or per-axis tuple (output spatial size). Two ints mean a
            square 2-D layer; an int next to a tuple repeats along its axes.
        groups: int >= 1.
    Returns:
        int.
    Raises:
        TypeError: a non-int size.
        ValueError: a size below 1, tuples of different lengths, or
        ``groups`` not dividing the channels.
    """
    if hasattr(kernel, "__len__") and hasattr(out_size, "__len__") and len(kernel) != len(out_size):
        raise ValueError(f"kernel {tuple(kernel)} and out_size {tuple(out_size)} must have the same number of axes")
    n = _ndim(kernel, out_size)
    kernel = as_tuple(kernel, n, "kernel", 1)
    out_size = as_tuple(out_size, n, "out_size", 1)
    c_in, c_out, groups = _channels(c_in, c_out, groups)
    return c_out * math.prod(out_size) * (c_in // groups) * math.prod(kernel)


def _channels(c_in, c_out, groups) -> tuple[int, int, int]:
    """Validate channel counts and ``groups`` (which must divide both)."""
    c_in = _int_at_least(c_in, "c_in", 1)
    c_out = _int_at_least(c_out, "c_out", 1)
    groups = _int_at_least(groups, "groups", 1)
    if c_in % groups or c_out % groups:
        raise ValueError(f"groups = {groups} must divide both c_in = {c_in} and c_out = {c_out}")
    return c_in, c_out, groups


# ---------------------------------------------------------------------------------------------
# Layer specs


def _check_axes(value, name: str, minimum: int) -> None:
    """Check an int-or-tuple field of a spec (entries ints >= ``minimum``)."""
    as_tuple(value, _ndim(value, default=1), name, minimum)


@dataclass(frozen=True)
class Conv:
    """A convolution: ``out_channels`` filters of size ``kernel``, as ``nn.Conv2d`` (any number of axes).

    ``kernel``, ``stride``, ``pad``, ``dilation``: int or one int per spatial axis.
    Raises TypeError/ValueError at construction for non-int or out-of-range fields.
    """

    out_channels: int
    kernel: int | tuple[int, ...]
    stride: int | tuple[int, ...] = 1
    pad: int | tuple[int, ...] = 0
    dilation: int | tuple[int, ...] = 1
    groups: int = 1
    bias: bool = True

    def __post_init__(self):
        _int_at_least(self.out_channels, "Conv out_channels", 1)
        _int_at_least(self.groups, "Conv groups", 1)
        _check_axes(self.kernel, "Conv kernel", 1)
        _check_axes(self.stride, "Conv stride", 1)
        _check_axes(self.pad, "Conv pad", 0)
        _check_axes(self.dilation, "Conv dilation", 1)


@dataclass(frozen=True)
class _Pool:
    """A pooling window of size ``kernel`` moved by ``stride`` (``None``: the kernel size).

    ``pad`` (at most half the window along each axis, as PyTorch) and
    ``ceil_mode`` as in ``pool_output_size``. Raises TypeError/ValueError at
    construction for non-int or out-of-range fields.
    """

    kernel: int | tuple[int, ...]
    stride: int | tuple[int, ...] | None = None
    pad: int | tuple[int, ...] = 0
    ceil_mode: bool = False

    def __post_init__(self):
        name = type(self).__name__
        _check_axes(self.kernel, f"{name} kernel", 1)
        if self.stride is not None:
            _check_axes(self.stride, f"{name} stride", 1)
        _check_axes(self.pad, f"{name} pad", 0)
        n = _ndim(self.kernel, self.pad, default=1)
        kernel, pad = as_tuple(self.kernel, n, f"{name} kernel", 1), as_tuple(self.pad, n, f"{name} pad", 0)
        if any(p > k // 2 for k, p in zip(kernel, pad)):
            raise ValueError(f"{name} pad {self.pad!r} must be at most half the window {self.kernel!r}, as in PyTorch")
        for flag in ("ceil_mode", "count_include_pad"):
            if not isinstance(getattr(self, flag, True), bool):
                raise TypeError(f"{name} {flag} must be True or False, got {getattr(self, flag)!r}")


class MaxPool(_Pool):
    """Max pooling, as ``nn.MaxPool2d(kernel, stride, pad, ceil_mode=...)`` (int or per-axis tuples)."""


@dataclass(frozen=True)
class AvgPool(_Pool):
    """Average pooling, as ``nn.AvgPool2d(kernel, stride, pad, ceil_mode, count_include_pad)``."""

    count_include_pad: bool = True


@dataclass(frozen=True)
class ReLU:
    """Elementwise ``max(0, x)``."""


@dataclass(frozen=True)
class Flatten:
    """Reshape ``(C, *spatial)`` to one vector of ``C * prod(spatial)`` features."""


@dataclass(frozen=True)
class Linear:
    """A fully connected layer to ``out_features`` outputs; its input must be flat."""

    out_features: int
    bias: bool = True

    def __post_init__(self):
        _int_at_least(self.out_features, "Linear out_features", 1)


@dataclass(frozen=True)
class BatchNorm:
    """Batch normalization: a learned scale and shift per channel (2 * C parameters)."""


LENET5 = (
    Conv(20, 5, pad=2), ReLU(), MaxPool(2, 2),
    Conv(50, 5, pad=2), ReLU(), MaxPool(2, 2),
    Flatten(), Linear(500), ReLU(), Linear(10),
)
"""The lecture's LeNet-5 for a 1 x 28 x 28 digit, as layer specs."""


# ---------------------------------------------------------------------------------------------
# Receptive field


def receptive_field(layers):
    """Side of the input region one output unit of a layer stack depends on, in input pixels.

    Walks the stack with the standard recurrence, starting from ``r = 1``,
    ``jump = 1``: ``r += (kernel - 1) * dilation * jump; jump *= stride``.
    For L layers of KxK kernels with stride 1 this is the lecture's
    ``1 + L(K - 1)``.

    Args:
        layers: a sequence whose items are ``(kernel, stride, dilation)``
            tuples, ``Conv``/``MaxPool``/``AvgPool`` specs, or ``ReLU`` /
            ``BatchNorm`` specs (which do not change the field). Each number
            is an int or one int per axis.
    Returns:
        int if every number is an int, else a tuple with one size per axis.
    Raises:
        ValueError: a ``Flatten``/``Linear`` layer (its field is the whole
            input), a malformed tuple, or a size below 1.
        TypeError: an item of an unknown type, or a non-int size.
    """
    steps = []
    for i, layer in enumerate(layers):
        where = f"layer {i} ({layer!r})"
        if isinstance(layer, (ReLU, BatchNorm)):
            continue
        if isinstance(layer, Conv):
            steps.append((layer.kernel, layer.stride, layer.dilation))
        elif isinstance(layer, _Pool):
            steps.append((layer.kernel, layer.kernel if layer.stride is None else layer.stride, 1))
        elif isinstance(layer, (Flatten, Linear)):
            raise ValueError(
                f"{where}: receptive_field covers convolution and pooling layers; after "
                f"{type(layer).__name__} every unit sees the whole input"
            )
        elif isinstance(layer, tuple):
            if len(layer) != 3:
                raise ValueError(f"{where}: expected a (kernel, stride, dilation) tuple, got {len(layer)} entries")
            steps.append(layer)
        else:
            raise TypeError(
                f"{where}: expected a (kernel, stride, dilation) tuple or a layer spec, got {type(layer).__name__}"
            )

    n = _ndim(*(value for step in steps for value in step), default=1)
    field, jump = [1] * n, [1] * n
    for i, (kernel, stride, dilation) in enumerate(steps):
        kernel = as_tuple(kernel, n, f"kernel of step {i}", 1)
        stride = as_tuple(stride, n, f"stride of step {i}", 1)
        dilation = as_tuple(dilation, n, f"dilation of step {i}", 1)
        for axis in range(n):
            field[axis] += (kernel[axis] - 1) * dilation[axis] * jump[axis]
            jump[axis] *= stride[axis]
    all_ints = all(isinstance(value, numbers.Integral) for step in steps for value in step)
    return field[0] if all_ints else tuple(field)


# ---------------------------------------------------------------------------------------------
# summarize


def _size_text(shape) -> str:
    """``(20, 28, 28)`` -> ``"20 x 28 x 28"``."""
    return " x ".join(str(int(s)) for s in shape)


def _axes_text(values) -> str:
    """``(5, 5)`` -> ``"5"``; ``(3, 5)`` -> ``"3x5"``; a string (PyTorch's ``padding='same'``) as is."""
    if isinstance(values, str):
        return values
    values = (values,) if isinstance(values, numbers.Integral) else tuple(values)
    return str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))


def _conv_label(c_out, kernel, pad, stride, dilation, groups) -> str:
    """``"Conv (C_out=20, K=5, P=2, S=1)"``, plus ``D=`` and ``G=`` when they are not 1."""
    label = f"Conv (C_out={c_out}, K={_axes_text(kernel)}, P={_axes_text(pad)}, S={_axes_text(stride)}"
    if _axes_text(dilation) != "1":
        label += f", D={_axes_text(dilation)}"
    if groups != 1:
        label += f", G={groups}"
    return label + ")"


def _pool_label(name, kernel, stride, pad=0, dilation=1, ceil_mode=False, count_include_pad=True) -> str:
    """``"MaxPool (K=2, S=2)"``, plus ``P=`` and ``D=`` when they are not 0 and 1, and the flags that are not defaults.

    E.g. ``"AvgPool (K=3, S=2, P=1, ceil_mode, count_include_pad=False)"``.
    """
    label = f"{name} (K={_axes_text(kernel)}, S={_axes_text(stride)}"
    if _axes_text(pad) != "0":
        label += f", P={_axes_text(pad)}"
    if _axes_text(dilation) != "1":
        label += f", D={_axes_text(dilation)}"
    if ceil_mode:
        label += ", ceil_mode"
    if not count_include_pad:
        label += ", count_include_pad=False"
    return label + ")"


def _row(layer: str, output_shape, weight_shape=None, params: int = 0, macs: int = 0) -> dict:
    """One row of ``summarize``'s table."""
    return {
        "layer": layer,
        "output_shape": None if output_shape is None else tuple(int(s) for s in output_shape),
        "output_size": "" if output_shape is None else _size_text(output_shape),
        "weight_size": "" if weight_shape is None else _size_text(weight_shape),
        "params": int(params),
        "macs": int(macs),
    }


def _spatial_sizes(shape, where, kernel, pad, stride, dilation) -> tuple[int, ...]:
    """Output spatial sizes of a window layer on input ``(C, *spatial)``, with ``where`` in errors."""
    try:
        return tuple(conv_output_size(*args) for args in zip(shape[1:], kernel, pad, stride, dilation))
    except ValueError as err:
        raise ValueError(f"{where} does not fit its input {_size_text(shape)}: {err}") from None


def _spec_row(layer, shape: tuple[int, ...], where: str) -> dict:
    """The row of one layer spec applied to an input of ``shape`` (no batch axis)."""
    if isinstance(layer, ReLU):
        return _row("ReLU", shape)
    if isinstance(layer, BatchNorm):
        return _row("BatchNorm", shape, (shape[0],), 2 * shape[0], math.prod(shape))
    if isinstance(layer, Flatten):
        return _row("Flatten", (math.prod(shape),))
    if isinstance(layer, Linear):
        if len(shape) != 1:
            raise ValueError(
                f"{where} needs a flat input (features,), got {_size_text(shape)}; add Flatten() before it"
            )
        (n_in,) = shape
        n_out = layer.out_features
        params = n_in * n_out + (n_out if layer.bias else 0)
        return _row(f"Linear ({n_in} -> {n_out})", (n_out,), (n_in, n_out), params, n_in * n_out)
    if not isinstance(layer, (Conv, _Pool)):
        raise TypeError(
            f"{where}: unknown layer type {type(layer).__name__}; use Conv, ReLU, MaxPool, AvgPool, "
            "Flatten, Linear or BatchNorm"
        )
    if len(shape) < 2:
        raise ValueError(f"{where} needs an input (C, *spatial), got {_size_text(shape)}")
    n = len(shape) - 1
    if isinstance(layer, _Pool):
        kernel = as_tuple(layer.kernel, n, f"{where} kernel", 1)
        stride = kernel if layer.stride is None else as_tuple(layer.stride, n, f"{where} stride", 1)
        pad = as_tuple(layer.pad, n, f"{where} pad", 0)
        try:
            out_spatial = tuple(pool_output_size(size, k, s, p, layer.ceil_mode)
                                for size, k, s, p in zip(shape[1:], kernel, stride, pad))
        except ValueError as err:
            raise ValueError(f"{where} does not fit its input {_size_text(shape)}: {err}") from None
        label = _pool_label(type(layer).__name__, kernel, stride, pad, 1, layer.ceil_mode,
                            getattr(layer, "count_include_pad", True))
        return _row(label, (shape[0], *out_spatial))
    kernel = as_tuple(layer.kernel, n, f"{where} kernel", 1)
    stride = as_tuple(layer.stride, n, f"{where} stride", 1)
    pad = as_tuple(layer.pad, n, f"{where} pad", 0)
    dilation = as_tuple(layer.dilation, n, f"{where} dilation", 1)
    c_in, c_out, groups = shape[0], layer.out_channels, layer.groups
    if c_in % groups or c_out % groups:
        raise ValueError(f"{where}: groups = {groups} must divide the {c_in} input and {c_out} output channels")
    out_spatial = _spatial_sizes(shape, where, kernel, pad, stride, dilation)
    return _row(
        _conv_label(c_out, kernel, pad, stride, dilation, groups),
        (c_out, *out_spatial),
        (c_out, c_in // groups, *kernel),
        conv_params(c_in, c_out, kernel, groups, layer.bias),
        conv_macs(c_in, c_out, kernel, out_spatial, groups),
    )


def _spec_rows(layers, input_shape) -> list[dict]:
    """Rows for a sequence of layer specs."""
    rows, shape = [], input_shape
    for i, layer in enumerate(layers):
        row = _spec_row(layer, shape, f"layer {i} ({layer!r})")
        rows.append(row)
        shape = row["output_shape"]
    return rows


def _module_rows(model, input_shape) -> list[dict]:
    """Rows for a PyTorch module: its leaf modules in the order a dummy forward pass calls them.

    The pass runs in eval mode under ``torch.no_grad()`` on one zero sample
    (so batch-norm statistics are not touched) and every module's training
    flag is restored afterwards.
    """
    import torch

    leaves = [module for module in model.modules() if next(module.children(), None) is None]
    calls = []

    def record(module, inputs, output):
        if not isinstance(output, torch.Tensor) or not inputs or not isinstance(inputs[0], torch.Tensor):
            raise TypeError(
                f"summarize handles modules mapping one tensor to one tensor; {type(module).__name__} does not"
            )
        calls.append((module, tuple(inputs[0].shape[1:]), tuple(output.shape[1:])))

    first = next(model.parameters(), None)
    x = torch.zeros((1, *input_shape), dtype=first.dtype if first is not None else torch.float32,
                    device=first.device if first is not None else "cpu")
    handles = [leaf.register_forward_hook(record) for leaf in leaves]
    modes = [(module, module.training) for module in model.modules()]
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    except RuntimeError as err:
        raise ValueError(f"input_shape {input_shape} does not fit the model: {err}") from None
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            module.training = training
    return [_module_row(module, in_shape, out_shape) for module, in_shape, out_shape in calls]


def _module_row(module, in_shape, out_shape) -> dict:
    """The row of one leaf module that mapped ``in_shape`` to ``out_shape`` (no batch axis)."""
    from torch import nn

    params = sum(p.numel() for p in module.parameters())
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        label = _conv_label(module.out_channels, module.kernel_size, module.padding, module.stride,
                            module.dilation, module.groups)
        c_in = module.in_channels
        macs = conv_macs(c_in, module.out_channels, module.kernel_size, out_shape[1:], module.groups)
        return _row(label, out_shape, tuple(module.weight.shape), params, macs)
    if isinstance(module, nn.Linear):
        label = f"Linear ({module.in_features} -> {module.out_features})"
        weight_shape = (module.in_features, module.out_features)
        return _row(label, out_shape, weight_shape, params, math.prod(out_shape) * module.in_features)
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
        weight_shape = tuple(module.weight.shape) if module.affine else None
        return _row("BatchNorm", out_shape, weight_shape, params, math.prod(out_shape))
    pools = {
        "MaxPool": (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d),
        "AvgPool": (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d),
    }
    for name, types in pools.items():
        if isinstance(module, types):
            label = _pool_label(name, module.kernel_size, module.stride, module.padding,
                                getattr(module, "dilation", 1), module.ceil_mode,
                                getattr(module, "count_include_pad", True))
            return _row(label, out_shape)
    named = {nn.ReLU: "ReLU", nn.Flatten: "Flatten", nn.Dropout: "Dropout"}
    if params:
        raise TypeError(
            f"summarize does not know how to count the layer type {type(module).__name__}; it handles "
            "Conv1d/2d/3d, Linear, BatchNorm1d/2d/3d, pooling and parameter-free layers"
        )
    return _row(named.get(type(module), type(module).__name__), out_shape)


def summarize(model, input_shape, file=None) -> list[dict]:
    """The lecture's layer table for a network, printed and returned.

    Args:
        model: a sequence of layer specs (``Conv``, ``ReLU``, ``MaxPool``,
            ``AvgPool``, ``Flatten``, ``Linear``, ``BatchNorm``), e.g.
            ``LENET5``, or a ``torch.nn.Module`` (its leaf modules, in the
            order a dummy forward pass calls them: Conv1d/2d/3d, Linear,
            BatchNorm1d/2d/3d, Max/AvgPool1d/2d/3d, and parameter-free layers
            such as ReLU, Flatten, Dropout).
        input_shape: one sample's shape without the batch axis, e.g. ``(1, 28, 28)``.
        file: text stream for the table (default ``sys.stdout``).
    Returns:
        list of dicts, one per printed row: ``"Input"``, one per layer, then
        ``"Total"``. Keys: ``layer`` (label, e.g. ``"Conv (C_out=20, K=5, P=2, S=1)"``),
        ``output_shape`` (tuple, None for the total), ``output_size``
        (``"20 x 28 x 28"``), ``weight_size`` (``"20 x 1 x 5 x 5"``; Linear
        as ``in x out``; ``""`` without weights), ``params``, ``macs``
        (multiply-adds per sample: conv and linear dot products, one per
        element for batch norm, none for pooling and activations).
    Raises:
        TypeError: ``model`` is neither a sequence of specs nor a module, a
            layer type is unknown, or ``input_shape`` holds non-ints.
        ValueError: ``input_shape`` is empty or non-positive, or a layer does
            not fit its input (the message names the layer).
    """
    if isinstance(input_shape, numbers.Integral):
        input_shape = (input_shape,)
    input_shape = as_tuple(input_shape, _ndim(input_shape, default=1), "input_shape", 1)
    if not input_shape:
        raise ValueError("input_shape must have at least one axis, e.g. (1, 28, 28), got ()")
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        rows = _module_rows(model, input_shape)
    elif isinstance(model, (list, tuple)):
        rows = _spec_rows(model, input_shape)
    else:
        raise TypeError(f"model must be a list of layer specs or a torch.nn.Module, got {type(model).__name__}")
    total = _row("Total", None, None, sum(r["params"] for r in rows), sum(r["macs"] for r in rows))
    table = [["Input", _size_text(input_shape), "", "", ""]]
    table += [
        [r["layer"], r["output_size"], r["weight_size"] or "-", f"{r['params']:,}", f"{r['macs']:,}"] for r in rows
    ]
    table += [["Total", "", "", f"{total['params']:,}", f"{total['macs']:,}"]]
    headers = ["Layer", "Output Size", "Weight Size", "Params", "MACs"]
    print(format_table(headers, table, "lllrr"), file=file or sys.stdout)
    return [_row("Input", input_shape)] + rows + [total]
