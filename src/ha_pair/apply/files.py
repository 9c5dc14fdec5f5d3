"""Write files so that a reader sees the old content or the new one, never half of either."""

from __future__ import annotations

import os
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
    # not tempfile: it loads shutil, random, bz2 and lzma into the long-running agent
    temp = os.path.join(path.parent, f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
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
