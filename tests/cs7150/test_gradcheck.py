"""cs7150.gradcheck: relative error, central differences, the worst-element report."""
import numpy as np
import pytest

from cs7150.gradcheck import (
    GradReport,
    check_gradient,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    numeric_gradient,
    rel_error,
    worst_element,
)


def test_rel_error_definition():
    a = np.array([1.0, -2.0, 0.0])
    b = np.array([1.0, -2.5, 0.0])
    # max |a - b| / max (|a| + |b|) = 0.5 / 4.5
    assert rel_error(a, b) == pytest.approx(0.5 / 4.5, rel=1e-15)
    assert rel_error(a, a) == 0.0
    assert rel_error(b, a) == rel_error(a, b)


def test_rel_error_zeros_and_tiny_entries():
    assert rel_error(np.zeros((2, 3)), np.zeros((2, 3))) == 0.0
    assert rel_error(np.zeros(0), np.zeros(0)) == 0.0
    assert rel_error(np.zeros(3), np.array([0.0, 1e-30, 0.0])) == 1.0  # all the signal disagrees
    # a near-zero entry that differs in relative terms does not dominate large, equal entries
    assert rel_error(np.array([1.0, 1e-20]), np.array([1.0, 2e-20])) < 1e-19


def test_rel_error_non_finite_and_shapes():
    assert rel_error(np.array([1.0, np.nan]), np.array([1.0, 1.0])) == np.inf
    assert rel_error(np.array([np.inf]), np.array([np.inf])) == np.inf
    with pytest.raises(ValueError, match=r"\(2,\) and \(3,\)"):
        rel_error(np.zeros(2), np.zeros(3))


def test_numeric_gradient_scalar_function():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    grad = numeric_gradient(lambda v: np.sum(np.sin(v) * v), x)
    assert rel_error(grad, np.cos(x) * x + np.sin(x)) < 1e-9


def test_numeric_gradient_with_upstream_gradient():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3))
    w = rng.standard_normal((3, 5))
    dout = rng.standard_normal((2, 5))
    dx = numeric_gradient(lambda v: v @ w, x, dout)
    assert rel_error(dx, dout @ w.T) < 1e-9
    assert np.array_equal(eval_numerical_gradient_array(lambda v: v @ w, x, dout), dx)


def test_numeric_gradient_through_a_closure_restores_x_exactly():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((2, 2, 3)) * 10 + 1e-7  # values whose +h/-h round-trips are inexact
    original = w.copy()
    grad = eval_numerical_gradient(lambda _: np.sum(w ** 2), w)  # f ignores its argument
    assert rel_error(grad, 2 * w) < 1e-9
    assert np.array_equal(w, original)


def test_numeric_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0])

    def f(v):
        if v[0] != 1.0:
            raise RuntimeError("boom")
        return v.sum()

    with pytest.raises(RuntimeError, match="boom"):
        numeric_gradient(f, x)
    assert np.array_equal(x, [1.0, 2.0])


def test_numeric_gradient_copies_a_returned_buffer():
    buffer = np.zeros(2)

    def f(v):  # returns (and overwrites) the same array every call
        buffer[:] = 3 * v
        return buffer

    assert rel_error(numeric_gradient(f, np.array([1.0, 2.0]), np.ones(2)), [3.0, 3.0]) < 1e-9


def test_numeric_gradient_rejects_float32_and_non_arrays():
    with pytest.raises(TypeError, match="float64"):
        numeric_gradient(np.sum, np.ones(3, dtype=np.float32))
    with pytest.raises(TypeError, match="float64"):
        numeric_gradient(np.sum, [1.0, 2.0])


def test_numeric_gradient_shape_errors():
    with pytest.raises(ValueError, match="pass df"):
        numeric_gradient(lambda v: v * 2, np.ones(3))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        numeric_gradient(lambda v: v * 2, np.ones(3), np.ones(2))


def test_worst_element_report():
    analytic = np.zeros((2, 3, 4, 5))
    numeric = analytic.copy()
    analytic[0, 2, 1, 3] = 0.1234
    numeric[0, 2, 1, 3] = 0.1235
    report = worst_element(analytic, numeric)
    assert report.index == (0, 2, 1, 3)
    assert (report.analytic, report.numeric) == (0.1234, 0.1235)
    assert report.rel_error == rel_error(analytic, numeric)
    assert str(report) == (
        f"max rel error {report.rel_error:.2g} at index (0, 2, 1, 3): analytic 0.1234, numeric 0.1235"
    )
    assert "\n" not in str(report)


def test_worst_element_points_at_nan():
    report = worst_element(np.array([1.0, np.nan, 3.0]), np.array([1.5, 2.0, 3.0]))
    assert report.index == (1,) and report.rel_error == np.inf


def test_check_gradient_passes_a_correct_gradient():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3))
    dout = rng.standard_normal((4, 3))
    report = check_gradient(np.tanh, x, (1 - np.tanh(x) ** 2) * dout, dout)
    assert isinstance(report, GradReport)
    assert report.rel_error < 1e-9, report


def test_check_gradient_catches_a_wrong_gradient():
    """A ReLU backward that forgets the mask at one element must be caught and located."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4))
    x[1, 2] = -0.7
    dout = rng.standard_normal((3, 4))
    wrong = dout * (x > 0)
    wrong[1, 2] = dout[1, 2]  # gradient leaks through a negative input
    report = check_gradient(lambda v: np.maximum(v, 0), x, wrong, dout)
    assert report.rel_error > 1e-2
    assert report.index == (1, 2)
    assert report.analytic == dout[1, 2] and abs(report.numeric) < 1e-12


def test_check_gradient_shape_mismatch():
    with pytest.raises(ValueError, match="analytic gradient has shape"):
        check_gradient(np.sum, np.ones((2, 2)), np.ones(4))


def test_worst_element_of_scalars():
    report = worst_element(1.0, 1.5)
    assert report.index == () and report.analytic == 1.0 and report.numeric == 1.5
