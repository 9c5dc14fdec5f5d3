"""The nftables table that keeps the backup silent on a shared WAN (ha.global.single_wan_ip): a pure
function, model in, text out.

Both routers' WAN ports carry the same MAC and the same DHCP address, so the backup must emit
nothing there: no ARP reply, no DHCP renewal, no IPv6 neighbour traffic, or the ISP's switch would
learn the shared MAC on the backup's port. A netdev egress hook on the WAN device sees every frame
the device sends, raw packet sockets (udhcpc's DHCPDISCOVER) and the kernel's own ARP included.
Its chain `wan_backup` drops them on the backup and is empty on the master; keepalived's notify
script flips it together with the DHCP guard, without the Python agent. The table starts in the
backup state: a node speaks on the shared WAN only once it is master.
"""

from __future__ import annotations

from ..config import grammar
from ..config.model import Model
from .blocks import HEADER

TABLE = "netdev ha_pair_wan"
EGRESS_CHAIN = "wan_egress"
BACKUP_CHAIN = "wan_backup"  # empty on the master; on the backup it holds switch_rule()


def device(model: Model) -> str | None:
    """The WAN device to silence, or None outside the one-dynamic-IP mode."""
    mode = model.single_wan
    if mode is None or mode.wan_device is None:
        return None
    grammar.interface_name(mode.wan_device)  # validated from /etc/config/network; lands quoted in nft
    return mode.wan_device


def switch_rule() -> str:
    """The one rule `wan_backup` holds on the backup (the notify script adds it, see paths.sh)."""
    return "counter drop"


def render_wan_silence(model: Model) -> str:
    name = device(model)
    if name is None:
        raise ValueError("no shared WAN device: ha.global.single_wan_ip is not set")
    return HEADER + f"""table {TABLE}
delete table {TABLE}
table {TABLE} {{
	chain {EGRESS_CHAIN} {{
		type filter hook egress device "{name}" priority filter; policy accept;
		jump {BACKUP_CHAIN} comment "ha-pair: everything this node sends on the shared WAN"
	}}
	chain {BACKUP_CHAIN} {{
		{switch_rule()} comment "ha-pair: not master, silent on the shared WAN"
	}}
}}
"""
