"""Every validation rule: the error names the UCI path, all errors come at once, no model is built."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ha_pair.config.validate import Inputs, build_model
from ha_pair.paths import Paths
from ha_pair.uci import UciSyntaxError, parse
from tests.support import pair

PATHS = Paths(Path("/"))


def model_for(ha_text: str, network: str | None = None, dhcp: str | None = None, executables=("/usr/bin/ok",)):
    inputs = Inputs(
        ha=parse(ha_text, "ha", "/etc/config/ha"),
        network=parse(network if network is not None else pair.network("r1"), "network", "/etc/config/network"),
        dhcp=parse(dhcp if dhcp is not None else pair.dhcp(), "dhcp", "/etc/config/dhcp"),
        system=parse(pair.system("r1"), "system"),
    )
    return build_model(inputs, PATHS, lambda path: path in executables)


def base(extra_global: str = "", extra: str = "") -> str:
    return pair.ha("r1", extra_global=extra_global, extra=extra)


def errors_of(result) -> list[str]:
    assert result.model is None, "an invalid configuration must not produce a model"
    return [str(e) for e in result.errors]


def assert_error(result, path: str, fragment: str) -> None:
    messages = errors_of(result)
    assert any(m.startswith(f"{path}: ") and fragment in m for m in messages), messages


def test_the_example_pair_is_valid_for_both_nodes():
    for router in ("r1", "r2"):
        inputs = Inputs(ha=parse(pair.ha(router), "ha"), network=parse(pair.network(router), "network"),
                        dhcp=parse(pair.dhcp(), "dhcp"), system=parse(pair.system(router), "system"))
        result = build_model(inputs, PATHS, lambda p: False)
        assert result.ok, [str(e) for e in result.errors]
        assert result.warnings == ()
        model = result.model
        assert model.node.priority == (150 if router == "r1" else 100)
        assert [v.device for v in model.vips] == ["br-lan", "eth1"]
        assert model.node.sync_device == "eth2"
        assert model.node.name == router


def test_vrid_range():
    text = base().replace("option vrid '51'", "option vrid '300'")
    assert_error(model_for(text), "ha.lan.vrid", "'300' is outside 1-255")


def test_vrid_unique_per_interface():
    text = base(extra="\nconfig vip 'lan2'\n\toption interface 'lan'\n\toption vrid '51'\n\tlist address '192.168.50.9/24'\n")
    assert_error(model_for(text), "ha.lan2.vrid", "51 is already used by ha.lan on br-lan")


def test_same_vrid_on_different_interfaces_is_fine():
    text = base().replace("option vrid '52'", "option vrid '51'")
    assert model_for(text).ok


def test_priority_range():
    assert_error(model_for(base("\toption priority '255'\n")), "ha.global.priority", "outside 1-254")
    assert_error(model_for(base("\toption priority '0'\n")), "ha.global.priority", "outside 1-254")


def test_vip_outside_subnet():
    text = base().replace("192.168.50.1/24", "192.168.99.1/24")
    assert_error(model_for(text), "ha.lan.address", "192.168.99.1 is not in lan's subnet 192.168.50.0/24")


def test_vip_equal_to_own_address():
    text = base().replace("192.168.50.1/24", "192.168.50.2/24")
    assert_error(model_for(text), "ha.lan.address", "own address")


def test_vip_without_prefix_takes_the_subnet_prefix():
    result = model_for(base().replace("192.168.50.1/24", "192.168.50.1"))
    assert result.ok
    assert str(result.model.vips[0].addresses[0]) == "192.168.50.1/24"


def test_advert_interval_positive():
    assert_error(model_for(base("\toption advert_int '0'\n")), "ha.global.advert_int", "outside 0.01-255")


def test_sub_second_advert_needs_vrrp3():
    assert_error(model_for(base("\toption advert_int '0.5'\n")), "ha.global.advert_int", "need vrrp_version 3")
    result = model_for(base("\toption advert_int '0.5'\n\toption vrrp_version '3'\n"))
    assert result.ok and result.model.node.advert_centis == 50


def test_vrrp3_advert_in_centiseconds():
    assert_error(model_for(base("\toption vrrp_version '3'\n\toption advert_int '0.015'\n")),
                 "ha.global.advert_int", "multiple of 0.01")
    assert_error(model_for(base("\toption vrrp_version '3'\n\toption advert_int '41'\n")),
                 "ha.global.advert_int", "above 40.95 s")
    assert_error(model_for(base("\toption advert_int '1e3'\n")), "ha.global.advert_int", "not a number")


def test_fast_profile_defaults():
    result = model_for(base("\toption profile 'fast'\n"))
    assert result.ok
    assert result.model.node.vrrp_version == 3
    assert result.model.node.advert_centis == 10


def test_pass_with_vrrp3_is_an_error():
    text = base("\toption vrrp_version '3'\n\toption auth_type 'pass'\n\toption auth_pass 'secret'\n")
    assert_error(model_for(text), "ha.global.auth_type", "ignored by keepalived with VRRPv3")


def test_auth_pass_longer_than_8():
    text = base("\toption auth_type 'pass'\n\toption auth_pass 'ninechars'\n")
    result = model_for(text)
    assert_error(result, "ha.global.auth_pass", "9 bytes")
    assert all("ninechars" not in str(e) for e in result.errors + result.warnings), "the secret is never shown"


def test_auth_pass_missing():
    assert_error(model_for(base("\toption auth_type 'pass'\n")), "ha.global.auth_pass", "missing")


def test_peer_equal_to_own_address():
    text = base().replace("option peer '10.255.0.2'", "option peer '10.255.0.1'")
    assert_error(model_for(text), "ha.global.peer", "this node's own address")


def test_peer_outside_sync_subnet():
    text = base().replace("option peer '10.255.0.2'", "option peer '10.9.9.9'")
    assert_error(model_for(text), "ha.global.peer", "not in the sync link's subnet 10.255.0.0/30")


def test_unknown_interface():
    text = base().replace("option interface 'wan'", "option interface 'wan9'")
    assert_error(model_for(text), "ha.wan.interface", "unknown interface 'wan9'")


def test_unknown_sync_interface():
    text = base().replace("option sync_interface 'sync'", "option sync_interface 'nosuch'")
    assert_error(model_for(text), "ha.global.sync_interface", "unknown interface 'nosuch'")


def test_missing_check_script():
    extra = "\nconfig check 'custom'\n\toption type 'script'\n\toption script '/usr/bin/missing'\n"
    assert_error(model_for(base(extra=extra)), "ha.custom.script", "missing check script: /usr/bin/missing")
    ok = "\nconfig check 'custom'\n\toption type 'script'\n\toption script '/usr/bin/ok'\n"
    assert model_for(base(extra=ok)).ok


def test_preempt_delay_range():
    assert_error(model_for(base("\toption preempt_delay '1001'\n")), "ha.global.preempt_delay", "outside 0-1000")
    assert model_for(base("\toption preempt_delay '1000'\n")).ok


def test_nopreempt_with_master_start_state():
    text = base("\toption preempt '0'\n\toption initial_state 'master'\n")
    assert_error(model_for(text), "ha.global.preempt", "initial_state master")


def test_ipv6_vip_needs_vrrp3():
    network = pair.network("r1").replace("option netmask '255.255.255.0'\n\nconfig interface 'wan'",
                                         "option netmask '255.255.255.0'\n\tlist ip6addr 'fd00:50::2/64'\n\n"
                                         "config interface 'wan'")
    text = base().replace("list address '192.168.50.1/24'", "list address '192.168.50.1/24'\n\tlist address 'fd00:50::1/64'")
    assert_error(model_for(text, network=network), "ha.lan.address", "VRRPv2 is IPv4 only")
    result = model_for(text.replace("option role", "option vrrp_version '3'\n\toption role"), network=network)
    assert result.ok
    lan = result.model.vips[0]
    assert [str(a) for a in lan.advertised] == ["192.168.50.1/24"]
    assert [str(a) for a in lan.excluded] == ["fd00:50::1/64"]


def test_unicast_needs_peer_per_vip():
    assert_error(model_for(base("\toption unicast '1'\n")), "ha.lan.unicast_peer", "missing")


def test_unicast_source_defaults_to_the_interface_address():
    text = base("\toption unicast '1'\n").replace(
        "list address '192.168.50.1/24'", "list address '192.168.50.1/24'\n\toption unicast_peer '192.168.50.3'"
    ).replace("list address '198.51.100.1/24'", "list address '198.51.100.1/24'\n\toption unicast_peer '198.51.100.3'")
    result = model_for(text)
    assert result.ok
    assert [str(v.unicast_src) for v in result.model.vips] == ["192.168.50.2", "198.51.100.2"]


def test_duplicate_vip_address():
    text = base(extra="\nconfig vip 'lan2'\n\toption interface 'lan'\n\toption vrid '60'\n\tlist address '192.168.50.1/24'\n")
    assert_error(model_for(text), "ha.lan2.address", "also a VIP of ha.lan")


def test_type_errors_name_the_option():
    text = base("\toption preempt 'maybe'\n\toption role 'tertiary'\n")
    result = model_for(text)
    assert_error(result, "ha.global.preempt", "not a boolean")
    assert_error(result, "ha.global.role", "not one of primary, secondary")


def test_every_error_is_reported_at_once():
    text = (base("\toption priority '999'\n\toption preempt_delay '-1'\n")
            .replace("option vrid '51'", "option vrid '0'")
            .replace("option interface 'wan'", "option interface 'nope'"))
    messages = errors_of(model_for(text))
    for path in ("ha.global.priority", "ha.global.preempt_delay", "ha.lan.vrid", "ha.wan.interface"):
        assert any(m.startswith(path + ":") for m in messages), (path, messages)


def test_errors_carry_file_and_line():
    text = base().replace("option vrid '51'", "option vrid '300'")
    result = model_for(text)
    error = next(e for e in result.errors if e.path == "ha.lan.vrid")
    assert error.file == "/etc/config/ha"
    assert text.splitlines()[error.line - 1].strip() == "option vrid '300'"


def test_anonymous_sections_are_named_by_index():
    text = base(extra="\nconfig check\n\toption type 'ping'\n\toption target 'not-an-ip'\n")
    assert_error(model_for(text), "ha.@check[0].target", "not an IP address")


def test_unknown_options_and_sections_are_warnings():
    text = base("\toption advert_intt '2'\n", extra="\nconfig vipp 'x'\n")
    result = model_for(text)
    assert result.ok
    warnings = [str(w) for w in result.warnings]
    assert any(w.startswith("ha.global.advert_intt: unknown option") for w in warnings), warnings
    assert any(w.startswith("ha.x: unknown section type 'vipp'") for w in warnings), warnings


def test_weight_too_small_to_move_the_vips_is_a_warning():
    extra = "\nconfig check 'up'\n\toption type 'ping'\n\toption target '198.51.100.254'\n\toption weight '-20'\n"
    result = model_for(base(extra=extra))
    assert result.ok
    assert any(str(w).startswith("ha.up.weight: -20 leaves priority 130") for w in result.warnings)


def test_managed_dhcp_section_must_exist_and_have_a_vip():
    extra_missing = "\tlist section 'guest'\n"
    text = base().replace("option managed '1'\n", "option managed '1'\n" + extra_missing)
    assert_error(model_for(text), "ha.dhcp.section", "'guest' is not a `config dhcp` section")
    text = base().replace("option managed '1'\n", "option managed '1'\n\tlist section 'sync'\n")
    dhcp = pair.dhcp() + "\nconfig dhcp 'sync'\n\toption interface 'sync'\n"
    assert_error(model_for(text, dhcp=dhcp), "ha.dhcp.section", "serves interface 'sync', which has no IPv4 VIP")


def test_managed_dhcp_defaults_to_sections_with_a_vip():
    result = model_for(base())
    assert [(s.section, str(s.gateway)) for s in result.model.dhcp.sections] == [("lan", "192.168.50.1")]


def test_peer_required_for_sync_features():
    text = base().replace("\toption peer '10.255.0.2'\n", "")
    assert_error(model_for(text), "ha.global.peer", "needed by ha.conntrack.enabled, ha.dhcp.lease_sync")


def test_enabled_without_vips():
    text = "config global 'global'\n\toption enabled '1'\n\toption peer '10.255.0.2'\n\toption sync_interface 'sync'\n"
    assert any(e.startswith("ha: no `config vip` section") for e in errors_of(model_for(text)))


def test_single_sections_may_not_repeat():
    text = base() + "\nconfig global 'again'\n"
    assert_error(model_for(text), "ha.again", "only one 'global' section")


def test_values_that_could_break_out_of_the_generated_file_are_refused():
    text = base(extra="").replace("list address '198.51.100.1/24'",
                                  "list address '198.51.100.1/24'\n\tlist virtual_rules 'to all }\nvrrp_script x {'")
    assert_error(model_for(text), "ha.wan.virtual_rules", "contains '}'")


def test_keepalived_comment_characters_are_refused_in_passwords():
    result = model_for(base("\toption auth_type 'pass'\n\toption auth_pass 'ab!cd'\n"))
    assert_error(result, "ha.global.auth_pass", "start a comment")
    assert all("!" not in e.message.split("one of")[0] for e in result.errors), "no part of the secret is shown"
    assert not any(e.path == "ha.global.auth_pass" and "missing" in e.message for e in result.errors)


def test_old_style_network_resolves_bridge_devices():
    network = """
