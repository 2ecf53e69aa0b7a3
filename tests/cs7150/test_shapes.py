"""cs7150.shapes: output sizes, receptive fields, parameter/MAC counts and summarize, against PyTorch."""
import io

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cs7150.shapes import (
    LENET5,
    AvgPool,
    BatchNorm,
    Conv,
    Flatten,
    Linear,
    MaxPool,
    ReLU,
    conv_macs,
    conv_output_size,
    conv_params,
    pool_output_size,
    receptive_field,
    summarize,
)
from cs7150.tables import format_table

LENET5_TORCH = nn.Sequential(
    nn.Conv2d(1, 20, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
    nn.Conv2d(20, 50, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
    nn.Flatten(), nn.Linear(2450, 500), nn.ReLU(), nn.Linear(500, 10),
)


def quiet_summary(model, input_shape):
    """summarize's rows and its printed table."""
    out = io.StringIO()
    rows = summarize(model, input_shape, file=out)
    return rows, out.getvalue()


# --- output sizes --------------------------------------------------------------------------------


def test_lecture_output_sizes():
    assert conv_output_size(7, 3) == 5
    assert conv_output_size(7, 3, stride=2) == 3
    assert conv_output_size(7, 3, pad=1) == 7
    assert conv_output_size(7, 3, stride=3) == 2  # (7 - 3) / 3 + 1 = 2.33, floored
    assert conv_output_size(32, 5, pad=2) == 32
    assert pool_output_size(28, 2, 2) == 14
    assert pool_output_size(14, 2) == 7  # stride defaults to the kernel
    assert pool_output_size(7, 3, 2) == 3


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 20), kernel=st.integers(1, 7), pad=st.integers(0, 3),
    stride=st.integers(1, 4), dilation=st.integers(1, 3),
)
def test_conv_output_size_matches_torch(size, kernel, pad, stride, dilation):
    x = torch.zeros(1, 1, size, dtype=torch.float64)
    w = torch.zeros(1, 1, kernel, dtype=torch.float64)
    if dilation * (kernel - 1) + 1 > size + 2 * pad:
        with pytest.raises(ValueError, match="larger than the padded input"):
            conv_output_size(size, kernel, pad, stride, dilation)
        with pytest.raises(RuntimeError):
            torch.nn.functional.conv1d(x, w, stride=stride, padding=pad, dilation=dilation)
        return
    out = torch.nn.functional.conv1d(x, w, stride=stride, padding=pad, dilation=dilation)
    assert conv_output_size(size, kernel, pad, stride, dilation) == out.shape[-1]


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 20), kernel=st.integers(1, 6), stride=st.integers(1, 4), data=st.data())
def test_pool_output_size_matches_torch(size, kernel, stride, data):
    """With padding (up to half the window) and ceil mode, including ceil mode's dropped last window."""
    pad, ceil_mode = data.draw(st.integers(0, kernel // 2)), data.draw(st.booleans())
    x = torch.zeros(1, 1, size)
    try:
        expected = torch.nn.functional.max_pool1d(x, kernel, stride, padding=pad, ceil_mode=ceil_mode).shape[-1]
    except RuntimeError:  # "Output size is too small"
        with pytest.raises(ValueError, match="larger than the padded input"):
            pool_output_size(size, kernel, stride, pad, ceil_mode)
        return
    assert pool_output_size(size, kernel, stride, pad, ceil_mode) == expected
    assert torch.nn.functional.avg_pool1d(x, kernel, stride, pad, ceil_mode).shape[-1] == expected


def test_ceil_mode_drops_a_window_that_would_start_in_the_padding():
    assert pool_output_size(5, 2, 2) == 2 and pool_output_size(5, 2, 2, ceil_mode=True) == 3
    assert pool_output_size(5, 2, 2, pad=1) == 3
    assert pool_output_size(5, 2, 2, pad=1, ceil_mode=True) == 3  # ceil((5 + 2 - 2) / 2) + 1 = 4, less the last
    assert pool_output_size(112, 3, 2, pad=1) == 56  # ResNet's max pooling


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((7, 0, 1), ValueError, "kernel must be >= 1"),
        ((7, 2, 0), ValueError, "stride must be >= 1"),
        ((0, 2, 1), ValueError, "size must be >= 1"),
        ((7, 8, 1), ValueError, "larger than the padded input"),
        ((7, 2.0, 1), TypeError, "kernel must be an int"),
        ((7, 3, 1, 2), ValueError, r"pad = 2 must be at most half the window of 3 \(<= 1\), as in PyTorch"),
        ((7, 3, 1, -1), ValueError, "pad must be >= 0"),
        ((7, 3, 1, 1, 1), TypeError, "ceil_mode must be True or False, got 1"),
    ],
)
def test_pool_output_size_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        pool_output_size(*args)


