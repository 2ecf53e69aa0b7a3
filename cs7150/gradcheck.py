"""Numerical gradients and relative errors: how every layer's backward pass is checked.

``numeric_gradient`` takes central differences ``(f(x + h) - f(x - h)) / 2h``
one element at a time, changing ``x`` in place (so ``f`` may be a closure that
ignores its argument, as in ``lambda _: loss(w)[0]``) and putting every element
back exactly. ``eval_numerical_gradient`` and ``eval_numerical_gradient_array``
are the CS231n names for its two uses. ``check_gradient`` / ``worst_element``
return a :class:`GradReport` whose one-line ``str`` says where the analytic and
numeric gradients disagree most::

    max rel error 3.2e-11 at index (0, 2, 1, 3): analytic 0.1234, numeric 0.1234
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def rel_error(a, b) -> float:
    """Relative error between two arrays of the same shape, as one float.

    ``max_i |a_i - b_i| / max_i (|a_i| + |b_i|)``: the largest elementwise
    difference measured against the largest elementwise magnitude, so entries
    that are (nearly) zero in both arrays do not blow the error up. Two arrays
    that are both all zeros have error ``0.0``; any NaN or infinity in either
    array gives ``inf``, so a ``rel_error(...) < tol`` check fails.

    Args:
        a, b: array-likes (NumPy arrays, scalars, CPU tensors) of equal shape;
            compared in float64.
    Returns:
        float in ``[0, 1]`` (or ``inf``).
    Raises:
        ValueError: if the shapes differ.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs arrays of the same shape, got {a.shape} and {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    if a.size == 0:
        return 0.0
    scale = np.max(np.abs(a) + np.abs(b))
    if scale == 0.0:
        return 0.0
    return float(np.max(np.abs(a - b)) / scale)


def numeric_gradient(f, x: np.ndarray, df=None, h: float = 1e-5, verbose: bool = False) -> np.ndarray:
    """Central-difference gradient of ``f`` at ``x``.

    Without ``df``, ``f(x)`` must return a scalar and the result is
    ``d f / d x``. With ``df`` (the upstream gradient, shaped like ``f(x)``),
    ``f`` may return an array and the result is the gradient of
    ``sum(f(x) * df)``, which is what a layer's backward pass computes from
    ``dout``. Each element ``x[i]`` is set to ``x[i] + h`` and ``x[i] - h`` in
    place and then restored to its exact original value, also when ``f``
    raises.

    Args:
        f: callable taking ``x`` (it may ignore it and read ``x`` through a
            closure) and returning a scalar, or an array shaped like ``df``.
        x: float64 ndarray of any shape, changed in place during the call.
        df: optional ndarray, the shape of ``f(x)``.
        h: step size (default ``1e-5``).
        verbose: print each index and its gradient as it is computed.
    Returns:
        float64 ndarray shaped like ``x``.
    Raises:
        TypeError: if ``x`` is not a float64 ndarray (float32 central
            differences are too coarse to check anything; use float64).
        ValueError: if ``f(x)`` is not a scalar when ``df`` is None, or its
            shape differs from ``df.shape``.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(
            f"numeric_gradient needs x as a float64 numpy array, got {got}; "
            "convert with x.astype(np.float64) (float32 differences are too coarse for a gradient check)"
        )
    if df is not None:
        df = np.asarray(df, dtype=np.float64)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        index = it.multi_index
        old_value = x[index]
        try:
            x[index] = old_value + h
            f_plus = _evaluate(f, x, df)
            x[index] = old_value - h
            f_minus = _evaluate(f, x, df)
        finally:
            x[index] = old_value
        grad[index] = (f_plus - f_minus) / (2 * h)
        if verbose:
            print(index, grad[index])
        it.iternext()
    return grad


def _evaluate(f, x: np.ndarray, df: np.ndarray | None) -> float:
    """``f(x)`` as a float, or ``sum(f(x) * df)`` when ``df`` is given."""
    value = np.array(f(x), dtype=np.float64)  # a copy: f may return its own buffer
    if df is None:
        if value.size != 1:
            raise ValueError(
                f"f(x) returned an array of shape {value.shape}; pass df (shaped like f(x)) "
                "or make f return a scalar"
            )
        return float(value.reshape(()))
    if value.shape != df.shape:
        raise ValueError(f"f(x) has shape {value.shape} but df has shape {df.shape}; they must match")
    return float(np.sum(value * df))


def eval_numerical_gradient(f, x: np.ndarray, verbose: bool = False, h: float = 1e-5) -> np.ndarray:
    """CS231n name: gradient of the scalar ``f`` at the float64 array ``x``.

    Same as ``numeric_gradient(f, x, h=h, verbose=verbose)``; see there for
    arguments, return value and errors.
    """
    return numeric_gradient(f, x, h=h, verbose=verbose)


def eval_numerical_gradient_array(f, x: np.ndarray, df: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """CS231n name: gradient of ``sum(f(x) * df)`` at the float64 array ``x``.

    Same as ``numeric_gradient(f, x, df, h=h)``; see there for arguments,
    return value and errors.
    """
    return numeric_gradient(f, x, df, h=h)


@dataclass(frozen=True)
class GradReport:
    """Where an analytic and a numeric gradient disagree most.

    Attributes:
        rel_error: ``rel_error(analytic, numeric)``; its numerator is the
            difference at ``index``, so this is also that element's error.
        index: the worst element's index (a tuple of ints, one per axis).
        analytic, numeric: the two values at ``index``.
    """

    rel_error: float
    index: tuple[int, ...]
    analytic: float
    numeric: float

    def __str__(self) -> str:
        return (
            f"max rel error {self.rel_error:.2g} at index {self.index}: "
            f"analytic {self.analytic:.10g}, numeric {self.numeric:.10g}"
        )


def worst_element(analytic, numeric) -> GradReport:
    """Compare two gradients and report the element with the largest difference.

    Args:
        analytic, numeric: array-likes of equal shape (compared in float64).
    Returns:
        GradReport; ``str(report)`` is one line. With NaN or infinity present
        the report points at the first non-finite element and its error is
        ``inf``; empty arrays give error 0 at index ``()``.
    Raises:
        ValueError: if the shapes differ.
    """
    error = rel_error(analytic, numeric)
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    difference = np.array(np.abs(analytic - numeric))  # an array even for 0-d inputs
    difference[~np.isfinite(difference)] = np.inf  # NaN would hide from argmax
    if difference.size == 0:
        return GradReport(error, (), 0.0, 0.0)
    index = tuple(int(i) for i in np.unravel_index(np.argmax(difference), difference.shape))
    return GradReport(error, index, float(analytic[index]), float(numeric[index]))


def check_gradient(f, x: np.ndarray, analytic, df=None, h: float = 1e-5) -> GradReport:
    """Numerically differentiate ``f`` at ``x`` and compare with ``analytic``.

    Args:
        f, x, df, h: as for :func:`numeric_gradient` (``x`` float64, changed
            in place and restored).
        analytic: array-like shaped like ``x``, the gradient to check.
    Returns:
        GradReport, e.g. ``assert report.rel_error < 1e-8, report``.
    Raises:
        TypeError / ValueError: as :func:`numeric_gradient`; ValueError if
            ``analytic`` is not shaped like ``x``.
    """
    if np.shape(analytic) != np.shape(x):
        raise ValueError(f"analytic gradient has shape {np.shape(analytic)}, expected x's shape {np.shape(x)}")
    return worst_element(analytic, numeric_gradient(f, x, df, h=h))
