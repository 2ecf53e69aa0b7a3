"""Naive 2-D convolution against PyTorch (F.conv2d and autograd), numeric gradients, and input checks.

Shapes, strides, pads, dilations and groups are drawn by hypothesis
(``tests/strategies.py``); PyTorch's answers and the comparison come from
``cs7150.oracle``.
"""
import numpy as np
import pytest
from hypothesis import given, settings

from cs7150.conv import conv_backward_naive, conv_forward_naive
from cs7150.conv_fast import conv_backward_fast, conv_forward_fast
from cs7150.gradcheck import numeric_gradient, rel_error
from cs7150.oracle import check_conv
from strategies import conv_cases

CONV2D = [(conv_forward_naive, conv_backward_naive), (conv_forward_fast, conv_backward_fast)]


@settings(max_examples=40, deadline=None)
@given(conv_cases())
def test_naive_matches_torch(case):
    x, w, b, conv_param, dout = case
    check_conv(conv_forward_naive, conv_backward_naive, x, w, b, conv_param, dout=dout)


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


@pytest.mark.parametrize("forward, backward", CONV2D)
@pytest.mark.parametrize("kernel, dilation", [((2, 2), 1), ((4, 3), 1), ((2, 3), (3, 2)), ((1, 4), (1, 2))])
def test_same_padding_with_even_kernels_pads_as_torch(forward, backward, kernel, dilation):
    """'same' with an odd total D*(K - 1) puts the extra zero after (bottom, right), as PyTorch's padding='same'.

    A kernel with a single 1 at (0, 0) copies the input shifted by the zeros
    before it, so padding the extra zero before instead would shift the output.
    """
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 5, 7))
    w = rng.standard_normal((3, 2, *kernel))
    conv_param = {"stride": 1, "pad": "same", "dilation": dilation}
    out, _ = forward(x, w, np.zeros(3), conv_param)
    assert out.shape == (2, 3, 5, 7)
    check_conv(forward, backward, x, w, rng.standard_normal(3), conv_param, dout=rng.standard_normal(out.shape))
    one = np.zeros((1, 1, *kernel))
    one[0, 0, 0, 0] = 1.0
    shifted, _ = forward(x[:, :1], one, np.zeros(1), conv_param)
    top, left = (np.broadcast_to(dilation, (2,)) * (np.array(kernel) - 1)) // 2  # zeros before, the smaller half
    np.testing.assert_array_equal(shifted[:, 0, top:, left:], x[:, 0, :5 - top, :7 - left])


@pytest.mark.parametrize("forward, backward", CONV2D)
def test_valid_padding_is_no_padding(forward, backward):
    rng = np.random.default_rng(6)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    out_valid, _ = forward(x, w, b, {"stride": (2, 1), "pad": "valid"})
    out_zero, _ = forward(x, w, b, {"stride": (2, 1), "pad": 0})
    np.testing.assert_array_equal(out_valid, out_zero)
    check_conv(forward, backward, x, w, b, {"stride": (2, 1), "pad": "valid"}, dout=rng.standard_normal(out_valid.shape))


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
    (dict(conv_param={"stride": 2, "pad": "same"}), ValueError, r"'same' needs stride 1 \(as PyTorch\), got stride \(2, 2\)"),
    (dict(conv_param={"stride": (1, 2), "pad": "same"}), ValueError, r"'same' needs stride 1"),
    (dict(conv_param={"stride": 1, "pad": "full"}), ValueError,
     r"conv_param\['pad'\] must be an int, a tuple of 2 ints, 'same' or 'valid', got 'full'"),
    (dict(conv_param={"stride": 1, "pad": None}), TypeError, r"conv_param\['pad'\] must be an int or a tuple"),
]
ACCEPTED = r"it accepts 'stride', 'pad', 'dilation', 'groups'"
UNKNOWN_KEYS = [  # typos and options a convolution does not have: never silently ignored
    ({"stride": 1, "padding": 1}, r"unknown key 'padding' \(did you mean 'pad'\?\)"),
    ({"strides": 1, "pad": 1}, r"unknown key 'strides' \(did you mean 'stride'\?\)"),
    ({"stride": 1, "pad": 0, "padd": 1}, r"unknown key 'padd' \(did you mean 'pad'\?\)"),
    ({"stride": 1, "pad": 1, "dilations": 2}, r"unknown key 'dilations'"),
    ({"stride": 1, "pad": 1, "group": 2}, r"unknown key 'group'"),
    ({"stride": 1, "pad": 1, "bias": False, "ceil_mode": True}, r"unknown keys 'bias', 'ceil_mode'"),
    ({"stride": 1, "pad": 1, 3: 1}, r"unknown key 3"),
]




@pytest.mark.parametrize("forward, backward", CONV2D)
@pytest.mark.parametrize("change, error, message", BAD_INPUTS)
def test_bad_input_is_named(forward, backward, change, error, message):
    with pytest.raises(error, match=message):
        forward(**{**GOOD, **change})


@pytest.mark.parametrize("forward, backward", CONV2D)
@pytest.mark.parametrize("conv_param, message", UNKNOWN_KEYS)
def test_unknown_keys_are_named(forward, backward, conv_param, message):
    """An unknown key raises before anything is computed, naming it and the accepted keys, forward and backward."""
    with pytest.raises(ValueError, match=rf"conv_param has {message}.*; {ACCEPTED}$"):
        forward(**{**GOOD, "conv_param": conv_param})
    _, (x, w, b, _) = forward(**GOOD)
    with pytest.raises(ValueError, match=rf"conv_param has {message}"):
        backward(np.zeros((2, 6, 6, 6)), (x, w, b, conv_param))


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
