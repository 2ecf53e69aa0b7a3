"""Max and average pooling, naive and fast, against PyTorch (F.max_pool2d / F.avg_pool2d and autograd).

Max-pool inputs are tie-free (``cs7150.oracle.tie_free``: all values
distinct), so every window has one maximum and the gradient's route is unambiguous; windows overlap
whenever the drawn stride is smaller than the window. Padding (up to half the window), ceil mode and,
for average pooling, count_include_pad are drawn too.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cs7150.pool import (
    avg_pool_backward_naive,
    avg_pool_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)
from cs7150.gradcheck import numeric_gradient, rel_error
from cs7150.oracle import assert_close, tie_free, torch_pool
from cs7150.pool_fast import (
    add_windows,
    avg_pool_backward_fast,
    avg_pool_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
    window_view,
)

MAX_POOLS = [(max_pool_forward_naive, max_pool_backward_naive), (max_pool_forward_fast, max_pool_backward_fast)]
AVG_POOLS = [(avg_pool_forward_naive, avg_pool_backward_naive), (avg_pool_forward_fast, avg_pool_backward_fast)]
ALL_POOLS = MAX_POOLS + AVG_POOLS


@st.composite
def pool_cases(draw, is_max):
    """(x shape, pool_param, dtype, seed); the stride is an int or a pair, often below the window.

    Half the cases leave 'pad', 'ceil_mode' (and 'count_include_pad') out, the
    default; the others draw them, with padding up to half the window.
    """
    PH, PW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride_h, stride_w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = stride_h if draw(st.booleans()) else (stride_h, stride_w)
    stride_w = stride_h if isinstance(stride, int) else stride_w
    pool_param = {"pool_height": PH, "pool_width": PW, "stride": stride}
    pad_h = pad_w = 0
    if draw(st.booleans()):
        pad_h, pad_w = draw(st.integers(0, PH // 2)), draw(st.integers(0, PW // 2))
        pool_param["pad"] = pad_h if pad_h == pad_w and draw(st.booleans()) else (pad_h, pad_w)
        pool_param["ceil_mode"] = draw(st.booleans())
        if not is_max:
            pool_param["count_include_pad"] = draw(st.booleans())
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)),
             max(1, PH - 2 * pad_h) + draw(st.integers(0, 3 * stride_h)),
             max(1, PW - 2 * pad_w) + draw(st.integers(0, 3 * stride_w)))
    return shape, pool_param, draw(st.sampled_from([np.float64, np.float32])), draw(st.integers(0, 2**32 - 1))


@pytest.mark.parametrize("is_max", [True, False], ids=["max", "avg"])
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_naive_and_fast_match_torch(is_max, data):
    shape, pool_param, dtype, seed = data.draw(pool_cases(is_max))
    rng = np.random.default_rng(seed)
    x = tie_free(rng, shape, dtype) if is_max else rng.standard_normal(shape).astype(dtype)
    forward_naive, backward_naive = (MAX_POOLS if is_max else AVG_POOLS)[0]
    out_naive, cache_naive = forward_naive(x, pool_param)
    dout = rng.standard_normal(out_naive.shape).astype(dtype)
    out_torch, dx_torch = torch_pool("max" if is_max else "avg", x, pool_param, dout)

    results = []
    for forward, backward in MAX_POOLS if is_max else AVG_POOLS:
        out, cache = forward(x, pool_param)
        dx = backward(dout, cache)
        assert out.shape == out_torch.shape and out.dtype == dtype
        assert dx.shape == x.shape and dx.dtype == dtype
        assert_close("out", out, out_torch)
        assert_close("dx", dx, dx_torch)
        results.append((out, dx))
    (out_naive, dx_naive), (out_fast, dx_fast) = results
    if is_max:  # a maximum is picked, not computed: naive and fast agree exactly
        np.testing.assert_array_equal(out_naive, out_fast)
    assert_close("out, naive vs fast", out_naive, out_fast)
    assert_close("dx, naive vs fast", dx_naive, dx_fast)


@pytest.mark.parametrize("window, stride", [((3, 3), 1), ((3, 3), 2), ((2, 3), (1, 2))])
def test_overlapping_max_windows_accumulate(window, stride):
    """With overlapping windows one pixel can be the maximum of several windows; its
    gradient is then the sum of theirs, so a backward pass that assigns (=) instead
    of adding (+=) fails this case."""
    pool_param = {"pool_height": window[0], "pool_width": window[1], "stride": stride}
    rng = np.random.default_rng(0)
    x = tie_free(rng, (2, 3, 8, 8))
    out, _ = max_pool_forward_naive(x, pool_param)
    _, wins = torch_pool("max", x, pool_param, np.ones_like(out))  # windows each pixel is the maximum of
    assert wins.max() >= 2, "this case must send two windows' gradients to one pixel"
    dout = rng.uniform(1.0, 1.5, out.shape)  # any two shares add up to more than any one share
    _, dx_torch = torch_pool("max", x, pool_param, dout)
    for forward, backward in MAX_POOLS:
        dx = backward(dout, forward(x, pool_param)[1])
        assert rel_error(dx, dx_torch) < 1e-10
        assert np.all(dx[wins >= 2] > dout.max())  # more than any one window's share


@pytest.mark.parametrize("forward, backward", MAX_POOLS, ids=["naive", "fast"])
@pytest.mark.parametrize("window, stride, options", [((2, 2), 2, {}), ((3, 3), 1, {}), ((3, 2), (2, 1), {}),
                                                     ((3, 3), 2, {"pad": 1}), ((2, 3), 2, {"pad": (1, 1), "ceil_mode": True})])
def test_max_pool_ties_go_to_first_maximum(forward, backward, window, stride, options):
    """Equal values in a window (e.g. the zeros a ReLU leaves): the first maximum in
    row-major window order takes the gradient, as in PyTorch on the CPU; the
    -inf padding is never a window's maximum."""
    pool_param = {"pool_height": window[0], "pool_width": window[1], "stride": stride, **options}
    rng = np.random.default_rng(1)
    x = np.maximum(rng.integers(-2, 3, (2, 2, 7, 7)), 0).astype(np.float64)  # many ties, all-zero windows
    out, cache = forward(x, pool_param)
    dout = rng.standard_normal(out.shape)
    out_torch, dx_torch = torch_pool("max", x, pool_param, dout)
    np.testing.assert_array_equal(out, out_torch)
    assert rel_error(backward(dout, cache), dx_torch) < 1e-10


