"""The nftables table that lets only the master answer DHCP: a pure function, model in, text out.

DHCP requests arriving on a managed LAN device jump to chain `dhcp_backup`. On the backup that
chain drops them (dnsmasq never sees them, so it neither answers nor records a lease); on the
master it is empty. keepalived's notify script flips it with one `nft` call, in milliseconds,
without the Python agent. DNS is untouched: the backup's dnsmasq keeps answering queries.
The table starts in the backup state: a node answers DHCP only once it is master.
"""

from __future__ import annotations

from ..config.model import Model
from .blocks import HEADER



def devices(model: Model) -> list[str]:
    by_interface = {vip.interface: vip.device for vip in model.vips}
    return list(dict.fromkeys(by_interface[s.interface] for s in model.dhcp.sections if s.interface in by_interface))


def render_dhcp_guard(model: Model) -> str:
    names = ", ".join(f'"{device}"' for device in devices(model))
    return HEADER + f"""table inet ha_pair
delete table inet ha_pair
table inet ha_pair {{
	chain dhcp_guard {{
		type filter hook input priority filter - 5; policy accept;
		iifname {{ {names} }} udp dport 67 jump dhcp_backup comment "ha-pair: DHCP requests on managed LANs"
	}}
	chain dhcp_backup {{
		counter drop comment "ha-pair: not master, not answering DHCP"
	}}
}}
"""
