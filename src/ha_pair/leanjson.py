"""JSON for the commands that start often (`ha-pair status`) and for the long-running agent, with
only the interpreter's C accelerator `_json`: the json package imports re, enum, collections and
functools, about 10 ms of a status run's 40 ms on a lab router, and ~160 kB of the agent's RSS.
Same results as json.loads, json.dumps (one line) and json.dumps(indent=2, sort_keys=True,
default=str) (tests/unit/test_leanjson.py compares them); without `_json`, or on input json would
reject, json itself runs (its error messages stay the same)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any

try:
    from _json import (encode_basestring as _string_utf8, encode_basestring_ascii as _string,
                       make_encoder as _make_encoder, make_scanner as _make_scanner)
except ImportError:  # an interpreter without the accelerator: json's own code below
    _string = _string_utf8 = _make_encoder = _make_scanner = None

_WHITESPACE = " \t\n\r"
_INFINITY = float("inf")


class _Context:
    """What json's scanner reads from its decoder: the defaults of json.loads."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": -_INFINITY, "Infinity": _INFINITY, "NaN": float("nan")}.__getitem__


_scan = _make_scanner(_Context()) if _make_scanner is not None else None
_scanners = {None: _scan}  # by parse_constant


def loads(raw: bytes | str, parse_constant: Any = None) -> Any:
    """json.loads (with json's parse_constant)."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw  # json detects UTF-16/32 too: not sent here
    start, end = len(text) - len(text.lstrip(_WHITESPACE)), len(text.rstrip(_WHITESPACE))
    scan = _scanners.get(parse_constant)
    if scan is None and _make_scanner is not None:
        context = _Context()
        context.parse_constant = parse_constant
        if len(_scanners) > 4:  # callers pass one function each; a lambda per call must not pile up
            _scanners.clear()
            _scanners[None] = _scan
        scan = _scanners[parse_constant] = _make_scanner(context)
    if scan is not None and start < end:
        try:
            value, stop = scan(text, start)
        except (StopIteration, ValueError):
            pass
        else:
            if stop == end:
                return value
    import json  # not JSON (or no accelerator): json's own answer and message
    return json.loads(text, parse_constant=parse_constant)


def _no_default(value: Any) -> Any:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def dumps(value: Any, *, sort_keys: bool = False, separators: tuple[str, str] = (", ", ": "),
          allow_nan: bool = True, default: Any = None, ensure_ascii: bool = True) -> str:
    """json.dumps on one line (no indent), through _json's encoder as json itself does; on any error
    json runs again for its own exception and message."""
    if _make_encoder is not None:
        try:
            encode = _make_encoder({}, default or _no_default, _string if ensure_ascii else _string_utf8, None,
                                   separators[1], separators[0], sort_keys, False, allow_nan)
            return "".join(encode(value, 0))
        except Exception:  # noqa: BLE001 - json's own exception follows
            pass
    import json
    return json.dumps(value, sort_keys=sort_keys, separators=separators, allow_nan=allow_nan, default=default,
                      ensure_ascii=ensure_ascii)


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _float(key)
    if key is True or key is False or key is None:
        return {True: "true", False: "false", None: "null"}[key]
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


def _pretty(value: Any, level: int, out: list[str]) -> None:
    """json.encoder's _iterencode with indent=2, sort_keys=True, default=str (no cycle check: the
    data comes from JSON or from plain dicts)."""
    if isinstance(value, str):
        out.append(_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = "\n" + "  " * (level + 1)
        out.append("[")
        for index, item in enumerate(value):
            out.append(inner if index == 0 else "," + inner)
            _pretty(item, level + 1, out)
        out.append("\n" + "  " * level + "]")
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = "\n" + "  " * (level + 1)
        out.append("{")
        for index, (key, item) in enumerate(sorted(value.items())):
            out.append(inner if index == 0 else "," + inner)
            out.append(_string(_key(key)) + ": ")
            _pretty(item, level + 1, out)
        out.append("\n" + "  " * level + "}")
    else:
        _pretty(str(value), level, out)


def dumps_pretty(value: Any) -> str:
    """json.dumps(value, indent=2, sort_keys=True, default=str)."""
    if _string is None:
        import json
        return json.dumps(value, indent=2, sort_keys=True, default=str)
    out: list[str] = []
    _pretty(value, 0, out)
    return "".join(out)
