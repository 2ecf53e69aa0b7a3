"""Figures of a training run (loss/accuracy curves, first-layer filters, a confusion matrix) and of a wrong map.

``filter_correlations`` measures how far training moved each first-layer filter from its initial value;
``plot_filter_change`` shows the filters before, after and after minus before, side by side.

``plot_map_difference`` shows an expected feature map, a student's and their difference (the grader embeds it
in its feedback with ``png_data_uri``; the notebooks' checks show it beside a failing comparison).

Each function returns a matplotlib ``Figure`` (shown inline in a notebook) and,
given ``path``, also saves it as a PNG. Figures are built without ``pyplot``,
so saving works on machines without a display and leaves the notebook's
backend alone.
"""
from __future__ import annotations

import base64
import io
import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def _save(fig: Figure, path) -> Figure:
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def plot_history(history: list[dict], path=None, title: str = "") -> Figure:
    """Loss and accuracy per epoch, training (running mean) and held-out; for one epoch, two labelled bars each.

    Args:
        history: the list of dicts returned by ``cs7150.train.fit``.
        path: where to save the PNG, or None.
        title: figure title (e.g. the model's name).

    Returns:
        The ``Figure`` (two axes: cross-entropy, accuracy in %).
    """
    epochs = [row["epoch"] for row in history]
    fig = Figure(figsize=(9, 3.5))
    ax_loss, ax_acc = fig.subplots(1, 2)
    if len(history) == 1:  # one epoch: two labelled bars per panel, not two dots under a legend
        return _save(_plot_one_epoch(fig, ax_loss, ax_acc, history[0], title), path)
    for key, label in (("train", "train (running)"), ("test", "held-out")):
        ax_loss.plot(epochs, [row[f"{key}_loss"] for row in history], "o-", label=label)
        ax_acc.plot(epochs, [100 * row[f"{key}_acc"] for row in history], "o-", label=label)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return _save(fig, path)


def _plot_one_epoch(fig: Figure, ax_loss, ax_acc, row: dict, title: str) -> Figure:
    """Bars of the training (running mean over the epoch) and held-out loss and accuracy of a one-epoch run."""
    names = ["train\n(running mean)", "held-out\n(end of epoch)"]
    for ax, key, scale, unit, name in ((ax_loss, "loss", 1, "", "cross-entropy"),
                                       (ax_acc, "acc", 100, "%", "accuracy (%)")):
        values = [scale * row[f"train_{key}"], scale * row[f"test_{key}"]]
        bars = ax.bar(names, values, color=["C0", "C1"], width=0.5)
        ax.bar_label(bars, [f"{v:.3f}" if unit == "" else f"{v:.2f}%" for v in values], fontsize=8)
        ax.set(ylabel=name, title=f"{'loss' if key == 'loss' else 'accuracy'} after epoch {row['epoch']}")
        ax.set_ylim(0, max(values) * 1.15)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(title)
    return fig


