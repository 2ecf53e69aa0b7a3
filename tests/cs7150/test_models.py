"""cs7150.models and cs7150.numpy_lenet: LeNet-5, its variants, the baselines, the NumPy twin.

PyTorch is the oracle: the NumPy twin with the same float64 weights gives the
same logits and the same gradients as autograd.
"""
import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cs7150.gradcheck import rel_error
from cs7150.lenet5 import LeNet5
from cs7150.lenet5_spec import lenet5_param_shapes
from cs7150.models import MODELS, ChanceClassifier, build_model, count_parameters, lenet5_feature_size
from cs7150.numpy_lenet import NumpyLeNet5
from cs7150.shapes import summarize

LENET5_VARIANTS = [name for name in MODELS if name.startswith("lenet5")]
TWIN_VARIANTS = [name for name in LENET5_VARIANTS if "batchnorm" not in MODELS[name][1]]  # the twin has no batch norm


def _batch(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 28, 28)), rng.integers(0, 10, size=n)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_registered_model_builds_and_runs_forward(name):
    model = build_model(name)
    x, _ = _batch()
    if isinstance(model, NumpyLeNet5):
        logits = model.forward(x.astype(np.float32))
        assert model.predict(x).shape == (3,)
    else:
        logits = model(torch.from_numpy(x).float()).detach()
    assert tuple(logits.shape) == (3, 10)


def test_unknown_model_name_lists_the_valid_names():
    with pytest.raises(ValueError, match="unknown model 'lenet7'; valid names: chance, linear, lenet5, .*numpy-lenet5"):
        build_model("lenet7")


def test_lenet5_parameter_counts_match_the_lecture():
    model = LeNet5()
    per_layer = {name: sum(p.numel() for p in module.parameters()) for name, module in model.named_children()}
    assert {k: v for k, v in per_layer.items() if v} == {"conv1": 520, "conv2": 25_050, "fc1": 1_225_500, "fc2": 5_010}
    assert count_parameters(model) == 1_256_080
    assert count_parameters(build_model("numpy-lenet5")) == 1_256_080
    assert [name for name, _ in model.named_children()] == [
        "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc1", "relu3", "fc2"]


def test_summarize_walks_lenet5_in_forward_order():
    rows = summarize(LeNet5(), (1, 28, 28), file=io.StringIO())
    assert [r["layer"] for r in rows] == [
        "Input", "Conv (C_out=20, K=5, P=2, S=1)", "ReLU", "MaxPool (K=2, S=2)",
        "Conv (C_out=50, K=5, P=2, S=1)", "ReLU", "MaxPool (K=2, S=2)", "Flatten",
        "Linear (2450 -> 500)", "ReLU", "Linear (500 -> 10)", "Total"]
    assert [r["output_size"] for r in rows[1:-1]] == [
        "20 x 28 x 28", "20 x 28 x 28", "20 x 14 x 14", "50 x 14 x 14", "50 x 14 x 14", "50 x 7 x 7",
        "2450", "500", "500", "10"]
    assert [r["params"] for r in rows if r["params"]] == [520, 25_050, 1_225_500, 5_010, 1_256_080]


def test_variants_change_only_what_they_name():
    assert isinstance(build_model("lenet5-avgpool").pool1, nn.AvgPool2d)
    assert not any(isinstance(m, nn.ReLU) for m in build_model("lenet5-norelu").modules())
    assert build_model("lenet5-k3").conv2.weight.shape == (50, 20, 3, 3)
    nopad = build_model("lenet5-nopad")
    assert nopad.conv1.padding == (0, 0) and nopad.fc1.weight.shape == (500, 800)
    assert lenet5_feature_size(28, 5, padding=False) == (4, 800)
    assert lenet5_feature_size(28, 3, padding=True) == (7, 2450)


