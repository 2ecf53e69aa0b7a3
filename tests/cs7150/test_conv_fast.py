"""Fast convolution against PyTorch (F.conv1d/2d/3d and autograd) and against the naive loops.

Section 6's required core is the 2-D, batch-first, groups-1 path of ``conv_forward_fast`` /
``conv_backward_fast`` (``im2col``, ``col2im``); section 9's extension is the N-d, batch-last path with
groups (``im2col_nd``, ``col2im_nd``, ``conv_nd_*``) behind ``conv1d_*``, ``conv3d_*`` and 2-D groups > 1.
"""
import numpy as np
import pytest
from hypothesis import given, settings

from cs7150 import conv_fast
from cs7150.conv import conv_backward_naive, conv_forward_naive
from cs7150.conv_fast import (
    col2im,
    col2im_nd,
    conv1d_backward_fast,
    conv1d_forward_fast,
    conv3d_backward_fast,
    conv3d_forward_fast,
    conv_backward_fast,
    conv_forward_fast,
    im2col,
    im2col_nd,
)
from cs7150.gradcheck import rel_error
from cs7150.oracle import check_conv, torch_conv
from strategies import conv_cases

FAST = {1: (conv1d_forward_fast, conv1d_backward_fast), 2: (conv_forward_fast, conv_backward_fast),
        3: (conv3d_forward_fast, conv3d_backward_fast)}


@settings(max_examples=60, deadline=None)
@given(conv_cases(max_n=3, max_channels=6, max_size=10, max_kernel=5))
def test_fast_matches_torch(case):
    """Groups 1 (the 2-D core) and 2 (the extension's path)."""
    x, w, b, conv_param, dout = case
    originals = [a.copy() for a in case[:3]]
    check_conv(conv_forward_fast, conv_backward_fast, x, w, b, conv_param, dout=dout)
    for before, after in zip(originals, (x, w, b)):
        np.testing.assert_array_equal(before, after)  # inputs are not modified


@settings(max_examples=60, deadline=None)
@given(conv_cases(max_n=5, max_channels=6, max_size=10, max_kernel=5, max_groups=1))
def test_core_matches_torch_across_batch_chunks(case):
    """The 2-D core (groups 1), one sample per batch chunk: every batch of 2 or more spans several chunks."""
    x, w, b, conv_param, dout = case
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv_fast, "CHUNK_BYTES", 1)
        assert len(conv_fast._batch_chunks(x.shape[0], bytes_per_sample=100)) == x.shape[0]
        check_conv(conv_forward_fast, conv_backward_fast, x, w, b, conv_param, dout=dout)


@settings(max_examples=40, deadline=None)
@given(conv_cases())
def test_fast_agrees_with_naive(case):
    x, w, b, conv_param, dout = case
    out_naive, cache_naive = conv_forward_naive(x, w, b, conv_param)
    out_fast, cache_fast = conv_forward_fast(x, w, b, conv_param)
    assert rel_error(out_fast, out_naive) < 1e-10
    for fast, naive in zip(conv_backward_fast(dout, cache_fast), conv_backward_naive(dout, cache_naive)):
        assert fast.shape == naive.shape
        assert rel_error(fast, naive) < 1e-10


def test_the_core_does_not_call_the_extension(monkeypatch):
    """Groups 1 needs only section 6's functions: with the extension stubbed the 2-D core still works."""
    def stub(*args, **kwargs):
        raise NotImplementedError("the extension")
    for name in ("im2col_nd", "col2im_nd", "conv_nd_forward", "conv_nd_backward"):
        monkeypatch.setattr(conv_fast, name, stub)
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((3, 4, 7, 6)), rng.standard_normal((5, 4, 3, 2)), rng.standard_normal(5)
    check_conv(conv_forward_fast, conv_backward_fast, x, w, b, {"stride": (2, 1), "pad": 1, "dilation": (1, 2)})
    with pytest.raises(NotImplementedError, match="the extension"):
        conv_forward_fast(x, rng.standard_normal((4, 2, 3, 3)), b[:4], {"stride": 1, "pad": 1, "groups": 2})


@settings(max_examples=40, deadline=None)
@given(conv_cases(nd=1, max_n=3, max_channels=6, max_size=12, max_kernel=5))
def test_conv1d_matches_torch(case):
    x, w, b, conv_param, dout = case
    check_conv(*FAST[1], x, w, b, conv_param, dout=dout)


@settings(max_examples=30, deadline=None)
@given(conv_cases(nd=3, max_size=6, max_kernel=3))
def test_conv3d_matches_torch(case):
    x, w, b, conv_param, dout = case
    check_conv(*FAST[3], x, w, b, conv_param, dout=dout)


