"""vip.track_port: the bridge ports keepalived follows for an instance (carrier loss: FAULT).

A bridge of several ports keeps its carrier while one port is down, so the master's failed
uplink would go unnoticed; with one port the port's carrier is seen sooner than the bridge's."""

from __future__ import annotations

from ha_pair.record import replace
from ha_pair.render.keepalived import quick_down_instances, render_keepalived
from tests.support import pair
from tests.unit.test_validate import assert_error, base, model_for


def network_with_ports(*ports: str) -> str:
    return pair.network("r1").replace("\tlist ports 'lan1'\n", "".join(f"\tlist ports '{p}'\n" for p in ports))


def lan_instance(text: str) -> str:
    start = text.index("vrrp_instance lan {")
    return text[start:text.index("\n}\n", start)]


def with_track_ports(*ports: str) -> str:
    lines = "".join(f"\n\tlist track_port '{p}'" for p in ports)
    return base().replace("option vrid '51'", "option vrid '51'" + lines)


def test_the_only_port_of_a_bridge_is_tracked_by_default():
    result = model_for(base())
    assert result.ok and result.warnings == ()
    lan, wan = result.model.vips
    assert (lan.track_ports, wan.track_ports) == (("lan1",), ())  # eth1 is no bridge
    assert "track_interface {\n        lan1\n    }" in lan_instance(render_keepalived(result.model))


def test_a_bridge_of_several_ports_tracks_none_by_default_and_says_so():
    result = model_for(base(), network=network_with_ports("lan1", "lan2", "lan3"))
    assert result.ok
    assert result.model.vips[0].track_ports == ()
    assert "track_interface" not in lan_instance(render_keepalived(result.model))
    warning = next(str(w) for w in result.warnings if w.path == "ha.lan.track_port")
    assert "lan1, lan2, lan3" in warning and "list track_port" in warning


def test_the_named_uplink_is_tracked_and_the_other_ports_are_not():
    result = model_for(with_track_ports("lan2"), network=network_with_ports("lan1", "lan2", "lan3"))
    assert result.ok and result.warnings == ()
    assert result.model.vips[0].track_ports == ("lan2",)
    block = lan_instance(render_keepalived(result.model))
    assert "track_interface {\n        lan2\n    }" in block and "lan1" not in block and "lan3" not in block


def test_a_port_that_is_not_a_member_of_the_bridge_is_refused():
    result = model_for(with_track_ports("lan9"), network=network_with_ports("lan1", "lan2"))
    assert_error(result, "ha.lan.track_port", "'lan9' is not a port of br-lan's bridge in /etc/config/network "
                                              "(its ports: lan1, lan2)")


def test_a_hostile_track_port_is_refused_by_the_device_grammar():
    result = model_for(with_track_ports("lan1 }\nx"), network=network_with_ports("lan1", "lan2"))
    assert_error(result, "ha.lan.track_port", "contains whitespace")


def test_a_hostile_only_port_in_network_is_refused_with_its_file_and_line():
    network = network_with_ports("lan1\"x")
    result = model_for(base(), network=network)
    problem = next(p for p in result.errors if "tracked by ha.lan" in p.message)
    assert result.model is None
    line = next(n for n, text in enumerate(network.split("\n"), 1) if "list ports" in text)
    assert (problem.file, problem.line) == ("/etc/config/network", line)
    assert "contains '\"'" in problem.message


def test_the_old_bridge_syntax_is_understood():
    network = pair.network("r1")
    start = network.index("config device")
    end = network.index("\n\n", start) + 2
    old = (network[:start] + network[end:]).replace("option device 'br-lan'", "option type 'bridge'\n\toption ifname 'lan1'")
    result = model_for(base(), network=old)
    assert result.ok, [str(e) for e in result.errors]
    assert result.model.vips[0].device == "br-lan" and result.model.vips[0].track_ports == ("lan1",)


def wan_instance(text: str) -> str:
    start = text.index("vrrp_instance wan {")
    return text[start:text.index("\n}\n", start)]


def test_a_tracked_lan_instance_declares_its_master_down_after_one_advert_and_wan_after_three():
    # the master's dead LAN port cannot carry its priority-0 advert; the WAN one can, and the
    # sync group still waits for the WAN instance (three adverts) when only LAN adverts go missing
    model = model_for(base()).model
    assert quick_down_instances(model) == {"lan"}
    text = render_keepalived(model)
    assert "down_timer_adverts 1" in lan_instance(text)
    assert "down_timer_adverts" not in wan_instance(text)


def test_no_instance_is_shortened_when_every_one_tracks_ports():
    model = model_for(base()).model
    lan, wan = model.vips
    both = replace(model, vips=(lan, replace(wan, track_ports=("wan1",))))
    assert quick_down_instances(both) == frozenset()
    assert "down_timer_adverts" not in render_keepalived(both)


def test_an_untracked_bridge_and_a_single_instance_keep_three_adverts():
    several = model_for(base(), network=network_with_ports("lan1", "lan2")).model
    assert several.vips[0].track_ports == () and quick_down_instances(several) == frozenset()
    model = model_for(base()).model
    alone = replace(model, vips=model.vips[:1])
    assert not alone.sync_group
    assert alone.vips[0].track_ports == ("lan1",)
    assert quick_down_instances(alone) == frozenset()  # no group: one missed advert would move it
    assert "down_timer_adverts" not in render_keepalived(alone)
