"""MNIST: the IDX reader, the offline subset, and full MNIST on request.

``load_mnist`` reads ``data/mnist-subset/`` (8,000 + 2,000 real digits,
shipped with the repository) unless given another folder. ``download_mnist``
fetches the full MNIST from public mirrors, checks each file's MD5 and only
then renames it into place. Nothing here touches the network at import time.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from cs7150.atomic import atomic_write

DATA_DIR = Path(__file__).resolve().parent.parent / "data"  # the repository's data/ folder

MNIST_MEAN = 0.1307  # mean grey level of MNIST's training images, scaled to [0, 1]
MNIST_STD = 0.3081

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
MNIST_MD5 = {  # the official files
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
SUBSET_MD5 = {  # data/mnist-subset/
    "train-images-idx3-ubyte.gz": "22c8a3ccd558cc5fc0463878a3d2c063",
    "train-labels-idx1-ubyte.gz": "0c44d1f2783fd0eabcf0c865d5891415",
    "t10k-images-idx3-ubyte.gz": "1adeae23873dafb3e9b50d540914b81b",
    "t10k-labels-idx1-ubyte.gz": "77bf1cd490c3e66519b92afbb0e95f73",
}
_SPLIT_PREFIX = {"train": "train", "test": "t10k"}
_GZIP_MAGIC = b"\x1f\x8b"
_IDX_UBYTE = 0x08  # the IDX type byte of unsigned bytes, the only type MNIST uses


class IdxFormatError(ValueError):
    """An IDX file is corrupt or truncated; the message names the file and the defect."""


class DownloadError(RuntimeError):
    """No mirror delivered a file with the expected MD5; the message lists each failure."""


def read_idx(path) -> np.ndarray:
    """Read an IDX file (MNIST's format), gzipped or not, into a uint8 array.

    Gzip is detected by the magic bytes ``1f 8b``, not by the file name. The
    header is two zero bytes, the type byte ``0x08`` (unsigned byte), the
    number of dimensions ``ndim``, then ``ndim`` big-endian uint32 sizes
    (magic 2051 = images ``(N, 28, 28)``, 2049 = labels ``(N,)``).

    Args:
        path: str or Path of the file.

    Returns:
        uint8 ndarray of the shape the header states, e.g. ``(N, H, W)``.

    Raises:
        FileNotFoundError: the file does not exist.
        IdxFormatError (a ValueError): corrupt gzip data, a bad magic number, a
            file too short for its header, fewer bytes than the header's sizes
            call for (truncated) or more (trailing data). The message names the
            file and what was wrong.
    """
    path = Path(path)
    raw = path.read_bytes()
    what = "bytes"
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise IdxFormatError(f"{path}: corrupt gzip data ({err})") from None
        what = "bytes after decompression"
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _IDX_UBYTE or raw[3] == 0:
        raise IdxFormatError(
            f"{path}: bad magic number {raw[:4].hex(' ') or '(empty file)'}: expected 00 00 08 "
            f"followed by the number of dimensions (e.g. 0x00000803 = 2051 for images, "
            f"0x00000801 = 2049 for labels)"
        )
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise IdxFormatError(
            f"{path}: truncated header: expected {header_size} {what} for {ndim} dimensions, got {len(raw)}"
        )
    shape = tuple(int(n) for n in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header_size + math.prod(shape)
    if len(raw) < expected:
        raise IdxFormatError(
            f"{path}: truncated: expected {expected} {what} for the header's shape {shape}, got {len(raw)}"
        )
    if len(raw) > expected:
        raise IdxFormatError(
            f"{path}: trailing data: expected {expected} {what} for the header's shape {shape}, "
            f"got {len(raw)} ({len(raw) - expected} extra)"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape).copy()


def mnist_paths(split: str, root=None) -> tuple[Path, Path]:
    """The image and label files of one MNIST split.

    Args:
        split: ``'train'`` or ``'test'`` (files ``train-*`` or ``t10k-*``).
        root: folder holding the four MNIST files (gzipped, or unpacked without
            the ``.gz``). Default: the environment variable ``CS7150_DATA`` if
            set, else the repository's ``data/mnist-subset``.

    Returns:
        ``(images_path, labels_path)``.

    Raises:
        ValueError: ``split`` is not ``'train'`` or ``'test'``.
        FileNotFoundError: a file is in neither form; the message names the folder.
    """
    if split not in _SPLIT_PREFIX:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if root is None:
        root = os.environ.get("CS7150_DATA") or DATA_DIR / "mnist-subset"
    root = Path(root)
    paths = []
    for kind, ndim in (("images", 3), ("labels", 1)):
        name = f"{_SPLIT_PREFIX[split]}-{kind}-idx{ndim}-ubyte"
        path = next((p for p in (root / f"{name}.gz", root / name) if p.is_file()), None)
        if path is None:
            raise FileNotFoundError(
                f"no {name}.gz (or {name}) in {root}; pass root=..., set CS7150_DATA, "
                f"or fetch full MNIST with `cs7150 data mnist --full`"
            )
        paths.append(path)
    return paths[0], paths[1]


def load_mnist(split: str, root=None, normalize: bool = True, device=None):
    """Load one MNIST split as model-ready arrays.

    Args:
        split: ``'train'`` or ``'test'``.
        root: folder of the four MNIST files; see ``mnist_paths`` for the default
            (``data/mnist-subset``: 8,000 train / 2,000 test images).
        normalize: if True, standardize with ``MNIST_MEAN`` and ``MNIST_STD``
            after scaling to [0, 1]; if False, return values in [0, 1].
        device: None for NumPy arrays, or a str / ``torch.device`` to get torch
            tensors already on that device.

    Returns:
        ``(images, labels)``: images float32 ``(N, 1, 28, 28)``, labels int64
        ``(N,)`` with values 0..9; NumPy arrays, or torch tensors on ``device``.

    Raises:
        ValueError: a bad ``split``; image and label counts that disagree;
            images not ``(N, 28, 28)``, labels not ``(N,)`` or not in 0..9.
        IdxFormatError: a corrupt or truncated file.
        FileNotFoundError: a missing file.
    """
    images_path, labels_path = mnist_paths(split, root)
    images = read_idx(images_path)  # (N, 28, 28) uint8
    labels = read_idx(labels_path)  # (N,) uint8
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{images_path}: expected images of shape (N, 28, 28), got {images.shape}")
    if labels.ndim != 1:
        raise ValueError(f"{labels_path}: expected labels of shape (N,), got {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path}: labels must be digits 0..9, found {labels.max()}")
    x = images[:, None].astype(np.float32) / np.float32(255)  # (N, 1, 28, 28) in [0, 1]
    if normalize:
        x = (x - np.float32(MNIST_MEAN)) / np.float32(MNIST_STD)
    y = labels.astype(np.int64)  # (N,)
    if device is None:
        return x, y
    import torch

    return torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)


def file_md5(path) -> str:
    """Hex MD5 of a file's bytes (read in 1 MiB chunks)."""
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            md5.update(chunk)
    return md5.hexdigest()


def download_mnist(root=None, mirrors=MNIST_MIRRORS, timeout: float = 30.0, checksums=None) -> list[Path]:
    """Download the four MNIST files into ``root``, verified and written atomically.

    A file already in ``root`` with the right MD5 is kept and not fetched.
    Otherwise each mirror is tried in turn: the file streams into a temporary
    file in ``root`` (with a progress bar), its MD5 is checked, and only then is
    it renamed into place (``os.replace``). On any failure the temporary file is
    deleted and the next mirror is tried, so no half-written file remains.

    Args:
        root: target folder, created if missing; default ``data/mnist-full``.
        mirrors: base URLs, tried in order; ``mirror + file name`` is fetched.
        timeout: seconds to wait on a connection or read before giving up.
        checksums: dict file name -> hex MD5 naming the files to fetch;
            default ``MNIST_MD5`` (the official files).

    Returns:
        The paths of the files, in the order of ``checksums``.

    Raises:
        DownloadError: every mirror failed for a file; the message lists each
            mirror's failure and what to do.
    """
    root = Path(DATA_DIR / "mnist-full" if root is None else root)
    checksums = MNIST_MD5 if checksums is None else checksums
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, md5 in checksums.items():
        target = root / name
        paths.append(target)
        if target.is_file() and file_md5(target) == md5:
            continue
        failures = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name
            try:
                _fetch(url, target, md5, timeout)
                break
            except (OSError, http.client.HTTPException, ValueError) as err:
                failures.append(f"  {url}: {str(err) or repr(err)}")
        else:
            raise DownloadError(
                f"could not download {name} from any mirror:\n" + "\n".join(failures) + "\n"
                f"Check your network connection (and proxy settings) and try again, or download "
                f"{name} yourself and place it in {root} (its MD5 must be {md5})."
            )
    return paths


def _fetch(url: str, target: Path, md5: str, timeout: float) -> None:
    """Stream ``url`` to a temp file beside ``target``; rename it there if its MD5 is ``md5``.

    Raises OSError / http.client.HTTPException on network failure, ValueError
    on a short transfer or an MD5 mismatch; the temp file never survives.
    """
    from tqdm.auto import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "cs7150"})
    digest, received = hashlib.md5(), 0
    with atomic_write(target) as tmp, urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        with tqdm(total=expected, unit="B", unit_scale=True, desc=target.name, leave=False) as bar:
            for chunk in iter(lambda: response.read(1 << 16), b""):
                tmp.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        if expected is not None and received != expected:
            raise ValueError(f"transfer truncated: expected {expected} bytes, got {received}")
        if digest.hexdigest() != md5:
            raise ValueError(f"MD5 mismatch: expected {md5}, got {digest.hexdigest()}")
