"""MNIST data: the IDX reader, ``load_mnist`` on the offline subset, verified
downloads from a local HTTP server (no test touches the internet), and the
``cs7150 data`` command."""
from __future__ import annotations

import argparse
import gzip
import http.server
import shutil
import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cs7150 import data
from coursetools import data_cli
from cs7150.data import IdxFormatError, download_mnist, load_mnist, read_idx

SUBSET = data.DATA_DIR / "mnist-subset"


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array: 00 00 08 ndim, big-endian sizes, the bytes."""
    return bytes([0, 0, 8, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes() + array.tobytes()


# ---------------------------------------------------------------- read_idx

@settings(max_examples=25, deadline=None)
@given(
    array=hnp.arrays(np.uint8, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6)),
    gzipped=st.booleans(),
)
def test_read_idx_round_trip(tmp_path_factory, array, gzipped):
    path = tmp_path_factory.mktemp("idx") / "a.idx"
    raw = idx_bytes(array)
    path.write_bytes(gzip.compress(raw) if gzipped else raw)
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == array.shape
    np.testing.assert_array_equal(out, array)
    out[...] = 0  # writable, not a view of the file's bytes


def test_gzip_is_detected_by_magic_bytes_not_by_name(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "plain.gz").write_bytes(idx_bytes(array))
    (tmp_path / "packed.idx").write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(tmp_path / "plain.gz"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "packed.idx"), array)


def read_error(path, content: bytes) -> str:
    """Write ``content`` to ``path``, check that read_idx rejects it naming the file; the message."""
    path.write_bytes(content)
    with pytest.raises(IdxFormatError) as info:
        read_idx(path)
    assert isinstance(info.value, ValueError)
    assert str(path) in str(info.value)
    return str(info.value)


@pytest.mark.parametrize(
    "header",
    [b"", b"\x00\x00", b"\x12\x34\x08\x01", b"\x00\x00\x09\x01", b"\x00\x00\x08\x00"],
    ids=["empty", "short", "nonzero-lead", "not-ubyte", "zero-dims"],
)
def test_bad_magic(tmp_path, header):
    message = read_error(tmp_path / "bad.idx", header + b"\x00\x00\x00\x01\x07")
    if header:
        assert "bad magic" in message


def test_bad_magic_inside_gzip(tmp_path):
    assert "bad magic" in read_error(tmp_path / "bad.gz", gzip.compress(b"\x08\x03\x00\x00" + bytes(12)))


def test_truncated(tmp_path):
    raw = idx_bytes(np.ones((3, 2, 2), np.uint8))  # 16 + 12 bytes
    message = read_error(tmp_path / "short.idx", raw[:-1])
    assert "truncated: expected 28 bytes" in message and "got 27" in message
    message = read_error(tmp_path / "short.gz", gzip.compress(raw[:-5]))
    assert "truncated" in message and "23" in message


def test_truncated_header(tmp_path):
    raw = idx_bytes(np.ones((3, 2, 2), np.uint8))
    assert "truncated header" in read_error(tmp_path / "head.idx", raw[:9])


def test_trailing_bytes(tmp_path):
    raw = idx_bytes(np.ones((3, 2, 2), np.uint8))
    message = read_error(tmp_path / "long.idx", raw + b"\x00\x00")
    assert "trailing" in message and "2 extra" in message


def test_header_count_disagrees_with_data(tmp_path):
    labels = np.arange(5, dtype=np.uint8)
    says_more = bytes([0, 0, 8, 1]) + np.array([7], ">u4").tobytes() + labels.tobytes()
    says_less = bytes([0, 0, 8, 1]) + np.array([3], ">u4").tobytes() + labels.tobytes()
    assert "truncated" in read_error(tmp_path / "more.idx", says_more)
    assert "trailing" in read_error(tmp_path / "less.idx", says_less)


def test_corrupt_gzip(tmp_path):
    packed = gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8)))
    flipped = packed[:12] + bytes(b ^ 0xFF for b in packed[12:20]) + packed[20:]
    assert "corrupt gzip" in read_error(tmp_path / "flipped.gz", flipped)
    assert "corrupt gzip" in read_error(tmp_path / "cut.gz", packed[: len(packed) // 2])


# ---------------------------------------------------------------- load_mnist

@pytest.mark.parametrize("split, n, class_counts", [
    ("train", 8000, [801, 902, 793, 826, 784, 690, 811, 856, 755, 782]),
    ("test", 2000, [200, 225, 198, 206, 196, 173, 203, 214, 189, 196]),
])
def test_load_mnist_subset(split, n, class_counts):
    x, y = load_mnist(split)
    assert x.shape == (n, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    assert np.bincount(y, minlength=10).tolist() == class_counts
    x_raw, y_raw = load_mnist(split, normalize=False)
    assert x_raw.dtype == np.float32 and x_raw.min() == 0.0 and x_raw.max() == 1.0
    np.testing.assert_array_equal(y_raw, y)
    np.testing.assert_allclose(x, (x_raw - data.MNIST_MEAN) / data.MNIST_STD, rtol=1e-6, atol=1e-6)
    assert abs(x_raw.mean() - data.MNIST_MEAN) < 0.005 and abs(x_raw.std() - data.MNIST_STD) < 0.005
    assert abs(x.mean()) < 0.02 and abs(x.std() - 1) < 0.02


def test_load_mnist_bad_split():
    with pytest.raises(ValueError, match="'validation'"):
        load_mnist("validation")


def test_load_mnist_device_returns_tensors():
    x, y = load_mnist("test", device="cpu")
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and x.device.type == "cpu"
    assert isinstance(y, torch.Tensor) and y.dtype == torch.int64 and tuple(x.shape) == (2000, 1, 28, 28)
    x_np, y_np = load_mnist("test")
    np.testing.assert_array_equal(x.numpy(), x_np)
    np.testing.assert_array_equal(y.numpy(), y_np)


def write_split(root, prefix: str, n_images: int, n_labels: int, gzipped: bool = True) -> None:
    root.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gzipped else ""
    for name, array in ((f"{prefix}-images-idx3-ubyte", np.full((n_images, 28, 28), 255, np.uint8)),
                        (f"{prefix}-labels-idx1-ubyte", np.arange(n_labels, dtype=np.uint8) % 10)):
        raw = idx_bytes(array)
        (root / (name + suffix)).write_bytes(gzip.compress(raw) if gzipped else raw)


def test_load_mnist_root_env_var_and_unpacked_files(tmp_path, monkeypatch):
    write_split(tmp_path / "env", "t10k", 3, 3, gzipped=False)
    monkeypatch.setenv("CS7150_DATA", str(tmp_path / "env"))
    x, y = load_mnist("test", normalize=False)
    assert x.shape == (3, 1, 28, 28) and (x == 1).all() and y.tolist() == [0, 1, 2]
    write_split(tmp_path / "arg", "t10k", 4, 4)
    assert load_mnist("test", root=tmp_path / "arg")[0].shape == (4, 1, 28, 28)  # root beats the env var


def test_load_mnist_missing_files_and_count_mismatch(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        load_mnist("train", root=tmp_path)
    write_split(tmp_path, "train", 4, 3)
    with pytest.raises(ValueError, match="4 images .* 3 labels"):
        load_mnist("train", root=tmp_path)


# ---------------------------------------------------------------- downloads

class MirrorHandler(http.server.BaseHTTPRequestHandler):
    """Serves the subset's files as ``/<mode>/<file name>``: good, missing (404),
    corrupt (right length, wrong bytes), truncated (Content-Length promises the
    whole file, half is sent, then the connection closes)."""

    def do_GET(self):
        self.server.requests.append(self.path)
        mode, _, name = self.path.strip("/").partition("/")
        if mode == "missing" or name not in data.SUBSET_MD5:
            self.send_error(404)
            return
        body = (SUBSET / name).read_bytes()
        if mode == "corrupt":
            body = body[:100] + bytes(b ^ 0x55 for b in body[100:200]) + body[200:]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if mode == "truncated" else body)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def mirror_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def mirror(mirror_server):
    """``mirror(mode)`` is the base URL of one kind of mirror; request logs start empty."""
    mirror_server.requests.clear()
    base = f"http://127.0.0.1:{mirror_server.server_address[1]}"
    return lambda mode: f"{base}/{mode}/"


def test_download_falls_back_in_order_and_leaves_only_verified_files(tmp_path, mirror, mirror_server):
    modes = ["missing", "corrupt", "truncated", "good"]
    paths = download_mnist(tmp_path / "full", mirrors=[mirror(m) for m in modes], timeout=10,
                           checksums=data.SUBSET_MD5)
    names = list(data.SUBSET_MD5)
    assert [p.name for p in paths] == names
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == sorted(names)  # no temp files
    assert all(data.file_md5(p) == data.SUBSET_MD5[p.name] for p in paths)
    assert mirror_server.requests == [f"/{m}/{name}" for name in names for m in modes]


def test_download_all_mirrors_fail(tmp_path, mirror, mirror_server):
    root = tmp_path / "full"
    mirrors = [mirror("missing"), mirror("corrupt"), mirror("truncated")]
    with pytest.raises(data.DownloadError) as info:
        download_mnist(root, mirrors=mirrors, timeout=10, checksums=data.SUBSET_MD5)
    message = str(info.value)
    name = "train-images-idx3-ubyte.gz"
    assert f"could not download {name}" in message
    for url, reason in zip(mirrors, ["404", "MD5 mismatch", "truncated"]):
        assert f"{url}{name}" in message
        assert reason in message.split(f"{url}{name}")[1].splitlines()[0]
    assert "network" in message and str(root) in message
    assert list(root.iterdir()) == []  # nothing half-written, no target file
    assert len(mirror_server.requests) == 3  # gave up at the first file


def test_download_skips_files_already_valid(tmp_path, mirror, mirror_server):
    for name in data.SUBSET_MD5:
        shutil.copy(SUBSET / name, tmp_path / name)
    download_mnist(tmp_path, mirrors=[mirror("good")], timeout=10, checksums=data.SUBSET_MD5)
    assert mirror_server.requests == []


def test_download_replaces_a_corrupt_existing_file(tmp_path, mirror, mirror_server):
    name = "t10k-labels-idx1-ubyte.gz"
    (tmp_path / name).write_bytes(b"half a file")
    download_mnist(tmp_path, mirrors=[mirror("good")], timeout=10, checksums={name: data.SUBSET_MD5[name]})
    assert mirror_server.requests == [f"/good/{name}"]
    assert (tmp_path / name).read_bytes() == (SUBSET / name).read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == [name]


# ---------------------------------------------------------------- cs7150 data

def run_cli(*argv) -> int:
    parser = argparse.ArgumentParser(prog="cs7150 data")
    data_cli.configure(parser)
    return data_cli.run(parser.parse_args(list(argv)))


def test_cli_describes_the_subset(capsys):
    assert run_cli("mnist") == 0
    out = capsys.readouterr().out
    assert out.count("md5 ok (offline subset)") == 4
    assert "8000 images" in out and "801 902 793 826 784 690 811 856 755 782" in out
    assert "2000 images" in out and "200 225 198 206 196 173 203 214 189 196" in out


def test_cli_fails_clearly(tmp_path, capsys):
    assert run_cli("mnist", "--root", str(tmp_path)) == 1
    assert "no train-images-idx3-ubyte.gz" in capsys.readouterr().err
    write_split(tmp_path, "train", 2, 2)
    write_split(tmp_path, "t10k", 1, 1)
    assert run_cli("mnist", "--root", str(tmp_path)) == 1
    assert "md5 UNKNOWN" in capsys.readouterr().out


def test_cli_full_downloads_then_describes(tmp_path, mirror, monkeypatch, capsys):
    monkeypatch.setattr(data, "MNIST_MD5", data.SUBSET_MD5)  # let the subset stand in for full MNIST
    root = tmp_path / "full"
    assert run_cli("mnist", "--full", "--root", str(root), "--mirror", mirror("missing")) == 1
    assert "could not download" in capsys.readouterr().err
    assert list(root.iterdir()) == []
    assert run_cli("mnist", "--full", "--root", str(root), "--mirror", mirror("missing"),
                   "--mirror", mirror("good")) == 0
    out = capsys.readouterr().out
    assert str(root) in out and "8000 images" in out and "2000 images" in out
