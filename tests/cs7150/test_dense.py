"""Affine, ReLU and flatten against PyTorch (F.linear, F.relu, torch.flatten and autograd)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cs7150.gradcheck import numeric_gradient, rel_error
from cs7150.oracle import assert_close
from cs7150.dense import (
    affine_backward,
    affine_forward,
    flatten_backward,
    flatten_forward,
    relu_backward,
    relu_forward,
)


dtypes = st.sampled_from([np.float64, np.float32])
seeds = st.integers(0, 2**32 - 1)
# (N, d_1, ..., d_k) with k = 1..3
batch_shapes = st.lists(st.integers(1, 4), min_size=2, max_size=4).map(tuple)


@settings(max_examples=30, deadline=None)
@given(x_shape=batch_shapes, M=st.integers(1, 5), dtype=dtypes, seed=seeds)
def test_affine_matches_torch(x_shape, M, dtype, seed):
    rng = np.random.default_rng(seed)
    D = int(np.prod(x_shape[1:]))
    x, w, b = (rng.standard_normal(shape).astype(dtype) for shape in (x_shape, (D, M), (M,)))
    out, cache = affine_forward(x, w, b)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, dw, db = affine_backward(dout, cache)

    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    out_torch = F.linear(xt.flatten(1), wt.T, bt)
    out_torch.backward(torch.from_numpy(dout))
    assert out.shape == (x_shape[0], M) and dx.shape == x_shape
    for ours, theirs in [(out, out_torch.detach()), (dx, xt.grad), (dw, wt.grad), (db, bt.grad)]:
        assert ours.dtype == dtype
        assert_close("output or gradient", ours, theirs.numpy())


@settings(max_examples=30, deadline=None)
@given(shape=batch_shapes, dtype=dtypes, seed=seeds)
def test_relu_matches_torch(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[0] = 0.0  # the kink: PyTorch's gradient there is 0
    out, cache = relu_forward(x)
    dout = rng.standard_normal(shape).astype(dtype)
    xt = torch.from_numpy(x).requires_grad_()
    out_torch = F.relu(xt)
    out_torch.backward(torch.from_numpy(dout))
    np.testing.assert_array_equal(out, out_torch.detach().numpy())
    np.testing.assert_array_equal(relu_backward(dout, cache), xt.grad.numpy())


@settings(max_examples=20, deadline=None)
@given(shape=batch_shapes, dtype=dtypes, seed=seeds)
def test_flatten_matches_torch(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    out, cache = flatten_forward(x)
    np.testing.assert_array_equal(out, torch.flatten(torch.from_numpy(x), 1).numpy())
    dout = rng.standard_normal(out.shape).astype(dtype)
    np.testing.assert_array_equal(flatten_backward(dout, cache), dout.reshape(shape))


def test_affine_backward_matches_numeric_gradient():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((3, 2, 3)), rng.standard_normal((6, 4)), rng.standard_normal(4)
    out, cache = affine_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = affine_backward(dout, cache)
    assert rel_error(dx, numeric_gradient(lambda x: affine_forward(x, w, b)[0], x, dout)) < 1e-8
    assert rel_error(dw, numeric_gradient(lambda w: affine_forward(x, w, b)[0], w, dout)) < 1e-8
    assert rel_error(db, numeric_gradient(lambda b: affine_forward(x, w, b)[0], b, dout)) < 1e-8


def test_relu_backward_matches_numeric_gradient():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 4))
    x[np.abs(x) < 1e-3] = 0.5  # keep central differences away from the kink
    out, cache = relu_forward(x)
    dout = rng.standard_normal(out.shape)
    assert rel_error(relu_backward(dout, cache), numeric_gradient(lambda x: relu_forward(x)[0], x, dout)) < 1e-8


X, W, B = np.zeros((2, 3, 2)), np.zeros((6, 4)), np.zeros(4)
BAD_AFFINE = [
    ((np.zeros(6), W, B), ValueError, r"x must have at least 2 dimensions \(N, d_1, ..., d_k\), got shape \(6,\)"),
    ((X.tolist(), W, B), TypeError, "x must be a numpy.ndarray"),
    ((X.astype(int), W, B), TypeError, "x must be float32 or float64, got dtype int"),
    ((X, np.zeros((5, 4)), B), ValueError,
     r"w must have shape \(D, M\) with D = 6 for x of shape \(2, 3, 2\), got \(5, 4\)"),
    ((X, np.zeros(6), B), ValueError, r"w must have 2 dimensions \(D, M\)"),
    ((X, W, np.zeros(3)), ValueError, r"b must have shape \(M,\) = \(4,\)"),
]


@pytest.mark.parametrize("args, error, message", BAD_AFFINE)
def test_affine_forward_rejects_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        affine_forward(*args)


def test_backwards_reject_bad_dout():
    _, cache = affine_forward(X, W, B)
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(N, M\) = \(2, 4\), got \(4, 2\)"):
        affine_backward(np.zeros((4, 2)), cache)
    _, cache = relu_forward(X)
    with pytest.raises(ValueError, match=r"dout must have the forward input's shape \(2, 3, 2\), got \(2, 2, 3\)"):
        relu_backward(np.zeros((2, 2, 3)), cache)
    with pytest.raises(TypeError, match="dout must be float32 or float64"):
        relu_backward(X.astype(np.int64), cache)
    _, cache = flatten_forward(X)
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(N, D\) = \(2, 6\), got \(2, 5\)"):
        flatten_backward(np.zeros((2, 5)), cache)


def test_relu_and_flatten_reject_bad_input():
    with pytest.raises(TypeError, match="x must be float32 or float64"):
        relu_forward(np.arange(4))
    with pytest.raises(ValueError, match=r"x must have at least 2 dimensions \(N, d_1, ..., d_k\), got shape \(4,\)"):
        flatten_forward(np.zeros(4))
