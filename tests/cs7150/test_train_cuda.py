"""The trainer on CUDA against the same seeded run on the CPU (marker ``cuda``; skipped without CUDA).

``make gpu-check`` (``benchmarks/gpu_check.py``) runs these on a GPU machine.
The float32 comparisons turn TF32 off, so that CUDA and the CPU differ only
in the order of their sums; autocast (bf16, or fp16 with a gradient scaler)
is compared with a looser tolerance, and must change the numbers (it is
really on). channels_last must leave the model in that memory format.
"""
import pytest
import torch

from cs7150.data import load_mnist
from cs7150.models import build_model
from cs7150.train import TrainConfig, choose_device, fit, predict_logits

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (torch.cuda.is_available() is False)")]

RECIPE = dict(epochs=2, batch_size=64, progress=False)
# relative tolerance of the losses, absolute tolerance of the held-out accuracy
FLOAT32_TOLERANCE = (2e-3, 0.01)
AUTOCAST_TOLERANCE = (0.1, 0.05)


@pytest.fixture(scope="module")
def digits():
    """512 training and 500 held-out digits of the bundled subset."""
    images, labels = load_mnist("train")
    test_images, test_labels = load_mnist("test")
    return (images[:512], labels[:512]), (test_images[:500], test_labels[:500])


@pytest.fixture(scope="module", autouse=True)
def no_tf32():
    """float32 on CUDA as on the CPU: no TF32 in matrix products or convolutions."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _train(digits, device, **options):
    model = build_model("lenet5", seed=0)
    return model, fit(model, *digits, TrainConfig(**RECIPE, **options), device)


@pytest.fixture(scope="module")
def cpu_run(digits):
    return _train(digits, "cpu")


def _assert_close(history, reference, tolerance):
    loss_rtol, acc_atol = tolerance
    for row, ref in zip(history, reference, strict=True):
        for key in ("train_loss", "test_loss"):
            assert row[key] == pytest.approx(ref[key], rel=loss_rtol), (key, row, ref)
        assert abs(row["test_acc"] - ref["test_acc"]) <= acc_atol, (row, ref)


def test_best_device_is_cuda():
    assert choose_device() == torch.device("cuda")


@pytest.mark.parametrize("channels_last", [False, True])
def test_float32_training_on_cuda_matches_the_cpu(digits, cpu_run, channels_last):
    model, history = _train(digits, "cuda", channels_last=channels_last)
    _assert_close(history, cpu_run[1], FLOAT32_TOLERANCE)
    weight = model.conv2.weight  # (50, 20, 5, 5): its two memory formats differ
    assert weight.is_cuda
    assert weight.is_contiguous(memory_format=torch.channels_last) == channels_last


@pytest.mark.parametrize("channels_last", [False, True])
def test_autocast_training_on_cuda_is_close_to_the_cpu(digits, cpu_run, channels_last):
    _, float32 = _train(digits, "cuda", channels_last=channels_last)
    _, history = _train(digits, "cuda", amp=True, channels_last=channels_last)
    _assert_close(history, cpu_run[1], AUTOCAST_TOLERANCE)
    assert [row["train_loss"] for row in history] != [row["train_loss"] for row in float32]  # autocast is on


def test_training_on_resident_cuda_tensors(digits, cpu_run):
    on_gpu = [tuple(torch.as_tensor(t).to("cuda") for t in split) for split in digits]
    _, history = fit(build_model("lenet5", seed=0), *on_gpu, TrainConfig(**RECIPE), "cuda")
    _assert_close(history, cpu_run[1], FLOAT32_TOLERANCE)


def test_same_weights_give_the_same_logits_on_cuda_and_cpu(digits, cpu_run):
    trained = cpu_run[0].to("cpu")
    on_cuda = build_model("lenet5")
    on_cuda.load_state_dict(trained.state_dict())
    images = digits[1][0]  # (500, 1, 28, 28)
    expected = predict_logits(trained, images)  # (500, 10)
    logits = predict_logits(on_cuda.to("cuda"), torch.as_tensor(images).to("cuda"))
    assert logits.device.type == "cuda"
    torch.testing.assert_close(logits.cpu(), expected, rtol=1e-4, atol=1e-4)
