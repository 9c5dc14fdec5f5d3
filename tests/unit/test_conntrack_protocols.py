"""ha.conntrack.protocol: which connections conntrackd syncs (its `Protocol Accept` filter)."""

from __future__ import annotations

from ha_pair.render.conntrackd import render_conntrackd
from tests.unit.test_render_values import lines_in_blocks
from tests.unit.test_validate import assert_error, base, model_for

ACCEPT = ("Filter From Userspace", "Protocol Accept")


def accepted(text: str) -> list[str]:
    return [line for path, line in lines_in_blocks(text) if path[-2:] == ACCEPT]


def conntrack(options: str) -> str:
    return base(extra=f"\nconfig conntrack 'conntrack'\n{options}")


def test_by_default_every_protocol_conntrackd_knows_is_synced():
    model = model_for(base()).model
    assert accepted(render_conntrackd(model)) == ["TCP", "SCTP", "DCCP", "UDP", "ICMP", "IPv6-ICMP"]


def test_a_list_restricts_the_sync_to_those_protocols_each_once():
    model = model_for(conntrack("\tlist protocol 'udp'\n\tlist protocol 'tcp'\n\tlist protocol 'udp'\n")).model
    assert model.conntrack.protocols == ("tcp", "udp")
    assert accepted(render_conntrackd(model)) == ["TCP", "UDP"]


def test_an_unknown_protocol_is_refused_with_its_uci_path():
    result = model_for(conntrack("\tlist protocol 'tcp'\n\tlist protocol 'gre; rm'\n"))
    assert_error(result, "ha.conntrack.protocol", "is not one of tcp, sctp, dccp, udp, icmp, icmpv6")
