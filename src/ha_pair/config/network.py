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
from ..record import record

from ..uci import Package, Section

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

# netifd names the device of these protocols "<proto>-<interface>".
_PROTO_PREFIXED = {"pppoe", "pppoa", "pptp", "l2tp", "ppp", "3g", "ncm", "directip", "qmi", "mbim", "wwan"}
# These create a device named after the interface itself.
_PROTO_SELF_NAMED = {"wireguard", "gre", "gretap", "grev6", "grev6tap", "vti", "vtiv6", "6in4", "6rd", "6to4",
                     "dslite", "map", "ipip", "xfrm", "vxlan", "vxlan6", "openvpn"}


@record(frozen=True)
class Origin:
    """Where a value came from: its UCI path and the file and line that set it."""

    path: str
    file: str
    line: int


@record(frozen=True)
class Interface:
    name: str
    device: str | None
    proto: str
    addresses: tuple[IPInterface, ...]  # static ones only
    device_origin: Origin | None = None  # what in /etc/config/network named the device
    ports: tuple[str, ...] = ()  # when the device is a bridge: its member ports, as configured
    ports_origin: Origin | None = None  # what in /etc/config/network listed them

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
        device, origin = _device(network, name, section, raw, set())
        ports, ports_origin = _bridge_ports(network, name, section, device)
        resolved[name] = Interface(
            name=name,
            device=device,
            proto=section.get("proto", "none") or "none",
            addresses=tuple(_static_addresses(section)),
            device_origin=origin,
            ports=ports,
            ports_origin=ports_origin,
        )
    return resolved


def _bridge_ports(network: Package, name: str, section: Section,
                  device: str | None) -> tuple[tuple[str, ...], Origin | None]:
    """The member ports of the interface's bridge: `list ports` of the `config device` named like
    it (21.02+), or the `ifname` list of a `type bridge` interface (up to 19.07)."""
    if section.get("device") is None and section.get("type") == "bridge":
        return tuple(" ".join(section.get_list("ifname")).split()), _origin(network, section, "ifname")
    for candidate in network.of_type("device"):
        if device and candidate.get("name") == device and candidate.get("type") == "bridge":
            return tuple(" ".join(candidate.get_list("ports")).split()), _origin(network, candidate, "ports")
    return (), None


def _origin(network: Package, section: Section, option: str | None) -> Origin:
    path = f"{network.name}.{network.ref(section)}"
    line = section.option_lines.get(option, section.line) if option else section.line
    return Origin(f"{path}.{option}" if option else path, network.path, line)


def _device(network: Package, name: str, section: Section, raw: dict[str, Section],
            seen: set[str]) -> tuple[str | None, Origin]:
    proto = section.get("proto", "none")
    if proto in _PROTO_PREFIXED:
        return f"{proto}-{name}", _origin(network, section, "proto")
    if proto in _PROTO_SELF_NAMED:
        return name, _origin(network, section, "proto")
    device = section.get("device")
    origin = _origin(network, section, "device")
    if device is None:
        ifnames = " ".join(section.get_list("ifname")).split()
        if section.get("type") == "bridge":
            return f"br-{name}", _origin(network, section, "type")
        device = ifnames[0] if ifnames else None
        origin = _origin(network, section, "ifname")
    if device and device.startswith("@"):
        # An alias: the device of another interface (`option device '@wan'`).
        target = device[1:]
        if target in seen or target not in raw:
            return None, origin
        return _device(network, target, raw[target], raw, seen | {name})
    return device, origin


def _static_addresses(section: Section) -> list[IPInterface]:
    if section.get("proto") != "static":
        return []
    out: list[IPInterface] = []
    netmask = section.get("netmask")
    if netmask and "%" in netmask:
        netmask = None
    for item in section.get_list("ipaddr"):
        for word in item.split():
            if "%" in word:
                continue  # a scope: ipaddress takes any text after it, inet_pton refuses it
            try:
                if "/" not in word and netmask:
                    out.append(ipaddress.IPv4Interface(f"{word}/{netmask}"))
                else:
                    out.append(ipaddress.IPv4Interface(word))
            except ValueError:
                continue  # netifd would reject it too; the interface just has no known subnet
    for item in section.get_list("ip6addr"):
        for word in item.split():
            if "%" in word:
                continue
            try:
                out.append(ipaddress.IPv6Interface(word))
            except ValueError:
                continue
    return out
