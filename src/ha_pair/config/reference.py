"""The /etc/config/ha reference as Markdown, generated from the schema (README.md embeds it;
a test keeps them equal). Run `python3 -m ha_pair.config.reference` to print it."""

from __future__ import annotations

from . import schema
from .values import to_text

START = "<!-- config-reference:start (generated from src/ha_pair/config/schema.py) -->"
END = "<!-- config-reference:end -->"


def markdown() -> str:
    out = [START]
    for section_type in schema.SECTION_TYPES.values():
        out += ["", f"#### `config {section_type.type}`" + ("" if section_type.single else " (repeatable)"), "",
                section_type.doc, "", "| option | type | default | meaning |", "|---|---|---|---|"]
        for option in section_type.options:
            kind = f"{option.kind}: {' / '.join(option.choices)}" if option.choices else option.kind
            if option.minimum is not None:
                kind += f" {_num(option.minimum)}–{_num(option.maximum)}"
            if option.is_list:
                kind = f"list of {kind}"
            out.append(f"| `{option.name}` | {kind} | {default_text(option)} | {option.doc.replace('|', '/')} |")
    out += ["", END]
    return "\n".join(out)


def default_text(option: schema.Option) -> str:
    """`150`, `100` with role secondary: the default and every case where it follows other options."""
    if option.default is None:
        return option.derived or "—"
    parts = [f"`{to_text(option, option.default)}`"]
    for case in option.cases:
        condition = " and ".join(f"{name} {_condition_value(name, value)}" for name, value in case.match)
        parts.append(f"`{to_text(option, case.value)}` with {condition}")
    return ", ".join(parts)


def _condition_value(name: str, value: object) -> str:
    for section_type in schema.SECTION_TYPES.values():
        other = section_type.option(name)
        if other is not None:
            return to_text(other, value)
    return str(value)


def _num(value: float | None) -> str:
    if value is None:
        return "?"
    return str(int(value)) if float(value).is_integer() else str(value)


if __name__ == "__main__":
    print(markdown())
