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


def test_status_schema_documents_every_field():
    from ha_pair.agent.lease_sync import LeaseSync
    from ha_pair.config.validate import Inputs, build_model
    from ha_pair.paths import Paths
    from ha_pair.state.observed import Snapshot
    from ha_pair.state.pair import PairState
    from ha_pair.status.build import ConfigOnDisk, build_status
    from ha_pair.uci import parse
    from tests.support import pair

    inputs = Inputs(ha=parse(pair.ha("r1"), "ha"), network=parse(pair.network("r1"), "network"),
                    dhcp=parse(pair.dhcp(), "dhcp"))
    model = build_model(inputs, Paths("/"), lambda p: False).model
    status = build_status(model, PairState(), Snapshot(0.0), {}, ConfigOnDisk(digest=model.digest),
                          LeaseSync.initial_state("10.255.0.2"))
    table = README[README.index("<!-- status-schema:start -->"):README.index("<!-- status-schema:end -->")]
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (.*) \|$", table, re.M))
    assert set(status) == set(rows), (sorted(set(status) - set(rows)), sorted(set(rows) - set(status)))
    # the fields of each object are named in its row, `{a, b, ...}`
    for name, value in status.items():
        if isinstance(value, dict) and name not in ("instances", "checks"):
            listed = re.match(r"`\{([^}]*)\}`", rows[name])
            assert listed, f"{name}: no {{fields}} in its row"
            fields = {re.split(r"[ (]", f.strip())[0] for f in listed.group(1).split(",")}
            assert set(value) <= fields, (name, sorted(set(value) - fields))
