"""The example pair used by the demo, the lab and many tests: UCI files of r1 and r2.

Address plan (same as tests/lab/topology.py): LAN 192.168.50.0/24 (VIP .1, r1 .2, r2 .3),
WAN 198.51.100.0/24 (VIP .1, r1 .2, r2 .3, upstream .254), sync link 10.255.0.0/30.
"""

from __future__ import annotations

ROUTERS = {
    "r1": {"role": "primary", "lan": "192.168.50.2", "wan": "198.51.100.2", "sync": "10.255.0.1", "peer": "10.255.0.2"},
    "r2": {"role": "secondary", "lan": "192.168.50.3", "wan": "198.51.100.3", "sync": "10.255.0.2", "peer": "10.255.0.1"},
}
LAN_VIP = "192.168.50.1"
WAN_VIP = "198.51.100.1"
UPSTREAM = "198.51.100.254"


def network(router: str) -> str:
    r = ROUTERS[router]
    return f"""
config interface 'loopback'
	option device 'lo'
	option proto 'static'
	option ipaddr '127.0.0.1'
	option netmask '255.0.0.0'

config device
	option name 'br-lan'
	option type 'bridge'
	list ports 'lan1'

config interface 'lan'
	option device 'br-lan'
	option proto 'static'
	option ipaddr '{r["lan"]}'
	option netmask '255.255.255.0'

config interface 'wan'
	option device 'eth1'
	option proto 'static'
	option ipaddr '{r["wan"]}'
	option netmask '255.255.255.0'
	option gateway '{UPSTREAM}'

config interface 'sync'
	option device 'eth2'
	option proto 'static'
	option ipaddr '{r["sync"]}'
	option netmask '255.255.255.252'
"""


def dhcp() -> str:
    return """
config dnsmasq
	option domainneeded '1'
	option localise_queries '1'
	option local '/lan/'
	option domain 'lan'
	option leasefile '/tmp/dhcp.leases'
	option nonwildcard '1'

config dhcp 'lan'
	option interface 'lan'
	option start '100'
	option limit '150'
	option leasetime '12h'

config dhcp 'wan'
	option interface 'wan'
	option ignore '1'
"""


def system(router: str) -> str:
    return f"""
config system
	option hostname '{router}'
	option timezone 'UTC'
"""


def dropbear() -> str:
    """OpenWrt's default SSH server (every interface; the firewall keeps the WAN out), keys only:
    the lease sync logs in with the package's own key over the sync link."""
    return """
config dropbear
	option PasswordAuth 'off'
	option RootPasswordAuth 'off'
	option Port '22'
"""


def firewall_additions() -> str:
    """What the README asks a user to add to OpenWrt's default /etc/config/firewall: a zone for the
    dedicated sync link, VRRP allowed in from the WAN, LAN traffic translated to the WAN VIP (both
    routers translate to the same address, so NAT'd connections survive a failover)."""
    return f"""
config zone
	option name 'sync'
	list network 'sync'
	option input 'ACCEPT'
	option output 'ACCEPT'
	option forward 'REJECT'

config rule
	option name 'Allow-VRRP-WAN'
	option src 'wan'
	option proto 'vrrp'
	option target 'ACCEPT'

config nat
	option name 'SNAT-LAN-to-WAN-VIP'
	option src 'wan'
	option src_ip '192.168.50.0/24'
	option target 'SNAT'
	option snat_ip '{WAN_VIP}'
	option proto 'all'
"""


def ha(router: str, extra_global: str = "", extra: str = "") -> str:
    r = ROUTERS[router]
    return f"""
config global 'global'
	option enabled '1'
	option role '{r["role"]}'
	option peer '{r["peer"]}'
	option sync_interface 'sync'
{extra_global}
config vip 'lan'
	option interface 'lan'
	option vrid '51'
	list address '{LAN_VIP}/24'

config vip 'wan'
	option interface 'wan'
	option vrid '52'
	list address '{WAN_VIP}/24'

config conntrack 'conntrack'
	option enabled '1'

config dhcp 'dhcp'
	option managed '1'
{extra}"""


EXTRA_VRID = 60  # extra vip k has vrid 60 + k (the example pair's are 51 and 52)


def extra_vip_addresses(count: int) -> list[str]:
    """The addresses of extra_vip_sections(count), in order: LAN and WAN alternately, from .20 up."""
    lan, wan = LAN_VIP.rsplit(".", 1)[0], WAN_VIP.rsplit(".", 1)[0]
    return [f"{lan if k % 2 == 0 else wan}.{20 + k}" for k in range(count)]


def extra_vip_sections(count: int) -> str:
    """`count` more vip sections, on the LAN and the WAN alternately, each with its own VRID and
    address: with the example pair's two, one sync group of 2 + count VRRP instances."""
    return "".join(f"\nconfig vip 'x{k}'\n\toption interface '{'lan' if k % 2 == 0 else 'wan'}'\n"
                   f"\toption vrid '{EXTRA_VRID + k}'\n\tlist address '{address}/24'\n"
                   for k, address in enumerate(extra_vip_addresses(count)))


def configs(router: str, **ha_options: str) -> dict[str, str]:
    return {"network": network(router), "dhcp": dhcp(), "system": system(router), "ha": ha(router, **ha_options)}