@pytest.mark.parametrize("forward, backward", ALL_POOLS, ids=["max-naive", "max-fast", "avg-naive", "avg-fast"])
@pytest.mark.parametrize("pool_param", [{"pool_height": 2, "pool_width": 3, "stride": 1},
                                        {"pool_height": 2, "pool_width": 2, "stride": (2, 1)},
                                        {"pool_height": 3, "pool_width": 2, "stride": 2, "pad": (1, 1),
                                         "ceil_mode": True},
                                        {"pool_height": 3, "pool_width": 2, "stride": (2, 1), "pad": 1,
                                         "ceil_mode": True, "count_include_pad": False}])
def test_backward_matches_numeric_gradient(forward, backward, pool_param):
    if (forward, backward) in MAX_POOLS:  # count_include_pad is average pooling's only
        pool_param = {key: value for key, value in pool_param.items() if key != "count_include_pad"}
    rng = np.random.default_rng(2)
    x = tie_free(rng, (2, 2, 4, 5))
    out, cache = forward(x, pool_param)
    dout = rng.standard_normal(out.shape)
    dx_numeric = numeric_gradient(lambda x: forward(x, pool_param)[0], x, dout)
    assert rel_error(backward(dout, cache), dx_numeric) < 1e-8


@pytest.mark.parametrize("forward, backward", MAX_POOLS, ids=["naive", "fast"])
def test_max_pool_pads_with_minus_infinity(forward, backward):
    """Every value negative: zero padding would make border windows' maximum 0."""
    rng = np.random.default_rng(4)
    x = tie_free(rng, (2, 3, 5, 5))
    x -= x.max() + 1  # distinct, all <= -1
    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2, "pad": 1}
    out, cache = forward(x, pool_param)
    dout = rng.standard_normal(out.shape)
    out_torch, dx_torch = torch_pool("max", x, pool_param, dout)
    assert out.shape == (2, 3, 3, 3) and np.all(out <= -1)
    np.testing.assert_array_equal(out, out_torch)
    assert rel_error(backward(dout, cache), dx_torch) < 1e-10


