"""Naive 2-D convolution against PyTorch (F.conv2d and autograd), numeric gradients, and input checks.

Shapes, strides, pads, dilations and groups are drawn by hypothesis; draws
where the dilated kernel does not fit the padded input are skipped. The
helpers ``conv_cases`` and ``torch_conv`` are shared with ``test_conv_fast.py``.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cs7150.conv import conv_backward_naive, conv_forward_naive
from cs7150.conv_fast import conv_backward_fast, conv_forward_fast
from cs7150.gradcheck import numeric_gradient, rel_error

CONV2D = [(conv_forward_naive, conv_backward_naive), (conv_forward_fast, conv_backward_fast)]
TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def int_or_tuple(nd, low, high):
    """An int, or a tuple of ``nd`` ints, each in [low, high]."""
    return st.one_of(st.integers(low, high), st.tuples(*[st.integers(low, high)] * nd))


@st.composite
def conv_cases(draw, nd=2, max_n=2, max_channels=4, max_size=8, max_kernel=4):
    """(x, w, b, conv_param, dout) in float64 with ``nd`` spatial axes, the kernel fitting the padded input."""
    groups = draw(st.integers(1, 2))
    N = draw(st.integers(1, max_n))
    C = groups * draw(st.integers(1, max_channels // groups))
    F_ = groups * draw(st.integers(1, max_channels // groups))
    size = draw(st.tuples(*[st.integers(1, max_size)] * nd))
    kernel = draw(st.tuples(*[st.integers(1, max_kernel)] * nd))
    conv_param = {"stride": draw(int_or_tuple(nd, 1, 3)), "pad": draw(int_or_tuple(nd, 0, 2))}
    if draw(st.booleans()):
        conv_param["dilation"] = draw(int_or_tuple(nd, 1, 2))
    if groups > 1 or draw(st.booleans()):
        conv_param["groups"] = groups
    per_axis = lambda key, default: np.broadcast_to(conv_param.get(key, default), (nd,))  # noqa: E731
    spans = per_axis("dilation", 1) * (np.array(kernel) - 1) + 1
    assume(np.all(spans <= np.array(size) + 2 * per_axis("pad", 0)))

    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((N, C, *size))
    w = rng.standard_normal((F_, C // groups, *kernel))
    b = rng.standard_normal(F_)
    out_size = (np.array(size) + 2 * per_axis("pad", 0) - spans) // per_axis("stride", 1) + 1
    dout = rng.standard_normal((N, F_, *out_size))
    return x, w, b, conv_param, dout


def torch_conv(x, w, b, conv_param, dout):
    """PyTorch's (out, dx, dw, db) for the same convolution, in the dtype of the inputs."""
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = TORCH_CONV[x.ndim - 2](
        *tensors,
        stride=conv_param["stride"],
        padding=conv_param["pad"],
        dilation=conv_param.get("dilation", 1),
        groups=conv_param.get("groups", 1),
    )
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), *(t.grad.numpy() for t in tensors)


def assert_matches_torch(forward, backward, x, w, b, conv_param, dout, tol=1e-10):
    """forward/backward agree with PyTorch: out, dx, dw, db each within relative error ``tol``."""
    out, cache = forward(x, w, b, conv_param)
    grads = backward(dout, cache)
    expected = torch_conv(x, w, b, conv_param, dout)
    for name, ours, theirs in zip(("out", "dx", "dw", "db"), (out, *grads), expected):
        assert ours.shape == theirs.shape, name
        assert rel_error(ours, theirs) < tol, (name, rel_error(ours, theirs))


@settings(max_examples=40, deadline=None)
@given(conv_cases())
def test_naive_matches_torch(case):
    assert_matches_torch(conv_forward_naive, conv_backward_naive, *case)


def test_naive_numeric_gradient():
    """Central differences of sum(out * dout) agree with the naive backward pass."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 6, 5))
    w = rng.standard_normal((4, 2, 3, 2))
    b = rng.standard_normal(4)
    conv_param = {"stride": (2, 1), "pad": (1, 0), "dilation": (1, 2), "groups": 2}
    out, cache = conv_forward_naive(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_backward_naive(dout, cache)
    assert rel_error(dx, numeric_gradient(lambda _: conv_forward_naive(x, w, b, conv_param)[0], x, dout)) < 1e-8
    assert rel_error(dw, numeric_gradient(lambda _: conv_forward_naive(x, w, b, conv_param)[0], w, dout)) < 1e-8
    assert rel_error(db, numeric_gradient(lambda _: conv_forward_naive(x, w, b, conv_param)[0], b, dout)) < 1e-8


@pytest.mark.parametrize("forward, backward", CONV2D)
@pytest.mark.parametrize("stride, counts", [(1, [1, 2, 3, 2, 1]), (2, [1, 1, 2, 1, 1])])
def test_overlapping_windows_add_up(forward, backward, stride, counts):
    """With a 3x3 kernel of ones and dout of ones, dx counts the windows covering each pixel.

    Windows overlap (stride < kernel), so an assignment instead of ``+=`` in
    the backward pass loses contributions.
    """
    x = np.zeros((1, 1, 5, 5))
    out, cache = forward(x, np.ones((1, 1, 3, 3)), np.zeros(1), {"stride": stride, "pad": 0})
    dx, _, _ = backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(dx[0, 0], np.outer(counts, counts))


@pytest.mark.parametrize("forward, backward", CONV2D)
def test_cross_correlation_no_flip(forward, backward):
    """A kernel with a single 1 at (0, 0) copies the input shifted, not flipped."""
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.zeros((1, 1, 2, 2))
    w[0, 0, 0, 0] = 1.0
    out, _ = forward(x, w, np.zeros(1), {"stride": 1, "pad": 0})
    np.testing.assert_array_equal(out[0, 0], x[0, 0, :3, :3])


@pytest.mark.parametrize("forward, backward", CONV2D)
def test_float32_stays_float32(forward, backward):
    """float32 in, float32 out, within float32 rounding of the float64 result."""
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    conv_param = {"stride": (1, 2), "pad": 1, "dilation": (2, 1)}
    out, cache = forward(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    expected = (out, *backward(dout, cache))
    out32, cache32 = forward(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), conv_param)
    got = (out32, *backward(dout.astype(np.float32), cache32))
    for ours, reference in zip(got, expected):
        assert ours.dtype == np.float32
        assert rel_error(ours, reference) < 1e-5


@pytest.mark.parametrize("forward, backward", CONV2D)
def test_mixed_dtypes(forward, backward):
    """out has np.result_type(x, w); each gradient has its own input's dtype."""
    x, w, b = np.ones((1, 2, 4, 4), np.float32), np.ones((3, 2, 2, 2)), np.ones(3, np.float32)
    out, cache = forward(x, w, b, {"stride": 1, "pad": 0})
    assert out.dtype == np.float64
    dx, dw, db = backward(np.ones_like(out), cache)
    assert (dx.dtype, dw.dtype, db.dtype) == (np.float32, np.float64, np.float32)


