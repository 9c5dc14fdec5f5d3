"""Write files so that a reader sees the old content or the new one, never half of either."""

from __future__ import annotations

import os
import tempfile
from ..fspath import FsPath


def atomic_write(path: FsPath, data: str | bytes, mode: int = 0o644) -> bool:
    """Replace `path` with `data` (temp file in the same directory, fsync, rename).

    Returns False, writing nothing, when the file already holds exactly `data`.
    """
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    try:
        if path.read_bytes() == raw:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    return True