@pytest.mark.parametrize("forward, backward", ALL_POOLS, ids=["max-naive", "max-fast", "avg-naive", "avg-fast"])
@pytest.mark.parametrize("H, window, stride, pad, expected", [
    (5, 2, 2, 0, (2, 3)),  # (5 - 2) / 2 = 1.5: floor 2 windows, ceil 3 (the last one reads pixel 4 alone)
    (5, 2, 2, 1, (3, 3)),  # ceil 4, but the 4th window would start at 6, in the padding after x: dropped
    (6, 3, 2, 1, (3, 4)),  # ceil mode's 4th window starts at 6 = pad + 5, on x's last pixel: kept
    (1, 4, 2, 1, (None, 1)),  # the window is longer than the padded input; ceil mode still pools it
])
def test_ceil_mode_output_size_as_torch(forward, backward, H, window, stride, pad, expected):
    """H_out without and with ceil mode; each result's values and gradient equal PyTorch's."""
    rng = np.random.default_rng(5)
    is_max = forward in (f for f, _ in MAX_POOLS)
    x = tie_free(rng, (1, 2, H, H))
    for ceil_mode, H_out in zip((False, True), expected):
        pool_param = {"pool_height": window, "pool_width": window, "stride": stride, "pad": pad, "ceil_mode": ceil_mode}
        if H_out is None:
            with pytest.raises(ValueError, match="pooling window .* does not fit x of shape"):
                forward(x, pool_param)
            with pytest.raises(RuntimeError, match="Output size is too small"):
                torch_pool("max" if is_max else "avg", x, pool_param, np.zeros((1, 2, 1, 1)))
            continue
        out, cache = forward(x, pool_param)
        dout = rng.standard_normal(out.shape)
        out_torch, dx_torch = torch_pool("max" if is_max else "avg", x, pool_param, dout)
        assert out.shape == out_torch.shape == (1, 2, H_out, H_out)
        assert rel_error(out, out_torch) < 1e-10
        assert rel_error(backward(dout, cache), dx_torch) < 1e-10


def test_window_view_layout_and_add_windows_adjoint():
    """windows[n, c, i, j, r, s] = x_padded[n, c, i*stride_h + r, j*stride_w + s], a view (no copy), and
    add_windows is window_view's adjoint: <windows(x), d> == <x, add_windows(d)>."""
    rng = np.random.default_rng(3)
    x_padded = rng.standard_normal((2, 3, 8, 9))
    PH, PW, stride, out_size = 3, 2, (2, 3), (3, 3)
    windows = window_view(x_padded, PH, PW, stride, out_size)
    assert windows.shape == (2, 3, 3, 3, PH, PW) and np.shares_memory(windows, x_padded)
    for n, c, i, j, r, s in np.ndindex(windows.shape):
        assert windows[n, c, i, j, r, s] == x_padded[n, c, i * 2 + r, j * 3 + s]
    d = rng.standard_normal(windows.shape)
    dx_padded = add_windows(d, x_padded.shape, stride)
    assert dx_padded.shape == x_padded.shape
    assert rel_error(np.sum(windows * d), np.sum(x_padded * dx_padded)) < 1e-12


