"""The lecture's worked numbers and claims, checked with cs7150's own functions (and PyTorch)."""
import io

import numpy as np
import pytest
import torch

from cs7150.gradcheck import rel_error
from cs7150.layers import affine_forward, conv_forward_fast
from cs7150.shapes import LENET5, conv_macs, conv_output_size, conv_params, receptive_field, summarize


def conv_out_shape(size, kernel, pad=0, stride=1, channels=1, filters=1):
    """Output shape of cs7150's fast convolution on a square float64 input, and PyTorch's."""
    x = np.zeros((1, channels, size, size))
    w = np.zeros((filters, channels, kernel, kernel))
    out, _ = conv_forward_fast(x, w, np.zeros(filters), {"stride": stride, "pad": pad})
    expected = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), stride=stride, padding=pad)
    assert out.shape == tuple(expected.shape)
    return out.shape[1:]


# --- output sizes ---------------------------------------------------------------------------------


def test_7x7_input_3x3_filter_gives_5x5():
    assert conv_output_size(7, 3) == 5
    assert conv_out_shape(7, 3) == (1, 5, 5)


def test_stride_2_gives_3x3():
    assert conv_output_size(7, 3, stride=2) == 3
    assert conv_out_shape(7, 3, stride=2) == (1, 3, 3)


def test_pad_1_keeps_7x7():
    assert conv_output_size(7, 3, pad=1) == 7
    assert conv_out_shape(7, 3, pad=1) == (1, 7, 7)


def test_stride_3_does_not_fit_evenly_and_is_floored():
    assert (7 - 3) % 3 != 0  # (W - K) / S + 1 = 4/3 + 1 = 2.33...
    assert conv_output_size(7, 3, stride=3) == 2 == (7 - 3) // 3 + 1
    assert conv_out_shape(7, 3, stride=3) == (1, 2, 2)  # the last column and row are never visited


@pytest.mark.parametrize("kernel", [1, 3, 5, 7, 9])
@pytest.mark.parametrize("size", [9, 28, 32])
def test_same_padding_keeps_the_size_for_odd_kernels(kernel, size):
    pad = (kernel - 1) // 2
    assert conv_output_size(size, kernel, pad) == size
    assert conv_out_shape(size, kernel, pad) == (1, size, size)


def test_same_padding_is_not_an_integer_for_even_kernels():
    assert (4 - 1) / 2 != (4 - 1) // 2
    assert conv_output_size(32, 4, pad=1) == 31 and conv_output_size(32, 4, pad=2) == 33


# --- 3 x 32 x 32 input, ten 5x5 filters, pad 2 ---------------------------------------------------


def test_ten_5x5_filters_on_3x32x32():
    assert conv_out_shape(32, 5, pad=2, channels=3, filters=10) == (10, 32, 32)
    assert conv_params(3, 10, 5) == 760 == 10 * (3 * 5 * 5) + 10
    assert conv_macs(3, 10, 5, 32) == 768_000 == 10 * 32 * 32 * (3 * 5 * 5)
    w, b = np.zeros((10, 3, 5, 5)), np.zeros(10)
    assert w.size + b.size == 760


# --- receptive field -----------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", [3, 5])
def test_receptive_field_grows_linearly(kernel):
    fields = [receptive_field([(kernel, 1, 1)] * depth) for depth in range(1, 6)]
    assert fields == [1 + depth * (kernel - 1) for depth in range(1, 6)]
    if kernel == 3:
        assert fields == [3, 5, 7, 9, 11]


# --- LeNet-5 ------------------------------------------------------------------------------------


def test_lenet5_table():
    out = io.StringIO()
    rows = summarize(LENET5, (1, 28, 28), file=out)
    table = [(r["layer"], r["output_size"], r["weight_size"]) for r in rows[:-1]]
    assert table == [
        ("Input", "1 x 28 x 28", ""),
        ("Conv (C_out=20, K=5, P=2, S=1)", "20 x 28 x 28", "20 x 1 x 5 x 5"),
        ("ReLU", "20 x 28 x 28", ""),
        ("MaxPool (K=2, S=2)", "20 x 14 x 14", ""),
        ("Conv (C_out=50, K=5, P=2, S=1)", "50 x 14 x 14", "50 x 20 x 5 x 5"),
        ("ReLU", "50 x 14 x 14", ""),
        ("MaxPool (K=2, S=2)", "50 x 7 x 7", ""),
        ("Flatten", "2450", ""),
        ("Linear (2450 -> 500)", "500", "2450 x 500"),
        ("ReLU", "500", ""),
        ("Linear (500 -> 10)", "10", "500 x 10"),
    ]
    assert rows[-1]["params"] == 520 + 25_050 + 1_225_500 + 5_010 == 1_256_080
    assert "Linear (2450 -> 500)" in out.getvalue() and "2450 x 500" in out.getvalue()


