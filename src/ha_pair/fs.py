"""Writing files so that a reader sees the old content or the new one, never half of either: how
every part of ha-pair writes a file (generated configuration, /etc/config/dhcp, lease state,
history, pinned host keys). The path type itself is fspath.FsPath."""

from __future__ import annotations

import os

from .fspath import FsPath

KEEP_MODE = -1  # `mode` for a file someone else owns (/etc/config/dhcp): keep its mode and owner


def atomic_write(path: FsPath, data: str | bytes, mode: int = 0o644) -> bool:
    """Replace `path` with `data` (temp file in the same directory, fsync, rename, fsync of the
    directory so that the rename itself survives a power cut).

    Returns False, writing nothing, when the file already holds exactly `data`. With KEEP_MODE an
    existing file keeps its mode and owner (a new one gets 0644).
    """
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    owner = None
    try:
        if path.read_bytes() == raw:
            return False
        if mode == KEEP_MODE:
            info = os.stat(path)
            mode, owner = info.st_mode & 0o7777, (info.st_uid, info.st_gid)
    except OSError:
        pass
    if mode == KEEP_MODE:
        mode = 0o644
    path.parent.mkdir(parents=True, exist_ok=True)
    # not tempfile: it loads shutil, random, bz2 and lzma into the long-running agent
    temp = os.path.join(path.parent, f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        if owner is not None:
            os.chown(temp, *owner)
        os.chmod(temp, mode)
        os.replace(temp, path)
        _fsync_directory(path.parent)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    return True


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
