"""The schema as a LuCI module (luci-app-ha's `ha.schema`), so that the settings form takes every
default, choice and range from the same table as the validator and the README. A test keeps the
shipped file equal to this output; regenerate it with
`PYTHONPATH=src python3 -m ha_pair.config.luci_form > luci-app-ha/htdocs/luci-static/resources/ha/schema.js`.

Per option: `kind`, `choices`, `min`/`max`, `list`, and the default twice: `value`, a literal the
form can preset (a flag's 0/1, a choice, a number), or null when the default depends on other
options; `text`, the default as the README states it, for placeholders ("150 / 100").
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from . import schema

TARGET = "luci-app-ha/htdocs/luci-static/resources/ha/schema.js"


def literal_default(option: schema.Option) -> str | None:
    """The default as a value of the option's own type, or None when it is a description."""
    text = option.default
    if text is None:
        return None
    if option.kind == schema.BOOL:
        return text if text in ("0", "1") else None
    if option.kind == schema.ENUM:
        return text if text in option.choices else None
    if option.kind in (schema.INT, schema.SECONDS):
        try:
            float(text)
        except ValueError:
            return None
        return text
    if option.kind in (schema.IPV4, schema.IP):
        try:
            ipaddress.ip_address(text)
        except ValueError:
            return None
        return text
    return None


def _number(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def sections() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section_type in schema.SECTION_TYPES.values():
        options = {}
        for option in section_type.options:
            options[option.name] = {
                "kind": option.kind, "choices": list(option.choices), "min": _number(option.minimum),
                "max": _number(option.maximum), "list": option.is_list, "value": literal_default(option),
                "text": option.default,
            }
        out[section_type.type] = {"single": section_type.single, "options": options}
    return out


def module() -> str:
    lines = []
    for name, section in sections().items():
        lines.append(f"\t\t{json.dumps(name)}: {{ single: {json.dumps(section['single'])}, options: {{")
        lines += [f"\t\t\t{json.dumps(option)}: {json.dumps(spec, ensure_ascii=False)},"
                  for option, spec in section["options"].items()]
        lines[-1] = lines[-1].rstrip(",")
        lines.append("\t\t} },")
    lines[-1] = lines[-1].rstrip(",")
    body = "\n".join(lines)
    return ("'use strict';\n'require baseclass';\n\n"
            "/*\n * Generated from ha-pair's src/ha_pair/config/schema.py by ha_pair.config.luci_form:\n"
            " * do not edit (a test compares the two).\n */\n"
            f"return baseclass.extend({{\n\tsections: {{\n{body}\n\t}}\n}});\n")


if __name__ == "__main__":
    print(module(), end="")
