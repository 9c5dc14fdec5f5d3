"""README.md states the two set-up commands and the full, current /etc/config/ha reference."""

from __future__ import annotations

import re
from pathlib import Path

from ha_pair.config import reference, schema

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_reference_is_the_generated_one():
    start = README.index(reference.START)
    end = README.index(reference.END) + len(reference.END)
    assert README[start:end] == reference.markdown(), (
        "README's /etc/config/ha reference is stale: regenerate it with "
        "`PYTHONPATH=src python3 -m ha_pair.config.reference`"
    )


def test_every_option_is_documented():
    for section_type in schema.SECTION_TYPES.values():
        assert f"`config {section_type.type}`" in README
        for option in section_type.options:
            assert f"| `{option.name}` |" in README, option.name


def test_exactly_two_setup_commands():
    block = re.search(r"## Try it.*?```sh\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
