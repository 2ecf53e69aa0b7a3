"""Common mistakes, recognized by computing the mistaken outputs and comparing.

For a failing case the grader computes, in its own process, what a function
with a typical mistake would return on the same inputs (mostly the reference
run on altered inputs; the unaccumulated ``=`` variants with short loops), and
reports the first mistake whose output matches the student's. Each variant is
``(diagnosis, {output name: array})``. The convolution and pooling mistakes live
in ``cs7150.mistakes``, where the notebooks' own checks name them too; the grader
runs them with its reference implementation.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from autograder.package.cases import RUNNING, PreparedCase, reference_function
from cs7150 import mistakes
from cs7150.mistakes import matches

Variant = tuple[str, dict]

BIASED_RUNNING_VAR = ("running_var averaged with the biased batch variance: the running average takes the unbiased "
                      "one, var * N / (N - 1), as PyTorch (the normalization itself uses the biased one)")
MOMENTUM_SWAPPED = ("momentum the wrong way round: running = momentum * running + (1 - momentum) * batch statistic "
                    "keeps the fraction momentum of the old value")
TEST_WITH_BATCH = "test mode normalized with the batch's mean and variance: use bn_param's running statistics"
DX_CONSTANT_STATS = ("dx treats the batch mean and variance as constants: in train mode they depend on x, so "
                     "dx = (g - mean(g) - x_hat * mean(g * x_hat)) / std with g = dout * gamma")
AFFINE_BIAS = "bias missing: out equals x @ w without the + b term"
AFFINE_DB_MEAN = "db averaged over the batch: db is the sum of dout over the N samples, not their mean"
RELU_AT_ZERO = "gradient passed where x = 0: ReLU's gradient is 0 at x = 0 (it passes only where x > 0), as PyTorch"
LOSS_SUMMED = "loss summed over the batch: the loss is the mean over the N samples, and dx is divided by N"
DX_NOT_DIVIDED = "dx not divided by N: the loss is the mean over the batch, so its gradient carries a factor 1 / N"
TWIN_WRONG_POOL = ("the other pooling: the twin's output matches max pooling where it was built with average "
                   "pooling, or the reverse; use self.pool_forward and self.pool_backward")
TWIN_NO_RELU = "ReLU applied to every layer: the twin's layers list has no ReLU when activation=False; follow self.layers"
TWIN_GRADS_SUMMED = "gradients of the summed loss: they equal N times PyTorch's; softmax_loss's mean carries the 1 / N"


def _layer_variants(pc: PreparedCase) -> Iterator[Variant]:
    """``cs7150.mistakes``'s variants of a convolution or pooling case, with the instructor's implementation as reference."""
    backward = pc.part.kind.endswith("_backward")
    case = mistakes.LayerCase(
        kind=pc.part.kind, inputs=pc.inputs, params=pc.case.params, reference=pc.reference,
        forward=reference_function(pc.part.forward if backward else pc.part.function),
        backward=reference_function(pc.part.function) if backward else None,
        fast=pc.part.function.endswith("_fast"))
    return mistakes.VARIANTS[pc.part.kind](case)


def _bn_rows(pc: PreparedCase, array: np.ndarray) -> np.ndarray:
    """(N, D) as it is, or (N, C, H, W) as (N * H * W, C): one column per normalized feature."""
    return array if array.ndim == 2 else np.moveaxis(array, 1, -1).reshape(-1, array.shape[1])


def _bn_forward(pc: PreparedCase) -> Iterator[Variant]:
    params = pc.case.params
    momentum = params.get("momentum", 0.9)
    forward = reference_function(pc.part.function)
    running = {name: pc.inputs[name] for name in RUNNING}
    if params["mode"] == "train":
        rows = _bn_rows(pc, pc.inputs["x"])
        biased = momentum * running["running_var"] + (1 - momentum) * rows.var(axis=0)
        yield BIASED_RUNNING_VAR, {"running_var": biased.astype(rows.dtype)}
        swapped = {**params, **{name: array.copy() for name, array in running.items()}, "momentum": 1 - momentum}
        forward(pc.inputs["x"], pc.inputs["gamma"], pc.inputs["beta"], swapped)
        yield MOMENTUM_SWAPPED, {name: swapped[name] for name in RUNNING}
    else:
        as_train = {**params, **{name: array.copy() for name, array in running.items()}, "mode": "train"}
        yield TEST_WITH_BATCH, {"out": forward(pc.inputs["x"], pc.inputs["gamma"], pc.inputs["beta"], as_train)[0]}


def _bn_backward(pc: PreparedCase) -> Iterator[Variant]:
    if pc.case.params["mode"] != "train":
        return
    eps = pc.case.params.get("eps", 1e-5)
    x, gamma, dout = pc.inputs["x"], pc.inputs["gamma"], pc.inputs["dout"]
    std = np.sqrt(_bn_rows(pc, x).var(axis=0) + eps)  # (D,) or (C,)
    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
    yield DX_CONSTANT_STATS, {"dx": (dout * (gamma / std).reshape(shape)).astype(x.dtype)}


def _affine_forward(pc: PreparedCase) -> Iterator[Variant]:
    yield AFFINE_BIAS, {"out": pc.reference["out"] - pc.inputs["b"]}


def _affine_backward(pc: PreparedCase) -> Iterator[Variant]:
    yield AFFINE_DB_MEAN, {"db": pc.reference["db"] / len(pc.inputs["x"])}


def _no_variants(pc: PreparedCase) -> Iterator[Variant]:
    return iter(())


def _relu_backward(pc: PreparedCase) -> Iterator[Variant]:
    yield RELU_AT_ZERO, {"dx": pc.inputs["dout"] * (pc.inputs["x"] >= 0)}


def _softmax_loss(pc: PreparedCase) -> Iterator[Variant]:
    N = len(pc.inputs["x"])
    if N > 1:
        yield LOSS_SUMMED, {"loss": pc.reference["loss"] * N, "dx": pc.reference["dx"] * N}
        yield DX_NOT_DIVIDED, {"dx": pc.reference["dx"] * N}


def _twin_variant(pc: PreparedCase, **changes):
    """The reference twin built with ``changes`` to the case's options, on the case's weights (None if invalid)."""
    from autograder.package.cases import reference_twin

    options = {**pc.case.spec.get("options", {}), **changes}
    case = type(pc.case)(pc.case.name, pc.case.points, {**pc.case.spec, "options": options})
    return reference_twin(case, pc.inputs)


def _twin_forward(pc: PreparedCase) -> Iterator[Variant]:
    options = pc.case.spec.get("options", {})
    other = "max" if options.get("pool", "max") == "avg" else "avg"
    yield TWIN_WRONG_POOL, {"logits": _twin_variant(pc, pool=other).forward(pc.inputs["x"])}
    if not options.get("activation", True):
        yield TWIN_NO_RELU, {"logits": _twin_variant(pc, activation=True).forward(pc.inputs["x"])}


def _twin_grads(pc: PreparedCase) -> Iterator[Variant]:
    N = len(pc.inputs["x"])
    yield TWIN_GRADS_SUMMED, {name: array * N for name, array in pc.reference.items() if name.startswith("grads[")}


VARIANTS = {
    "affine_forward": _affine_forward,
    "affine_backward": _affine_backward,
    "relu_forward": _no_variants,  # max(x, 0) has no typical mistake of its own
    "relu_backward": _relu_backward,
    "softmax_loss": _softmax_loss,
    "twin_forward": _twin_forward,
    "twin_grads": _twin_grads,
    "batchnorm_forward": _bn_forward,
    "spatial_batchnorm_forward": _bn_forward,
    "batchnorm_backward": _bn_backward,
    "spatial_batchnorm_backward": _bn_backward,
    "conv_forward": _layer_variants,
    "conv_backward": _layer_variants,
    "max_pool_forward": _layer_variants,
    "avg_pool_forward": _layer_variants,
    "max_pool_backward": _layer_variants,
    "avg_pool_backward": _layer_variants,
}


def variants(pc: PreparedCase) -> Iterator[Variant]:
    """The mistaken outputs for this case that differ from the reference."""
    for diagnosis, outputs in VARIANTS[pc.part.kind](pc):
        outputs = {name: array for name, array in outputs.items() if array is not None}
        if outputs and not all(matches(array, pc.reference[name]) for name, array in outputs.items()):
            yield diagnosis, outputs


def diagnose(pc: PreparedCase, student: dict) -> str | None:
    """The first mistake whose outputs all match the student's, or None."""
    for diagnosis, outputs in variants(pc):
        if all(name in student and matches(student[name], array) for name, array in outputs.items()):
            return diagnosis
    return None