def test_add_windows_adds_where_windows_overlap():
    """3x3 windows at stride 1 on a 4x4 input: ones add up to the number of windows covering each pixel."""
    dx_padded = add_windows(np.ones((1, 1, 2, 2, 3, 3)), (1, 1, 4, 4), (1, 1))
    np.testing.assert_array_equal(dx_padded[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


@pytest.mark.parametrize("pool_param", [{"pool_height": 2, "pool_width": 3, "stride": 1},
                                        {"pool_height": 3, "pool_width": 3, "stride": 2, "pad": 1, "ceil_mode": True}])
def test_max_pool_fast_caches_the_first_maximum(pool_param):
    """The cache's argmax is np.argmax of each flattened (padded) window: its first maximum in row-major order."""
    rng = np.random.default_rng(6)
    x = np.maximum(rng.integers(-2, 3, (2, 2, 7, 7)), 0).astype(np.float64)  # many ties
    out, (_, _, argmax) = max_pool_forward_fast(x, pool_param)
    pad = pool_param.get("pad", 0)
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad + 1), (pad, pad + 1)), constant_values=-np.inf)
    windows = window_view(x_padded, pool_param["pool_height"], pool_param["pool_width"],
                          (pool_param["stride"],) * 2, out.shape[2:])
    flat = windows.reshape(*out.shape, -1)
    np.testing.assert_array_equal(argmax, flat.argmax(axis=-1))
    np.testing.assert_array_equal(out, flat.max(axis=-1))


GOOD_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}
BAD_INPUTS = [
    (np.zeros((2, 4, 4)), GOOD_PARAM, ValueError, r"x must have 4 dimensions \(N, C, H, W\), got shape \(2, 4, 4\)"),
    (np.zeros((1, 1, 4, 4), dtype=int), GOOD_PARAM, TypeError, "x must be float32 or float64"),
    (np.zeros((1, 1, 4, 4)), {"pool_height": 2, "pool_width": 2}, ValueError, "pool_param is missing the key 'stride'"),
    (np.zeros((1, 1, 4, 4)), {"pool_width": 2, "stride": 2}, ValueError, "missing the key 'pool_height'"),
    (np.zeros((1, 1, 4, 4)), dict(GOOD_PARAM, stride=0), ValueError, r"pool_param\['stride'\] must be >= 1, got 0"),
    (np.zeros((1, 1, 4, 4)), dict(GOOD_PARAM, stride=(1, 0)), ValueError, r"pool_param\['stride'\] must be >= 1"),
    (np.zeros((1, 1, 4, 4)), dict(GOOD_PARAM, pool_width=0), ValueError, r"pool_param\['pool_width'\] must be >= 1"),
    (np.zeros((1, 1, 4, 4)), dict(GOOD_PARAM, pool_height=2.0), TypeError,
     r"pool_param\['pool_height'\] must be an int"),
    (np.zeros((1, 1, 4, 3)), dict(GOOD_PARAM, pool_width=4), ValueError,
     r"2x4 pooling window .* does not fit x of shape \(1, 1, 4, 3\)"),
    (np.zeros((1, 1, 4, 4)), dict(GOOD_PARAM, pad=2), ValueError,
     r"pool_param\['pad'\] = 2 must be at most half the 2x2 window \(pad_h <= 1, pad_w <= 1\)"),
    (np.zeros((1, 1, 4, 4)), dict(GOOD_PARAM, pool_width=3, pad=(1, 2)), ValueError, r"at most half the 2x3 window"),
    (np.zeros((1, 1, 4, 4)), dict(GOOD_PARAM, pad=-1), ValueError, r"pool_param\['pad'\] must be non-negative"),
    (np.zeros((1, 1, 4, 4)), dict(GOOD_PARAM, pad=(1, 1, 1)), TypeError, r"pool_param\['pad'\] must be an int or a tuple of 2"),
    (np.zeros((1, 1, 4, 4)), dict(GOOD_PARAM, ceil_mode=1), TypeError, r"pool_param\['ceil_mode'\] must be True or False, got 1"),
    (np.zeros((1, 1, 4, 4)), dict(GOOD_PARAM, ceil_mode="yes"), TypeError, r"pool_param\['ceil_mode'\] must be True or False"),
]
UNKNOWN_KEYS = [  # typos and options these layers lack (dilation, indices): never silently ignored
    (dict(GOOD_PARAM, padding=1), r"unknown key 'padding' \(did you mean 'pad'\?\)"),
    ({"pool_height": 2, "pool_width": 2, "strides": 2}, r"unknown key 'strides' \(did you mean 'stride'\?\)"),
    (dict(GOOD_PARAM, padd=1), r"unknown key 'padd' \(did you mean 'pad'\?\)"),
    (dict(GOOD_PARAM, dilation=2), r"unknown key 'dilation'"),
    (dict(GOOD_PARAM, return_indices=True, kernel_size=2), r"unknown keys 'return_indices', 'kernel_size'"),
    (dict(GOOD_PARAM, ceilmode=True), r"unknown key 'ceilmode' \(did you mean 'ceil_mode'\?\)"),
]
MAX_KEYS = r"it accepts 'pool_height', 'pool_width', 'stride', 'pad', 'ceil_mode'"


