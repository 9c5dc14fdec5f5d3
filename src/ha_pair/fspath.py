"""FsPath: the few pathlib operations ha-pair needs, on a plain str.

Why not pathlib: importing it pulls urllib.parse, which OpenWrt ships outside python3-light
(python3-urllib, which pulls python3-email), and costs ~12 ms of every `ha-pair` start on a
router. A str subclass also goes straight into open(), os.* and subprocess argument lists.
"""

from __future__ import annotations

import os


class FsPath(str):
    __slots__ = ()

    def __truediv__(self, other: str) -> "FsPath":
        return FsPath(os.path.join(self, os.fspath(other)))

    @property
    def parent(self) -> "FsPath":
        return FsPath(os.path.dirname(self.rstrip("/") or "/") or ".")

    @property
    def name(self) -> str:
        return os.path.basename(self.rstrip("/"))

    def exists(self) -> bool:
        return os.path.exists(self)

    def is_file(self) -> bool:
        return os.path.isfile(self)

    def stat(self) -> os.stat_result:
        return os.stat(self)

    def read_bytes(self) -> bytes:
        with open(self, "rb") as handle:
            return handle.read()

    def read_text(self, errors: str = "strict") -> str:
        with open(self, encoding="utf-8", errors=errors) as handle:
            return handle.read()

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        if parents:
            os.makedirs(self, exist_ok=exist_ok)
        elif not (exist_ok and os.path.isdir(self)):
            os.mkdir(self)

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            os.unlink(self)
        except FileNotFoundError:
            if not missing_ok:
                raise
