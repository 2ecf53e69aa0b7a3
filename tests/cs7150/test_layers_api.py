"""The student-facing namespace: every layer DESIGN.md promises is in cs7150.layers,
documented, no layer module imports torch, and no layer ignores a key of its parameter dict."""
import ast
import inspect
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import cs7150.layers as layers

PACKAGE = pathlib.Path(layers.__file__).parent
LAYER_MODULES = ["conv", "conv_fast", "pool", "pool_fast", "dense", "batchnorm", "loss", "_params", "_windows"]


@pytest.mark.parametrize("name", layers.__all__)
def test_every_layer_is_exported_and_documented(name):
    fn = getattr(layers, name)
    doc = inspect.getdoc(fn) or ""
    assert len(doc) > 80, f"{name} needs a docstring stating shapes, returns and errors"
    assert "shape" in doc.lower() or "(N," in doc, f"{name}'s docstring does not state shapes"


@pytest.mark.parametrize("module", LAYER_MODULES)
def test_layers_are_numpy_only(module):
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert "torch" not in imported, f"cs7150/{module}.py imports torch; layers must be NumPy only"


# Every function that takes a parameter dict, a valid call of it, and the keys its dict accepts.
X4, W4, B = np.zeros((2, 2, 6, 6)), np.zeros((2, 2, 3, 3)), np.zeros(2)
CONV_KEYS = ["stride", "pad", "dilation", "groups"]
MAX_POOL_KEYS = ["pool_height", "pool_width", "stride", "pad", "ceil_mode"]
BN_KEYS = ["mode", "eps", "momentum", "running_mean", "running_var"]
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}
PARAM_CALLS = {
    "conv_forward_naive": (lambda p: layers.conv_forward_naive(X4, W4, B, p), {"stride": 1, "pad": 1}, CONV_KEYS),
    "conv_forward_fast": (lambda p: layers.conv_forward_fast(X4, W4, B, p), {"stride": 1, "pad": 1}, CONV_KEYS),
    "conv1d_forward_fast": (lambda p: layers.conv1d_forward_fast(X4[..., 0], W4[..., 0], B, p),
                            {"stride": 1, "pad": "same"}, CONV_KEYS),
    "conv3d_forward_fast": (lambda p: layers.conv3d_forward_fast(X4[..., None], W4[..., None], B, p),
                            {"stride": 1, "pad": "valid"}, CONV_KEYS),
    "max_pool_forward_naive": (lambda p: layers.max_pool_forward_naive(X4, p), POOL, MAX_POOL_KEYS),
    "max_pool_forward_fast": (lambda p: layers.max_pool_forward_fast(X4, p), POOL, MAX_POOL_KEYS),
    "avg_pool_forward_naive": (lambda p: layers.avg_pool_forward_naive(X4, p), POOL,
                               MAX_POOL_KEYS + ["count_include_pad"]),
    "avg_pool_forward_fast": (lambda p: layers.avg_pool_forward_fast(X4, p), POOL,
                              MAX_POOL_KEYS + ["count_include_pad"]),
    "batchnorm_forward": (lambda p: layers.batchnorm_forward(X4[:, :, 0, 0], B + 1, B, p), {"mode": "train"}, BN_KEYS),
    "spatial_batchnorm_forward": (lambda p: layers.spatial_batchnorm_forward(X4, B + 1, B, p), {"mode": "test"},
                                  BN_KEYS),
}
TYPOS = ["padding", "strides", "padd", "dilation", "kernel_size", "momemtum", "Mode"]


def test_every_function_with_a_parameter_dict_is_covered():
    taking_a_dict = {name for name in layers.__all__
                     if {"conv_param", "pool_param", "bn_param"} & set(inspect.signature(getattr(layers, name)).parameters)}
    assert taking_a_dict == set(PARAM_CALLS)


@pytest.mark.parametrize("name", PARAM_CALLS)
@pytest.mark.parametrize("key", TYPOS)
def test_a_key_a_layer_does_not_document_is_an_error(name, key):
    """Every key outside the layer's documented ones raises a ValueError naming it and listing the accepted keys;
    the documented keys are the ones the docstrings list."""
    call, good, accepted = PARAM_CALLS[name]
    call(dict(good))  # the valid call works
    if key in accepted:
        return
    listed = ", ".join(repr(k) for k in accepted)
    with pytest.raises(ValueError, match=rf"unknown key '{key}'.*; it accepts {re.escape(listed)}$"):
        call({**good, key: good.get("stride", 1)})


@pytest.mark.parametrize("name", PARAM_CALLS)
def test_docstrings_list_the_accepted_keys(name):
    """A layer's docstring (or its module's) names every key the layer accepts."""
    fn = getattr(layers, name)
    text = (inspect.getdoc(fn) or "") + (inspect.getdoc(inspect.getmodule(fn)) or "")
    missing = [key for key in PARAM_CALLS[name][2] if f"'{key}'" not in text]
    assert not missing, f"{name}: its docstring and its module's do not name {missing}"


@pytest.mark.parametrize("broken, working", [("conv", "conv_fast"), ("pool", "pool_fast"),
                                             ("conv_fast", "conv"), ("pool_fast", "pool"), ("shapes", "pool")])
def test_a_broken_student_file_leaves_the_others_working(tmp_path, broken, working):
    """A syntax error in one student file (or in shapes, whose exercise answers the release stubs) costs only that
    file: the other layer files import nothing of it."""
    package = tmp_path / "cs7150"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    with open(package / f"{broken}.py", "a") as file:
        file.write("\ndef broken(:\n")
    call = {"conv": "conv_forward_naive(x, np.ones((1, 1, 2, 2)), np.zeros(1), {'stride': 1, 'pad': 'same'})",
            "conv_fast": "conv_forward_fast(x, np.ones((1, 1, 2, 2)), np.zeros(1), {'stride': 1, 'pad': 'same'})",
            "pool": "max_pool_forward_naive(x, {'pool_height': 2, 'pool_width': 2, 'stride': 2, 'pad': 1})",
            "pool_fast": "max_pool_forward_fast(x, {'pool_height': 2, 'pool_width': 2, 'stride': 2, 'pad': 1})"}
    code = (f"import numpy as np\nfrom cs7150.{working} import *\nx = np.ones((1, 1, 4, 4))\n"
            f"print({call[working]}[0].shape)")
    result = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + code],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in ("(1, 1, 4, 4)", "(1, 1, 3, 3)")