@pytest.mark.parametrize("forward", [f for f, _ in ALL_POOLS], ids=lambda f: f.__name__)
@pytest.mark.parametrize("x, pool_param, error, message", BAD_INPUTS)
def test_forward_rejects_bad_input(forward, x, pool_param, error, message):
    with pytest.raises(error, match=message):
        forward(x, pool_param)


@pytest.mark.parametrize("forward, backward", ALL_POOLS, ids=["max-naive", "max-fast", "avg-naive", "avg-fast"])
def test_backward_rejects_bad_dout(forward, backward):
    _, cache = forward(np.zeros((2, 3, 6, 6)), {"pool_height": 3, "pool_width": 2, "stride": (3, 2)})
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(N, C, H_out, W_out\) = "
                                         r"\(2, 3, 2, 3\), got \(2, 3, 3, 2\)"):
        backward(np.zeros((2, 3, 3, 2)), cache)
    with pytest.raises(TypeError, match="dout must be float32 or float64"):
        backward(np.zeros((2, 3, 2, 3), dtype=int), cache)


@pytest.mark.parametrize("forward, backward", ALL_POOLS, ids=["max-naive", "max-fast", "avg-naive", "avg-fast"])
@pytest.mark.parametrize("pool_param, message", UNKNOWN_KEYS)
def test_unknown_keys_are_named(forward, backward, pool_param, message):
    """Forward and backward (a cache whose pool_param gained a key) both name the key and the accepted ones."""
    accepted = MAX_KEYS + ("$" if (forward, backward) in MAX_POOLS else ", 'count_include_pad'$")
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError, match=rf"^pool_param has {message}.*; {accepted}"):
        forward(x, pool_param)
    out, cache = forward(x, GOOD_PARAM)
    with pytest.raises(ValueError, match=rf"^pool_param has {message}"):
        backward(np.zeros_like(out), (x, pool_param, *cache[2:]))


@pytest.mark.parametrize("forward", [f for f, _ in MAX_POOLS], ids=["naive", "fast"])
def test_count_include_pad_is_for_average_pooling_only(forward):
    with pytest.raises(ValueError, match=r"pool_param has unknown key 'count_include_pad'; " + MAX_KEYS + "$"):
        forward(np.zeros((1, 1, 4, 4)), dict(GOOD_PARAM, count_include_pad=False))


@pytest.mark.parametrize("forward", [f for f, _ in AVG_POOLS], ids=["naive", "fast"])
def test_count_include_pad_must_be_a_bool(forward):
    with pytest.raises(TypeError, match=r"pool_param\['count_include_pad'\] must be True or False, got 0"):
        forward(np.zeros((1, 1, 4, 4)), dict(GOOD_PARAM, count_include_pad=0))
