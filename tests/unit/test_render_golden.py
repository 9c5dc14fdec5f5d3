"""Golden tests: the rendered keepalived.conf and conntrackd.conf of every matrix case.

Regenerate after an intended change with `UPDATE_GOLDEN=1 make test`, then read the diff; the values
that matter are also checked against hand-written expectations (test_render_values.py), which a
re-blessed golden file cannot satisfy by itself.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ha_pair.config import schema
from ha_pair.config.model import Model
from ha_pair.config.validate import Inputs, build_model
from ha_pair.paths import Paths
from ha_pair.render import generated_files, redact
from ha_pair.uci import parse
from tests.support import pair
from tests.unit.render_cases import CASES, EXECUTABLES

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def case_model(name: str, root: Path = Path("/")) -> Model:
    router, ha_text, network = CASES[name]
    inputs = Inputs(
        ha=parse(ha_text, "ha", "/etc/config/ha"),
        network=parse(network or pair.network(router), "network"),
        dhcp=parse(pair.dhcp(), "dhcp"),
        system=parse(pair.system(router), "system"),
    )
    result = build_model(inputs, Paths(root), lambda path: path in EXECUTABLES)
    assert result.ok, [str(e) for e in result.errors]
    return result.model


def render_case(name: str, root: Path = Path("/")) -> dict[str, str]:
    return {path.name: text for path, text in generated_files(case_model(name, root)).items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str):
    rendered = render_case(name)
    folder = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for filename, text in rendered.items():
            (folder / filename).write_text(text)
    expected = {p.name: p.read_text() for p in folder.iterdir()}
    assert rendered == expected


def test_matrix_uses_every_option():
    used: dict[str, set[str]] = {t: set() for t in schema.SECTION_TYPES}
    for _, ha_text, _ in CASES.values():
        for section in parse(ha_text, "ha").sections:
            used[section.type].update(section.options)
    for section_type in schema.SECTION_TYPES.values():
        missing = {o.name for o in section_type.options} - used[section_type.type]
        assert not missing, f"{section_type.type}: no matrix case uses {sorted(missing)}"


def test_sync_group_only_with_two_or_more_instances():
    assert "vrrp_sync_group" in render_case("pair-r1")["keepalived.conf"]
    single = render_case("single-vip")["keepalived.conf"]
    assert "vrrp_sync_group" not in single
    assert 'notify "/usr/libexec/ha-pair/notify"' in single


def test_weighted_trackers_on_members_only_with_group_tracking_weight():
    conf = render_case("checks")["keepalived.conf"]
    group = conf[conf.index("vrrp_sync_group"):]
    assert "sync_group_tracking_weight" in group
    assert "chk_upstream weight -80" not in group
    assert conf.count("chk_upstream weight -80") == 2  # on both members, the same weight
    assert "chk_custom" in group and "chk_custom weight" not in conf  # FAULT type: on the group, no weight
    assert "eth3 weight -70" in conf and "eth4\n" in group and "eth3" not in group


def test_secret_is_redacted_for_display():
    conf = render_case("auth-pass")["keepalived.conf"]
    assert "auth_pass S3cr3t-x" in conf
    assert "S3cr3t-x" not in redact(conf)
    assert "auth_pass ********" in redact(conf)
