"""How the grader compares an array with a reference: shape, dtype, finiteness, error.

The error is the largest absolute difference relative to the reference's
largest magnitude, so a few values near zero do not dominate; the tolerance
depends on the reference's dtype (float32 arithmetic rounds ~1e-7).
"""
from __future__ import annotations

import numpy as np

TOLERANCE = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-4}


def relative_error(array: np.ndarray, reference: np.ndarray) -> float:
    """max |array - reference| / max |reference| (arrays of the same shape)."""
    scale = float(np.max(np.abs(reference), initial=0.0)) or 1.0
    difference = np.abs(array.astype(np.float64) - reference.astype(np.float64))
    return float(np.max(difference, initial=0.0)) / scale


def tolerance(reference: np.ndarray) -> float:
    return TOLERANCE.get(reference.dtype, 1e-4)


def matches(array: np.ndarray, reference: np.ndarray) -> bool:
    """Same shape, all finite, and within the reference dtype's tolerance (dtype not checked)."""
    return (array.shape == reference.shape and bool(np.all(np.isfinite(array)))
            and relative_error(array, reference) <= tolerance(reference))


def worst_element(array: np.ndarray, reference: np.ndarray) -> tuple[tuple[int, ...], float, float]:
    """(index, array value, reference value) where they differ most; non-finite values first."""
    difference = np.abs(array.astype(np.float64) - reference.astype(np.float64))
    difference[~np.isfinite(difference)] = np.inf
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(difference)), array.shape))
    return index, float(array[index]), float(reference[index])
