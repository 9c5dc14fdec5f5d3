"""Lab stand-in for OpenWrt's dnsmasq init script: the part of /etc/init.d/dnsmasq that turns
/etc/config/dhcp into a dnsmasq command line, for the sections ha-pair touches.

Reproduced because ha-pair's DHCP settings only matter through it:
- a `config dhcp` section becomes a dhcp-range on its interface's subnet (start, limit,
  leasetime) tagged with the section name, plus its `dhcp_option` list;
- `ignore '1'` serves no DHCP there;
- unless `force '1'`, the init probes the interface for another DHCP server first
  (`udhcpc -n -q -s /bin/true -t 1 -i DEV`) and serves no DHCP there when one answers:
  that is why ha-pair sets `force` (the peer is a DHCP server on the same link).
Paths stay inside the router's tree so two routers never share a pid or lease file.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from ha_pair.config.network import resolve
from ha_pair.uci import load

@dataclass(frozen=True)
class DhcpPool:
    section: str
    device: str
    first: str
    last: str
    netmask: str
    leasetime: str
    options: tuple[str, ...]
    force: bool


def pools(root: Path) -> list[DhcpPool]:
    dhcp = load(root / "etc/config/dhcp", "dhcp")
    interfaces = resolve(load(root / "etc/config/network", "network"))
    out = []
    for section in dhcp.of_type("dhcp"):
        iface = interfaces.get(section.get("interface") or "")
        if iface is None or section.get("ignore") == "1" or not iface.device:
            continue
        v4 = [a for a in iface.addresses if a.version == 4]
        if not v4:
            continue
        network = v4[0].network
        start = int(section.get("start", "100"))
        limit = int(section.get("limit", "150"))
        first = network.network_address + start
        last = min(first + limit - 1, network.broadcast_address - 1)
        out.append(DhcpPool(dhcp.ref(section), iface.device, str(first), str(last), str(network.netmask),
                            section.get("leasetime", "12h"), tuple(section.get_list("dhcp_option")),
                            section.get("force") == "1"))
    return out


def other_server_on(namespace: str, device: str, tries: int = 1) -> bool:
    """OpenWrt's start-up probe (`udhcpc -n -q -s /bin/true -t 1 -i DEV`): does any DHCP server
    answer on this link? More tries give a slow server (dnsmasq pings a new address for ~3 s
    before offering it) a fair chance."""
    probe = subprocess.run(["ip", "netns", "exec", namespace, "udhcpc", "-n", "-q", "-s", "/bin/true", "-t",
                            str(tries), "-i", device], capture_output=True, timeout=15 * tries)
    return probe.returncode == 0


def command(root: Path, namespace: str, extra: list[str] | None = None) -> list[str]:
    """The dnsmasq command line OpenWrt's init would build for this router."""
    run = root / "var/run/dnsmasq"
    run.mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    (root / "var/log/lab").mkdir(parents=True, exist_ok=True)
    args = [
        "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--user=root", "--group=root",
        f"--pid-file={run / 'dnsmasq.pid'}", f"--dhcp-leasefile={root / 'tmp/dhcp.leases'}",
        "--bind-dynamic", "--no-resolv", "--no-hosts", "--domain=lan", "--local=/lan/",
        "--host-record=inet.lab,198.51.100.254", "--dhcp-authoritative", "--log-dhcp",
        f"--log-facility={root / 'var/log/lab/dnsmasq.log'}",
    ]
    for pool in pools(root):
        args.append(f"--interface={pool.device}")
        if not pool.force and other_server_on(namespace, pool.device):
            continue  # what OpenWrt's init does without `force`: no DHCP on this link
        args.append(f"--dhcp-range=set:{pool.section},{pool.first},{pool.last},{pool.netmask},{pool.leasetime}")
        args += [f"--dhcp-option=tag:{pool.section},{option}" for option in pool.options]
    return args + (extra or [])


def serves_dhcp(cmdline: list[str]) -> bool:
    return any(arg.startswith("--dhcp-range=") for arg in cmdline)

