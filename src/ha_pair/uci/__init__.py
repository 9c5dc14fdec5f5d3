"""UCI files: parse, hold, write. Standard library only."""

from __future__ import annotations

import os

from .package import Package, Section, Value
from .parser import UciSyntaxError, parse
from .writer import dump, quote

__all__ = ["Package", "Section", "Value", "UciSyntaxError", "parse", "dump", "quote", "load"]


def load(path: str, name: str | None = None) -> Package:
    """Read a UCI file. Bytes that are not UTF-8 survive a later write unchanged."""
    with open(path, "rb") as handle:
        text = handle.read().decode("utf-8", "surrogateescape")
    return parse(text, name or os.path.basename(path), os.fspath(path))
