"""The `name { ... }` block syntax keepalived and conntrackd share."""

from __future__ import annotations


def block(name: str, lines: list[str], indent: str = "    ") -> list[str]:
    """`name {`, each line indented one step, `}`; nested blocks arrive already indented."""
    return [f"{name} {{", *(f"{indent}{line}" for line in lines), "}"]
