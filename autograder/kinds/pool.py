"""Max and average pooling, forward and backward: ``f(x, pool_param)``."""
from __future__ import annotations

import numpy as np

from autograder.kinds.kind import layer_variants, pair
from cs7150.oracle import tie_free


def draw(rng, spec: dict) -> dict:
    """x with distinct values (``tie_free``), or with ``"ties": true`` values from {0, 1, 2} (many ties)."""
    if spec.get("ties", False):
        return {"x": rng.integers(0, 3, size=spec["x"]).astype(np.float64)}
    return {"x": tie_free(rng, spec["x"])}


_SHARED = dict(arrays=("x",), draw=draw, required=frozenset({"x", "pool_param"}),
               variants=(layer_variants, layer_variants))
KINDS = (*pair("max_pool", ("out",), ("dx",), optional=frozenset({"ties"}), **_SHARED),
         *pair("avg_pool", ("out",), ("dx",), **_SHARED))
