"""The in-class demo notebooks (assignments/demos/*.ipynb) run headless: no error, figures, an animation, sliders.

Each demo is executed top to bottom in its folder (as ``jupyter nbconvert --execute`` would) with
``CS7150_DEMO_FIGURES`` and ``CS7150_RUNS`` pointing into a temporary folder, so the PNGs it exports for slides
are checked and whatever it trains is not read from, or left in, the repository's ``runs/``. The kernel setup and
the runner are the notebook tests' (``tests/conftest.py``, ``tests/nbtools.py``). The ``lenet5_filters`` demo must
also print that its trained conv1 filters left their random start (median correlation below 0.5); the ``batchnorm``
demo must show spatial batch norm in a convolutional network, not only the fully connected one. Marked ``slow``:
about a minute for all five.
"""
from __future__ import annotations

import re

import pytest

from nbtools import REPO, cell_name, error_text, execute, outputs

DEMOS = sorted((REPO / "assignments" / "demos").glob("*.ipynb"))
WIDGET = "application/vnd.jupyter.widget-view+json"

pytestmark = pytest.mark.skipif(not DEMOS, reason="no notebooks under assignments/demos/")


@pytest.fixture
def demo_env(kernel_env, tmp_path, monkeypatch):
    """Figures exported to ``tmp_path/figures``; trained weights kept in ``tmp_path/runs``; returns the figures folder."""
    figures = tmp_path / "figures"
    monkeypatch.setenv("CS7150_DEMO_FIGURES", str(figures))
    monkeypatch.setenv("CS7150_RUNS", str(tmp_path / "runs"))
    return figures


def data_outputs(nb, mime: str) -> list:
    """Every display or result output of ``nb`` that carries ``mime``."""
    return [o for cell in nb.cells for o in cell.get("outputs", []) if mime in o.get("data", {})]


@pytest.mark.slow
@pytest.mark.parametrize("path", DEMOS, ids=lambda path: path.stem)
def test_demo_runs_headless(path, demo_env):
    nb = execute(path)
    errors = [f"{cell_name(i, cell)}: {error_text(o)}" for i, cell in enumerate(nb.cells) for o in outputs(cell, "error")]
    assert not errors, "\n".join(errors)
    assert data_outputs(nb, "image/png"), "no static figure"
    assert any("<script" in o.data["text/html"] for o in data_outputs(nb, "text/html")), "no animation player"
    assert data_outputs(nb, WIDGET), "no interactive widgets"
    exported = sorted(p.name for p in demo_env.glob("*.png"))
    assert exported, f"no figure exported to $CS7150_DEMO_FIGURES ({demo_env})"
    if path.stem == "lenet5_filters":
        assert_filters_left_their_start(nb)
    if path.stem == "batchnorm":
        assert "batchnorm_spatial_conv.png" in exported, f"no spatial batch norm figure of the conv net: {exported}"


DRIFT = re.compile(r"conv1 filters vs their initialisation: median correlation (-?\d+\.\d\d)")


def assert_filters_left_their_start(nb) -> None:
    """The trained filters the demo shows are learned: it prints their median correlation with their start, below 0.5."""
    printed = [float(m) for cell in nb.cells for o in outputs(cell, "stream", "stdout") for m in DRIFT.findall(o.text)]
    assert len(printed) == 1, f"expected one line matching {DRIFT.pattern!r}, found {printed}"
    assert printed[0] < 0.5, f"conv1's filters still correlate {printed[0]} with their random start"
