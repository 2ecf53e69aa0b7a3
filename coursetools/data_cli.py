"""``cs7150 data mnist [--full] [--root DIR]``: check the MNIST files, or fetch full MNIST.

Without ``--full`` it verifies the offline subset (or the folder ``--root``
names): every file's MD5, the image and label counts, and the count per class.
With ``--full`` it first downloads the official files into
``data/mnist-full/`` (or ``--root``), then checks them the same way.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from cs7150 import data

_KNOWN_MD5 = (("offline subset", data.SUBSET_MD5), ("official MNIST", data.MNIST_MD5))


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``data`` subcommand's arguments to ``parser``."""
    parser.add_argument("dataset", choices=["mnist"], help="the data set (only mnist)")
    parser.add_argument("--full", action="store_true", help="download the full MNIST (60,000 + 10,000 images)")
    parser.add_argument(
        "--root", metavar="DIR", default=None,
        help="folder of the four MNIST files (default: $CS7150_DATA or data/mnist-subset; data/mnist-full with --full)",
    )
    parser.add_argument(
        "--mirror", metavar="URL", action="append", default=None,
        help="base URL to download from instead of the default mirrors (repeatable, tried in order)",
    )
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=30.0, help="network timeout in seconds (default 30)")


def run(args: argparse.Namespace) -> int:
    """Download (with ``--full``) and describe the MNIST files; 0 if all is well, 1 otherwise."""
    root = args.root
    if args.full:
        root = data.DATA_DIR / "mnist-full" if root is None else root
        try:
            data.download_mnist(root, mirrors=args.mirror or data.MNIST_MIRRORS, timeout=args.timeout)
        except data.DownloadError as err:
            print(f"cs7150 data: {err}", file=sys.stderr)
            return 1
    try:
        return describe(root)
    except (OSError, ValueError) as err:
        print(f"cs7150 data: {err}", file=sys.stderr)
        return 1


def describe(root=None) -> int:
    """Print each file's MD5 verdict and each split's counts; 1 if an MD5 is unknown, else 0.

    Raises FileNotFoundError for a missing file and ValueError (IdxFormatError
    included) for a corrupt one, as ``load_mnist`` does.
    """
    status = 0
    splits = {split: data.mnist_paths(split, root) for split in ("train", "test")}
    print(f"MNIST in {splits['train'][0].parent}")
    for path in (p for paths in splits.values() for p in paths):
        md5 = data.file_md5(path)
        known = [label for label, table in _KNOWN_MD5 if table.get(path.name) == md5]
        verdict = f"md5 ok ({known[0]})" if known else "md5 UNKNOWN: neither the offline subset nor official MNIST"
        status = status if known else 1
        print(f"  {path.name:28s} {md5}  {verdict}")
    for split in splits:
        images, labels = data.load_mnist(split, root, normalize=False)  # (N, 1, 28, 28), (N,)
        counts = " ".join(str(n) for n in np.bincount(labels, minlength=10))
        print(f"  {split + ':':6s} {len(images)} images of {images.shape[2]}x{images.shape[3]}; per class 0..9: {counts}")
    if status:
        print("cs7150 data: some files have an unexpected MD5 (see above)", file=sys.stderr)
    return status
