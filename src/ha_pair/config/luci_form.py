"""The schema as a LuCI module (luci-app-ha's `ha.schema`), so that the settings form takes every
default, choice and range from the same table as the validator and the README. A test keeps the
shipped file equal to this output; regenerate it with
`PYTHONPATH=src python3 -m ha_pair.config.luci_form > luci-app-ha/htdocs/luci-static/resources/ha/schema.js`.

Per option: `kind`, `choices`, `min`/`max`, `list`, and the default as a typed JSON value
(`default`: a flag's true/false, a number, a choice, an address; seconds as seconds), `cases`
where it follows other options of the section (`[{"when": {"role": "secondary"}, "default": 100}]`,
the first match wins, as in schema.Option.default_in), and `derived`: in words, a default found
elsewhere ("hostname"), for placeholders.
"""

from __future__ import annotations

import ipaddress
import json

from . import schema

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any

TARGET = "luci-app-ha/htdocs/luci-static/resources/ha/schema.js"


def json_value(option: schema.Option, value: Any) -> Any:
    """A typed default as JSON: seconds as seconds, addresses as text, the rest as they are."""
    if value is None:
        return None
    if option.kind == schema.SECONDS:
        return _number(value / 100)
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    return value


def _number(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def _option(section_type: schema.SectionType, option: schema.Option) -> dict[str, Any]:
    cases = [{"when": {name: json_value(section_type[name], value) for name, value in case.match},
              "default": json_value(option, case.value)} for case in option.cases]
    return {
        "kind": option.kind, "choices": list(option.choices), "min": _number(option.minimum),
        "max": _number(option.maximum), "list": option.is_list, "default": json_value(option, option.default),
        "cases": cases, "derived": option.derived,
    }


def sections() -> dict[str, Any]:
    return {section_type.type: {"single": section_type.single,
                                "options": {option.name: _option(section_type, option) for option in section_type.options}}
            for section_type in schema.SECTION_TYPES.values()}


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
