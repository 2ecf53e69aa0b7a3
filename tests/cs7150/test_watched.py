"""cs7150.watched.WatchedModel: what a test of an evaluation loop sends to it, and what it raises."""
import pytest
import torch
from torch import nn

from cs7150.watched import WatchedModel


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.Dropout(0.5))


def test_an_evaluation_as_it_should_be_gets_the_models_outputs():
    net, x = _net().eval(), torch.randn(7, 1, 2, 2)
    watched = WatchedModel(net, batches=[3, 3, 1])
    watched.eval()
    with torch.no_grad():
        out = torch.cat([watched(x[i:i + 3]) for i in range(0, 7, 3)])
        assert torch.equal(out, net(x))
    with torch.inference_mode():  # autograd is off there too
        WatchedModel(net, batches=[7]).eval()(x)


def test_autograd_recording_is_refused():
    watched = WatchedModel(_net(), batches=[3]).eval()
    with pytest.raises(RuntimeError, match="autograd recording"):
        watched(torch.randn(3, 1, 2, 2))


def test_training_mode_is_refused_in_the_model_or_any_of_its_layers():
    for watched in (WatchedModel(_net(), batches=[3]), WatchedModel(_net().eval(), batches=[3])):
        watched.eval()
        watched.model[2].train()  # dropout left on
        with torch.no_grad(), pytest.raises(RuntimeError, match="training mode"):
            watched(torch.randn(3, 1, 2, 2))


def test_batches_larger_than_the_batch_size_or_one_too_many_are_refused():
    watched, x = WatchedModel(_net(), batches=[3, 3, 1]).eval(), torch.randn(7, 1, 2, 2)
    with torch.no_grad():
        with pytest.raises(RuntimeError, match="a batch of 4 images; batch_size was 3"):
            watched(x[:4])
        watched(x[:3])
        watched(x[:3])
        with pytest.raises(RuntimeError, match=r"after batches of \[3, 3\]; 7 images in batches of 3 are \[3, 3, 1\]"):
            watched(x[:2])
