"""UCI files: parse, hold, write. Standard library only."""

from __future__ import annotations

from pathlib import Path

from .package import Package, Section, Value
from .parser import UciSyntaxError, parse
from .writer import dump, quote

__all__ = ["Package", "Section", "Value", "UciSyntaxError", "parse", "dump", "quote", "load"]


def load(path: Path, name: str | None = None) -> Package:
    """Read a UCI file. Bytes that are not UTF-8 survive a later write unchanged."""
    text = path.read_bytes().decode("utf-8", "surrogateescape")
    return parse(text, name or path.name, str(path))
