"""Write a file so that it is either complete or absent.

The data goes to a temporary file in the target's folder, which is renamed
into place (``os.replace``, atomic on one file system) only when writing
finished without an error; on any error the temporary file is removed and
the target is left as it was.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", permissions: int = 0o644):
    """Context manager yielding a file object whose contents become ``path`` on a clean exit.

    Args:
        path: str or Path of the file to write; its folder is created.
        mode: ``"wb"`` (bytes) or ``"w"`` (UTF-8 text, newlines as written).
        permissions: the mode bits ``path`` gets (temporary files start private).
    Raises:
        ValueError: for another ``mode``; whatever the body raises, after
        removing the temporary file.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    text = {"encoding": "utf-8", "newline": ""} if mode == "w" else {}
    try:
        with os.fdopen(handle, mode, **text) as file:
            yield file
        os.chmod(temporary, permissions)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
