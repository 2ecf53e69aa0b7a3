"""atomic_write: the target is complete or untouched, and no temporary file survives."""
import pytest

from cs7150.atomic import atomic_write


def test_writes_bytes_and_text_with_readable_permissions(tmp_path):
    with atomic_write(tmp_path / "sub" / "a.bin") as file:
        file.write(b"\x00\x01")
    with atomic_write(tmp_path / "b.txt", "w") as file:
        file.write("line\r\n")
    assert (tmp_path / "sub" / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_bytes() == b"line\r\n"
    assert (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o644


def test_an_error_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="stop"):
        with atomic_write(target, "w") as file:
            file.write("half")
            raise RuntimeError("stop")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_rejects_other_modes(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(tmp_path / "a", "a"):
            pass
