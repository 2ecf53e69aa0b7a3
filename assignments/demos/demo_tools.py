"""Helpers shared by the in-class demo notebooks of this folder.

Every demo draws its figures with a plain function, then shows them three ways:
static figures (also when the notebook runs headless, e.g. in CI or through
``jupyter nbconvert --execute``), a matplotlib animation rendered as an
HTML/JavaScript player (no ffmpeg needed), and ipywidgets sliders for live use.

Set the environment variable ``CS7150_DEMO_FIGURES`` to a folder to also save
every figure shown with ``show`` there as a PNG (for slides). ``CS7150_RUNS``
moves the folder where demos keep what they train (default: the repository's
``runs/``, which git ignores).
"""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML, display
from matplotlib import animation, cbook

import cs7150

FIGURES_ENV = "CS7150_DEMO_FIGURES"
RUNS_ENV = "CS7150_RUNS"
REPO = Path(cs7150.__file__).resolve().parents[1]


def show(fig, name: str) -> None:
    """Display ``fig`` inline, save it as ``<$CS7150_DEMO_FIGURES>/<name>.png`` when that variable is set, close it.

    Args:
        fig: a matplotlib Figure.
        name: file name without extension, e.g. ``"sliding_filter_grid"``.
    """
    folder = os.environ.get(FIGURES_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        fig.savefig(Path(folder) / f"{name}.png", dpi=150, bbox_inches="tight")
    display(fig)
    plt.close(fig)


def animate(fig, update, frames, interval: int = 600) -> HTML:
    """An HTML/JavaScript player of ``update(frame)`` drawn on ``fig`` for every item of ``frames``.

    Args:
        fig: the Figure ``update`` draws on (closed afterwards, so it is not shown twice).
        update: callable taking one frame value and redrawing the figure.
        frames: sequence of frame values.
        interval: milliseconds between frames.

    Returns:
        ``IPython.display.HTML``: the last line of a cell displays it; it plays offline and in exported HTML.
    """
    player = animation.FuncAnimation(fig, update, frames=frames, interval=interval)
    html = HTML(player.to_jshtml(default_mode="loop"))
    plt.close(fig)
    return html


def runs_dir() -> Path:
    """Folder for what the demos train: ``$CS7150_RUNS/demos`` or ``<repo>/runs/demos`` (created)."""
    folder = Path(os.environ.get(RUNS_ENV) or REPO / "runs") / "demos"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def grey_photo(block: int = 2) -> np.ndarray:
    """The photograph shipped with matplotlib (grace_hopper.jpg), grey, averaged over ``block`` x ``block`` pixels.

    Returns float64 (600 // block, 512 // block) in [0, 1]; ``block`` must divide 600 and 512 (1, 2, 4, 8).
    Raises ValueError for another block size.
    """
    if 600 % block or 512 % block:
        raise ValueError(f"block must divide 600 and 512 (1, 2, 4 or 8), got {block}")
    with cbook.get_sample_data("grace_hopper.jpg") as image_file:
        rgb = plt.imread(image_file).astype(np.float64) / 255  # (600, 512, 3)
    grey = rgb @ np.array([0.299, 0.587, 0.114])                # (600, 512)
    return grey.reshape(600 // block, block, 512 // block, block).mean(axis=(1, 3))
