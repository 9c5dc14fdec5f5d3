"""Resolve OpenWrt logical interfaces (`lan`, `wan`, ...) to Linux devices and subnets.

Both shapes of /etc/config/network are understood:
- 21.02+: `config device` sections (`option name 'br-lan'`, `option type 'bridge'`) and
  interfaces with `option device 'br-lan'`;
- up to 19.07: interfaces with `option ifname 'eth0.1'` and `option type 'bridge'`, whose
  device is then `br-<interface>`.
Protocols that create their own device (pppoe-wan, wireguard's interface name, ...) are
named the way netifd names them. Only static addresses are known ahead of time.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..uci import Package, Section

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

# netifd names the device of these protocols "<proto>-<interface>".
_PROTO_PREFIXED = {"pppoe", "pppoa", "pptp", "l2tp", "ppp", "3g", "ncm", "directip", "qmi", "mbim", "wwan"}
# These create a device named after the interface itself.
_PROTO_SELF_NAMED = {"wireguard", "gre", "gretap", "grev6", "grev6tap", "vti", "vtiv6", "6in4", "6rd", "6to4",
                     "dslite", "map", "ipip", "xfrm", "vxlan", "vxlan6", "openvpn"}


@dataclass(frozen=True)
class Interface:
    name: str
    device: str | None
    proto: str
    addresses: tuple[IPInterface, ...]  # static ones only

    def subnets(self, version: int) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [a.network for a in self.addresses if a.version == version]

    def address(self, version: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        for item in self.addresses:
            if item.version == version:
                return item.ip
        return None


def resolve(network: Package) -> dict[str, Interface]:
    """Every `config interface` of the package, by logical name."""
    raw = {s.name or network.ref(s): s for s in network.of_type("interface")}
    resolved: dict[str, Interface] = {}
    for name, section in raw.items():
        resolved[name] = Interface(
            name=name,
            device=_device(name, section, raw, set()),
            proto=section.get("proto", "none") or "none",
            addresses=tuple(_static_addresses(section)),
        )
    return resolved


def _device(name: str, section: Section, raw: dict[str, Section], seen: set[str]) -> str | None:
    proto = section.get("proto", "none")
    if proto in _PROTO_PREFIXED:
        return f"{proto}-{name}"
    if proto in _PROTO_SELF_NAMED:
        return name
    device = section.get("device")
    if device is None:
        ifnames = " ".join(section.get_list("ifname")).split()
        if section.get("type") == "bridge":
            return f"br-{name}"
        device = ifnames[0] if ifnames else None
    if device and device.startswith("@"):
        # An alias: the device of another interface (`option device '@wan'`).
        target = device[1:]
        if target in seen or target not in raw:
            return None
        return _device(target, raw[target], raw, seen | {name})
    return device


def _static_addresses(section: Section) -> list[IPInterface]:
    if section.get("proto") != "static":
        return []
    out: list[IPInterface] = []
    netmask = section.get("netmask")
    for item in section.get_list("ipaddr"):
        for word in item.split():
            try:
                if "/" not in word and netmask:
                    out.append(ipaddress.IPv4Interface(f"{word}/{netmask}"))
                else:
                    out.append(ipaddress.IPv4Interface(word))
            except ValueError:
                continue  # netifd would reject it too; the interface just has no known subnet
    for item in section.get_list("ip6addr"):
        for word in item.split():
            try:
                out.append(ipaddress.IPv6Interface(word))
            except ValueError:
                continue
    return out