config interface 'lan'
	option type 'bridge'
	option ifname 'eth0.1 eth0.3'
	option proto 'static'
	option ipaddr '192.168.50.2'
	option netmask '255.255.255.0'

config interface 'wan'
	option ifname 'eth0.2'
	option proto 'static'
	option ipaddr '198.51.100.2/24'

config interface 'sync'
	option ifname 'eth1'
	option proto 'static'
	option ipaddr '10.255.0.1'
	option netmask '255.255.255.252'
"""
    result = model_for(base(), network=network)
    assert result.ok, [str(e) for e in result.errors]
    assert [v.device for v in result.model.vips] == ["br-lan", "eth0.2"]


# --- property: arbitrary input never crashes parser or validator --------------------------------

option_names = st.sampled_from(["enabled", "role", "priority", "peer", "sync_interface", "vrid", "interface",
                                "address", "type", "target", "advert_int", "vrrp_version", "preempt_delay",
                                "auth_type", "auth_pass", "unicast", "unicast_peer", "weight", "failure", "x"])
section_types = st.sampled_from(["global", "vip", "check", "conntrack", "dhcp", "other"])
values = st.one_of(st.text(max_size=20), st.sampled_from(["1", "0", "-1", "300", "lan", "wan", "sync", "ping",
                                                          "192.168.50.1/24", "10.255.0.2", "fd00::1/64", "0.1",
                                                          "3", "pass", "fault", "script"]))


@st.composite
def ha_texts(draw) -> str:
    out = []
    for _ in range(draw(st.integers(0, 6))):
        out.append(f"config {draw(section_types)}")
        for _ in range(draw(st.integers(0, 6))):
            keyword = draw(st.sampled_from(["option", "list"]))
            value = draw(values).replace("'", "'\\''")
            out.append(f"\t{keyword} {draw(option_names)} '{value}'")
    return "\n".join(out) + "\n"


@settings(max_examples=400, deadline=None)
@given(st.one_of(ha_texts(), st.text(max_size=200)))
def test_arbitrary_ha_text_never_crashes(text: str):
    try:
        ha = parse(text, "ha")
    except UciSyntaxError:
        return
    inputs = Inputs(ha=ha, network=parse(pair.network("r1"), "network"), dhcp=parse(pair.dhcp(), "dhcp"))
    result = build_model(inputs, PATHS, lambda p: False)
    assert (result.model is None) == bool(result.errors)
    for problem in result.errors + result.warnings:
        assert str(problem).startswith(("ha", "network")), problem


def test_one_interface_cannot_be_tracked_with_weight_and_fault():
    network = pair.network("r1") + "\nconfig interface 'wan2'\n\toption device 'eth3'\n\toption proto 'dhcp'\n"
    extra = ("\nconfig check 'a'\n\toption type 'interface'\n\toption interface 'wan2'\n"
             "\nconfig check 'b'\n\toption type 'interface'\n\toption interface 'wan2'\n\toption failure 'fault'\n")
    assert_error(model_for(base(extra=extra), network=network), "ha.b.interface", "also tracked by ha.a")


def test_alarm_mode_has_no_external_cache_switch():
    text = base().replace("config conntrack 'conntrack'\n\toption enabled '1'\n",
                          "config conntrack 'conntrack'\n\toption mode 'alarm'\n\toption disable_external_cache '1'\n")
    assert_error(model_for(text), "ha.conntrack.disable_external_cache", "not supported")
