"""The softmax loss: ``softmax_loss(x, y) -> (loss, dx)``, labels drawn by the grader."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from autograder.kinds.kind import Kind, KindError, Variant, reference_function

LOSS_SUMMED = "loss summed over the batch: the loss is the mean over the N samples, and dx is divided by N"
DX_NOT_DIVIDED = "dx not divided by N: the loss is the mean over the batch, so its gradient carries a factor 1 / N"


def check(raw: dict, where: str) -> None:
    scale = raw.get("scale", 1)
    if not (isinstance(scale, (int, float)) and not isinstance(scale, bool) and scale > 0):
        raise KindError(f"{where}: 'scale' must be a positive number, got {raw['scale']!r}")


def draw(rng, spec: dict) -> dict:
    """Scores x (N, C) of size ``scale`` (1 unless given) and labels y (N,) in 0..C-1."""
    N, C = spec["x"]
    return {"x": spec.get("scale", 1.0) * rng.standard_normal((N, C)), "y": rng.integers(0, C, N)}


def reference(part, case, inputs: dict) -> dict:
    loss, dx = reference_function(part.function)(inputs["x"], inputs["y"])
    return {"loss": np.asarray(loss, dtype=case.dtype), "dx": dx}


def extend_call(pc, call: dict) -> None:
    """It returns (loss, dx), no cache; the loss is a Python float, saved as a 0-d array."""
    call.update(returns="outputs", scalars={"loss": pc.case.dtype})


def describe(pc, text: str) -> str:
    return text + (f" (scores of size {pc.case.spec['scale']:g})" if "scale" in pc.case.spec else "")


def variants(pc) -> Iterator[Variant]:
    N = len(pc.inputs["x"])
    if N > 1:
        yield LOSS_SUMMED, {"loss": pc.reference["loss"] * N, "dx": pc.reference["dx"] * N}
        yield DX_NOT_DIVIDED, {"dx": pc.reference["dx"] * N}


KINDS = (Kind("softmax_loss", ("loss", "dx"), arrays=("x", "y"), draw=draw, optional=frozenset({"scale"}), check=check,
              variants=variants, reference=reference, extend_call=extend_call, describe=describe),)
