"""Softmax cross-entropy against PyTorch (F.cross_entropy, mean reduction, and autograd)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cs7150.loss import softmax_loss
from cs7150.gradcheck import numeric_gradient, rel_error


@settings(max_examples=50, deadline=None)
@given(N=st.integers(1, 6), C=st.integers(1, 6), scale=st.sampled_from([1.0, 10.0, 1000.0]),
       dtype=st.sampled_from([np.float64, np.float32]), seed=st.integers(0, 2**32 - 1))
def test_softmax_loss_matches_torch(N, C, scale, dtype, seed):
    """Scores up to +-1000 would overflow exp() without the shift by the row maximum."""
    rng = np.random.default_rng(seed)
    x = (scale * rng.standard_normal((N, C))).astype(dtype)
    y = rng.integers(0, C, N)
    loss, dx = softmax_loss(x, y)

    xt = torch.from_numpy(x).requires_grad_()
    loss_torch = F.cross_entropy(xt, torch.from_numpy(y))
    loss_torch.backward()
    assert isinstance(loss, float) and np.isfinite(loss)
    assert dx.shape == (N, C) and dx.dtype == dtype
    if dtype == np.float64:
        assert rel_error(loss, loss_torch.item()) < 1e-10
        assert rel_error(dx, xt.grad.numpy()) < 1e-10
    else:  # float32 rounding, measured against the scores' scale
        np.testing.assert_allclose(loss, loss_torch.item(), rtol=1e-5, atol=1e-6 * scale)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_softmax_loss_gradient_matches_numeric_gradient():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 5)), np.array([0, 4, 2, 2])
    _, dx = softmax_loss(x, y)
    assert rel_error(dx, numeric_gradient(lambda x: softmax_loss(x, y)[0], x)) < 1e-8


def test_uniform_scores_give_log_c():
    loss, dx = softmax_loss(np.zeros((3, 10)), np.array([1, 2, 3]))
    assert abs(loss - np.log(10)) < 1e-12
    np.testing.assert_allclose(dx.sum(axis=1), 0, atol=1e-15)


X = np.zeros((3, 4))
BAD_INPUTS = [
    (np.zeros(4), np.array([0]), ValueError, r"x must have 2 dimensions \(N, C\)"),
    (X.astype(int), np.array([0, 1, 2]), TypeError, "x must be float32 or float64"),
    (np.zeros((0, 4)), np.zeros(0, int), ValueError,
     r"x must have at least one sample and one class \(N, C\), got shape \(0, 4\)"),
    (X, np.array([0.0, 1.0, 2.0]), TypeError, r"y must be a numpy.ndarray of integer labels, shape \(N,\), got float64"),
    (X, [0, 1, 2], TypeError, "y must be a numpy.ndarray of integer labels"),
    (X, np.array([0, 1]), ValueError, r"y must have shape \(N,\) = \(3,\) for x of shape \(3, 4\), got \(2,\)"),
    (X, np.array([[0, 1, 2]]), ValueError, r"y must have shape \(N,\) = \(3,\)"),
    (X, np.array([0, 4, 1]), ValueError, r"labels y must lie in \[0, C\) = \[0, 4\), got values from 0 to 4"),
    (X, np.array([-1, 0, 1]), ValueError, r"labels y must lie in \[0, C\) = \[0, 4\), got values from -1 to 1"),
]


@pytest.mark.parametrize("x, y, error, message", BAD_INPUTS)
def test_softmax_loss_rejects_bad_input(x, y, error, message):
    with pytest.raises(error, match=message):
        softmax_loss(x, y)
