"""Convolution, forward and backward (naive, fast, 1-D and 3-D alike): ``f(x, w, b, conv_param)``."""
from __future__ import annotations

from autograder.kinds.kind import layer_variants, pair


def draw(rng, spec: dict) -> dict:
    """x (N, C, *spatial), w (F, C / groups, *kernel) and b (F,), standard normal."""
    x = rng.standard_normal(spec["x"])
    w = rng.standard_normal(spec["w"])
    return {"x": x, "w": w, "b": rng.standard_normal(spec["w"][0])}


KINDS = pair("conv", ("out",), ("dx", "dw", "db"), arrays=("x", "w", "b"), draw=draw,
             required=frozenset({"x", "w", "conv_param"}), variants=(layer_variants, layer_variants))
