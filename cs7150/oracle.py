"""The course's oracle: PyTorch's answers for the layers, and how an answer is compared with them.

One place for what the project's tests, the notebooks' test cells and the
grader all use:

- ``torch_conv`` / ``torch_pool``: PyTorch's forward pass (``torch.nn.functional``)
  and, given ``dout``, its backward pass through autograd, for the same
  ``conv_param`` / ``pool_param`` the course's layers take;
- ``assert_close``: shape first, then ``cs7150.gradcheck.rel_error`` (the
  course's one relative-error definition) against a tolerance that depends
  on the dtype, naming the worst element when it fails (and, in a notebook,
  showing a wrong feature map beside the expected one: ``show_wrong_map``);
- ``check_conv`` / ``check_pool``: a forward (and backward) pass compared
  with PyTorch's; a failure names the likely mistake when ``cs7150.mistakes``
  (the grader's diagnoses) recognizes it;
- ``probe_conv`` / ``probe_pool``: your functions and PyTorch's on ``cs7150.probes``' letter F,
  the input on which a failing check's picture shows the mistake's shape;
- ``tie_free``: inputs whose values are all different, so that every max-pooling
  window has one maximum; ``random_conv_case``: a random convolution whose
  kernel fits its padded input.

PyTorch is imported when a reference is computed, not when this module is.
"""
from __future__ import annotations

import sys
import warnings

import numpy as np

from cs7150 import mistakes, probes
from cs7150.gradcheck import worst_element

TOLERANCE = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}
"""Largest relative error (``rel_error``) accepted against PyTorch, by the dtype compared."""


def tolerance(*arrays) -> float:
    """The tolerance for comparing arrays of these dtypes: the loosest one's (float32 if any is float32)."""
    return max(TOLERANCE.get(np.asarray(a).dtype, TOLERANCE[np.dtype(np.float32)]) for a in arrays)


def as_tensor(a, requires_grad: bool = False):
    """A PyTorch copy of the array ``a``, in ``a``'s dtype (float64 for non-float input)."""
    import torch

    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    return torch.tensor(a, requires_grad=requires_grad)


def _mismatch(name: str, yours, expected, tol: float | None = None) -> str | None:
    """Why ``yours`` fails ``assert_close`` against ``expected`` (the message), or None when it passes."""
    yours, expected = np.asarray(yours), np.asarray(expected)
    if yours.shape != expected.shape:
        return f"{name} has shape {yours.shape}, expected {expected.shape}"
    tol = tolerance(yours, expected) if tol is None else tol
    report = worst_element(yours, expected)
    if report.rel_error < tol:
        return None
    return (f"{name}: relative error {report.rel_error:.2g} (allowed {tol:g}); worst element at index "
            f"{report.index}: yours {report.analytic:.10g}, expected {report.numeric:.10g}")


def _assert_matches(name: str, yours, expected, tol: float | None = None) -> None:
    """``assert_close`` without its picture (``check_conv`` / ``check_pool`` show their own)."""
    message = _mismatch(name, yours, expected, tol)
    if message is not None:
        raise AssertionError(message)


def assert_close(name: str, yours, expected, tol: float | None = None) -> None:
    """Fail unless ``yours`` has ``expected``'s shape and is within relative error ``tol`` of it.

    Args:
        name: what is compared, for the message (e.g. ``"conv_forward_naive(...): out"``).
        yours, expected: array-likes; ``tol`` defaults to ``tolerance(yours, expected)``.
    Raises:
        AssertionError: naming the shapes, or the relative error and the worst
        element (index, your value, the expected value).
    """
    message = _mismatch(name, yours, expected, tol)
    if message is not None:
        show_wrong_map(name, yours, expected)
        raise AssertionError(message)


