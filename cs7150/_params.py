"""Checks shared by every layer: array shapes and the parameter dictionaries
(``conv_param``, ``pool_param``, ``bn_param``).

Each check raises ``ValueError`` or ``TypeError`` with a message that names the
offending argument, what it was, and what was expected, so a student sees
"conv_param['stride'] must be positive, got 0" instead of a NumPy
broadcasting error three calls deeper.
"""
from __future__ import annotations

import difflib
import numbers

import numpy as np


def check_array(x, name: str, ndim: int, layout: str) -> np.ndarray:
    """Return ``x`` if it is a floating NumPy array with ``ndim`` dimensions.

    ``layout`` names the axes for the message, e.g. ``"(N, C, H, W)"``.
    Raises TypeError for a non-array or a non-float dtype, ValueError for the
    wrong number of dimensions.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of shape {layout}, got {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions {layout}, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must be float32 or float64, got dtype {x.dtype}")
    return x


def check_keys(params, name: str, accepted) -> dict:
    """Return ``params`` if it is a dict whose keys are all in ``accepted``.

    A key the layer does not know is never ignored: a typo such as
    ``'padding'`` for ``'pad'`` would otherwise run a different layer than the
    one meant. Raises TypeError for a non-dict, ValueError naming every
    unknown key (with the closest accepted one, if any is close) and listing
    the accepted keys. Missing keys are ``get_param``'s to report.
    """
    if not isinstance(params, dict):
        raise TypeError(f"{name} must be a dict, got {type(params).__name__}")
    unknown = [key for key in params if key not in accepted]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, accepted, n=1) if isinstance(key, str) else []
            hints.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
        raise ValueError(f"{name} has unknown key{'s' if len(unknown) > 1 else ''} {', '.join(hints)}; "
                         f"it accepts {', '.join(map(repr, accepted))}")
    return params


def get_param(params, key: str, name: str, default=None):
    """Return ``params[key]``; a missing key without a default is a KeyError-like ValueError."""
    if not isinstance(params, dict):
        raise TypeError(f"{name} must be a dict, got {type(params).__name__}")
    if key in params:
        return params[key]
    if default is None:
        raise ValueError(f"{name} is missing the key {key!r} (got keys {sorted(params)})")
    return default


def as_tuple(value, n: int, name: str, minimum: int) -> tuple[int, ...]:
    """Normalize an int or a length-``n`` sequence of ints to an ``n``-tuple.

    Every entry must be an integer ``>= minimum``; ``name`` (e.g.
    ``"conv_param['pad']"``) appears in the error message.
    """
    values = (value,) * n if isinstance(value, numbers.Integral) else value
    try:
        values = tuple(values)
    except TypeError:
        raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {value!r}") from None
    if len(values) != n or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in values):
        what = "non-negative" if minimum == 0 else f">= {minimum}"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return tuple(int(v) for v in values)



def check_dout(dout, shape, layout: str | None = None, of: str = "output") -> np.ndarray:
    """Return ``dout`` if it is a float array of the forward pass's ``shape``.

    ``layout`` names the axes for the message (e.g. ``"(N, C, H_out, W_out)"``);
    ``of`` says whose shape it must be (the forward ``"output"``, or ``"input"``
    for elementwise layers). Raises TypeError for a non-float array,
    ValueError for any other shape.
    """
    shape = tuple(shape)
    check_array(dout, "dout", len(shape), layout or str(shape))
    if dout.shape != shape:
        named = f"{layout} = {shape}" if layout else str(shape)
        raise ValueError(f"dout must have the forward {of}'s shape {named}, got {dout.shape}")
    return dout