def test_batchnorm_variant_normalizes_after_conv1_conv2_and_fc1():
    model = build_model("lenet5-bn")
    assert [name for name, _ in model.named_children()] == [
        "conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "pool2", "flatten", "fc1", "bn3", "relu3", "fc2"]
    assert (type(model.bn1), type(model.bn2), type(model.bn3)) == (nn.BatchNorm2d, nn.BatchNorm2d, nn.BatchNorm1d)
    assert count_parameters(model) == 1_256_080 + 2 * (20 + 50 + 500)
    x = torch.from_numpy(_batch(n=4)[0]).float()
    with torch.no_grad():
        model.eval()
        before = model(x)
        model.train()
        model(x)  # updates the running statistics
        model.eval()
        assert not torch.allclose(before, model(x)), "evaluation uses the running statistics"
    with pytest.raises(TypeError, match="batchnorm must be a bool"):
        LeNet5(batchnorm=1)


@pytest.mark.parametrize("options, error", [
    ({"pool": "median"}, ValueError), ({"kernel_size": 4}, ValueError), ({"kernel_size": 0}, ValueError),
    ({"activation": "yes"}, TypeError), ({"padding": 1}, TypeError), ({"image_size": 3}, ValueError),
])
def test_bad_lenet5_options_are_rejected(options, error):
    with pytest.raises(error):
        LeNet5(**options)
    with pytest.raises(error):
        NumpyLeNet5(**options)
    with pytest.raises(error):
        lenet5_param_shapes(**options)


@pytest.mark.parametrize("options", [{}, {"padding": False}, {"kernel_size": 3}, {"kernel_size": 7, "pool": "avg"},
                                     {"num_classes": 4, "activation": False}, {"in_channels": 3, "image_size": 32}])
def test_lenet5_param_shapes_are_the_reference_state_dict_shapes(options):
    """The notebook's tests take the expected shapes from lenet5_param_shapes (no student file is involved)."""
    expected = {name: tuple(p.shape) for name, p in LeNet5(**options).state_dict().items()}
    assert lenet5_param_shapes(**options) == expected


def test_build_model_is_seeded_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b, c = build_model("lenet5", seed=1), build_model("lenet5", seed=1), build_model("lenet5", seed=2)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(a.fc1.weight, b.fc1.weight) and not torch.equal(a.fc1.weight, c.fc1.weight)


def test_chance_model_guesses_uniformly_and_reproducibly():
    x = torch.zeros(20_000, 1, 28, 28)
    guesses = ChanceClassifier(seed=3)(x).argmax(1)
    assert torch.equal(guesses, ChanceClassifier(seed=3)(x).argmax(1))
    frequencies = torch.bincount(guesses, minlength=10).float() / len(x)
    assert torch.all((frequencies - 0.1).abs() < 0.01)
    assert count_parameters(ChanceClassifier()) == 0


@pytest.mark.parametrize("name", TWIN_VARIANTS)
def test_numpy_twin_matches_torch_logits_and_gradients_in_float64(name):
    torch_model = build_model(name, seed=4).double()
    numpy_model = build_model("numpy-lenet5", dtype=np.float64, **MODELS[name][1])
    numpy_model.load_torch_state(torch_model.state_dict())
    x, y = _batch(n=4, seed=5)

    logits, loss, grads = numpy_model.logits_loss_and_grads(x, y)
    torch_logits = torch_model(torch.from_numpy(x))
    torch_loss = F.cross_entropy(torch_logits, torch.from_numpy(y))
    torch_loss.backward()

    assert rel_error(logits, torch_logits.detach().numpy()) < 1e-9
    assert abs(loss - torch_loss.item()) < 1e-9 * abs(loss)
    assert set(grads) == set(numpy_model.params)
    for key, param in torch_model.named_parameters():
        assert grads[key].shape == tuple(param.shape), key
        assert rel_error(grads[key], param.grad.numpy()) < 1e-9, key
    assert numpy_model.loss_and_grads(x, y)[0] == loss


def test_numpy_twin_state_round_trips_exactly_with_torch():
    numpy_model = NumpyLeNet5(dtype=np.float64, seed=7)
    torch_model = LeNet5().double()
    assert {k: tuple(v.shape) for k, v in torch_model.state_dict().items()} == \
        {k: v.shape for k, v in numpy_model.params.items()}
    torch_model.load_state_dict(numpy_model.to_torch_state())
    copy = NumpyLeNet5(dtype=np.float64, seed=8)
    copy.load_torch_state(torch_model.state_dict())
    for key, value in numpy_model.params.items():
        assert np.array_equal(copy.params[key], value), key


def test_numpy_twin_rejects_bad_state_and_inputs():
    model = NumpyLeNet5()
    state = LeNet5(kernel_size=3).state_dict()
    with pytest.raises(ValueError, match="conv1.weight has shape"):
        model.load_torch_state(state)
    with pytest.raises(ValueError, match="keys"):
        model.load_torch_state({"conv1.weight": state["conv1.weight"]})
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1, 28, 28\)"):
        model.forward(np.zeros((2, 1, 32, 32), np.float32))
    with pytest.raises(ValueError, match=r"y must be an int ndarray of shape \(2,\)"):
        model.loss_and_grads(np.zeros((2, 1, 28, 28), np.float32), np.zeros(3, np.int64))
    with pytest.raises(TypeError, match="dtype"):
        NumpyLeNet5(dtype=np.int32)


def test_the_numpy_twin_imports_without_pytorch():
    """Assignment 2's NumPy twin is graded where PyTorch is not installed: importing it loads no torch."""
    import subprocess
    import sys
    code = "import sys, cs7150.numpy_lenet; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