def _in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel (where a displayed figure is seen)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def show_wrong_map(name: str, yours, expected, title: str = "") -> bool:
    """In a notebook, show a wrong (N, C, H, W) result beside the expected one and their difference.

    Displays ``cs7150.plots.plot_map_difference`` when this runs in a Jupyter kernel and both arrays are
    4-dimensional (a shifted, flipped or unpadded map is visible at a glance); does nothing elsewhere (pytest,
    a script). Returns whether it showed a picture.
    """
    if not _in_kernel() or np.ndim(yours) != 4 or np.ndim(expected) != 4:
        return False
    from IPython.display import display

    from cs7150.plots import plot_map_difference

    display(plot_map_difference(expected, yours, name=name.rsplit(": ", 1)[-1] if ": " in name else "map",
                                title=title))
    return True


def torch_conv(x, w, b, conv_param: dict, dout=None):
    """PyTorch's convolution of ``x`` (N, C, *spatial) by ``w`` (F, C/groups, *kernel) plus ``b`` (F,).

    1-D, 2-D or 3-D by ``x.ndim``; ``conv_param`` as the course's layers take
    it (``stride``, ``pad`` (also ``"same"``/``"valid"``), optional ``dilation``,
    ``groups``). Returns ``out`` (N, F, *out_size); with ``dout`` (shaped like
    ``out``), ``(out, dx, dw, db)`` from autograd. Arrays keep the inputs' dtype.
    """
    import torch.nn.functional as F

    conv = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[np.ndim(x)]
    xt, wt, bt = as_tensor(x, True), as_tensor(w, True), as_tensor(b, True)
    with warnings.catch_warnings():  # padding="same", even kernel: "may require a zero-padded copy of the input"
        warnings.simplefilter("ignore", UserWarning)
        out = conv(xt, wt, bt, stride=conv_param["stride"], padding=conv_param["pad"],
                   dilation=conv_param.get("dilation", 1), groups=conv_param.get("groups", 1))
    if dout is None:
        return out.detach().numpy()
    out.backward(as_tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def torch_pool(kind: str, x, pool_param: dict, dout=None):
    """PyTorch's max (``kind="max"``) or average (``"avg"``) pooling of ``x`` (N, C, H, W).

    ``pool_param`` as the course's layers take it (``pool_height``,
    ``pool_width``, ``stride``, and when present ``pad``, ``ceil_mode``,
    ``count_include_pad``). Returns ``out``; with ``dout``, ``(out, dx)``.
    """
    import torch.nn.functional as F

    if kind not in ("max", "avg"):
        raise ValueError(f"kind must be 'max' or 'avg', got {kind!r}")
    options = {"stride": pool_param["stride"], "padding": pool_param.get("pad", 0),
               "ceil_mode": pool_param.get("ceil_mode", False)}
    if kind == "avg":
        options["count_include_pad"] = pool_param.get("count_include_pad", True)
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    xt = as_tensor(x, True)
    out = pool(xt, (pool_param["pool_height"], pool_param["pool_width"]), **options)
    if dout is None:
        return out.detach().numpy()
    out.backward(as_tensor(dout))
    return out.detach().numpy(), xt.grad.numpy()


def _name(function) -> str:
    return getattr(function, "__name__", repr(function))


def _torch_conv_forward(x, w, b, conv_param):
    """PyTorch's convolution as a layer forward pass, ``(out, cache)``; ValueError when the kernel does not fit."""
    try:
        return torch_conv(x, w, b, conv_param), (x, w, b, conv_param)
    except RuntimeError as error:
        raise ValueError(str(error)) from None


def _torch_conv_backward(dout, cache):
    """``(dx, dw, db)`` from PyTorch's autograd for a cache of ``_torch_conv_forward``."""
    return tuple(torch_conv(*cache, dout)[1:])


def _torch_pool_forward(kind: str):
    """PyTorch's ``kind`` pooling as a layer forward pass, ``(out, cache)``; ValueError when the window does not fit."""
    def forward(x, pool_param):
        try:
            return torch_pool(kind, x, pool_param), (x, pool_param)
        except RuntimeError as error:
            raise ValueError(str(error)) from None
    return forward


def probe_conv(forward, backward, x_shape, w_shape, conv_param: dict, dtype=np.float64):
    """Your convolution and PyTorch's on ``cs7150.probes``' letter F, with a case's shapes and ``conv_param``.

    ``forward`` / ``backward`` as ``check_conv`` takes them (``backward`` may be None). Returns
    ``(inputs, maps)``: the probe's ``{"x", "w", "b"}`` (and ``"dout"``: the letter F at the output's size)
    and ``{name: (expected, yours)}`` for ``"out"`` (and ``"dx"``, ``"dw"``). Raises ValueError for shapes
    that are not 2-D; whatever your functions raise.
    """
    x, w, b = probes.conv_probe(x_shape, w_shape, conv_param, dtype)
    out, cache = forward(x, w, b, conv_param)
    expected = torch_conv(x, w, b, conv_param)
    inputs, maps = {"x": x, "w": w, "b": b}, {"out": (expected, out)}
    if backward is not None:
        dout = probes.output_probe(expected.shape, dtype)
        _, dx, dw, _ = torch_conv(x, w, b, conv_param, dout)
        yours = backward(dout, cache)
        inputs["dout"] = dout
        maps.update(dx=(dx, yours[0]), dw=(dw, yours[1]))
    return inputs, maps


def probe_pool(kind: str, forward, backward, x_shape, pool_param: dict, dtype=np.float64):
    """Your pooling and PyTorch's on ``cs7150.probes``' tie-free letter F, with a case's channels and ``pool_param``.

    As ``probe_conv``: ``(inputs, maps)`` with ``{"x"}`` (and ``"dout"``) and ``{"out"}`` (and ``"dx"``).
    """
    x = probes.pool_probe(x_shape, pool_param, dtype)
    out, cache = forward(x, pool_param)
    expected = torch_pool(kind, x, pool_param)
    inputs, maps = {"x": x}, {"out": (expected, out)}
    if backward is not None:
        dout = probes.output_probe(expected.shape, dtype)
        inputs["dout"] = dout
        maps["dx"] = (torch_pool(kind, x, pool_param, dout)[1], backward(dout, cache))
    return inputs, maps


def _first_wrong(maps: dict, names) -> str | None:
    """The first of ``names`` whose (expected, yours) in ``maps`` are both 4-D and differ."""
    for name in names:
        expected, yours = maps.get(name, (None, None))
        if np.ndim(expected) == 4 and np.ndim(yours) == 4 and _mismatch(name, yours, expected) is not None:
            return name
    return None


def _show_picture(function: str, probe, description: str, names, fallback: tuple) -> bool:
    """In a notebook, show the first wrong map of ``names`` on the probe input (``probe()``'s maps).

    When your function is right on the probe (or cannot run on it) the failing case's own map is shown
    instead, ``fallback = (name, yours, expected)``. Returns whether a picture was shown.
    """
    if not _in_kernel():
        return False
    try:
        inputs, maps = probe()
    except Exception:  # noqa: BLE001 - only the picture is lost; the failing case's error is raised anyway
        inputs, maps = {}, {}
    name = _first_wrong(maps, names)
    if name is None:
        return show_wrong_map(*fallback, title=f"{function} on the failing case's input (random data)")
    from IPython.display import display

    from cs7150.plots import plot_map_difference

    expected, yours = maps[name]
    display(plot_map_difference(expected, yours, name=name, title=(
        f"{function} on the letter F ({description}), x {inputs['x'].shape}, with the failing case's parameters")))
    return True


def _named(compare, case: mistakes.LayerCase, student: dict, show) -> None:
    """Run ``compare()``; if it fails, ``show()`` a picture and add the likely mistake ``cs7150.mistakes`` recognizes."""
    try:
        compare()
    except AssertionError as error:
        try:
            show()
        except Exception:  # noqa: BLE001 - a picture that cannot be drawn must not hide the failure's message
            pass
        diagnosis = mistakes.diagnose(case, {name: np.asarray(array) for name, array in student.items()})
        if diagnosis is None:
            raise
        raise AssertionError(f"{error}\nlikely mistake: {diagnosis}") from None


def _fallback(case: str, names, yours, references) -> tuple:
    """``(name, yours, expected)`` of the first of the failing case's outputs that differs, for ``show_wrong_map``."""
    for name, mine, reference in zip(names, yours, references):
        if _mismatch(name, mine, reference) is not None:
            return f"{case}: {name}", mine, reference
    return f"{case}: {names[0]}", yours[0], references[0]


def check_conv(forward, backward, x, w, b, conv_param: dict, tol: float | None = None, dout=None) -> None:
    """Compare a convolution's forward pass (and, unless ``backward`` is None, its backward pass) with PyTorch's.

    ``forward(x, w, b, conv_param) -> (out, cache)``, ``backward(dout, cache) -> (dx, dw, db)``;
    ``out`` must have dtype ``np.result_type(x, w)``. ``dout`` defaults to a
    fixed random array shaped like ``out``. Raises AssertionError naming the case (and the
    likely mistake, when ``cs7150.mistakes`` recognizes one); in a notebook a failure also shows
    expected / yours / difference on the letter F (``probe_conv``), where the mistake has a shape.
    """
    case = f"{_name(forward)}(x {np.shape(x)}, w {np.shape(w)}, {conv_param})"
    out, cache = forward(x, w, b, conv_param)
    expected = torch_conv(x, w, b, conv_param)
    inputs = {"x": np.asarray(x), "w": np.asarray(w), "b": np.asarray(b)}
    dtype = np.result_type(x, w)
    if np.ndim(x) == 4:
        def show(function, names, fallback):
            return lambda: _show_picture(
                function, lambda: probe_conv(forward, backward, np.shape(x), np.shape(w), conv_param, dtype),
                probes.CONV_DESCRIPTION, names, fallback())
    else:  # 1-D and 3-D convolutions: the failing case's own map, when 4-D
        def show(function, names, fallback):
            return lambda: show_wrong_map(*fallback())
    _named(lambda: _assert_matches(f"{case}: out", out, expected, tol),
           mistakes.LayerCase("conv_forward", inputs, conv_param, {"out": expected}, _torch_conv_forward), {"out": out},
           show(_name(forward), ("out",), lambda: (f"{case}: out", out, expected)))
    assert out.dtype == dtype, f"{case}: out has dtype {out.dtype}, expected {dtype}"
    if backward is None:
        return
    if dout is None:
        dout = np.random.default_rng(0).standard_normal(expected.shape).astype(out.dtype)
    _, *references = torch_conv(x, w, b, conv_param, dout)
    grads = backward(dout, cache)
    assert isinstance(grads, tuple) and len(grads) == 3, f"{_name(backward)} must return (dx, dw, db), got {type(grads).__name__}"
    names = ("dx", "dw", "db")
    diagnosable = mistakes.LayerCase("conv_backward", {**inputs, "dout": dout}, conv_param, dict(zip(names, references)),
                                     _torch_conv_forward, _torch_conv_backward, fast=_name(forward).endswith("_fast"))

    def compare():
        for name, yours, reference in zip(names, grads, references):
            _assert_matches(f"{case} backward: {name}", yours, reference, tol)

    _named(compare, diagnosable, dict(zip(names, grads)),
           show(_name(backward), ("dx", "dw"), lambda: _fallback(f"{case} backward", names, grads, references)))


def check_pool(kind: str, forward, backward, x, pool_param: dict, tol: float | None = None, dout=None) -> None:
    """Compare a pooling forward pass (and, unless ``backward`` is None, its backward pass) with PyTorch's.

    ``kind`` is ``"max"`` or ``"avg"``; ``forward(x, pool_param) -> (out, cache)``,
    ``backward(dout, cache) -> dx``; ``out`` must have ``x``'s dtype. Use
    ``tie_free`` inputs for max pooling. Raises AssertionError naming the case (and the
    likely mistake, when ``cs7150.mistakes`` recognizes one); in a notebook a failure also shows
    expected / yours / difference on the letter F (``probe_pool``).
    """
    case = f"{_name(forward)}(x {np.shape(x)}, {pool_param})"
    out, cache = forward(x, pool_param)
    expected = torch_pool(kind, x, pool_param)
    reference = _torch_pool_forward(kind)
    dtype = np.asarray(x).dtype

    def show(function, names, fallback):
        return lambda: _show_picture(function, lambda: probe_pool(kind, forward, backward, np.shape(x), pool_param, dtype),
                                     probes.POOL_DESCRIPTION, names, fallback)

    _named(lambda: _assert_matches(f"{case}: out", out, expected, tol),
           mistakes.LayerCase(f"{kind}_pool_forward", {"x": np.asarray(x)}, pool_param, {"out": expected}, reference),
           {"out": out}, show(_name(forward), ("out",), (f"{case}: out", out, expected)))
    assert out.dtype == dtype, f"{case}: out has dtype {out.dtype}, expected {dtype}"
    if backward is None:
        return
    if dout is None:
        dout = np.random.default_rng(0).standard_normal(expected.shape).astype(out.dtype)
    _, dx_reference = torch_pool(kind, x, pool_param, dout)
    dx = backward(dout, cache)
    _named(lambda: _assert_matches(f"{case} backward: dx", dx, dx_reference, tol),
           mistakes.LayerCase(f"{kind}_pool_backward", {"x": np.asarray(x), "dout": dout}, pool_param,
                              {"dx": dx_reference}, reference), {"dx": dx},
           show(_name(backward), ("dx",), (f"{case} backward: dx", dx, dx_reference)))


def tie_free(rng: np.random.Generator, shape, dtype=np.float64) -> np.ndarray:
    """Random values in [-0.5, 0.5), all different (at least 0.9/size apart), so every pooling window has one maximum.

    A random permutation of ``0 .. size-1`` scaled by ``1/size``, plus noise
    below ``0.1/size``; in float32 the values stay distinct for sizes up to
    about a million.
    """
    size = int(np.prod(shape))
    values = (rng.permutation(size) / size + 0.1 * rng.random(size) / size).reshape(shape) - 0.5
    return values.astype(dtype)


def random_conv_case(rng: np.random.Generator, nd: int = 2, groups=(1,), dilations=(1,), dtype=np.float64):
    """Random ``(x, w, b, conv_param)`` for an ``nd``-D convolution whose kernel fits its padded input.

    Kernel sizes 1-3, strides 1-3, pads 0-2 per axis; ``groups`` and
    ``dilations`` are the choices drawn from; 1-2 samples, 1-2 channels per group.
    """
    G = int(rng.choice(groups))
    C, F_ = G * int(rng.integers(1, 3)), G * int(rng.integers(1, 3))
    kernel = tuple(int(k) for k in rng.integers(1, 4, nd))
    stride = tuple(int(s) for s in rng.integers(1, 4, nd))
    pad = tuple(int(p) for p in rng.integers(0, 3, nd))
    dilation = tuple(int(rng.choice(dilations)) for _ in range(nd))
    # the smallest input the dilated kernel fits (at least 1), plus 0 to 4
    size = tuple(max(1, d * (k - 1) + 1 - 2 * p) + int(rng.integers(0, 5)) for k, p, d in zip(kernel, pad, dilation))
    x = rng.standard_normal((int(rng.integers(1, 3)), C, *size)).astype(dtype)
    w = rng.standard_normal((F_, C // G, *kernel)).astype(dtype)
    b = rng.standard_normal(F_).astype(dtype)
    return x, w, b, {"stride": stride, "pad": pad, "dilation": dilation, "groups": G}
