"""The fully connected layer and ReLU, forward and backward: ``affine_*(x, w, b)``, ``relu_*(x)``."""
from __future__ import annotations

from typing import Iterator

from autograder.kinds.kind import KindError, Variant, no_variants, pair

AFFINE_BIAS = "bias missing: out equals x @ w without the + b term"
AFFINE_DB_MEAN = "db averaged over the batch: db is the sum of dout over the N samples, not their mean"
RELU_AT_ZERO = "gradient passed where x = 0: ReLU's gradient is 0 at x = 0 (it passes only where x > 0), as PyTorch"


def draw_affine(rng, spec: dict) -> dict:
    """x (N, D), w (D, M) and b (M,), standard normal."""
    x = rng.standard_normal(spec["x"])
    return {"x": x, "w": rng.standard_normal(spec["w"]), "b": rng.standard_normal(spec["w"][1])}


def draw_relu(rng, spec: dict) -> dict:
    """x standard normal; with ``"zeros": true`` exactly 0 at every third element (the gradient there is 0)."""
    x = rng.standard_normal(spec["x"])
    if spec.get("zeros", False):
        x.reshape(-1)[::3] = 0.0
    return {"x": x}


def check_relu(raw: dict, where: str) -> None:
    if "zeros" in raw and not isinstance(raw["zeros"], bool):
        raise KindError(f"{where}: 'zeros' must be true or false, got {raw['zeros']!r}")


def affine_forward_variants(pc) -> Iterator[Variant]:
    yield AFFINE_BIAS, {"out": pc.reference["out"] - pc.inputs["b"]}


def affine_backward_variants(pc) -> Iterator[Variant]:
    yield AFFINE_DB_MEAN, {"db": pc.reference["db"] / len(pc.inputs["x"])}


def relu_backward_variants(pc) -> Iterator[Variant]:
    yield RELU_AT_ZERO, {"dx": pc.inputs["dout"] * (pc.inputs["x"] >= 0)}


KINDS = (*pair("affine", ("out",), ("dx", "dw", "db"), arrays=("x", "w", "b"), draw=draw_affine,
               required=frozenset({"x", "w"}), variants=(affine_forward_variants, affine_backward_variants)),
         *pair("relu", ("out",), ("dx",), arrays=("x",), draw=draw_relu, optional=frozenset({"zeros"}),
               check=check_relu, variants=(no_variants, relu_backward_variants)))  # max(x, 0): no mistake of its own
