"""The /etc/config/ha reference as Markdown, generated from the schema (README.md embeds it;
a test keeps them equal). Run `python3 -m ha_pair.config.reference` to print it."""

from __future__ import annotations

from . import schema

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
            default = f"`{option.default}`" if option.default is not None else "—"
            out.append(f"| `{option.name}` | {kind} | {default} | {option.doc.replace('|', '/')} |")
    out += ["", END]
    return "\n".join(out)


def _num(value: float | None) -> str:
    if value is None:
        return "?"
    return str(int(value)) if float(value).is_integer() else str(value)


if __name__ == "__main__":
    print(markdown())