# --- equivalences -----------------------------------------------------------------------------------


def equivalent_conv(w1, b1, w2, b2):
    """One convolution equal to conv(conv(x, w1, b1), w2, b2) (stride 1, no padding, no nonlinearity).

    Convolution here is cross-correlation, so the combined kernel is the *full* 2-D convolution of
    w2 with w1, summed over the middle channels: W[f, c, p+r, q+s] += w2[f, m, p, q] * w1[m, c, r, s],
    a kernel of size K1 + K2 - 1. The first bias passes through the second filter's weights.
    """
    F, M, K2, _ = w2.shape
    _, C, K1, _ = w1.shape
    w = np.zeros((F, C, K1 + K2 - 1, K1 + K2 - 1))
    for p, q in np.ndindex(K2, K2):
        w[:, :, p:p + K1, q:q + K1] += np.einsum("fm,mcrs->fcrs", w2[:, :, p, q], w1)
    b = b2 + np.einsum("fmpq,m->f", w2, b1)
    return w, b


@pytest.mark.parametrize("K1, K2, C, M, F", [(3, 3, 1, 1, 1), (3, 5, 2, 4, 3), (1, 3, 3, 2, 2), (5, 2, 2, 3, 1)])
def test_two_linear_convs_are_one_conv(K1, K2, C, M, F):
    rng = np.random.default_rng(K1 * 10 + K2)
    x = rng.standard_normal((2, C, 11, 12))
    w1, b1 = rng.standard_normal((M, C, K1, K1)), rng.standard_normal(M)
    w2, b2 = rng.standard_normal((F, M, K2, K2)), rng.standard_normal(F)
    no_pad = {"stride": 1, "pad": 0}
    hidden, _ = conv_forward_fast(x, w1, b1, no_pad)
    two_layers, _ = conv_forward_fast(hidden, w2, b2, no_pad)
    w, b = equivalent_conv(w1, b1, w2, b2)
    assert w.shape[2:] == (K1 + K2 - 1, K1 + K2 - 1)
    one_layer, _ = conv_forward_fast(x, w, b, no_pad)
    assert one_layer.shape == two_layers.shape
    assert rel_error(one_layer, two_layers) < 1e-10


def test_fc_layer_is_a_conv_covering_the_input():
    rng = np.random.default_rng(0)
    N, C, H, W, F = 3, 50, 7, 7, 10  # LeNet-5's pool2 output into a 10-way layer
    x = rng.standard_normal((N, C, H, W))
    w_fc, b = rng.standard_normal((C * H * W, F)), rng.standard_normal(F)  # (in, out)
    fc_out, _ = affine_forward(x, w_fc, b)  # (N, F)
    w_conv = w_fc.T.reshape(F, C, H, W)  # each output unit's weights as one filter
    conv_out, _ = conv_forward_fast(x, w_conv, b, {"stride": 1, "pad": 0})  # (N, F, 1, 1)
    assert conv_out.shape == (N, F, 1, 1)
    assert rel_error(conv_out.reshape(N, F), fc_out) < 1e-10


def test_1x1_conv_is_a_per_pixel_fc_layer():
    rng = np.random.default_rng(1)
    N, C, H, W, F = 2, 6, 5, 4, 3
    x = rng.standard_normal((N, C, H, W))
    w, b = rng.standard_normal((F, C, 1, 1)), rng.standard_normal(F)
    conv_out, _ = conv_forward_fast(x, w, b, {"stride": 1, "pad": 0})  # (N, F, H, W)
    pixels = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)  # one row per pixel
    fc_out, _ = affine_forward(pixels, w[:, :, 0, 0].T, b)  # (N*H*W, F)
    assert rel_error(conv_out, fc_out.reshape(N, H, W, F).transpose(0, 3, 1, 2)) < 1e-10


