"""IPv6 on the LAN: a link-local VIP (the router address IPv6 clients use) is accepted on any LAN,
reaches the DHCP guard's RA rules only as a canonical link-local address, and the guard makes
DHCPv6 and router advertisements follow the master like DHCP."""

from __future__ import annotations

import pytest

from ha_pair.config import grammar
from ha_pair.render import dhcp_guard, render_dhcp_guard
from tests.unit.render_cases import NETWORK_V6
from tests.unit.test_validate import assert_error, base, model_for


def with_lan_addresses(*addresses: str, extra_global: str = "\toption profile 'fast'\n") -> str:
    lines = "".join(f"\n\tlist address '{a}'" for a in addresses)
    return base(extra_global=extra_global).replace("list address '192.168.50.1/24'",
                                                   "list address '192.168.50.1/24'" + lines)


def test_link_local_vip_needs_no_subnet_and_gets_64():
    result = model_for(with_lan_addresses("fe80::1"))
    assert result.ok, [str(e) for e in result.errors]
    lan = result.model.vips[0]
    assert str(lan.link_local) == "fe80::1/64"
    assert [str(a) for a in lan.excluded] == ["fe80::1/64"]


def test_link_local_vip_needs_vrrp3():
    assert_error(model_for(with_lan_addresses("fe80::1", extra_global="")), "ha.lan.address",
                 "VRRPv2 is IPv4 only")


def test_global_ipv6_vip_still_needs_the_lan_subnet():
    assert_error(model_for(with_lan_addresses("fe80::1", "fd00:99::1/64"), NETWORK_V6), "ha.lan.address",
                 "fd00:99::1 is not in lan's subnet fd00:50::/64")


def test_link_local_with_zone_is_refused():
    assert_error(model_for(with_lan_addresses("fe80::1%br-lan")), "ha.lan.address", "is not an address")


def test_guard_rewrites_ras_to_the_virtual_link_local_and_drops_them_on_the_backup():
    text = render_dhcp_guard(model_for(with_lan_addresses("fe80::1")).model)
    lines = [line.strip() for line in text.splitlines()]
    assert any(line.startswith('iifname { "br-lan" } udp dport 547 jump dhcp_backup') for line in lines)
    assert any(line.startswith('oifname { "br-lan" } icmpv6 type nd-router-advert jump dhcp_backup')
               for line in lines)
    rewrite = [i for i, line in enumerate(lines) if "ip6 saddr set fe80::1" in line]
    drop = [i for i, line in enumerate(lines) if "nd-router-advert jump dhcp_backup" in line]
    assert len(rewrite) == 1 and drop[0] < rewrite[0]  # the backup drops before anything is rewritten


def tables(text: str) -> dict[str, dict[str, str]]:
    """{table: {chain: its body}} of a rendered guard."""
    out: dict[str, dict[str, str]] = {}
    for block in text.split("\ntable ")[1:]:
        if "{" not in block.splitlines()[0]:
            continue  # the `table X` / `delete table X` preamble
        name = block.split("{", 1)[0].strip()
        out[name] = {chain.split("{", 1)[0].strip(): chain for chain in block.split("\tchain ")[1:]}
    return out


def test_guard_drops_the_backups_dhcp_replies_too():
    """A request dnsmasq received as master may be answered after a switch to backup (it pings an
    address for up to 3 s before offering it): the replies leaving the LAN go through the switch."""
    text = render_dhcp_guard(model_for(base()).model)
    chains = tables(text)[dhcp_guard.TABLE]
    output = [name for name, block in chains.items() if "hook output" in block]
    assert len(output) == 1
    for port in (67, 547):
        assert f'oifname {{ "br-lan" }} udp sport {port} jump dhcp_backup' in chains[output[0]]


def test_a_backup_reply_through_a_bridge_is_marked_and_dropped_by_the_bridge_table():
    """A drop in the IP output hook fails the sender's send (odhcpd and dnsmasq log each one): on a
    bridge the backup only marks its replies, and the bridge family's output hook drops frames with
    that mark. The switch is one chain: dhcp_backup, which on the backup jumps to not_master."""
    text = render_dhcp_guard(model_for(base()).model)
    found = tables(text)
    assert set(found) == {"inet ha_pair", "bridge ha_pair"}
    inet, bridge = found["inet ha_pair"], found["bridge ha_pair"]
    assert [line.strip() for line in inet["dhcp_backup"].splitlines()[1:-1] if line.strip()] == ["jump not_master"]
    not_master = [line.strip() for line in inet["not_master"].splitlines()[1:] if line.strip() not in ("", "}")]
    assert not_master[0].startswith('meta oifkind "bridge" meta mark set 0x68617072 accept ')
    assert not_master[1].startswith("counter drop ")  # any other device: dropped here, as before
    (drop,) = [line.strip() for line in bridge["reply_drop"].splitlines() if "counter" in line]
    assert "type filter hook output priority filter;" in bridge["reply_drop"]
    assert drop.startswith("meta mark 0x68617072 counter drop ")
    # the preamble replaces both tables in the one transaction that loads them
    assert text.index("delete table bridge ha_pair") < text.index("table inet ha_pair {")


def test_guard_without_link_local_vip_rewrites_nothing():
    text = render_dhcp_guard(model_for(base()).model)
    assert "nd-router-advert jump dhcp_backup" in text and "saddr set" not in text


@pytest.mark.parametrize("bad", ["fd00::1", "fe80::01", "fe80::1%eth0", "fe80::1/64", "fe80::1 accept", ""])
def test_grammar_refuses_what_is_not_a_bare_link_local(bad: str):
    with pytest.raises(ValueError):
        grammar.ipv6_link_local(bad)


def test_grammar_accepts_a_canonical_link_local():
    grammar.ipv6_link_local("fe80::1")
