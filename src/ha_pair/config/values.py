"""Turn UCI strings into typed values, reporting problems against their UCI path."""

from __future__ import annotations

import ipaddress
import re
from ..record import record

from ..uci import Package, Section
from . import grammar, schema

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any

_SECONDS_RE = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_TRUE = {"1", "yes", "on", "true", "enabled"}
_FALSE = {"0", "no", "off", "false", "disabled"}


@record(frozen=True)
class Problem:
    """One finding, named by its UCI path (`ha.lan.vrid`) and, when known, file and line."""

    path: str
    message: str
    file: str = ""
    line: int = 0

    def __str__(self) -> str:
        where = f" ({self.file}:{self.line})" if self.file and self.line else f" ({self.file})" if self.file else ""
        return f"{self.path}: {self.message}{where}"

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "message": self.message, "file": self.file, "line": self.line}


class Reader:
    """Reads the options of one package, collecting every problem instead of stopping."""

    def __init__(self, package: Package) -> None:
        self.package = package
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def path(self, section: Section, option: str | None = None) -> str:
        base = f"{self.package.name}.{self.package.ref(section)}"
        return f"{base}.{option}" if option else base

    def _problem(self, section: Section, option: str | None, message: str) -> Problem:
        line = section.option_lines.get(option, section.line) if option else section.line
        return Problem(self.path(section, option), message, self.package.path, line)

    def error(self, section: Section, option: str | None, message: str) -> None:
        self.errors.append(self._problem(section, option, message))

    def warn(self, section: Section, option: str | None, message: str) -> None:
        self.warnings.append(self._problem(section, option, message))

    def raw(self, section: Section, option: str) -> str | None:
        value = section.options.get(option)
        if isinstance(value, list):
            self.error(section, option, "is a list; expected a single value (use `option`, not `list`)")
            return value[-1] if value else None
        return value

    def value(self, section: Section, spec: schema.Option, context: dict[str, Any] | None = None) -> Any:
        """The typed value of a single-valued option, or the schema's default when absent or invalid
        (for a default that follows other options, `context` holds their effective values)."""
        text = self.raw(section, spec.name)
        parsed = None if text is None else self._convert(section, spec, text)
        return spec.default_in(context or {}) if parsed is None else parsed

    def values(self, section: Section, spec: schema.Option) -> list[Any]:
        """The typed items of a repeatable option; invalid items are reported and left out."""
        out = []
        for text in section.get_list(spec.name):
            parsed = self._convert(section, spec, text)
            if parsed is not None:
                out.append(parsed)
        return out

    def _convert(self, section: Section, spec: schema.Option, text: str) -> Any:
        shown = "'***'" if spec.secret else repr(text)
        try:
            return convert(spec, text)
        except ValueError as exc:
            self.error(section, spec.name, f"{shown} {exc}")
            return None

    def check_unknown(self, section: Section, section_type: schema.SectionType) -> None:
        for option in section.options:
            if section_type.option(option) is None:
                known = ", ".join(o.name for o in section_type.options)
                self.warn(section, option, f"unknown option (ignored); known: {known}")


def convert(spec: schema.Option, text: str) -> Any:
    """Convert one string; ValueError says what is wrong (the caller adds the value)."""
    kind = spec.kind
    grammar.utf8(text)
    if kind == schema.BOOL:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("is not a boolean (use 1 or 0)")
    if kind == schema.INT:
        number = grammar.decimal(text)
        _check_range(spec, number)
        return number
    if kind == schema.SECONDS:
        centis = centiseconds(text)
        _check_range(spec, centis / 100)
        return centis
    if kind == schema.ENUM:
        if text not in spec.choices:
            raise ValueError(f"is not one of {', '.join(spec.choices)}")
        return text
    if kind in (schema.IPV4, schema.IP, schema.CIDR):
        grammar.no_scope(text)
    if kind == schema.IPV4:
        try:
            return ipaddress.IPv4Address(text)
        except ValueError:
            raise ValueError("is not an IPv4 address") from None
    if kind == schema.IP:
        try:
            return ipaddress.ip_address(text)
        except ValueError:
            raise ValueError("is not an IP address") from None
    if kind == schema.CIDR:
        try:
            return ipaddress.ip_interface(text)
        except ValueError:
            raise ValueError("is not an address or address/prefix") from None
    if kind in (schema.PATH, schema.STRING):
        getattr(grammar, spec.grammar)(text)
        return text
    raise AssertionError(f"unknown kind {kind}")


def to_text(spec: schema.Option, value: Any) -> str:
    """A typed value as UCI writes it: the inverse of convert() (True -> '1', 10 cs -> '0.1')."""
    if spec.kind == schema.BOOL:
        return "1" if value else "0"
    if spec.kind == schema.SECONDS:
        return format_centiseconds(value)
    return str(value)


def centiseconds(text: str) -> int:
    """'1' -> 100, '0.1' -> 10, '0.25' -> 25; exact, no floating point (and no decimal module,
    which is not in OpenWrt's python3-light)."""
    match = _SECONDS_RE.fullmatch(text)
    if not match:
        raise ValueError("is not a number of seconds")
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > 2 and fraction[2:].strip("0"):
        raise ValueError("is not a multiple of 0.01 s")
    return int(whole) * 100 + int((fraction + "00")[:2])


def format_centiseconds(centis: int) -> str:
    whole, part = divmod(centis, 100)
    return str(whole) if part == 0 else f"{whole}.{part:02d}".rstrip("0")


def _check_range(spec: schema.Option, number: Any) -> None:
    low, high = spec.minimum, spec.maximum
    if (low is not None and number < low) or (high is not None and number > high):
        low_text = _plain_number(low)
        high_text = _plain_number(high)
        raise ValueError(f"is outside {low_text}-{high_text}")


def _plain_number(number: float | None) -> str:
    if number is None:
        return "?"
    return str(int(number)) if float(number).is_integer() else str(number)
