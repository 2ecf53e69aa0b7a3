"""Hypothesis strategies shared by the layer tests (one place, as the oracle in ``cs7150.oracle``).

``conv_cases`` draws a float64 convolution (x, w, b, conv_param, dout) whose
dilated kernel fits its padded input, with ``nd`` spatial axes; the pad is an
int, a tuple, 'same' (then stride 1) or 'valid'.
"""
import numpy as np
from hypothesis import assume
from hypothesis import strategies as st


def int_or_tuple(nd, low, high):
    """An int, or a tuple of ``nd`` ints, each in [low, high]."""
    return st.one_of(st.integers(low, high), st.tuples(*[st.integers(low, high)] * nd))


@st.composite
def conv_cases(draw, nd=2, max_n=2, max_channels=4, max_size=8, max_kernel=4, max_groups=2):
    """(x, w, b, conv_param, dout) in float64 with ``nd`` spatial axes, the kernel fitting the padded input;
    groups 1 to ``max_groups`` (at most 2)."""
    groups = draw(st.integers(1, max_groups))
    N = draw(st.integers(1, max_n))
    C = groups * draw(st.integers(1, max_channels // groups))
    F_ = groups * draw(st.integers(1, max_channels // groups))
    size = draw(st.tuples(*[st.integers(1, max_size)] * nd))
    kernel = draw(st.tuples(*[st.integers(1, max_kernel)] * nd))
    pad = draw(st.one_of(int_or_tuple(nd, 0, 2), st.sampled_from(["same", "valid"])))
    stride = 1 if pad == "same" else draw(int_or_tuple(nd, 1, 3))  # PyTorch: 'same' only with stride 1
    conv_param = {"stride": stride, "pad": pad}
    if draw(st.booleans()):
        conv_param["dilation"] = draw(int_or_tuple(nd, 1, 2))
    if groups > 1 or draw(st.booleans()):
        conv_param["groups"] = groups
    per_axis = lambda key, default: np.broadcast_to(conv_param.get(key, default), (nd,))  # noqa: E731
    spans = per_axis("dilation", 1) * (np.array(kernel) - 1) + 1
    zeros = {"same": spans - 1, "valid": 0}[pad] if isinstance(pad, str) else 2 * per_axis("pad", 0)
    padded = np.array(size) + zeros  # per axis; 'same' puts the odd zero after, as PyTorch
    assume(np.all(spans <= padded))

    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((N, C, *size))
    w = rng.standard_normal((F_, C // groups, *kernel))
    b = rng.standard_normal(F_)
    out_size = (padded - spans) // per_axis("stride", 1) + 1
    dout = rng.standard_normal((N, F_, *out_size))
    return x, w, b, conv_param, dout
