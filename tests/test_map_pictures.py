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
