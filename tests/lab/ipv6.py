"""IPv6 in the lab (LabOptions(ipv6=True)): the routers' config as the README tells a user to set
it up, and the hosts around them.

Address plan (documentation prefix 2001:db8::/32 only):

=========  ======================  ============================================================
LAN        2001:db8:50::/64        routers ::2 (r1) and ::3 (r2) on br-lan; the virtual router
                                   fe80::1 (a link-local VIP); clients take SLAAC addresses
                                   from the master's router advertisements (odhcpd)
WAN        2001:db8:ff::/64        VIP ::1, r1 ::2, r2 ::3, inet ::254 (routers' default route)
=========  ======================  ============================================================

The inet host routes the LAN prefix to the WAN VIP: IPv6 is routed, not translated.
"""

from __future__ import annotations

from tests.lab import netns

LAN_PREFIX = "2001:db8:50::/64"
WAN_PREFIX = "2001:db8:ff::/64"
ROUTER_LAN = {"r1": "2001:db8:50::2", "r2": "2001:db8:50::3"}
ROUTER_WAN = {"r1": "2001:db8:ff::2", "r2": "2001:db8:ff::3"}
WAN_VIP = "2001:db8:ff::1"
INET = "2001:db8:ff::254"
ROUTER_LINK_LOCAL = "fe80::1"
RA_MIN_INTERVAL, RA_MAX_INTERVAL = 3, 4  # seconds between odhcpd's unsolicited RAs


def network(router: str, text: str) -> str:
    """/etc/config/network with the router's static IPv6 addresses and the WAN gateway."""
    lan = "\toption netmask '255.255.255.0'\n\nconfig interface 'wan'"
    assert text.count(lan) == 1
    text = text.replace(lan, f"\toption netmask '255.255.255.0'\n\tlist ip6addr '{ROUTER_LAN[router]}/64'\n\n"
                             "config interface 'wan'")
    gateway = "\toption gateway '198.51.100.254'\n"
    assert text.count(gateway) == 1
    return text.replace(gateway, gateway + f"\tlist ip6addr '{ROUTER_WAN[router]}/64'\n\toption ip6gw '{INET}'\n")


def dhcp(text: str) -> str:
    """/etc/config/dhcp: OpenWrt's defaults for IPv6 on the LAN (odhcpd: RAs and DHCPv6), with
    unsolicited RAs every 3-4 s (the shortest RFC 4861 allows; OpenWrt's default is 200-600 s), so
    a test sees several in seconds."""
    section = "config dhcp 'lan'\n\toption interface 'lan'\n"
    assert text.count(section) == 1
    return text.replace(section, section + "\toption ra 'server'\n\toption dhcpv6 'server'\n"
                        "\tlist ra_flags 'managed-config'\n\tlist ra_flags 'other-config'\n"
                        f"\toption ra_maxinterval '{RA_MAX_INTERVAL}'\n\toption ra_mininterval '{RA_MIN_INTERVAL}'\n")


def ha(text: str) -> str:
    """/etc/config/ha: the virtual link-local router on the LAN VIP, the WAN VIP's IPv6 address."""
    for vip, extra in (("192.168.50.1/24", ROUTER_LINK_LOCAL), ("198.51.100.1/24", f"{WAN_VIP}/64")):
        line = f"list address '{vip}'"
        assert text.count(line) == 1
        text = text.replace(line, f"{line}\n\tlist address '{extra}'")
    return text


def hosts(topo) -> None:
    """The inet host's IPv6 address and its route to the LAN prefix via the WAN VIP."""
    netns.ip(topo.inet_ns, "-6", "addr", "add", f"{INET}/64", "dev", topo.inet_dev, "nodad")
    netns.ip(topo.inet_ns, "-6", "route", "add", LAN_PREFIX, "via", WAN_VIP)


def client_address(topo) -> str | None:
    """The client's SLAAC address in the LAN prefix, if it has one."""
    out = netns.ip(topo.client_ns, "-6", "-o", "addr", "show", "dev", topo.client_dev, "scope", "global").stdout
    for line in out.splitlines():
        address = line.split()[3].split("/")[0]
        if address.startswith("2001:db8:50:"):
            return address
    return None


def client_routers(topo) -> list[str]:
    """The client's IPv6 default routers (from RAs): their gateway addresses."""
    out = netns.ip(topo.client_ns, "-6", "route", "show", "default").stdout
    return [line.split()[line.split().index("via") + 1] for line in out.splitlines() if " via " in f" {line} "]


# A router solicitation (ICMPv6 type 133, no options) to all routers; the kernel fills in the checksum.
_SOLICIT = """
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.sendto(bytes([133, 0, 0, 0, 0, 0, 0, 0]), ("ff02::2", 0, 0, socket.if_nametoindex(sys.argv[1])))
"""


def solicit(topo) -> None:
    """The client asks for router advertisements now, as it does when its cable is plugged in
    (without taking its link down, which would drop its IPv4 routes)."""
    netns.ns_run(topo.client_ns, "python3", "-c", _SOLICIT, topo.client_dev)