def plot_filters(weight: np.ndarray, path=None, title: str = "first-layer filters") -> Figure:
    """A grid of filters, one tile per output channel (input channel 0), each on its own grey scale.

    Args:
        weight: ndarray (F, C, HH, WW), e.g. LeNet-5's conv1.weight (20, 1, 5, 5).
        path: where to save the PNG, or None.
        title: figure title.

    Returns:
        The ``Figure``.

    Raises:
        ValueError: ``weight`` is not 4-dimensional.
    """
    weight = np.asarray(weight)
    if weight.ndim != 4:
        raise ValueError(f"weight must have shape (F, C, HH, WW), got {weight.shape}")
    n_filters = weight.shape[0]
    cols = min(n_filters, 10)
    rows = math.ceil(n_filters / cols)
    fig = Figure(figsize=(1.1 * cols, 1.2 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i < n_filters:
            ax.imshow(weight[i, 0], cmap="gray", interpolation="nearest")
            ax.set_title(str(i), fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


DRIFT_LINE = "conv1 filters vs their initialisation: median correlation {:.2f}"


def _filter_pair(before, after) -> tuple[np.ndarray, np.ndarray]:
    before, after = np.asarray(before, dtype=np.float64), np.asarray(after, dtype=np.float64)
    if before.ndim != 4 or before.shape != after.shape:
        raise ValueError(f"before and after must be filters of one shape (F, C, HH, WW), got {before.shape} "
                         f"and {after.shape}")
    return before, after


def filter_correlations(before, after) -> np.ndarray:
    """Pearson correlation of each filter after training with its own initial value.

    Args:
        before, after: float arrays (F, C, HH, WW), e.g. conv1.weight at initialisation and after training.

    Returns:
        float64 ndarray (F,): for filter f, the correlation over its C * HH * WW weights (1: training only
        rescaled it or left it alone; near 0: it is no longer its random start).

    Raises:
        ValueError: the shapes differ or are not 4-dimensional, or a filter is constant (no correlation).
    """
    before, after = _filter_pair(before, after)
    a = before.reshape(len(before), -1)
    b = after.reshape(len(after), -1)
    a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
    norms = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))  # (F,)
    if not np.all(norms > 0):
        raise ValueError(f"filters {np.flatnonzero(~(norms > 0)).tolist()} are constant before or after: "
                         "they have no correlation")
    return (a * b).sum(axis=1) / norms


def filter_drift_line(before, after) -> str:
    """The line ``conv1 filters vs their initialisation: median correlation X.XX`` for (F, C, HH, WW) filters."""
    return DRIFT_LINE.format(float(np.median(filter_correlations(before, after))))


def plot_filter_change(before, after, path=None, title: str = "conv1") -> Figure:
    """Three grids side by side: the filters before training, after, and after minus before.

    Every tile has its own grey scale (input channel 0); each tile of the "after" grid is titled with the
    filter's correlation with its initial value (``filter_correlations``), each panel with its weights' range.

    Args:
        before, after: float arrays (F, C, HH, WW), e.g. conv1.weight at initialisation and after training.
        path: where to save the PNG, or None.
        title: figure title.

    Returns:
        The ``Figure``.

    Raises:
        ValueError: as ``filter_correlations``.
    """
    before, after = _filter_pair(before, after)
    correlations = filter_correlations(before, after)
    n_filters = len(before)
    cols = min(n_filters, 5)
    rows = math.ceil(n_filters / cols)
    fig = Figure(figsize=(3 * (1.05 * cols + 0.3), 1.15 * rows + 0.9))
    panels = (("before", before, None), ("after", after, correlations), ("after - before", after - before, None))
    for subfig, (name, weights, labels) in zip(fig.subfigures(1, 3), panels):
        axes = subfig.subplots(rows, cols, squeeze=False).ravel()
        for i, ax in enumerate(axes):
            ax.set_axis_off()
            if i < n_filters:
                ax.imshow(weights[i, 0], cmap="gray", interpolation="nearest")
                ax.set_title(f"{i}" if labels is None else f"{i}: r={labels[i]:.2f}", fontsize=7)
        subfig.suptitle(f"{name}\n|w| up to {np.abs(weights).max():.3g}", fontsize=9)
    fig.suptitle(f"{title}: median correlation with the initial filter {np.median(correlations):.2f}", y=1.04)
    return _save(fig, path)


def confusion_matrix(labels, predictions, num_classes: int = 10) -> np.ndarray:
    """Counts (num_classes, num_classes): row = true class, column = predicted class.

    Args:
        labels, predictions: int arrays (N,) with values in [0, num_classes).

    Raises:
        ValueError: different lengths, or a value outside [0, num_classes).
    """
    labels, predictions = np.asarray(labels).ravel(), np.asarray(predictions).ravel()
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ in shape")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}), got [{values.min()}, {values.max()}]")
    return np.bincount(labels * num_classes + predictions, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def plot_confusion(labels, predictions, num_classes: int = 10, path=None, title: str = "held-out confusion") -> Figure:
    """The confusion matrix as an annotated heat map (true class down, predicted across).

    Args:
        labels, predictions: int arrays (N,) with values in [0, num_classes).
        num_classes: int.
        path: where to save the PNG, or None.
        title: figure title (the accuracy is appended).

    Returns:
        The ``Figure``.
    """
    counts = confusion_matrix(labels, predictions, num_classes)  # (K, K)
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    ax.imshow(counts, cmap="Blues")
    for (i, j), count in np.ndenumerate(counts):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                color="white" if count > counts.max() / 2 else "black")
    ax.set(xlabel="predicted", ylabel="true", xticks=range(num_classes), yticks=range(num_classes),
           title=f"{title} (accuracy {100 * accuracy:.1f}%)")
    return _save(fig, path)


