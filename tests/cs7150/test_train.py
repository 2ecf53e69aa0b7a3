"""cs7150.train, cs7150.plots and the `train` / `compare` subcommands, on a few steps of real MNIST."""
import argparse

import numpy as np
import pytest
import torch

from coursetools import compare_cli, train_cli
from cs7150.data import load_mnist
from cs7150.models import build_model, small_conv1_init
from cs7150.plots import (DRIFT_LINE, confusion_matrix, filter_correlations, filter_drift_line,
                          plot_filter_change, plot_history)
from cs7150.train import TrainConfig, choose_device, evaluate, fit, load_checkpoint, save_checkpoint

QUICK = dict(batch_size=32, progress=False)


@pytest.fixture(scope="module")
def digits():
    """128 training and 100 held-out digits."""
    images, labels = load_mnist("train")
    test_images, test_labels = load_mnist("test")
    return (images[:128], labels[:128]), (test_images[:100], test_labels[:100])


@pytest.fixture
def small_mnist(monkeypatch):
    """The commands see 256 training and 100 held-out digits (keeps them to a few seconds)."""
    def load(split, root=None):
        images, labels = load_mnist(split, root)
        n = 256 if split == "train" else 100
        return images[:n], labels[:n]

    monkeypatch.setattr(train_cli, "load_mnist", load)


def _drop_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


# devices

def test_choose_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert choose_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert choose_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_device() == torch.device("cuda")


def test_choose_device_accepts_explicit_names():
    assert choose_device("cpu") == torch.device("cpu")
    assert choose_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("name, message", [
    ("gpu", "unknown device 'gpu'"), ("tpu:0", "unknown device"), ("meta", "unknown device 'meta'"),
    ("cuda", "CUDA is not available"), ("cuda:0", "CUDA is not available"), ("mps", "MPS is not available"),
])
def test_bad_or_missing_device_is_a_value_error(monkeypatch, name, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match=message):
        choose_device(name)


@pytest.mark.parametrize("options", [
    {"epochs": 0}, {"batch_size": 0}, {"optimizer": "rmsprop"}, {"lr": 0.0}, {"momentum": 1.0}, {"weight_decay": -1.0},
])
def test_bad_train_config_is_a_value_error(options):
    with pytest.raises(ValueError):
        TrainConfig(**options)


# training

def test_torch_loss_falls_over_a_few_steps(digits):
    history = fit(build_model("lenet5"), *digits, TrainConfig(epochs=3, **QUICK), "cpu")
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[-1]["train_loss"] < 0.6 * history[0]["train_loss"]
    assert history[-1]["test_acc"] > 0.3
    assert all(row["seconds"] > 0 for row in history)


def test_numpy_twin_loss_falls_over_a_few_steps(digits):
    history = fit(build_model("numpy-lenet5"), *digits, TrainConfig(epochs=3, lr=0.1, **QUICK))
    assert history[-1]["train_loss"] < 0.7 * history[0]["train_loss"]


def test_seeded_cpu_runs_are_identical(digits):
    (images, labels), test_set = digits
    config = TrainConfig(epochs=2, seed=5, optimizer="sgd", **QUICK)
    models = [build_model("lenet5", seed=5) for _ in range(2)]
    histories = [_drop_seconds(fit(model, (images[:64], labels[:64]), test_set, config, "cpu")) for model in models]
    assert histories[0] == histories[1]
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        assert torch.equal(a, b)


def test_chance_model_is_evaluated_but_not_trained(digits):
    history = fit(build_model("chance"), *digits, TrainConfig(epochs=1, **QUICK), "cpu")
    assert 0.02 < history[0]["test_acc"] < 0.25
    images, labels = load_mnist("test")
    assert abs(evaluate(build_model("chance"), images, labels)[1] - 0.1) < 0.025


def test_mismatched_images_and_labels_are_rejected(digits):
    (images, labels), test_set = digits
    with pytest.raises(ValueError, match="differ in length"):
        fit(build_model("linear"), (images, labels[:-1]), test_set, TrainConfig(**QUICK), "cpu")


# checkpoints

def test_checkpoint_round_trip_leaves_no_temporary_files(tmp_path, digits):
    model = build_model("lenet5", seed=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.from_numpy(digits[0][0][:4])).sum().backward()
    optimizer.step()
    history = [{"epoch": 1, "train_loss": 0.5, "train_acc": 0.9, "test_loss": 0.4, "test_acc": 0.91, "seconds": 1.0}]
    path = save_checkpoint(tmp_path / "run" / "model.pt", model, optimizer, history, model_name="lenet5")
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pt"]

    restored, restored_optimizer = build_model("lenet5", seed=2), None
    restored_optimizer = torch.optim.SGD(restored.parameters(), lr=0.1, momentum=0.9)
    checkpoint = load_checkpoint(path, restored, restored_optimizer)
    for key, value in model.state_dict().items():
        assert torch.equal(restored.state_dict()[key], value), key
    assert checkpoint["history"] == history and checkpoint["metadata"] == {"model_name": "lenet5"}
    assert restored_optimizer.state_dict()["state"][0]["momentum_buffer"].equal(
        optimizer.state_dict()["state"][0]["momentum_buffer"])

    numpy_model = build_model("numpy-lenet5", seed=3)
    save_checkpoint(path, numpy_model)  # replaces the file
    numpy_copy = build_model("numpy-lenet5", seed=4)
    assert load_checkpoint(path, numpy_copy)["optimizer"] is None
    assert all(np.array_equal(numpy_copy.params[k], v) for k, v in numpy_model.params.items())
    with pytest.raises(ValueError, match="no optimizer state"):
        load_checkpoint(path, optimizer=restored_optimizer)


