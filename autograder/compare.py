"""How the grader compares an array with a reference: shape, dtype, finiteness, error.

The error is the course's one relative-error definition,
``cs7150.gradcheck.rel_error`` (the largest difference relative to the
largest magnitude, so a few values near zero do not dominate), the same the
notebooks' checks and the project's tests use; the tolerance depends on the
reference's dtype (float32 arithmetic rounds ~1e-7).
"""
from __future__ import annotations

import numpy as np

from cs7150.gradcheck import rel_error as relative_error
from cs7150.gradcheck import worst_element as _worst_element

TOLERANCE = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-4}


def tolerance(reference: np.ndarray) -> float:
    return TOLERANCE.get(reference.dtype, 1e-4)


def matches(array: np.ndarray, reference: np.ndarray) -> bool:
    """Same shape, all finite, and within the reference dtype's tolerance (dtype not checked)."""
    return (array.shape == reference.shape and bool(np.all(np.isfinite(array)))
            and relative_error(array, reference) <= tolerance(reference))


def worst_element(array: np.ndarray, reference: np.ndarray) -> tuple[tuple[int, ...], float, float]:
    """(index, array value, reference value) where they differ most; non-finite values first."""
    report = _worst_element(array, reference)
    return report.index, report.analytic, report.numeric
