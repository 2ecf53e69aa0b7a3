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
from cs7150.mistakes import MATCH_TOLERANCE as TOLERANCE  # the same tolerance recognizes a diagnosed mistake


def tolerance(reference: np.ndarray) -> float:
    return TOLERANCE.get(reference.dtype, 1e-4)


def worst_element(array: np.ndarray, reference: np.ndarray) -> tuple[tuple[int, ...], float, float]:
    """(index, array value, reference value) where they differ most; non-finite values first."""
    report = _worst_element(array, reference)
    return report.index, report.analytic, report.numeric
