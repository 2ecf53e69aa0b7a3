"""``cs7150 train``: train one registered model on MNIST, print a results table, save figures.

Writes into ``--out`` (default ``runs/<model>/``): ``curves.png`` (loss and
accuracy per epoch), ``filters.png`` (the first layer's weights: conv1's 20
filters for LeNet-5, the 10 pixel templates of the linear classifier),
``confusion.png`` (held-out confusion matrix) and ``model.pt`` (checkpoint).
The training options and data loading here are shared with ``cs7150 compare``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from cs7150.data import DATA_DIR, load_mnist
from cs7150.models import MODELS, build_model, count_parameters
from cs7150.numpy_lenet import NumpyLeNet5
from cs7150.plots import plot_confusion, plot_filters, plot_history
from cs7150.tables import format_table
from cs7150.train import DEFAULT_LR, OPTIMIZERS, TrainConfig, choose_device, fit, predict_logits, save_checkpoint

CHANCE_ACCURACY = 0.1  # ten digits
HEADERS = ("model", "params", "epochs", "seconds", "train acc", "held-out acc")
ALIGN = "lrrrrr"


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """The options ``train`` and ``compare`` share: budget, device, optimizer, data."""
    defaults = TrainConfig()
    default_lrs = ", ".join(f"{lr:g} for {name}" for name, lr in DEFAULT_LR.items())
    add = parser.add_argument
    add("--epochs", type=int, default=defaults.epochs, help="passes over the training set (default %(default)s)")
    add("--device", default=None, help="cpu, cuda, cuda:N or mps (default: cuda if available, else mps, else cpu)")
    add("--batch-size", type=int, default=defaults.batch_size, help="images per step (default %(default)s)")
    add("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer,
        help="(default %(default)s; numpy-lenet5 always uses SGD + momentum)")
    add("--lr", type=float, default=None, help=f"peak one-cycle learning rate (default: {default_lrs})")
    add("--weight-decay", type=float, default=defaults.weight_decay, help="L2 penalty (default %(default)s)")
    add("--seed", type=int, default=defaults.seed, help="seeds the weights and the batch order (default %(default)s)")
    add("--full", action="store_true", help="train on full MNIST in data/mnist-full/ (fetch it with "
        "`cs7150 data mnist --full`) instead of the 8,000-digit subset")
    add("--limit", type=int, default=None, metavar="N", help="use only the first N training images (quick checks)")
    add("--amp", action="store_true", help="CUDA only: autocast to bf16 (fp16 where bf16 is unsupported)")
    add("--channels-last", action="store_true", help="CUDA only: NHWC memory format")
    add("--no-progress", action="store_true", help="hide the progress bars")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``train``'s options to ``parser``."""
    parser.add_argument("--model", default="lenet5", help=f"one of: {', '.join(MODELS)} (default %(default)s)")
    add_training_arguments(parser)
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the PNGs and the checkpoint (default runs/<model>/)")


def prepare(args: argparse.Namespace):
    """Device, ``TrainConfig``, training set and held-out set from parsed options.

    Returns:
        ``(device, config, train_set, test_set)``; the sets are NumPy
        ``(images (N, 1, 28, 28) float32, labels (N,) int64)``.

    Raises:
        ValueError: a bad device or option (e.g. ``--limit 0``).
        FileNotFoundError: the data folder is missing (the message says how to get it).
    """
    device = choose_device(args.device)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                         weight_decay=args.weight_decay, seed=args.seed, amp=args.amp,
                         channels_last=args.channels_last, progress=not args.no_progress)
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {args.limit}")
    root = DATA_DIR / "mnist-full" if args.full else None
    train_images, train_labels = load_mnist("train", root)
    train_set = (train_images[:args.limit], train_labels[:args.limit])
    return device, config, train_set, load_mnist("test", root)


def result_row(name: str, model, history: list[dict]) -> tuple:
    """One table row: name, parameter count, epochs, training seconds, final train / held-out accuracy."""
    last = history[-1]
    return (name, f"{count_parameters(model):,}", str(len(history)), f"{sum(r['seconds'] for r in history):.1f}",
            f"{100 * last['train_acc']:.2f}%", f"{100 * last['test_acc']:.2f}%")


def first_layer_weights(model, input_shape) -> np.ndarray | None:
    """The first layer's weights as (F, C, HH, WW): conv filters, or a linear layer's rows as images.

    ``input_shape`` is (C, H, W) of one image; returns None for a model without weights.
    """
    state = model.to_torch_state() if isinstance(model, NumpyLeNet5) else model.state_dict()
    weight = next((w for name, w in state.items() if name.endswith("weight")), None)
    if weight is None:
        return None
    weight = weight.detach().float().cpu().numpy()
    return weight if weight.ndim == 4 else weight.reshape(len(weight), *input_shape)  # (F, C, HH, WW)


def save_figures(model, history: list[dict], test_set, out: Path, title: str) -> list[Path]:
    """Write curves.png, filters.png (when the model has weights) and confusion.png into ``out``."""
    images, labels = test_set
    paths = [out / "curves.png", out / "confusion.png"]
    plot_history(history, paths[0], title=title)
    predictions = predict_logits(model, images).argmax(1).cpu().numpy()  # (N,)
    plot_confusion(labels, predictions, path=paths[1], title=f"{title}: held-out confusion")
    weight = first_layer_weights(model, images.shape[1:])
    if weight is not None:
        paths.append(out / "filters.png")
        plot_filters(weight, paths[-1], title=f"{title}: first-layer weights {weight.shape}")
    return paths


def run(args: argparse.Namespace) -> int:
    """Train ``args.model``, print the results table, save figures and a checkpoint; 2 on a usage error."""
    try:
        model = build_model(args.model, seed=args.seed)
        device, config, train_set, test_set = prepare(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"cs7150 train: error: {err}", file=sys.stderr)
        return 2
    history = fit(model, train_set, test_set, config, device, desc=args.model)
    where = "cpu (numpy)" if isinstance(model, NumpyLeNet5) else str(device)
    print(f"\n{args.model} on {where}, {len(train_set[1]):,} training / {len(test_set[1]):,} held-out images")
    chance = ("chance baseline", "0", "-", "-", "-", f"{100 * CHANCE_ACCURACY:.2f}%")
    print(format_table(HEADERS, [result_row(args.model, model, history), chance], ALIGN))
    out = args.out if args.out is not None else Path("runs") / args.model
    out.mkdir(parents=True, exist_ok=True)
    paths = save_figures(model, history, test_set, out, args.model)
    paths.append(save_checkpoint(out / "model.pt", model, history=history, model_name=args.model, seed=args.seed))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