# --- statements of the demos and the assignment-1 notebook -----------------------------------------


@pytest.mark.parametrize("k", [2, 3, 8])
def test_average_pooling_keeps_the_mean_of_the_pixels_its_windows_cover(k):
    """The pooling demo: the pooled mean is the covered pixels' mean, the whole map's only when k divides both sides."""
    from cs7150.layers import avg_pool_forward_fast

    x = np.random.default_rng(k).random((1, 1, 20, 18))
    out, _ = avg_pool_forward_fast(x, {"pool_height": k, "pool_width": k, "stride": k})
    covered = x[..., :20 // k * k, :18 // k * k]
    assert rel_error(out.mean(), covered.mean()) < 1e-12
    assert (rel_error(out.mean(), x.mean()) < 1e-12) == (20 % k == 0 and 18 % k == 0)


@pytest.mark.parametrize("stride", [1, 2, 3, 4])
@pytest.mark.parametrize("pad", [0, 1, 2])
@pytest.mark.parametrize("kernel", [1, 2, 3, 5])
def test_the_slides_ceil_form_is_the_floor_form(kernel, pad, stride):
    """Section 1: ceil((W - K + 1 + 2P) / S) == floor((W - K + 2P) / S) + 1 for every integer size the kernel fits."""
    for size in range(max(1, kernel - 2 * pad), 40):
        assert -(-(size - kernel + 1 + 2 * pad) // stride) == conv_output_size(size, kernel, pad, stride)


def test_lenet5_volumes_of_the_slide():
    """Section 7c: the activations' volumes behind "spatial size decreases, channels increase"."""
    rows = summarize(LENET5, (1, 28, 28), file=io.StringIO())
    volumes = [int(np.prod([int(n) for n in r["output_size"].split(" x ")])) for r in rows[:-1]
               if r["layer"].startswith(("Input", "Conv", "MaxPool"))]
    assert volumes == [784, 15_680, 3_920, 9_800, 2_450]


@pytest.mark.parametrize("kernel, pad, stride, side", [(3, 1, 1, 32), (5, 2, 1, 32), (1, 0, 1, 32), (3, 1, 2, 16)])
def test_common_settings_of_the_summary_slide(kernel, pad, stride, side):
    """Section 7d: 'same' padding keeps the size, stride 2 halves it."""
    assert conv_output_size(32, kernel, pad, stride) == side
    assert conv_out_shape(32, kernel, pad, stride) == (1, side, side)


# --- assignment 1, sections 2, 8 and 9, and the receptive-field demo ---------------------------------


def _paths_1d(kernels_dilations, size=64):
    """Gradient of the centre unit of a stack of all-ones 1-D convolutions w.r.t. the input: paths per pixel."""
    x = torch.zeros(1, 1, size, dtype=torch.float64, requires_grad=True)
    y = x
    for kernel, dilation in kernels_dilations:
        y = torch.nn.functional.conv1d(y, torch.ones(1, 1, kernel, dtype=torch.float64), dilation=dilation)
    y[0, 0, y.shape[2] // 2].backward()
    support = np.flatnonzero(x.grad[0, 0].numpy())
    return x.grad[0, 0].numpy()[support[0]:support[-1] + 1]


def test_three_3x3_convs_see_what_one_7x7_sees_with_27_weights_instead_of_49():
    """Section 2: 'Three 3x3 convolutions see 7x7, like one 7x7 convolution, with 3 * 9 = 27 instead of 49 weights'."""
    assert receptive_field([(3, 1, 1)] * 3) == receptive_field([(7, 1, 1)]) == 7
    assert 3 * conv_params(1, 1, 3, bias=False) == 27 and conv_params(1, 1, 7, bias=False) == 49


def test_a_2x2_pool_doubles_the_growth_of_every_later_layer():
    """Section 2 and the receptive-field demo: a 2x2 stride-2 pool doubles the jump."""
    for pools in range(3):
        below = [(3, 1, 1), (2, 2, 1)] * pools
        growth = receptive_field(below + [(3, 1, 1)]) - receptive_field(below)
        assert growth == 2 * 2 ** pools


def test_doubling_dilations_grow_the_field_exponentially():
    """Section 9 and the receptive-field demo: 3x3 kernels with dilations 1, 2, 4, 8 see 3, 7, 15, 31; one dilated
    kernel sees D (K - 1) + 1 with the same parameters."""
    assert [receptive_field([(3, 1, 2 ** i) for i in range(depth)]) for depth in range(1, 5)] == [3, 7, 15, 31]
    for kernel, dilation in [(3, 2), (3, 3), (5, 2)]:
        assert receptive_field([(kernel, 1, dilation)]) == dilation * (kernel - 1) + 1


def test_stacked_convs_weigh_the_centre_most_and_dilated_ones_draw_a_lattice():
    """Section 2's picture: the gradient counts paths; the centre is the maximum for stride-1 3x3 stacks, and
    reached by one path only (its neighbours by 3) for dilations 1, 2, 4."""
    for depth in (2, 3):
        paths = _paths_1d([(3, 1)] * depth)
        assert np.argmax(paths) == len(paths) // 2 and paths[0] < paths[len(paths) // 2]
    paths = _paths_1d([(3, 1), (3, 2), (3, 4)])
    centre = len(paths) // 2
    assert len(paths) == 15 and paths[centre] == 1 and paths[centre - 1] == paths[centre + 1] == 3


def test_a_3x3x3_kernel_has_27_taps_three_times_a_3x3_kernel():
    """Section 9: 'K_D K_H K_W taps per channel: 27 for 3x3x3, three times a 3x3 kernel'."""
    assert conv_params(1, 1, (3, 3, 3), bias=False) == 27 == 3 * conv_params(1, 1, (3, 3), bias=False)


@pytest.mark.parametrize("groups", [1, 2, 4, 8])
def test_groups_shrink_the_weights_and_macs_g_times_not_the_biases(groups):
    """Section 9: grouped convolution, 8 channels, 3x3: weights and MACs / G; the 8 biases stay."""
    assert conv_params(8, 8, 3, groups=groups, bias=False) * groups == conv_params(8, 8, 3, bias=False)
    assert conv_macs(8, 8, 3, 16, groups=groups) * groups == conv_macs(8, 8, 3, 16)
    assert conv_params(8, 8, 3, groups=groups) - conv_params(8, 8, 3, groups=groups, bias=False) == 8


def test_two_box_blurs_make_a_tent_and_sobel_is_smoothing_times_difference():
    """Section 8a: 'Two 3x3 box blurs make one 5x5 tent filter'; 'Sobel itself is a [1, 2, 1] smoothing composed
    with a [-1, 0, 1] difference'."""
    box = np.ones((1, 1, 3, 3)) / 9
    tent, _ = equivalent_conv(box, np.zeros(1), box, np.zeros(1))
    profile = np.array([1, 2, 3, 2, 1]) / 9
    assert np.allclose(tent[0, 0], np.outer(profile, profile))
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    assert np.array_equal(np.outer([1, 2, 1], [-1, 0, 1]), sobel)


def test_lenet5_fc1_is_a_50x7x7_convolution_with_500_filters():
    """Section 8b: fc1 reads the 50 x 7 x 7 maps of the last pool and has 500 outputs."""
    rows = summarize(LENET5, (1, 28, 28), file=io.StringIO())
    layers = [r["layer"] for r in rows]
    pool = rows[layers.index("Flatten") - 1]
    assert pool["output_size"] == "50 x 7 x 7" and "Linear (2450 -> 500)" in layers


def test_a_difference_filter_with_dilation_8_compares_points_16_apart():
    """Section 9, 1-D: '[-1, 0, 1] ... with dilation 8 (the dilated one compares points 16 apart)'."""
    impulse = torch.zeros(1, 1, 41, dtype=torch.float64)
    impulse[0, 0, 20] = 1.0
    kernel = torch.tensor([[[-1.0, 0.0, 1.0]]], dtype=torch.float64)
    response = torch.nn.functional.conv1d(impulse, kernel, padding=8, dilation=8)[0, 0].numpy()
    assert np.flatnonzero(response).tolist() == [12, 28]  # the outputs 8 before and 8 after: 16 apart
