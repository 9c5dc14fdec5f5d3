"""Write a Package as `uci commit` does: a blank line before each section, a tab before
each option, every value in single quotes with `'` written as `'\\''`."""

from __future__ import annotations

import re

from .package import Package

_BARE_TYPE = re.compile(r"^[A-Za-z0-9_-]+$")


def quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def dump(package: Package) -> str:
    out: list[str] = []
    for section in package.sections:
        section_type = section.type if _BARE_TYPE.match(section.type) else quote(section.type)
        header = f"config {section_type}"
        if section.name is not None:
            header += f" {quote(section.name)}"
        out.append("\n" + header + "\n")
        for option, value in section.options.items():
            if isinstance(value, list):
                out.extend(f"\tlist {option} {quote(item)}\n" for item in value)
            else:
                out.append(f"\toption {option} {quote(value)}\n")
    out.append("\n")
    return "".join(out)