GOOD = dict(x=np.zeros((2, 4, 6, 6)), w=np.zeros((6, 4, 3, 3)), b=np.zeros(6), conv_param={"stride": 1, "pad": 1})
BAD_INPUTS = [
    (dict(x=np.zeros((4, 6, 6))), ValueError, r"x must have 4 dimensions"),
    (dict(x=[[1.0]]), TypeError, r"x must be a numpy.ndarray"),
    (dict(x=np.zeros((2, 4, 6, 6), dtype=int)), TypeError, r"x must be float32 or float64"),
    (dict(w=np.zeros((6, 4, 3))), ValueError, r"w must have 4 dimensions"),
    (dict(w=np.zeros((6, 3, 3, 3))), ValueError, r"w has shape \(6, 3, 3, 3\).*C // groups = 4"),
    (dict(b=np.zeros(5)), ValueError, r"b must have shape \(F,\) = \(6,\).*got \(5,\)"),
    (dict(w=np.zeros((6, 4, 9, 3))), ValueError, r"w of shape \(6, 4, 9, 3\) does not fit x of shape"),
    (dict(conv_param={"stride": 1, "pad": 1, "dilation": (4, 1)}), ValueError, r"does not fit.*dilation 4"),
    (dict(conv_param={"stride": 1, "pad": -1}), ValueError, r"conv_param\['pad'\] must be non-negative"),
    (dict(conv_param={"stride": 0, "pad": 1}), ValueError, r"conv_param\['stride'\] must be >= 1"),
    (dict(conv_param={"stride": (1, 0), "pad": 1}), ValueError, r"conv_param\['stride'\] must be >= 1"),
    (dict(conv_param={"stride": 1, "pad": 1, "dilation": 0}), ValueError, r"conv_param\['dilation'\] must be >= 1"),
    (dict(conv_param={"stride": (1, 1, 1), "pad": 1}), TypeError,
     r"conv_param\['stride'\] must be an int or a tuple of 2"),
    (dict(conv_param={"stride": 1.5, "pad": 1}), TypeError, r"conv_param\['stride'\]"),
    (dict(conv_param={"pad": 1}), ValueError, r"missing the key 'stride'"),
    (dict(conv_param={"stride": 1}), ValueError, r"missing the key 'pad'"),
    (dict(conv_param=None), TypeError, r"conv_param must be a dict"),
    (dict(conv_param={"stride": 1, "pad": 1, "groups": 0}), ValueError, r"conv_param\['groups'\] must be >= 1"),
    (dict(conv_param={"stride": 1, "pad": 1, "groups": 3}), ValueError, r"groups'\] = 3 must divide.*C = 4.*F = 6"),
    (dict(w=np.zeros((6, 1, 3, 3)), conv_param={"stride": 1, "pad": 1, "groups": 4}), ValueError,
     r"groups'\] = 4 must divide.*F = 6 filters"),
]


@pytest.mark.parametrize("forward, backward", CONV2D)
@pytest.mark.parametrize("change, error, message", BAD_INPUTS)
def test_bad_input_is_named(forward, backward, change, error, message):
    with pytest.raises(error, match=message):
        forward(**{**GOOD, **change})


@pytest.mark.parametrize("forward, backward", CONV2D)
@pytest.mark.parametrize(
    "dout, error, message",
    [
        (np.zeros((2, 6, 6, 5)), ValueError,
         r"dout must have the forward output's shape .* = \(2, 6, 6, 6\), got \(2, 6, 6, 5\)"),
        (np.zeros((2, 6, 36)), ValueError, r"dout must have 4 dimensions"),
        (np.zeros((2, 6, 6, 6), dtype=int), TypeError, r"dout must be float32 or float64"),
    ],
)
def test_bad_dout_is_named(forward, backward, dout, error, message):
    _, cache = forward(**GOOD)
    with pytest.raises(error, match=message):
        backward(dout, cache)
