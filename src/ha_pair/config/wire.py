"""A validated Model as one line of JSON, and back: how `ha-pair agent-config` (a short-lived child)
hands the agent its configuration, so that the UCI parser and the validation rules never load into
the long-running agent (agent/config_child.py).

Records become {"!": class name, field: value, ...}, addresses and Paths {"!": class name, "=": text},
tuples lists; decoding builds them again through their constructors. The classes are found by
name in config.model (every record there) and ipaddress: nothing else can be built.
"""

from __future__ import annotations

import ipaddress

from .. import leanjson
from ..paths import Paths
from ..record import fields
from . import model

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any

_TEXT_TYPES = {cls.__name__: cls for cls in (ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Interface,
                                             ipaddress.IPv6Interface, ipaddress.IPv4Network, ipaddress.IPv6Network,
                                             Paths)}
_RECORDS = {name: cls for name, cls in vars(model).items() if isinstance(cls, type) and hasattr(cls, "__record_fields__")}


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    name = type(value).__name__
    if _RECORDS.get(name) is type(value):
        return {"!": name, **{spec.name: _plain(getattr(value, spec.name)) for spec in fields(value)}}
    if _TEXT_TYPES.get(name) is type(value):
        return {"!": name, "=": str(value.root) if isinstance(value, Paths) else str(value)}
    if value is None or isinstance(value, (str, int, float)):  # bool is an int
        return value
    raise TypeError(f"{name} has no wire form")


def _built(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_built(item) for item in value)  # a Model's sequences are all tuples
    if not isinstance(value, dict):
        return value
    name = value["!"]
    if name in _TEXT_TYPES:
        return _TEXT_TYPES[name](value["="])
    return _RECORDS[name](**{key: _built(item) for key, item in value.items() if key != "!"})


def dumps(found: model.Model | None, errors: list[str]) -> str:
    """What the child prints: the model (None when invalid) and the error texts."""
    return leanjson.dumps({"model": _plain(found) if found is not None else None, "errors": errors})


def loads(text: bytes | str) -> tuple[model.Model | None, list[str]]:
    """The agent's side of dumps(); ValueError (KeyError, TypeError) when the text is not one."""
    data = leanjson.loads(text)
    found = _built(data["model"]) if data["model"] is not None else None
    if found is not None and not isinstance(found, model.Model):
        raise ValueError(f"not a model: {type(found).__name__}")
    return found, [str(error) for error in data["errors"]]
