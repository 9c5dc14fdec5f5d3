"""Defaults have one source, config/schema.py: typed values there, read by the validator (no literal
fallback of its own), shown by the README reference and the LuCI form. The expectations here are
written out independently of the schema: what a pair gets for each option it leaves unset."""

from __future__ import annotations

import ast
import ipaddress
from pathlib import Path

import pytest

from ha_pair.config import reference, schema
from ha_pair.config.values import convert, to_text
from tests.unit.test_validate import base, model_for

REPO = Path(__file__).resolve().parents[2]


def test_every_default_is_a_valid_value_of_its_option():
    for section_type in schema.SECTION_TYPES.values():
        for option in section_type.options:
            for value in [option.default] + [case.value for case in option.cases]:
                if value is None:
                    continue
                assert convert(option, to_text(option, value)) == value, (section_type.type, option.name)


def test_a_default_follows_only_options_of_its_section_read_before_it():
    for section_type in schema.SECTION_TYPES.values():
        order = [option.name for option in section_type.options]
        for option in section_type.options:
            for case in option.cases:
                for name, value in case.match:
                    assert order.index(name) < order.index(option.name), (option.name, name)
                    other = section_type[name]
                    assert convert(other, to_text(other, value)) == value, (option.name, name)


def test_validate_has_no_default_of_its_own():
    """Every reader.value() call passes at most the context of a contextual default, never a value."""
    tree = ast.parse((REPO / "src/ha_pair/config/validate.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and n.func.attr == "value" and isinstance(n.func.value, ast.Name) and n.func.value.id == "reader"]
    assert len(calls) > 30
    for call in calls:
        assert len(call.args) == 2 or isinstance(call.args[2], ast.Dict), ast.unparse(call)
    assert "DEFAULT_PRIORITY" not in ast.unparse(tree)


MINIMAL = """
config global 'global'
	option enabled '1'
	option role '{role}'
	option peer '10.255.0.2'
	option sync_interface 'sync'
{extra_global}
config vip 'lan'
	option interface 'lan'
	option vrid '51'
	list address '192.168.50.1/24'

config check 'upstream'
	option type 'ping'
	option target '198.51.100.254'
{extra}"""


def minimal(role: str = "primary", extra_global: str = "", extra: str = ""):
    result = model_for(MINIMAL.format(role=role, extra_global=extra_global, extra=extra))
    assert result.ok, [str(e) for e in result.errors]
    return result.model


def test_what_a_minimal_pair_gets_for_every_option_it_leaves_unset():
    m = minimal()
    node, check, conntrack, dhcp = m.node, m.checks[0], m.conntrack, m.dhcp
    assert (node.priority, node.vrrp_version, node.advert_centis) == (150, 2, 100)
    assert (node.preempt, node.preempt_delay, node.initial_state, node.unicast, node.auth_type) == (
        True, 0, "backup", False, "none")
    assert node.name == "r1"  # the hostname in /etc/config/system
    assert (check.interval, check.timeout, check.fall, check.rise, check.failure, check.weight) == (
        2, 1, 3, 2, "weight", -60)
    assert (conntrack.enabled, conntrack.mode, conntrack.transport, conntrack.port) == (True, "ftfw", "unicast", 3780)
    assert conntrack.multicast_group == ipaddress.IPv4Address("225.0.0.50")
    assert conntrack.disable_external_cache is True
    assert (dhcp.managed, dhcp.lease_sync, dhcp.reconcile_interval, dhcp.ssh_port) == (True, True, 60, 22)
    assert [s.section for s in dhcp.sections] == ["lan"]  # every dhcp section with an IPv4 VIP
    assert m.vips[0].use_vmac is False


@pytest.mark.parametrize("role, extra_global, extra, expected", [
    ("secondary", "", "", {"priority": 100}),
    ("secondary", "\toption priority '120'\n", "", {"priority": 120}),
    ("primary", "\toption profile 'fast'\n", "", {"vrrp_version": 3, "advert_centis": 10, "realtime": True}),
    ("primary", "\toption profile 'fastest'\n", "", {"vrrp_version": 3, "advert_centis": 4, "preempt_delay": 2,
                                                     "realtime": True}),
    ("primary", "\toption profile 'fastest'\n\toption realtime '0'\n", "", {"advert_centis": 4, "realtime": False}),
    ("primary", "", "", {"vrrp_version": 2, "advert_centis": 100, "preempt_delay": 0, "realtime": False}),
    # an explicit version 2 with the fast profile keeps whole-second adverts
    ("primary", "\toption profile 'fast'\n\toption vrrp_version '2'\n", "", {"vrrp_version": 2, "advert_centis": 100}),
    ("primary", "\toption vrrp_version '3'\n", "", {"vrrp_version": 3, "advert_centis": 100}),
    ("primary", "", "\nconfig conntrack 'conntrack'\n\toption mode 'alarm'\n", {"disable_external_cache": False}),
    ("primary", "", "\nconfig conntrack 'conntrack'\n\toption mode 'notrack'\n", {"disable_external_cache": True}),
])
def test_defaults_that_follow_other_options(role: str, extra_global: str, extra: str, expected: dict):
    m = minimal(role, extra_global, extra)
    seen = {"priority": m.node.priority, "vrrp_version": m.node.vrrp_version, "advert_centis": m.node.advert_centis,
            "disable_external_cache": m.conntrack.disable_external_cache, "realtime": m.node.realtime,
            "preempt_delay": m.node.preempt_delay}
    assert {k: seen[k] for k in expected} == expected


def test_an_invalid_value_falls_back_to_the_default_for_the_context_while_reported():
    result = model_for(base("\toption role 'secondary'\n\toption priority 'high'\n"))
    assert [e.path for e in result.errors] == ["ha.global.priority"]


def test_the_reference_shows_each_default_as_the_validator_applies_it():
    rows = {line.split(" | ")[0][3:-1]: line.split(" | ")[2] for line in reference.markdown().splitlines()
            if line.startswith("| `")}
    for row, default in (("priority", "`150`, `100` with role secondary"),
                         ("vrrp_version", "`2`, `3` with profile fast, `3` with profile fastest"),
                         ("advert_int", "`1`, `0.1` with profile fast and vrrp_version 3, `0.04` with profile "
                                        "fastest and vrrp_version 3"),
                         ("realtime", "`0`, `1` with profile fast, `1` with profile fastest"),
                         ("disable_external_cache", "`1`, `0` with mode alarm"),
                         ("multicast_group", "`225.0.0.50`"), ("weight", "`-60`"), ("node_name", "hostname")):
        assert rows[row] == default, row
