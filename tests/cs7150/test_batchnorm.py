"""Batch normalization, plain and spatial, against PyTorch (F.batch_norm in training and eval, and autograd).

CS231n's ``momentum`` keeps that fraction of the old running value, so it is
PyTorch's ``1 - momentum``; both update the running variance with the unbiased
batch variance.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cs7150.gradcheck import numeric_gradient, rel_error
from cs7150.oracle import assert_close
from cs7150.batchnorm import (
    batchnorm_backward,
    batchnorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)


@st.composite
def bn_cases(draw, spatial):
    """(x shape, bn_param, dtype, seed).

    Train-mode shapes have >= 3 values per feature: with 2, the normalized
    values are +-1 whatever x is, dx is about eps / var and all rounding error.
    """
    mode = draw(st.sampled_from(["train", "test"]))
    if spatial:
        shape = tuple(draw(st.integers(1, 3)) for _ in range(4))
        if mode == "train" and shape[0] * shape[2] * shape[3] < 3:
            shape = (3, *shape[1:])
    else:
        shape = (draw(st.integers(3, 8)), draw(st.integers(1, 5)))
    bn_param = {"mode": mode}
    if draw(st.booleans()):  # else the defaults: eps 1e-5, momentum 0.9
        bn_param["eps"] = draw(st.sampled_from([1e-5, 1e-3, 0.1]))
        bn_param["momentum"] = draw(st.sampled_from([0.0, 0.5, 0.9, 1.0]))
    return shape, bn_param, draw(st.sampled_from([np.float64, np.float32])), draw(st.integers(0, 2**32 - 1))


def check_against_torch(forward, backward, case):
    shape, bn_param, dtype, seed = case
    rng = np.random.default_rng(seed)
    D = shape[1]
    x = (3 * rng.standard_normal(shape) + rng.standard_normal(D).reshape(D, *[1] * (len(shape) - 2))).astype(dtype)
    gamma, beta = rng.standard_normal(D).astype(dtype), rng.standard_normal(D).astype(dtype)
    if rng.random() < 0.5 or bn_param["mode"] == "test":  # else batchnorm_forward creates them
        bn_param["running_mean"] = rng.standard_normal(D).astype(dtype)
        bn_param["running_var"] = rng.uniform(0.5, 2, D).astype(dtype)
    running_mean = torch.from_numpy(bn_param.get("running_mean", np.zeros(D, dtype)).copy())
    running_var = torch.from_numpy(bn_param.get("running_var", np.ones(D, dtype)).copy())

    out, cache = forward(x, gamma, beta, bn_param)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, dgamma, dbeta = backward(dout, cache)

    xt, gt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, gamma, beta))
    out_torch = F.batch_norm(xt, running_mean, running_var, gt, bt, training=bn_param["mode"] == "train",
                             momentum=1 - bn_param.get("momentum", 0.9), eps=bn_param.get("eps", 1e-5))
    out_torch.backward(torch.from_numpy(dout))
    assert out.shape == shape and dx.shape == shape
    for ours, theirs in [(out, out_torch.detach()), (dx, xt.grad), (dgamma, gt.grad), (dbeta, bt.grad),
                         (bn_param["running_mean"], running_mean), (bn_param["running_var"], running_var)]:
        assert ours.dtype == dtype
        assert_close("output or gradient", ours, theirs.numpy())


@settings(max_examples=40, deadline=None)
@given(case=bn_cases(spatial=False))
def test_batchnorm_matches_torch(case):
    check_against_torch(batchnorm_forward, batchnorm_backward, case)


@settings(max_examples=40, deadline=None)
@given(case=bn_cases(spatial=True))
def test_spatial_batchnorm_matches_torch(case):
    check_against_torch(spatial_batchnorm_forward, spatial_batchnorm_backward, case)


def test_running_statistics_are_updated_in_place_with_the_unbiased_variance():
    x = np.array([[1.0, 10.0], [2.0, 20.0], [6.0, 60.0]])
    running_mean, running_var = np.zeros(2), np.ones(2)
    bn_param = {"mode": "train", "momentum": 0.25, "running_mean": running_mean, "running_var": running_var}
    batchnorm_forward(x, np.ones(2), np.zeros(2), bn_param)
    assert bn_param["running_mean"] is running_mean and bn_param["running_var"] is running_var
    np.testing.assert_allclose(running_mean, 0.75 * x.mean(axis=0))
    np.testing.assert_allclose(running_var, 0.25 + 0.75 * x.var(axis=0, ddof=1))


def test_missing_running_statistics_are_created():
    bn_param = {"mode": "test"}
    out, _ = batchnorm_forward(np.full((2, 3), 2.0, np.float32), np.ones(3, np.float32), np.zeros(3, np.float32), bn_param)
    np.testing.assert_array_equal(bn_param["running_mean"], np.zeros(3))
    np.testing.assert_array_equal(bn_param["running_var"], np.ones(3))
    assert bn_param["running_mean"].dtype == np.float32
    np.testing.assert_allclose(out, 2 / np.sqrt(1 + 1e-5), rtol=1e-6)


@pytest.mark.parametrize("mode", ["train", "test"])
@pytest.mark.parametrize("spatial", [False, True], ids=["plain", "spatial"])
def test_backward_matches_numeric_gradient(mode, spatial):
    forward, backward = ((spatial_batchnorm_forward, spatial_batchnorm_backward) if spatial
                         else (batchnorm_forward, batchnorm_backward))
    rng = np.random.default_rng(0)
    shape = (2, 3, 2, 3) if spatial else (5, 3)
    x, gamma, beta = 2 * rng.standard_normal(shape) + 1, rng.standard_normal(3), rng.standard_normal(3)
    bn_param = {"mode": mode, "running_mean": rng.standard_normal(3), "running_var": rng.uniform(0.5, 2, 3)}
    out, cache = forward(x, gamma, beta, bn_param)
    dout = rng.standard_normal(shape)
    dx, dgamma, dbeta = backward(dout, cache)
    assert rel_error(dx, numeric_gradient(lambda x: forward(x, gamma, beta, bn_param)[0], x, dout)) < 1e-7
    assert rel_error(dgamma, numeric_gradient(lambda g: forward(x, g, beta, bn_param)[0], gamma, dout)) < 1e-7
    assert rel_error(dbeta, numeric_gradient(lambda b: forward(x, gamma, b, bn_param)[0], beta, dout)) < 1e-7


X, G = np.zeros((4, 3)), np.ones(3)
BAD_INPUTS = [
    ((np.zeros((4, 3, 1)), G, G, {"mode": "train"}), ValueError, r"x must have 2 dimensions \(N, D\)"),
    ((X, np.ones(4), G, {"mode": "train"}), ValueError, r"gamma must have shape \(D,\) = \(3,\), got \(4,\)"),
    ((X, G, np.ones((3, 1)), {"mode": "train"}), ValueError, r"beta must have 1 dimensions \(D,\)"),
    ((X, G, G, {}), ValueError, "bn_param is missing the key 'mode'"),
    ((X, G, G, {"mode": "eval"}), ValueError, r"bn_param\['mode'\] must be 'train' or 'test', got 'eval'"),
    ((X, G, G, {"mode": "train", "eps": 0.0}), ValueError, r"bn_param\['eps'\] must be positive, got 0.0"),
    ((X, G, G, {"mode": "train", "eps": "1e-5"}), TypeError, r"bn_param\['eps'\] must be a float"),
    ((X, G, G, {"mode": "train", "momentum": 1.5}), ValueError, r"bn_param\['momentum'\] must be in \[0, 1\], got 1.5"),
    ((X, G, G, {"mode": "test", "running_mean": np.zeros(2)}), ValueError,
     r"bn_param\['running_mean'\] must have shape \(D,\) = \(3,\), got \(2,\)"),
    ((np.zeros((1, 3)), G, G, {"mode": "train"}), ValueError, "'train' needs at least 2 values per feature"),
    ((X, G, G, {"mode": "train", "momemtum": 0.5}), ValueError,
     r"^bn_param has unknown key 'momemtum' \(did you mean 'momentum'\?\); it accepts 'mode', 'eps', 'momentum', "
     r"'running_mean', 'running_var'$"),
    ((X, G, G, {"mode": "train", "epsilon": 1e-3, "affine": False}), ValueError,
     r"^bn_param has unknown keys 'epsilon'.*, 'affine'; it accepts"),
    ((X, G, G, {"mode": "test", "running_variance": np.ones(3)}), ValueError,
     r"unknown key 'running_variance' \(did you mean 'running_var'\?\)"),
    ((X, G, G, ["mode", "train"]), TypeError, r"bn_param must be a dict, got list"),
]


@pytest.mark.parametrize("args, error, message", BAD_INPUTS)
def test_batchnorm_forward_rejects_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        batchnorm_forward(*args)


def test_spatial_batchnorm_rejects_bad_input():
    with pytest.raises(ValueError, match=r"x must have 4 dimensions \(N, C, H, W\)"):
        spatial_batchnorm_forward(X, G, G, {"mode": "train"})
    with pytest.raises(ValueError, match=r"gamma must have shape \(C,\) = \(2,\), got \(3,\)"):
        spatial_batchnorm_forward(np.zeros((2, 2, 3, 3)), G, G, {"mode": "train"})
    with pytest.raises(ValueError, match="'train' needs at least 2 values per feature"):
        spatial_batchnorm_forward(np.zeros((1, 3, 1, 1)), G, G, {"mode": "train"})
    with pytest.raises(ValueError, match=r"bn_param has unknown key 'momentun' \(did you mean 'momentum'\?\)"):
        spatial_batchnorm_forward(np.zeros((2, 3, 2, 2)), G, G, {"mode": "train", "momentun": 0.1})


def test_backwards_reject_bad_dout():
    _, cache = batchnorm_forward(X, G, G, {"mode": "train"})
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(N, D\) = \(4, 3\), got \(3, 4\)"):
        batchnorm_backward(np.zeros((3, 4)), cache)
    _, cache = spatial_batchnorm_forward(np.zeros((2, 3, 2, 2)), G, G, {"mode": "train"})
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(N, C, H, W\) = \(2, 3, 2, 2\)"):
        spatial_batchnorm_backward(np.zeros((2, 2, 3, 2)), cache)
    with pytest.raises(TypeError, match="dout must be float32 or float64"):
        spatial_batchnorm_backward(np.zeros((2, 3, 2, 2), dtype=int), cache)
