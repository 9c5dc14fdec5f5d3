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

import fcntl
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ha_pair.config.network import resolve
from ha_pair.uci import load

REPO = Path(__file__).resolve().parents[2]

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


def other_server_on(namespace: str | None, device: str, tries: int = 1) -> bool:
    """OpenWrt's start-up probe (`udhcpc -n -q -s /bin/true -t 1 -i DEV`): does any DHCP server
    answer on this link? More tries give a slow server (dnsmasq pings a new address for ~3 s
    before offering it) a fair chance. namespace None: the one this process runs in."""
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    probe = subprocess.run([*prefix, "udhcpc", "-n", "-q", "-s", "/bin/true", "-t", str(tries), "-i", device],
                           capture_output=True, timeout=15 * tries)
    return probe.returncode == 0


def command(root: Path, namespace: str | None, extra: list[str] | None = None) -> list[str]:
    """The dnsmasq command line OpenWrt's init would build for this router."""
    run = root / "var/run/dnsmasq"
    run.mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    (root / "var/log/lab").mkdir(parents=True, exist_ok=True)
    args = [
        "dnsmasq", "--conf-file=/dev/null", "--user=root", "--group=root",
        f"--dhcp-script={root / 'usr/lib/dnsmasq/dhcp-script.sh'}",
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


INIT = """#!/bin/sh
# Lab stand-in for OpenWrt's /etc/init.d/dnsmasq (start|stop|restart|reload) in this router tree.
exec env PYTHONPATH={repo}/src:{repo} {python} -m tests.lab.openwrt_dnsmasq "$1" {root}
"""


def install(root: Path) -> None:
    """Put the init and dhcp-script stand-ins into a router tree."""
    init = root / "etc/init.d/dnsmasq"
    init.write_text(INIT.format(repo=REPO, python=sys.executable, root=root))
    init.chmod(0o755)
    script = root / "usr/lib/dnsmasq/dhcp-script.sh"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text((Path(__file__).parent / "tools/dhcp-script.sh").read_text())
    script.chmod(0o755)


def pids(root: Path) -> list[int]:
    """This router's dnsmasq processes, found by the pid file in their command line (the pid file
    itself may not be written yet right after a start)."""
    marker = f"--pid-file={root / 'var/run/dnsmasq/dnsmasq.pid'}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if marker in handle.read().split(b"\0") and _alive(int(entry)):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def start(root: Path) -> None:
    """Idempotent, as procd makes OpenWrt's: a running dnsmasq is left alone."""
    if pids(root):
        return
    cmdline = command(root, None)
    (root / "var/run/dnsmasq/cmdline").write_text("\n".join(cmdline))
    subprocess.run(cmdline, check=True, timeout=30)  # dnsmasq daemonizes once it is ready


def stop(root: Path) -> None:
    running = pids(root)
    for process in running:
        try:
            os.kill(process, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while any(_alive(process) for process in running) and time.monotonic() < deadline:
        time.sleep(0.005)


def _alive(process: int) -> bool:
    """Running, not a zombie: the daemonized dnsmasq's parent is PID 1, which may reap it late."""
    try:
        with open(f"/proc/{process}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


if __name__ == "__main__":
    action, tree = sys.argv[1], Path(sys.argv[2])
    (tree / "var/run/dnsmasq").mkdir(parents=True, exist_ok=True)
    with open(tree / "var/run/dnsmasq/init.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one action at a time, as procd serialises them
        if action in ("stop", "restart", "reload"):
            stop(tree)
        if action in ("start", "restart", "reload"):
            start(tree)

