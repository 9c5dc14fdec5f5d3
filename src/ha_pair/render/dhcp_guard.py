"""The nftables tables that let only the master answer DHCP: a pure function, model in, text out.

DHCP requests arriving on a managed LAN device jump to chain `dhcp_backup`. On the backup that
chain jumps on to `not_master`, which drops them (dnsmasq never sees them, so it neither answers
nor records a lease); on the master it is empty. DHCP replies leaving those devices jump there too:
dnsmasq pings an address for up to 3 s before offering it, so a request that reached it while its
node was master can be answered after the node became backup (in a failback, the old backup's late
offer): a client taking that offer asks the backup for it and gets no address until it starts over.
keepalived's notify script flips `dhcp_backup` with one `nft` call, in milliseconds, without the
Python agent (usr/share/ha-pair/dhcp-guard.sh). DNS is untouched: the backup's dnsmasq keeps
answering queries. The tables start in the backup state: a node answers DHCP only once it is master.

IPv6 follows the same switch: DHCPv6 requests (odhcpd, port 547) and the router advertisements
odhcpd sends out of those devices jump to `dhcp_backup` too, so only the master is an advertised
IPv6 router. odhcpd cannot choose its RA source (it takes the first link-local address the kernel
picks when it starts, before keepalived adds the virtual one), so when the LAN VIP has a
link-local address (e.g. fe80::1) the master's RAs are rewritten to carry it as their source
(nftables fixes the ICMPv6 checksum): clients then route via the virtual link-local address,
which moves with the VIP, instead of via a router that may lose power.

Where the backup drops its own replies matters: a packet dropped in an IP output hook fails the
sender's send (EPERM), and odhcpd logs every RA it could not send as an error, dnsmasq every reply
as a warning, every few seconds on a healthy backup. A netdev egress hook does no better for
odhcpd's raw ICMPv6 socket (ENOBUFS), and kernels older than the lab's 6.18 refuse its chain for a
device that does not exist yet, as a bridge netifd creates after ha-pair starts. A bridge hands what it
transmits to its ports and reports success whatever their hooks do, so for a managed device that
is a bridge (`meta oifkind`, OpenWrt's br-lan) `not_master` only marks the reply, and the bridge
family's output hook of table `bridge ha_pair` drops the marked frames before any port sends
them: the send succeeds, nothing leaves. Any other device (a port or VLAN device used directly)
is dropped in the IP output hook as before, and its senders log the failures.
"""

from __future__ import annotations

from ..config import grammar
from ..config.model import Model
from .blocks import HEADER

TABLE = "inet ha_pair"
BRIDGE_TABLE = "bridge ha_pair"
SWITCH_CHAIN = "dhcp_backup"  # empty on the master; on the backup its one rule jumps to NOT_MASTER_CHAIN
NOT_MASTER_CHAIN = "not_master"
# what NOT_MASTER_CHAIN sets on a reply leaving through a bridge, for BRIDGE_TABLE to drop it:
# the whole mark, a value nothing else sets ("hapr"); the reply is dropped before anything reads it
BRIDGE_DROP_MARK = 0x68617072


def devices(model: Model) -> list[str]:
    by_interface = {vip.interface: vip.device for vip in model.vips}
    return list(dict.fromkeys(by_interface[s.interface] for s in model.dhcp.sections if s.interface in by_interface))


def router_sources(model: Model) -> list[tuple[str, str]]:
    """(device, virtual link-local address) for each managed LAN whose VIP has one: the source the
    master's router advertisements carry."""
    managed = set(devices(model))
    out = []
    for vip in model.vips:
        if vip.device in managed and vip.link_local is not None:
            address = str(vip.link_local.ip)
            grammar.interface_name(vip.device)
            grammar.ipv6_link_local(address)
            out.append((vip.device, address))
    return list(dict.fromkeys(out))


def switch_rule() -> str:
    """The one rule `dhcp_backup` holds on the backup (the notify script adds it, see paths.sh)."""
    return f"jump {NOT_MASTER_CHAIN}"


def render_dhcp_guard(model: Model) -> str:
    names = ", ".join(f'"{device}"' for device in devices(model))
    mark = f"0x{BRIDGE_DROP_MARK:08x}"
    rewrites = "".join(
        f'\t\toifname "{device}" icmpv6 type nd-router-advert ip6 saddr != {address} ip6 saddr set {address}'
        f' comment "ha-pair: RAs from the virtual link-local router"\n'
        for device, address in router_sources(model))
    return HEADER + f"""table {TABLE}
delete table {TABLE}
table {BRIDGE_TABLE}
delete table {BRIDGE_TABLE}
table {TABLE} {{
	chain dhcp_guard {{
		type filter hook input priority filter - 5; policy accept;
		iifname {{ {names} }} udp dport 67 jump {SWITCH_CHAIN} comment "ha-pair: DHCP requests on managed LANs"
		iifname {{ {names} }} udp dport 547 jump {SWITCH_CHAIN} comment "ha-pair: DHCPv6 requests on managed LANs"
	}}
	chain reply_guard {{
		type filter hook output priority filter - 5; policy accept;
		oifname {{ {names} }} udp sport 67 jump {SWITCH_CHAIN} comment "ha-pair: DHCP replies only from the master"
		oifname {{ {names} }} udp sport 547 jump {SWITCH_CHAIN} comment "ha-pair: DHCPv6 replies only from the master"
		oifname {{ {names} }} icmpv6 type nd-router-advert jump {SWITCH_CHAIN} comment "ha-pair: RAs only from the master"
{rewrites}	}}
	chain {SWITCH_CHAIN} {{
		{switch_rule()}
	}}
	chain {NOT_MASTER_CHAIN} {{
		meta oifkind "bridge" meta mark set {mark} accept comment "ha-pair: a reply leaving through a bridge: dropped by table {BRIDGE_TABLE}, where its send does not fail"
		counter drop comment "ha-pair: not master, not answering DHCP nor advertising a router"
	}}
}}
table {BRIDGE_TABLE} {{
	chain reply_drop {{
		type filter hook output priority filter; policy accept;
		meta mark {mark} counter drop comment "ha-pair: the backup's DHCP replies and RAs, marked by table {TABLE}"
	}}
}}
"""