def test_failed_save_keeps_the_old_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "model.pt", build_model("linear"))
    before = path.read_bytes()

    def broken_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, build_model("linear", seed=1))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


# plots

def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    counts = confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], num_classes=3)
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    with pytest.raises(ValueError, match="predictions must lie in"):
        confusion_matrix([0, 1], [0, 3], num_classes=3)


def test_a_one_epoch_history_is_drawn_as_labelled_bars_and_longer_ones_as_curves():
    row = {"epoch": 1, "train_loss": 0.5, "train_acc": 0.85, "test_loss": 0.2, "test_acc": 0.95}
    one = plot_history([row])
    assert [len(ax.patches) for ax in one.axes] == [2, 2] and not any(ax.get_legend() for ax in one.axes)
    assert "95.00%" in [text.get_text() for text in one.axes[1].texts]
    two = plot_history([row, {**row, "epoch": 2}])
    assert [len(ax.lines) for ax in two.axes] == [2, 2] and all(ax.get_legend() for ax in two.axes)


def test_filter_correlations_are_one_for_a_rescaled_filter_and_zero_for_an_orthogonal_one():
    before = np.zeros((3, 1, 2, 2))
    before[:, 0] = [[1.0, -1.0], [0.0, 0.0]]                    # every filter: +1, -1, 0, 0 (zero mean)
    after = before.copy()
    after[0] *= 5.0                                             # rescaled: correlation 1
    after[1, 0] = [[0.0, 0.0], [1.0, -1.0]]                     # orthogonal after centring: 0
    after[2] *= -2.0                                            # flipped: -1
    assert np.allclose(filter_correlations(before, after), [1.0, 0.0, -1.0])
    assert filter_drift_line(before, after) == DRIFT_LINE.format(0.0)
    assert filter_drift_line(before, after) == "conv1 filters vs their initialisation: median correlation 0.00"


@pytest.mark.parametrize("before, after, message", [
    (np.ones((2, 1, 3, 3)), np.ones((2, 1, 3, 3)), "constant"),
    (np.zeros((2, 1, 3, 3)), np.zeros((2, 1, 5, 5)), "one shape"),
    (np.zeros((2, 9)), np.zeros((2, 9)), "one shape"),
])
def test_filter_correlations_reject_constant_filters_and_bad_shapes(before, after, message):
    with pytest.raises(ValueError, match=message):
        filter_correlations(before, after)


def test_small_conv1_init_shrinks_the_same_draw_and_zeroes_the_bias():
    default, small = build_model("lenet5", seed=3), small_conv1_init(build_model("lenet5", seed=3), scale=0.01)
    assert torch.allclose(small.conv1.weight, 0.01 * default.conv1.weight)
    assert torch.count_nonzero(small.conv1.bias) == 0
    assert torch.equal(small.conv2.weight, default.conv2.weight)  # only conv1 changes
    assert np.allclose(filter_correlations(default.conv1.weight.detach().numpy(), small.conv1.weight.detach().numpy()), 1)
    with pytest.raises(ValueError, match="scale must be a number in"):
        small_conv1_init(build_model("lenet5"), scale=0)
    with pytest.raises(TypeError, match="conv1"):
        small_conv1_init(build_model("linear"))


def test_a_small_conv1_start_moves_the_filters_away_from_it(digits):
    """A few steps from the small start already move the filters more than PyTorch's default start moves."""
    medians = {}
    for name, model in (("default", build_model("lenet5")), ("small", small_conv1_init(build_model("lenet5")))):
        start = model.conv1.weight.detach().numpy().copy()
        fit(model, *digits, TrainConfig(epochs=1, **QUICK), device="cpu")
        medians[name] = np.median(filter_correlations(start, model.conv1.weight.detach().numpy()))
    assert medians["default"] > 0.95 and medians["small"] < medians["default"] - 0.1, medians
    fig = plot_filter_change(np.random.default_rng(0).standard_normal((20, 1, 5, 5)), np.ones((20, 1, 5, 5)) * np.eye(5))
    assert len(fig.subfigs) == 3 and "median correlation" in fig._suptitle.get_text()


# command line

def _parse(module, argv):
    parser = argparse.ArgumentParser()
    module.configure(parser)
    return parser.parse_args(argv)


def test_train_command_prints_a_table_and_writes_pngs(tmp_path, capsys, small_mnist):
    args = _parse(train_cli, ["--model", "lenet5", "--epochs", "1", "--limit", "128", "--device", "cpu",
                              "--batch-size", "64", "--no-progress", "--out", str(tmp_path)])
    assert train_cli.run(args) == 0
    out = capsys.readouterr().out
    assert "128 training / 100 held-out images" in out
    assert "held-out acc" in out and "1,256,080" in out and "chance baseline" in out and "10.00%" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["confusion.png", "curves.png", "filters.png", "model.pt"]
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert load_checkpoint(tmp_path / "model.pt")["metadata"]["model_name"] == "lenet5"


@pytest.mark.parametrize("argv, message", [
    (["--model", "lenet7"], "unknown model 'lenet7'"),
    (["--device", "tpu"], "unknown device 'tpu'"),
    (["--limit", "0"], "--limit must be >= 1"),
])
def test_train_command_reports_usage_errors(capsys, argv, message):
    assert train_cli.run(_parse(train_cli, argv)) == 2
    assert message in capsys.readouterr().err


def test_compare_command_lists_baselines_first(capsys, small_mnist):
    args = _parse(compare_cli, ["--epochs", "1", "--limit", "64", "--device", "cpu", "--no-progress"])
    assert compare_cli.run(args) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines[lines.index(next(l for l in lines if l.startswith("model"))) + 2:]]
    assert names == ["chance", "linear", "lenet5", "lenet5-avgpool", "lenet5-norelu", "lenet5-k3", "lenet5-nopad", "lenet5-bn"]
