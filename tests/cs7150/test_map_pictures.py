"""Pictures of a wrong feature map: cs7150.plots.plot_map_difference, and cs7150.oracle showing it in a notebook."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from cs7150 import oracle
from cs7150.plots import map_slice, plot_map_difference, png_data_uri


def _maps():
    rng = np.random.default_rng(0)
    expected = rng.standard_normal((2, 3, 8, 8))
    shifted = expected.copy()
    shifted[1, 2] = np.roll(expected[1, 2], 1, axis=1)
    return expected, shifted


def test_the_map_shown_is_the_worst_sample_and_channel():
    expected, shifted = _maps()
    index, want, got = map_slice(expected, shifted)
    assert index == (1, 2) and np.array_equal(want, expected[1, 2]) and np.array_equal(got, shifted[1, 2])
    assert map_slice(expected, shifted[:, :, 1:-1, 1:-1])[0] == (0, 0), "other shapes: the first map of each"
    with pytest.raises(ValueError, match=r"yours must have shape \(N, C, H, W\)"):
        map_slice(expected, shifted[0])


def test_the_picture_has_three_panels_or_two_for_a_wrong_size_and_is_a_few_kb():
    expected, shifted = _maps()
    assert len(plot_map_difference(expected, shifted).axes) == 4  # expected, yours, difference and its colour bar
    assert len(plot_map_difference(expected, shifted[:, :, 2:, 2:]).axes) == 2
    uri = png_data_uri(plot_map_difference(expected, shifted, "dx"))
    assert uri.startswith("data:image/png;base64,") and len(uri) < 16_000


def test_assert_close_shows_a_wrong_map_only_in_a_kernel(monkeypatch):
    expected, shifted = _maps()
    shown = []
    assert not oracle.show_wrong_map("out", shifted, expected), "outside a kernel: no picture"
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: types.SimpleNamespace(kernel=object())
    display = types.ModuleType("IPython.display")
    display.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython", fake)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    with pytest.raises(AssertionError, match="relative error"):
        oracle.assert_close("conv_forward_naive(x (2, 3, 8, 8)): out", shifted, expected)
    with pytest.raises(AssertionError, match="has shape"):
        oracle.assert_close("out", shifted[:, :, 1:-1, 1:-1], expected)
    oracle.assert_close("out", expected, expected.copy())
    oracle.assert_close("a vector", np.ones(3), np.ones(3))
    with pytest.raises(AssertionError):
        oracle.assert_close("a vector", np.ones(3), np.zeros(3))
    assert len(shown) == 2, "one picture per failing 4-D comparison, none for vectors or passing ones"
    assert shown[0].axes[0].get_title() == "expected out[1, 2]"


# --- the picture beside a failing check: the student's function on the letter F, not on random data ------------

from cs7150 import probes  # noqa: E402
from cs7150.layers import conv_forward_naive, max_pool_backward_naive, max_pool_forward_naive  # noqa: E402

RNG = np.random.default_rng(21)
X, W, B = RNG.standard_normal((2, 3, 7, 7)), RNG.standard_normal((4, 3, 3, 3)), RNG.standard_normal(4)


def _flipped(x, w, b, p):
    return conv_forward_naive(x, w[:, :, ::-1, ::-1].copy(), b, p)


def _one_sided(x, w, b, p):  # 2 * pad zeros before each axis, none after
    return conv_forward_naive(np.pad(x, ((0, 0), (0, 0), (2 * p["pad"], 0), (2 * p["pad"], 0))), w, b, {**p, "pad": 0})


def _stride_ignored(x, w, b, p):  # every window moved by 1, the output still of the strided size
    out, cache = conv_forward_naive(x, w, b, p)
    return conv_forward_naive(x, w, b, {**p, "stride": 1})[0][:, :, :out.shape[2], :out.shape[3]], cache


def _in_a_kernel(monkeypatch) -> list:
    shown = []
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: types.SimpleNamespace(kernel=object())
    fake.version_info = (8, 30)
    display = types.ModuleType("IPython.display")
    display.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython", fake)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    return shown


def test_the_letter_f_is_asymmetric_and_needs_five_pixels():
    f = probes.letter_f(16, 16)
    assert set(np.unique(f)) == {0.0, 1.0}
    for mirrored in (f[::-1], f[:, ::-1], f[::-1, ::-1], f.T):
        assert not np.array_equal(mirrored, f)
    with pytest.raises(ValueError, match="at least 5 x 5"):
        probes.letter_f(4, 9)


def test_the_probe_is_the_letter_f_with_a_two_tap_kernel_and_the_cases_parameters():
    inputs, maps = oracle.probe_conv(conv_forward_naive, None, X.shape, W.shape, {"stride": 2, "pad": 1})
    x, w = inputs["x"], inputs["w"]
    assert x.shape == (1, 3, 32, 32), "16 pixels times the stride: the output shows a 16-pixel F"
    assert all(np.array_equal(x[0, c], probes.letter_f(32, 32)) for c in range(3))
    assert w.shape == W.shape and np.count_nonzero(w[0, 0]) == 2 and w[0, 0, 0, 0] == 2 * w[0, 0, -1, -1]
    expected, yours = maps["out"]
    assert expected.shape == (1, 4, 16, 16) and np.allclose(expected, yours)


def test_a_flipped_kernel_gives_the_expected_map_of_the_flipped_kernel():
    inputs, maps = oracle.probe_conv(_flipped, None, X.shape, W.shape, {"stride": 1, "pad": 1})
    x, w, b = inputs["x"], inputs["w"], inputs["b"]
    expected, yours = maps["out"]
    assert np.allclose(yours, oracle.torch_conv(x, w[:, :, ::-1, ::-1].copy(), b, {"stride": 1, "pad": 1}))
    assert not np.allclose(yours, expected)


def test_padding_on_one_side_moves_the_letter():
    inputs, maps = oracle.probe_conv(_one_sided, None, X.shape, W.shape, {"stride": 2, "pad": 1})
    x, w, b = inputs["x"], inputs["w"], inputs["b"]
    expected, yours = maps["out"]
    moved = np.pad(x, ((0, 0), (0, 0), (2, 0), (2, 0)))
    assert np.allclose(yours, oracle.torch_conv(moved, w, b, {"stride": 2, "pad": 0}))
    assert not np.allclose(yours, expected)


def test_stride_ignored_shows_the_unshrunk_letter():
    params = {"stride": 2, "pad": 1}
    inputs, maps = oracle.probe_conv(_stride_ignored, None, X.shape, W.shape, params)
    expected, yours = maps["out"]
    stride_one = oracle.torch_conv(inputs["x"], inputs["w"], inputs["b"], {**params, "stride": 1})
    assert np.allclose(yours, stride_one[:, :, :16, :16]) and not np.allclose(yours, expected)


@pytest.mark.parametrize("planted, params", [(_flipped, {"stride": 1, "pad": 1}), (_one_sided, {"stride": 2, "pad": 1}),
                                             (_stride_ignored, {"stride": 2, "pad": 1})])
def test_a_failing_check_shows_the_students_map_on_the_letter_f(monkeypatch, planted, params):
    shown = _in_a_kernel(monkeypatch)
    with pytest.raises(AssertionError, match="likely mistake"):
        oracle.check_conv(planted, None, X, W, B, params)
    assert len(shown) == 1
    figure = shown[0]
    assert "on the letter F" in figure.texts[0].get_text() and planted.__name__ in figure.texts[0].get_text()
    _, maps = oracle.probe_conv(planted, None, X.shape, W.shape, params)
    expected, yours = maps["out"]
    n, c = map_slice(expected, yours)[0]
    assert np.array_equal(figure.axes[0].images[0].get_array(), expected[n, c])
    assert np.array_equal(figure.axes[1].images[0].get_array(), yours[n, c])


def test_a_mistake_the_letter_does_not_show_falls_back_to_the_failing_cases_map(monkeypatch):
    """Every tied maximum gets the gradient: the probe is tie-free, so the tie case's own map is shown."""
    shown = _in_a_kernel(monkeypatch)
    x = np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 2.0], [3.0, 1.0, 2.0]]]])

    def every_tie(dout, cache):
        x, p = cache
        dx = np.zeros_like(x)
        for n, c, i, j in np.ndindex(*dout.shape):
            window = x[n, c, i:i + 2, j:j + 2]
            dx[n, c, i:i + 2, j:j + 2] += (window == window.max()) * dout[n, c, i, j]
        return dx

    with pytest.raises(AssertionError, match="likely mistake: max-pool gradient sent to every tied maximum"):
        oracle.check_pool("max", max_pool_forward_naive, every_tie, x, {"pool_height": 2, "pool_width": 2, "stride": 1},
                          dout=np.ones((1, 1, 2, 2)))
    assert len(shown) == 1 and "random data" in shown[0].texts[0].get_text()
    assert shown[0].axes[1].images[0].get_array().shape == (3, 3), "the failing case's own dx"


def test_a_right_pool_on_the_probe_matches():
    _, maps = oracle.probe_pool("max", max_pool_forward_naive, max_pool_backward_naive, (2, 2, 7, 7),
                                {"pool_height": 2, "pool_width": 2, "stride": 2})
    for expected, yours in maps.values():
        assert expected.shape == yours.shape and np.allclose(expected, yours)


def test_probes_are_2d_only_and_dout_is_the_letter_where_it_fits():
    with pytest.raises(ValueError, match=r"a 2-D probe needs x \(N, C, H, W\)"):
        probes.conv_probe((2, 3, 20), (4, 3, 5), {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match="a pooling probe needs x"):
        probes.pool_probe((2, 3, 20), {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert np.array_equal(probes.output_probe((1, 2, 8, 9))[0, 1], probes.letter_f(8, 9))
    assert np.array_equal(probes.output_probe((1, 1, 3, 3)), np.ones((1, 1, 3, 3)))
    x = probes.pool_probe((2, 3, 7, 7), {"pool_height": 2, "pool_width": 2, "stride": 3})
    assert x.shape == (1, 3, 48, 48) and np.unique(x[0, 0]).size == x[0, 0].size, "tie-free, 16 pixels times the stride"
