"""One dynamic public IP (ha.global.single_wan_ip): what /etc/config/network needs, the master's
rule to the WAN table, and what `check` and `show` tell the user."""

from __future__ import annotations

from pathlib import Path

from ha_pair.config import single_wan
from ha_pair.uci import parse
from tests.support import pair, tree
from tests.unit.render_cases import NETWORK_SINGLE_WAN, SINGLE_WAN_HA
from tests.unit.test_cli import run
from tests.unit.test_validate import assert_error, model_for


def plan(network_text: str, mac: str | None = None):
    return single_wan.plan(parse(network_text, "network", "/etc/config/network"), "wan", "eth1", "lan",
                           "192.168.50.1", mac)


def test_a_network_set_up_for_the_mode_lacks_nothing():
    missing, wanted = plan(NETWORK_SINGLE_WAN)
    assert missing == []
    assert wanted.content() == parse(NETWORK_SINGLE_WAN, "network").content()


def test_a_static_wan_lacks_each_piece_and_the_plan_adds_exactly_those():
    missing, wanted = plan(pair.network("r1"), mac="02:aa:bb:cc:dd:01")
    assert [m.path for m in missing] == ["network.wan.proto", "network.wan.ip4table", "network.wan.macaddr",
                                         "network.@route", "network.@rule"]
    wan = wanted.find("wan")
    assert (wan.get("proto"), wan.get("ip4table")) == ("dhcp", "250")
    device = [d for d in wanted.of_type("device") if d.get("name") == "eth1"]
    assert len(device) == 1 and device[0].get("macaddr") == "02:aa:bb:cc:dd:01"
    route = wanted.of_type("route")[0]
    assert route.options == {"interface": "lan", "target": "0.0.0.0/0", "gateway": "192.168.50.1", "table": "240"}
    assert wanted.of_type("rule")[0].options == {"in": "loopback", "lookup": "240", "priority": "32780"}
    assert plan(pair.network("r1"))[1].find("@device[1]").get("macaddr") == single_wan.MAC_PLACEHOLDER


def test_a_fallback_rule_for_forwarded_traffic_too_does_not_count():
    """Without `in 'loopback'` a master with no WAN route yet sends clients' packets to itself."""
    every = NETWORK_SINGLE_WAN.replace("\toption in 'loopback'\n", "")
    assert [m.path for m in plan(every)[0]] == ["network.@rule"]


def test_a_route_in_another_table_or_a_rule_at_another_priority_does_not_count():
    other = NETWORK_SINGLE_WAN.replace("option table '240'", "option table '241'").replace(
        "option priority '32780'", "option priority '32790'")
    assert [m.path for m in plan(other)[0]] == ["network.@route", "network.@rule"]


def test_the_master_gets_the_rule_to_the_wan_table_on_the_lan_vip():
    result = model_for(SINGLE_WAN_HA, network=NETWORK_SINGLE_WAN)
    assert result.ok, [str(e) for e in result.errors]
    lan = next(v for v in result.model.vips if v.interface == "lan")
    assert lan.virtual_rules == ("to all lookup 250 priority 32770",)
    assert result.model.single_wan.lan_vip.exploded == "192.168.50.1"
    assert not [w for w in result.warnings if "single_wan_ip" in str(w)]


def test_missing_network_pieces_are_explained_with_their_uci_paths():
    result = model_for(SINGLE_WAN_HA.replace("\toption use_vmac '1'\n", ""), network=pair.network("r1"))
    assert result.ok
    warnings = [str(w) for w in result.warnings]
    for path in ("network.wan.proto", "network.wan.ip4table", "network.wan.macaddr", "network.@route", "network.@rule"):
        assert any(w.startswith(f"{path}: ") and "ha.global.single_wan_ip" in w for w in warnings), (path, warnings)
    # use_vmac is not asked for: with it the lab's failback gap was 5 s (keepalived's second
    # gratuitous ARP burst), without it 0.36 s
    assert not any("use_vmac" in w for w in warnings)


def test_a_wan_vip_or_a_bad_name_is_refused():
    with_wan_vip = pair.ha("r1", extra_global="\toption single_wan_ip 'wan'\n")
    assert_error(model_for(with_wan_vip, network=NETWORK_SINGLE_WAN), "ha.global.single_wan_ip", "has no VIP")
    bad = SINGLE_WAN_HA.replace("option single_wan_ip 'wan'", "option single_wan_ip 'wan;reboot'")
    assert_error(model_for(bad, network=NETWORK_SINGLE_WAN), "ha.global.single_wan_ip", "")


def test_check_explains_and_show_prints_the_network_changes(tmp_path: Path):
    root = tree.make_tree(tmp_path / "r1", {**pair.configs("r1"), "ha": SINGLE_WAN_HA})
    checked = run(root, "check", "--no-daemon-tests")
    assert checked.returncode == 0, checked.stderr
    assert "network.wan.ip4table: must be '250'" in checked.stderr
    shown = run(root, "show").stdout
    assert "one dynamic public IP" in shown
    for line in ("+\toption ip4table '250'", "+\toption gateway '192.168.50.1'", "+\toption priority '32780'",
                 "+\toption proto 'dhcp'", "-\toption proto 'static'"):
        assert line in shown, line
    assert "to all lookup 250 priority 32770" in shown  # keepalived.conf
    done = tree.make_tree(tmp_path / "r1b", {**pair.configs("r1"), "ha": SINGLE_WAN_HA, "network": NETWORK_SINGLE_WAN})
    assert "(nothing missing)" in run(done, "show").stdout


def test_the_backup_silence_table_hooks_every_frame_the_wan_device_sends():
    """wan-silence.nft: an egress hook on exactly the shared WAN's device, dropping until MASTER;
    nothing of the kind outside the mode."""
    from tests.unit.test_render_golden import render_case
    text = render_case("single-wan")["wan-silence.nft"]
    assert 'type filter hook egress device "eth1" priority filter; policy accept;' in text
    backup = text[text.index("chain wan_backup"):]
    assert "counter drop" in backup  # silent from the first load: only MASTER empties the chain
    assert "wan-silence.nft" not in render_case("pair-r1")
    assert "wan-silence.nft" not in render_case("vmac")


def test_the_silence_table_is_checked_with_nft_and_removed_when_the_mode_is_off(tmp_path: Path):
    root = tree.make_tree(tmp_path / "r1", {**pair.configs("r1"), "ha": SINGLE_WAN_HA, "network": NETWORK_SINGLE_WAN})
    rendered = run(root, "render", "--list-changed")
    assert rendered.returncode == 0, rendered.stderr
    table = root / "var/etc/ha-pair/wan-silence.nft"
    assert str(table) in rendered.stdout.split() and 'device "eth1"' in table.read_text()
    (root / "etc/config/ha").write_text(pair.ha("r1"))
    again = run(root, "render", "--list-changed")
    assert again.returncode == 0, again.stderr
    assert not table.exists() and str(table) in again.stdout.split()
