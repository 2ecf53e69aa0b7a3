"""Batch normalization, (N, D) and spatial (N, C, H, W), forward and backward:
``f(x, gamma, beta, bn_param)``; the running statistics travel in ``bn_param`` and are graded too."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from autograder.kinds.kind import KindError, Variant, pair, reference_function

RUNNING = ("running_mean", "running_var")
CASE_KEYS = {"mode", "eps", "momentum"}  # a case's bn_param; the running statistics are drawn by the grader

BIASED_RUNNING_VAR = ("running_var averaged with the biased batch variance: the running average takes the unbiased "
                      "one, var * N / (N - 1), as PyTorch (the normalization itself uses the biased one)")
MOMENTUM_SWAPPED = ("momentum the wrong way round: running = momentum * running + (1 - momentum) * batch statistic "
                    "keeps the fraction momentum of the old value")
TEST_WITH_BATCH = "test mode normalized with the batch's mean and variance: use bn_param's running statistics"
DX_CONSTANT_STATS = ("dx treats the batch mean and variance as constants: in train mode they depend on x, so "
                     "dx = (g - mean(g) - x_hat * mean(g * x_hat)) / std with g = dout * gamma")


def check(raw: dict, where: str) -> None:
    bn_param = raw.get("bn_param")
    if not (isinstance(bn_param, dict) and bn_param.get("mode") in ("train", "test") and bn_param.keys() <= CASE_KEYS):
        raise KindError(f"{where}: 'bn_param' must be an object with 'mode' ('train' or 'test') and optionally "
                        f"'eps', 'momentum'; got {bn_param!r}")


def draw(rng, spec: dict) -> dict:
    """x with a shifted mean, gamma, beta and the running statistics, one per feature (D, or the channels C)."""
    features = spec["x"][1]
    return {"x": 2 * rng.standard_normal(spec["x"]) + rng.uniform(-1, 1),
            "gamma": rng.standard_normal(features), "beta": rng.standard_normal(features),
            "running_mean": rng.standard_normal(features), "running_var": rng.uniform(0.5, 2, features)}


def _rows(array: np.ndarray) -> np.ndarray:
    """(N, D) as it is, or (N, C, H, W) as (N * H * W, C): one column per normalized feature."""
    return array if array.ndim == 2 else np.moveaxis(array, 1, -1).reshape(-1, array.shape[1])


def forward_variants(pc) -> Iterator[Variant]:
    params = pc.case.params
    momentum = params.get("momentum", 0.9)
    forward = reference_function(pc.part.function)
    running = {name: pc.inputs[name] for name in RUNNING}
    if params["mode"] == "train":
        rows = _rows(pc.inputs["x"])
        biased = momentum * running["running_var"] + (1 - momentum) * rows.var(axis=0)
        yield BIASED_RUNNING_VAR, {"running_var": biased.astype(rows.dtype)}
        swapped = {**params, **{name: array.copy() for name, array in running.items()}, "momentum": 1 - momentum}
        forward(pc.inputs["x"], pc.inputs["gamma"], pc.inputs["beta"], swapped)
        yield MOMENTUM_SWAPPED, {name: swapped[name] for name in RUNNING}
    else:
        as_train = {**params, **{name: array.copy() for name, array in running.items()}, "mode": "train"}
        yield TEST_WITH_BATCH, {"out": forward(pc.inputs["x"], pc.inputs["gamma"], pc.inputs["beta"], as_train)[0]}


def backward_variants(pc) -> Iterator[Variant]:
    if pc.case.params["mode"] != "train":
        return
    eps = pc.case.params.get("eps", 1e-5)
    x, gamma, dout = pc.inputs["x"], pc.inputs["gamma"], pc.inputs["dout"]
    std = np.sqrt(_rows(x).var(axis=0) + eps)  # (D,) or (C,)
    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
    yield DX_CONSTANT_STATS, {"dx": (dout * (gamma / std).reshape(shape)).astype(x.dtype)}


_SHARED = dict(arrays=("x", "gamma", "beta"), draw=draw, required=frozenset({"x", "bn_param"}), check=check,
               param_arrays=RUNNING, variants=(forward_variants, backward_variants))
KINDS = (*pair("batchnorm", ("out", *RUNNING), ("dx", "dgamma", "dbeta"), **_SHARED),
         *pair("spatial_batchnorm", ("out", *RUNNING), ("dx", "dgamma", "dbeta"), **_SHARED))
