"""The nftables table that lets only the master answer DHCP: a pure function, model in, text out.

DHCP requests arriving on a managed LAN device jump to chain `dhcp_backup`. On the backup that
chain drops them (dnsmasq never sees them, so it neither answers nor records a lease); on the
master it is empty. DHCP replies leaving those devices jump there too: dnsmasq pings an address
for up to 3 s before offering it, so a request that reached it while its node was master can be
answered after the node became backup (in a failback, the old backup's late offer): a client
taking that offer asks the backup for it and gets no address until it starts over. keepalived's notify script flips it with one `nft` call, in milliseconds,
without the Python agent. DNS is untouched: the backup's dnsmasq keeps answering queries.
The table starts in the backup state: a node answers DHCP only once it is master.

IPv6 follows the same switch: DHCPv6 requests (odhcpd, port 547) and the router advertisements
odhcpd sends out of those devices jump to `dhcp_backup` too, so only the master is an advertised
IPv6 router. odhcpd cannot choose its RA source (it takes the first link-local address the kernel
picks when it starts, before keepalived adds the virtual one), so when the LAN VIP has a
link-local address (e.g. fe80::1) the master's RAs are rewritten to carry it as their source
(nftables fixes the ICMPv6 checksum): clients then route via the virtual link-local address,
which moves with the VIP, instead of via a router that may lose power.
"""

from __future__ import annotations

from ..config import grammar
from ..config.model import Model
from .blocks import HEADER



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


def render_dhcp_guard(model: Model) -> str:
    names = ", ".join(f'"{device}"' for device in devices(model))
    rewrites = "".join(
        f'\t\toifname "{device}" icmpv6 type nd-router-advert ip6 saddr != {address} ip6 saddr set {address}'
        f' comment "ha-pair: RAs from the virtual link-local router"\n'
        for device, address in router_sources(model))
    return HEADER + f"""table inet ha_pair
delete table inet ha_pair
table inet ha_pair {{
	chain dhcp_guard {{
		type filter hook input priority filter - 5; policy accept;
		iifname {{ {names} }} udp dport 67 jump dhcp_backup comment "ha-pair: DHCP requests on managed LANs"
		iifname {{ {names} }} udp dport 547 jump dhcp_backup comment "ha-pair: DHCPv6 requests on managed LANs"
	}}
	chain reply_guard {{
		type filter hook output priority filter - 5; policy accept;
		oifname {{ {names} }} udp sport 67 jump dhcp_backup comment "ha-pair: DHCP replies only from the master"
		oifname {{ {names} }} udp sport 547 jump dhcp_backup comment "ha-pair: DHCPv6 replies only from the master"
		oifname {{ {names} }} icmpv6 type nd-router-advert jump dhcp_backup comment "ha-pair: RAs only from the master"
{rewrites}	}}
	chain dhcp_backup {{
		counter drop comment "ha-pair: not master, not answering DHCP nor advertising a router"
	}}
}}
"""