def map_slice(expected: np.ndarray, yours: np.ndarray) -> tuple[tuple[int, ...], np.ndarray, np.ndarray]:
    """The one 2-D map of two (N, C, H, W) arrays that shows a wrong result best, and that map of each.

    Returns ``((n, c), expected[n, c], yours[n, c])`` for the sample and channel of the largest absolute
    difference when the shapes agree, else for (0, 0) of each (an output of the wrong size).

    Raises:
        ValueError: an array is not 4-dimensional (N, C, H, W).
    """
    expected, yours = np.asarray(expected, dtype=np.float64), np.asarray(yours, dtype=np.float64)
    for name, array in (("expected", expected), ("yours", yours)):
        if array.ndim != 4:
            raise ValueError(f"{name} must have shape (N, C, H, W), got {array.shape}")
    index = (0, 0)
    if expected.shape == yours.shape:
        gap = np.nan_to_num(np.abs(yours - expected), nan=np.inf)
        index = tuple(int(i) for i in np.unravel_index(np.argmax(gap), gap.shape)[:2])
    return index, expected[index], yours[index]


def plot_map_difference(expected: np.ndarray, yours: np.ndarray, name: str = "out", path=None,
                        title: str = "") -> Figure:
    """Expected map, your map and their difference side by side: a shifted, flipped or unpadded output at a glance.

    Args:
        expected, yours: float arrays (N, C, H, W), e.g. PyTorch's and a student's convolution output; the
            sample and channel shown are ``map_slice``'s.
        name: the output's name for the titles ("out", "dx").
        path: where to save the PNG, or None.
        title: a line above the panels (e.g. which input the maps were computed on), or "".

    Returns:
        The ``Figure``: expected and yours on one colour scale, the difference (yours - expected) on a
        symmetric one; without a difference panel when the shapes differ (the titles give both shapes).

    Raises:
        ValueError: an array is not 4-dimensional.
    """
    (n, c), want, got = map_slice(expected, yours)
    same = want.shape == got.shape
    fig = Figure(figsize=(6.6 if same else 4.4, 2.3))
    axes = fig.subplots(1, 3 if same else 2, squeeze=False)[0]
    low = min(np.nanmin(want), np.nanmin(got)) if got.size and want.size else 0
    high = max(np.nanmax(want), np.nanmax(got)) if got.size and want.size else 1
    for ax, who, image in zip(axes, ("expected", "yours"), (want, got)):
        ax.imshow(image, cmap="viridis", vmin=low, vmax=high, interpolation="nearest")
        ax.set_title(f"{who} {name}[{n}, {c}]" + ("" if same else f"\nshape {image.shape}"), fontsize=8)
    if same:
        diff = np.nan_to_num(got - want, nan=0.0, posinf=0.0, neginf=0.0)
        bound = float(np.abs(diff).max()) or 1.0
        image = axes[2].imshow(diff, cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest")
        axes[2].set_title("yours - expected", fontsize=8)
        fig.colorbar(image, ax=axes[2], fraction=0.046, pad=0.04)
    for ax in axes:
        ax.set(xticks=[], yticks=[])
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def png_data_uri(fig: Figure, dpi: int = 60) -> str:
    """``fig`` as a PNG in a ``data:image/png;base64,...`` URI, for an ``<img src=...>`` in an HTML page."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
