"""One dynamic public IP (the homelab recipe): what /etc/config/network needs, checked and shown.

Both routers' WAN ports carry the same MAC, so the ISP's DHCP server gives both the same address.
netifd puts the DHCP default route into table 250 (`ip4table`), which only the master consults:
keepalived adds the rule `to all lookup 250 priority 32770` on the master (ha-pair adds it to the
LAN VIP's virtual_rules). Both routers keep a default route via the LAN VIP in table 240, looked up
after that (priority 32780), so the backup reaches the internet through the master. That rule
is for the router's own traffic only (`in 'loopback'`: iif lo): a master whose WAN has no route
yet (its DHCP answer still coming) must not send clients' packets back to the LAN VIP, itself,
which would leave their connections tracked without NAT, never translated once the WAN is up.

Pure: from the network package to the list of what is missing and the package with it added
(`ha-pair check` reports the first as errors, `ha-pair show` prints the second as a diff).
"""

from __future__ import annotations

import ipaddress
import re
from ..record import record

from ..uci import Package, Section

WAN_TABLE = "250"
MASTER_RULE_PRIORITY = "32770"
FALLBACK_TABLE = "240"
FALLBACK_RULE_PRIORITY = "32780"
FALLBACK_RULE_IN = "loopback"  # OpenWrt's logical interface of lo: the router's own traffic only
MASTER_RULE = f"to all lookup {WAN_TABLE} priority {MASTER_RULE_PRIORITY}"  # keepalived virtual_rules syntax
MAC_PLACEHOLDER = "<the same MAC on both routers>"
_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")


def is_mac(text: str) -> bool:
    return bool(_MAC.fullmatch(text.lower()))


@record(frozen=True)
class Missing:
    """One thing the network configuration lacks: where (a UCI path), and what to add there."""

    path: str
    message: str


def _device_section(network: Package, device: str) -> Section | None:
    for section in network.of_type("device"):
        if section.get("name") == device:
            return section
    return None


def _is_default(target: str | None, netmask: str | None) -> bool:
    if not target:
        return False
    try:
        net = ipaddress.ip_network(target if "/" in target or not netmask else f"{target}/{netmask}", strict=False)
    except ValueError:
        return False
    return net.version == 4 and net.prefixlen == 0


def _fallback_route(network: Package, lan: str, gateway: str) -> Section | None:
    for section in network.of_type("route"):
        if (section.get("interface") == lan and section.get("gateway") == gateway
                and section.get("table") == FALLBACK_TABLE and _is_default(section.get("target"), section.get("netmask"))):
            return section
    return None


def _fallback_rule(network: Package) -> Section | None:
    for section in network.of_type("rule"):
        if (section.get("lookup") == FALLBACK_TABLE and section.get("priority") == FALLBACK_RULE_PRIORITY
                and section.get("in") == FALLBACK_RULE_IN):
            return section
    return None


def plan(network: Package, wan: str, wan_device: str | None, lan: str, lan_vip: str,
         mac: str | None = None) -> tuple[list[Missing], Package]:
    """What is missing for the mode, and the package with all of it added. `mac`: the WAN
    device's current MAC, proposed as the shared one when none is set (else a placeholder)."""
    missing: list[Missing] = []
    result = network.copy()
    iface = result.find(wan)
    if iface is None or iface.type != "interface":
        return [Missing(f"network.{wan}", "no such interface: the WAN interface must be a `config interface`")], result
    if iface.get("proto") != "dhcp":
        missing.append(Missing(f"network.{wan}.proto", f"must be 'dhcp' (the ISP hands out the address), not "
                               f"{iface.get('proto')!r}"))
        iface.set("proto", "dhcp")
    if iface.get("ip4table") != WAN_TABLE:
        missing.append(Missing(f"network.{wan}.ip4table", f"must be '{WAN_TABLE}': the DHCP default route goes to "
                               "the table only the master looks up"))
        iface.set("ip4table", WAN_TABLE)
    device = _device_section(result, wan_device) if wan_device else None
    if not (iface.get("macaddr") or (device is not None and device.get("macaddr"))):
        where = f"network.{result.ref(device)}.macaddr" if device is not None else f"network.{wan}.macaddr"
        missing.append(Missing(where, f"the WAN device {wan_device or '?'} needs the same MAC on both routers "
                               "(e.g. the primary's WAN MAC), so that the ISP gives both the same address"))
        if device is None and wan_device:
            device = result.add("device")
            device.set("name", wan_device)
        (device if device is not None else iface).set("macaddr", mac or MAC_PLACEHOLDER)
    if _fallback_route(result, lan, lan_vip) is None:
        missing.append(Missing("network.@route", f"a default route via the LAN VIP in table {FALLBACK_TABLE} "
                               f"(interface '{lan}', target '0.0.0.0/0', gateway '{lan_vip}', table "
                               f"'{FALLBACK_TABLE}'): the backup's way to the internet, through the master"))
        route = result.add("route")
        for option, value in (("interface", lan), ("target", "0.0.0.0/0"), ("gateway", lan_vip),
                              ("table", FALLBACK_TABLE)):
            route.set(option, value)
    if _fallback_rule(result) is None:
        missing.append(Missing("network.@rule", f"a rule for this router's own traffic (in '{FALLBACK_RULE_IN}') "
                               f"looking up table {FALLBACK_TABLE} at priority {FALLBACK_RULE_PRIORITY} "
                               f"(after the master's rule at {MASTER_RULE_PRIORITY})"))
        rule = result.add("rule")
        rule.set("in", FALLBACK_RULE_IN)
        rule.set("lookup", FALLBACK_TABLE)
        rule.set("priority", FALLBACK_RULE_PRIORITY)
    return missing, result
