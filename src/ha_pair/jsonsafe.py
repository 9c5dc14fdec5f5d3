"""JSON from outside (the control socket, ubus arguments, the peer) read with bounds, and JSON out
without NaN or infinity (not JSON at all: ubus, LuCI and jsonfilter refuse it).

Python's json module recurses once per nesting level: deep enough input raises RecursionError
from the middle of a request handler. The depth is checked first, in one pass over the text."""

from __future__ import annotations

import math

from . import leanjson

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any

MAX_DEPTH = 32


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def nesting(text: str) -> int:
    """The deepest nesting of arrays and objects, strings skipped."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def loads(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads, refusing (ValueError) invalid UTF-8, NaN/Infinity and nesting past max_depth."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw  # UnicodeDecodeError is a ValueError
    if nesting(text) > max_depth:
        raise ValueError(f"nested deeper than {max_depth} levels")
    return leanjson.loads(text, parse_constant=_refuse_constant)


def finite(value: Any) -> Any:
    """The value with every NaN or infinite float replaced by None (status data is shallow)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """Compact JSON that is always valid JSON."""
    return leanjson.dumps(finite(value), separators=(",", ":"), allow_nan=False, default=str)