@pytest.mark.parametrize("groups", [1, 2], ids=["groups1", "groups2"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_batch_chunks_give_the_whole_batch_result(nd, groups, monkeypatch):
    """Seven samples in chunks of 3, 3 and 1 in the extension (one sample per chunk in the 2-D core, groups 1)
    give PyTorch's results."""
    monkeypatch.setattr(conv_fast, "CHUNK_BYTES", 1)
    monkeypatch.setattr(conv_fast, "MIN_CHUNK", 3)
    assert conv_fast._batch_chunks(7, bytes_per_sample=100, min_chunk=3) == [slice(0, 3), slice(3, 6), slice(6, 7)]
    rng = np.random.default_rng(7 + nd)
    x = rng.standard_normal((7, 4, *(6,) * nd))
    w = rng.standard_normal((6, 4 // groups, *(3,) * nd))
    b = rng.standard_normal(6)
    conv_param = {"stride": 2, "pad": 1, "dilation": 1, "groups": groups}
    dout = rng.standard_normal((7, 6, *(3,) * nd))
    check_conv(*FAST[nd], x, w, b, conv_param, dout=dout)


@pytest.mark.parametrize("groups", [1, 2], ids=["groups1", "groups2"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_same_padding_with_even_kernels_across_batch_chunks(nd, groups, monkeypatch):
    """'same' with even and odd D*(K - 1) per axis (the extra zero after), seven samples in several chunks."""
    monkeypatch.setattr(conv_fast, "CHUNK_BYTES", 1)
    monkeypatch.setattr(conv_fast, "MIN_CHUNK", 3)
    rng = np.random.default_rng(11 + nd)
    kernel, dilation = (4, 3, 2)[:nd], (1, 2, 3)[:nd]  # D*(K - 1) = 3, 4, 3: odd, even, odd
    x = rng.standard_normal((7, 2, *(5, 6, 4)[:nd]))
    w = rng.standard_normal((4, 2 // groups, *kernel))
    conv_param = {"stride": 1, "pad": "same", "dilation": dilation, "groups": groups}
    out, _ = FAST[nd][0](x, w, np.zeros(4), conv_param)
    assert out.shape == (7, 4, *x.shape[2:])
    check_conv(*FAST[nd], x, w, rng.standard_normal(4), conv_param, dout=rng.standard_normal(out.shape))


def test_batch_chunks_hold_about_chunk_bytes_of_columns():
    """At least min_chunk samples (1 in the core; MIN_CHUNK in the extension, whose im2col_nd copies runs of a
    chunk's samples), at most the batch."""
    per_sample = conv_fast.CHUNK_BYTES // 20
    assert conv_fast._batch_chunks(128, per_sample)[0] == slice(0, 20)
    assert conv_fast._batch_chunks(128, conv_fast.CHUNK_BYTES)[0] == slice(0, 1)
    assert conv_fast._batch_chunks(128, conv_fast.CHUNK_BYTES, conv_fast.MIN_CHUNK)[0] == slice(0, conv_fast.MIN_CHUNK)
    assert conv_fast._batch_chunks(5, 1) == [slice(0, 5)]


@pytest.mark.parametrize("groups", [1, 2], ids=["groups1", "groups2"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_float32_matches_torch_float32(nd, groups):
    """A LeNet-like layer in float32 stays float32 and matches PyTorch within float32 rounding."""
    rng = np.random.default_rng(nd)
    x = rng.standard_normal((4, 6, *(9,) * nd), dtype=np.float32)
    w = rng.standard_normal((8, 6 // groups, *(3,) * nd), dtype=np.float32)
    b = rng.standard_normal(8, dtype=np.float32)
    conv_param = {"stride": 2, "pad": 1, "dilation": 1, "groups": groups}
    forward, backward = FAST[nd]
    out, cache = forward(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape, dtype=np.float32)
    ours = (out, *backward(dout, cache))
    expected = torch_conv(*(a.astype(np.float64) for a in (x, w, b)), conv_param, dout.astype(np.float64))
    for got, reference in zip(ours, expected):
        assert got.dtype == np.float32
        assert rel_error(got, reference) < 1e-5


def test_im2col_layout_and_col2im_adjoint():
    """The core's cols[c*HH*WW + p*WW + q, n*H_out*W_out + i*W_out + j] = x_padded[n, c, i*s_h + p*d_h, j*s_w + q*d_w],
    w.reshape(F, -1) @ cols is the convolution, and col2im is im2col's adjoint."""
    rng = np.random.default_rng(0)
    x_padded = rng.standard_normal((2, 3, 9, 8))  # (N, C, H_padded, W_padded)
    (HH, WW), stride, dilation = (2, 3), (2, 1), (3, 2)
    cols = im2col(x_padded, HH, WW, stride, dilation)
    # H_out = (9 - (3*(2-1)+1)) // 2 + 1 = 3, W_out = (8 - (2*(3-1)+1)) // 1 + 1 = 4
    assert cols.shape == (3 * 2 * 3, 2 * 3 * 4)
    for n, c, p, q, i, j in np.ndindex(2, 3, HH, WW, 3, 4):
        assert cols[c * HH * WW + p * WW + q, n * 12 + i * 4 + j] == x_padded[n, c, i * 2 + p * 3, j * 1 + q * 2]
    w = rng.standard_normal((4, 3, HH, WW))
    out = (w.reshape(4, -1) @ cols).reshape(4, 2, 3, 4).transpose(1, 0, 2, 3)
    expected = torch_conv(x_padded, w, np.zeros(4), {"stride": stride, "pad": 0, "dilation": dilation})
    assert rel_error(out, expected) < 1e-12
    dcols = rng.standard_normal(cols.shape)
    dx_padded = col2im(dcols, x_padded.shape, HH, WW, stride, dilation)
    assert dx_padded.shape == x_padded.shape
    # <im2col(x), dcols> == <x, col2im(dcols)>
    assert abs(np.sum(cols * dcols) - np.sum(x_padded * dx_padded)) < 1e-10 * np.sum(np.abs(cols * dcols))


def test_col2im_adds_where_windows_overlap():
    """The four 2x2 windows of a 3x3 input (stride 1) overlap: all-ones columns add up to the number of windows
    covering each pixel, 1 at the corners, 2 on the edges and 4 in the middle."""
    dx_padded = col2im(np.ones((4, 4)), (1, 1, 3, 3), 2, 2, (1, 1), (1, 1))  # (C*HH*WW, N*H_out*W_out) = (4, 4)
    np.testing.assert_array_equal(dx_padded[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_im2col_nd_layout_and_col2im_nd_adjoint():
    """The extension's cols[c, *k, *o, n] = x_padded[c, *(o*stride + k*dilation), n], and col2im_nd is its adjoint."""
    rng = np.random.default_rng(0)
    x_padded = rng.standard_normal((3, 9, 8, 2))  # (C, H_padded, W_padded, N)
    kernel, stride, dilation = (2, 3), (2, 1), (3, 2)
    cols = im2col_nd(x_padded, kernel, stride, dilation)
    # H_out = (9 - (3*(2-1)+1)) // 2 + 1 = 3, W_out = (8 - (2*(3-1)+1)) // 1 + 1 = 4
    assert cols.shape == (3, 2, 3, 3, 4, 2) and cols.flags.c_contiguous
    for c, kh, kw, i, j, n in np.ndindex(cols.shape):
        assert cols[c, kh, kw, i, j, n] == x_padded[c, i * 2 + kh * 3, j * 1 + kw * 2, n]
    dcols = rng.standard_normal(cols.shape)
    dx_padded = col2im_nd(dcols, x_padded.shape[1:-1], stride, dilation)
    assert dx_padded.shape == x_padded.shape
    # <im2col(x), dcols> == <x, col2im(dcols)>
    assert abs(np.sum(cols * dcols) - np.sum(x_padded * dx_padded)) < 1e-10 * np.sum(np.abs(cols * dcols))


@pytest.mark.parametrize(
    "nd, change, error, message",
    [
        (1, dict(x=np.zeros((2, 4, 6, 6))), ValueError, r"x must have 3 dimensions \(N, C, L\)"),
        (1, dict(conv_param={"stride": (1, 1), "pad": 0}), TypeError,
         r"conv_param\['stride'\] must be an int or a tuple of 1"),
        (1, dict(w=np.zeros((6, 4, 9))), ValueError, r"does not fit x of shape \(2, 4, 6\)"),
        (3, dict(w=np.zeros((6, 4, 3, 3))), ValueError, r"w must have 5 dimensions \(F, C // groups, KD, KH, KW\)"),
        (3, dict(conv_param={"stride": 1, "pad": (1, 1)}), TypeError,
         r"conv_param\['pad'\] must be an int or a tuple of 3"),
        (3, dict(b=np.zeros((6, 1))), ValueError, r"b must have 1 dimensions"),
        (1, dict(conv_param={"stride": 2, "pad": "same"}), ValueError, r"'same' needs stride 1"),
        (3, dict(conv_param={"stride": (1, 1, 2), "pad": "same"}), ValueError, r"'same' needs stride 1"),
        (1, dict(conv_param={"stride": 1, "padding": "same"}), ValueError,
         r"conv_param has unknown key 'padding' \(did you mean 'pad'\?\); it accepts 'stride', 'pad', 'dilation'"),
        (3, dict(conv_param={"stride": 1, "pad": 0, "dilation": 1, "output_padding": 0}), ValueError,
         r"conv_param has unknown key 'output_padding'"),
    ],
)
def test_bad_input_1d_3d(nd, change, error, message):
    good = dict(x=np.zeros((2, 4, *(6,) * nd)), w=np.zeros((6, 4, *(3,) * nd)), b=np.zeros(6),
                conv_param={"stride": 1, "pad": 0})
    with pytest.raises(error, match=message):
        FAST[nd][0](**{**good, **change})


@pytest.mark.parametrize("nd", [1, 3])
def test_bad_dout_1d_3d(nd):
    forward, backward = FAST[nd]
    out, cache = forward(np.zeros((2, 4, *(6,) * nd)), np.zeros((6, 4, *(3,) * nd)), np.zeros(6),
                         {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape"):
        backward(np.zeros((2, 6, *(5,) * nd)), cache)
