"""The student-facing namespace: every layer DESIGN.md promises is in cs7150.layers,
documented, and no layer module imports torch."""
import ast
import inspect
import pathlib

import pytest

import cs7150.layers as layers

PACKAGE = pathlib.Path(layers.__file__).parent
LAYER_MODULES = ["conv", "conv_fast", "pool", "pool_fast", "dense", "batchnorm", "loss", "_params"]


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