# --- parameter and MAC counts --------------------------------------------------------------------


def test_lecture_counts():
    assert conv_params(3, 10, 5) == 760
    assert conv_macs(3, 10, 5, 32) == 768_000
    assert conv_params(3, 10, (5, 5), bias=False) == 750


@pytest.mark.parametrize(
    "c_in, c_out, kernel, groups, bias",
    [
        (3, 10, 5, 1, True), (4, 6, (3, 5), 2, False), (8, 8, 3, 8, True), (2, 4, (3,), 1, True),
        (2, 4, (1, 2, 3), 2, True),
    ],
)
def test_conv_params_match_torch(c_in, c_out, kernel, groups, bias):
    ndim = len(kernel) if isinstance(kernel, tuple) else 2
    layer = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[ndim](c_in, c_out, kernel, groups=groups, bias=bias)
    assert conv_params(c_in, c_out, kernel, groups, bias) == sum(p.numel() for p in layer.parameters())


def test_conv_macs_shapes_and_groups():
    assert conv_macs(4, 6, (3, 5), (10, 8), groups=2) == 6 * 80 * 2 * 15
    assert conv_macs(2, 4, 3, (7,)) == 4 * 7 * 2 * 3  # an int kernel repeats along out_size's axes
    assert conv_macs(2, 4, (1, 2, 3), 5) == 4 * 125 * 2 * 6


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: conv_params(3, 10, 0), ValueError, "kernel"),
        (lambda: conv_params(0, 10, 3), ValueError, "c_in"),
        (lambda: conv_params(3, 10, 3, groups=2), ValueError, "groups = 2 must divide"),
        (lambda: conv_macs(3, 10, (3, 3), (5, 5, 5)), ValueError, "same number of axes"),
        (lambda: conv_macs(3, 10, 3, -1), ValueError, "out_size"),
    ],
)
def test_count_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- receptive field -----------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", [3, 5, 7])
@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_receptive_field_of_stacked_convs(kernel, depth):
    assert receptive_field([(kernel, 1, 1)] * depth) == 1 + depth * (kernel - 1)
    assert receptive_field([Conv(8, kernel, pad=kernel // 2), ReLU()] * depth) == 1 + depth * (kernel - 1)


def test_receptive_field_with_pooling_dilation_and_axes():
    assert receptive_field(LENET5[:6]) == 1 + 4 + 1 + 4 * 2 + 1 * 2  # 16 pixels in a 28x28 digit
    assert receptive_field([(3, 1, 2), (3, 1, 4)]) == 1 + 2 * 2 + 2 * 4
    assert receptive_field([Conv(1, (3, 5)), MaxPool(2), BatchNorm(), Conv(1, 3, stride=(1, 2))]) == (8, 10)
    assert receptive_field([]) == 1


@pytest.mark.parametrize(
    "layers, error, match",
    [
        ([Conv(1, 3), Flatten()], ValueError, "whole input"),
        ([(3, 1)], ValueError, r"\(kernel, stride, dilation\)"),
        ([(0, 1, 1)], ValueError, "kernel of step 0"),
        (["conv"], TypeError, "layer 0"),
    ],
)
def test_receptive_field_bad_input(layers, error, match):
    with pytest.raises(error, match=match):
        receptive_field(layers)


layer_geometry = st.tuples(
    st.sampled_from(["conv", "pool"]), st.integers(1, 4), st.integers(1, 3), st.integers(1, 2)
)


@settings(max_examples=25, deadline=None)
@given(st.lists(layer_geometry, min_size=1, max_size=4), st.integers(0, 2**32 - 1))
def test_receptive_field_matches_backpropagation(geometry, seed):
    """Backpropagate a one-hot gradient from the first output unit; the nonzero input gradient spans the field."""
    torch.manual_seed(seed)
    stack, specs = [], []
    for kind, kernel, stride, dilation in geometry:
        if kind == "conv":
            layer = nn.Conv2d(1, 1, kernel, stride=stride, dilation=dilation, bias=False, dtype=torch.float64)
            with torch.no_grad():
                layer.weight.uniform_(0.5, 1.5)  # positive weights: no cancellation inside the field
            specs.append(Conv(1, kernel, stride=stride, dilation=dilation))
        else:  # average pooling: same geometry as max pooling, but every window pixel gets gradient
            layer = nn.AvgPool2d(kernel, stride)
            specs.append(AvgPool(kernel, stride))
        stack.append(layer)
    field = receptive_field(specs)
    x = torch.rand(1, 1, field + 3, field + 3, dtype=torch.float64, requires_grad=True)
    out = nn.Sequential(*stack)(x)
    out[0, 0, 0, 0].backward()
    rows, cols = torch.nonzero(x.grad[0, 0], as_tuple=True)
    assert (rows.min().item(), cols.min().item()) == (0, 0)
    assert (rows.max().item() + 1, cols.max().item() + 1) == (field, field)


# --- layer specs and summarize -------------------------------------------------------------------

LENET5_ROWS = [
    ("Input", "1 x 28 x 28", "", 0, 0),
    ("Conv (C_out=20, K=5, P=2, S=1)", "20 x 28 x 28", "20 x 1 x 5 x 5", 520, 392_000),
    ("ReLU", "20 x 28 x 28", "", 0, 0),
    ("MaxPool (K=2, S=2)", "20 x 14 x 14", "", 0, 0),
    ("Conv (C_out=50, K=5, P=2, S=1)", "50 x 14 x 14", "50 x 20 x 5 x 5", 25_050, 4_900_000),
    ("ReLU", "50 x 14 x 14", "", 0, 0),
    ("MaxPool (K=2, S=2)", "50 x 7 x 7", "", 0, 0),
    ("Flatten", "2450", "", 0, 0),
    ("Linear (2450 -> 500)", "500", "2450 x 500", 1_225_500, 1_225_000),
    ("ReLU", "500", "", 0, 0),
    ("Linear (500 -> 10)", "10", "500 x 10", 5_010, 5_000),
    ("Total", "", "", 1_256_080, 6_522_000),
]


def test_summarize_lenet5_specs():
    rows, text = quiet_summary(LENET5, (1, 28, 28))
    assert [(r["layer"], r["output_size"], r["weight_size"], r["params"], r["macs"]) for r in rows] == LENET5_ROWS
    assert rows[1]["output_shape"] == (20, 28, 28) and rows[-1]["output_shape"] is None
    lines = text.splitlines()
    assert lines[0].split() == ["Layer", "Output", "Size", "Weight", "Size", "Params", "MACs"]
    assert len(lines) == 2 + len(LENET5_ROWS)
    assert lines[3].split() == ["Conv", "(C_out=20,", "K=5,", "P=2,", "S=1)", "20", "x", "28", "x", "28",
                                "20", "x", "1", "x", "5", "x", "5", "520", "392,000"]
    assert lines[-1].split() == ["Total", "1,256,080", "6,522,000"]


def test_summarize_torch_module_gives_the_same_rows():
    assert quiet_summary(LENET5_TORCH, (1, 28, 28)) == quiet_summary(LENET5, (1, 28, 28))


def test_summarize_course_lenet5_model():
    from cs7150.lenet5 import LeNet5

    assert quiet_summary(LeNet5(), (1, 28, 28))[0] == quiet_summary(LENET5, (1, 28, 28))[0]


def test_summarize_batchnorm_groups_dilation_and_other_dims():
    specs = [Conv(8, 3, pad=1, groups=2, dilation=2), BatchNorm(), ReLU(), AvgPool(2), Flatten(), Linear(4, bias=False)]
    module = nn.Sequential(
        nn.Conv2d(4, 8, 3, padding=1, groups=2, dilation=2), nn.BatchNorm2d(8), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(72, 4, bias=False),
    )
    rows, _ = quiet_summary(specs, (4, 8, 8))
    assert rows[1]["layer"] == "Conv (C_out=8, K=3, P=1, S=1, D=2, G=2)"
    assert rows[1]["output_size"] == "8 x 6 x 6" and rows[1]["weight_size"] == "8 x 2 x 3 x 3"
    assert rows[2] == {"layer": "BatchNorm", "output_shape": (8, 6, 6), "output_size": "8 x 6 x 6",
                       "weight_size": "8", "params": 16, "macs": 288}
    assert rows[-1]["params"] == sum(p.numel() for p in module.parameters())
    assert quiet_summary(module, (4, 8, 8)) == quiet_summary(specs, (4, 8, 8))

    for ndim, conv, pool in ((1, nn.Conv1d, nn.MaxPool1d), (3, nn.Conv3d, nn.MaxPool3d)):
        shape = (2,) + (6,) * ndim
        torch_stack = nn.Sequential(conv(2, 3, 3, padding=1), pool(2))
        assert quiet_summary(torch_stack, shape) == quiet_summary([Conv(3, 3, pad=1), MaxPool(2)], shape)


def test_summarize_pooling_with_padding_and_ceil_mode():
    """Labels show P=, ceil_mode and count_include_pad=False; sizes equal PyTorch's, specs and modules alike."""
    specs = [MaxPool(3, 2, pad=1), AvgPool(2, 2, ceil_mode=True), AvgPool((3, 2), 1, pad=(1, 0), ceil_mode=True,
                                                                          count_include_pad=False)]
    module = nn.Sequential(nn.MaxPool2d(3, 2, padding=1), nn.AvgPool2d(2, 2, ceil_mode=True),
                           nn.AvgPool2d((3, 2), 1, padding=(1, 0), ceil_mode=True, count_include_pad=False))
    rows, _ = quiet_summary(specs, (2, 9, 9))
    expected = (module[:1](torch.zeros(1, 2, 9, 9)), module[:2](torch.zeros(1, 2, 9, 9)), module(torch.zeros(1, 2, 9, 9)))
    assert [r["layer"] for r in rows[1:-1]] == [
        "MaxPool (K=3, S=2, P=1)", "AvgPool (K=2, S=2, ceil_mode)",
        "AvgPool (K=3x2, S=1, P=1x0, ceil_mode, count_include_pad=False)"]
    assert [r["output_shape"] for r in rows[1:-1]] == [tuple(t.shape[1:]) for t in expected] == [
        (2, 5, 5), (2, 3, 3), (2, 3, 2)]
    assert quiet_summary(module, (2, 9, 9)) == (rows, quiet_summary(specs, (2, 9, 9))[1])


def test_summarize_torch_leaves_training_state_alone():
    module = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Dropout(0.5), nn.Flatten(), nn.Linear(8, 3))
    running_mean = module[1].running_mean.clone()
    rows, _ = quiet_summary(module, (1, 4, 4))
    assert module.training and all(m.training for m in module.modules())
    assert torch.equal(module[1].running_mean, running_mean)
    assert [r["layer"] for r in rows[1:-1]] == ["Conv (C_out=2, K=3, P=0, S=1)", "BatchNorm", "Dropout", "Flatten",
                                                 "Linear (8 -> 3)"]
    module.eval()
    quiet_summary(module, (1, 4, 4))
    assert not any(m.training for m in module.modules())


def test_summarize_prints_to_stdout_by_default(capsys):
    summarize([Flatten()], (2, 3))
    assert "Flatten" in capsys.readouterr().out


@pytest.mark.parametrize(
    "model, input_shape, error, match",
    [
        ([Conv(4, 5)], (1, 3, 3), ValueError, r"layer 0 \(Conv.*does not fit its input 1 x 3 x 3"),
        ([Linear(10)], (1, 28, 28), ValueError, r"flat input.*1 x 28 x 28.*Flatten"),
        ([Flatten(), Conv(4, 1)], (1, 4, 4), ValueError, r"layer 1.*\(C, \*spatial\), got 16"),
        ([Conv(4, 3, groups=3)], (2, 8, 8), ValueError, "groups = 3"),
        ([Conv(4, (3, 3))], (1, 8), TypeError, "kernel must be an int or a tuple of 1"),
        ([nn.ReLU()], (1, 8), TypeError, "unknown layer type ReLU"),
        (["relu"], (1, 8), TypeError, "unknown layer type str"),
        ("lenet", (1, 28, 28), TypeError, "model must be"),
        (LENET5, (1, 0, 28), ValueError, "input_shape must be >= 1"),
        (LENET5, (), ValueError, "at least one axis"),
        (LENET5, (1.0, 28, 28), TypeError, "input_shape"),
        (LENET5_TORCH, (3, 28, 28), ValueError, r"input_shape \(3, 28, 28\) does not fit the model"),
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.PReLU()), (1, 8, 8), TypeError, "PReLU"),
    ],
)
def test_summarize_bad_input(model, input_shape, error, match):
    with pytest.raises(error, match=match):
        summarize(model, input_shape, file=io.StringIO())


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Conv(0, 3), ValueError, "Conv out_channels must be >= 1"),
        (lambda: Conv(4, 0), ValueError, "Conv kernel"),
        (lambda: Conv(4, 3, pad=-1), ValueError, "Conv pad"),
        (lambda: Conv(4, 3, stride=(1, 0)), ValueError, "Conv stride"),
        (lambda: MaxPool(2, 0), ValueError, "MaxPool stride"),
        (lambda: AvgPool("2"), TypeError, "AvgPool kernel"),
        (lambda: MaxPool(3, pad=2), ValueError, "MaxPool pad 2 must be at most half the window 3"),
        (lambda: AvgPool((2, 4), pad=(1, 3)), ValueError, r"AvgPool pad \(1, 3\) must be at most half"),
        (lambda: MaxPool(2, pad=-1), ValueError, "MaxPool pad"),
        (lambda: MaxPool(2, ceil_mode="yes"), TypeError, "MaxPool ceil_mode must be True or False"),
        (lambda: AvgPool(2, count_include_pad=0), TypeError, "AvgPool count_include_pad must be True or False"),
        (lambda: Linear(0), ValueError, "Linear out_features"),
    ],
)
def test_spec_validation(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_specs_are_frozen_and_comparable():
    assert MaxPool(2) == MaxPool(2) != AvgPool(2)
    assert repr(MaxPool(2, 2)) == "MaxPool(kernel=2, stride=2, pad=0, ceil_mode=False)"
    assert AvgPool(2) != AvgPool(2, count_include_pad=False)
    with pytest.raises(AttributeError):
        LENET5[0].kernel = 3


def test_format_table():
    text = format_table(["a", "bb"], [["xyz", 1], ["", 22]], "lr")
    assert text.splitlines() == ["a    bb", "---  --", "xyz   1", "     22"]
    with pytest.raises(ValueError, match="2 entries"):
        format_table(["a", "b"], [[1]], "lr")
