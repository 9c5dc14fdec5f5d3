"""The lab's variant for one dynamic public IP (ha.global.single_wan_ip): an "ISP" DHCP server on
the WAN switch that hands out one address per MAC, both routers' WAN ports on the same MAC with
the network changes `ha-pair show` prints, and a capture of what one router emits toward the ISP.

The ISP is dnsmasq in the inet host's namespace (the inet host stays the "internet" at .254 and
is the gateway the DHCP server hands out). fw4's default masquerading on the WAN zone translates
the LAN to the shared address on both routers, as README step 4 says.
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.lab import netns
from tests.lab.topology import Topology
from tests.support import pair

SHARED_MAC = "02:5e:10:00:00:01"  # both routers' eth1 (locally administered)
POOL = ("198.51.100.50", "198.51.100.59")
LEASE = "2m"  # dnsmasq's shortest: the master renews within a minute, during the tests
CAPTURE = Path(__file__).resolve().parent / "tools" / "wan_capture.py"


def network(router: str) -> str:
    """The example pair's /etc/config/network with the README's changes for the mode."""
    static = (f"\toption proto 'static'\n\toption ipaddr '{pair.ROUTERS[router]['wan']}'\n"
              f"\toption netmask '255.255.255.0'\n\toption gateway '{pair.UPSTREAM}'\n")
    text = pair.network(router)
    assert static in text
    return text.replace(static, "\toption proto 'dhcp'\n\toption ip4table '250'\n") + f"""
config device
	option name 'eth1'
	option macaddr '{SHARED_MAC}'

config route
	option interface 'lan'
	option target '0.0.0.0/0'
	option gateway '{pair.LAN_VIP}'
	option table '240'

config rule
	option in 'loopback'
	option lookup '240'
	option priority '32780'
"""


def ha(text: str) -> str:
    """/etc/config/ha of the pair turned into the mode: no WAN VIP."""
    wan_vip = f"config vip 'wan'\n\toption interface 'wan'\n\toption vrid '52'\n\tlist address '{pair.WAN_VIP}/24'\n"
    assert wan_vip in text
    text = text.replace(wan_vip, "")
    return text.replace("config global 'global'\n", "config global 'global'\n\toption single_wan_ip 'wan'\n")


def firewall(default: str) -> str:
    """OpenWrt's default firewall with the README's sync zone; no SNAT rule: fw4's WAN
    masquerading translates to the shared address on whichever router is master."""
    full = pair.firewall_additions()
    return default + full[: full.index("\nconfig rule")] + "\n"


@dataclass
class IspDhcp:
    """dnsmasq as the ISP's DHCP server on the inet host: one address per MAC from a small pool."""

    topo: Topology
    workdir: Path
    process: subprocess.Popen | None = None

    @property
    def leases(self) -> Path:
        return self.workdir / "isp.leases"

    def start(self) -> "IspDhcp":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = netns.spawn(self.topo.inet_ns, [
            "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--bind-interfaces",
            f"--interface={self.topo.inet_dev}", f"--dhcp-range={POOL[0]},{POOL[1]},255.255.255.0,{LEASE}",
            f"--dhcp-option=3,{self.topo.inet_addr}", f"--dhcp-leasefile={self.leases}", "--dhcp-authoritative",
            f"--pid-file={self.workdir / 'isp-dnsmasq.pid'}", "--user=root", "--log-dhcp",
            f"--log-facility={self.workdir / 'isp-dnsmasq.log'}"])
        return self

    def stop(self) -> None:
        if self.process is not None:
            netns.kill_pid(self.process.pid)
            self.process = None

    def lease_lines(self) -> list[str]:
        """The ISP's lease file, read until two reads 50 ms apart agree: dnsmasq rewrites it in
        place (truncate, then write), and a read in between saw it empty (one full lab run)."""
        def read() -> list[str]:
            return self.leases.read_text().splitlines() if self.leases.exists() else []

        current = read()
        for _ in range(20):
            time.sleep(0.05)
            again = read()
            if again == current:
                break
            current = again
        return current

    def log(self) -> str:
        path = self.workdir / "isp-dnsmasq.log"
        return path.read_text() if path.exists() else ""


class WanCapture:
    """Every frame a router sends toward the ISP, seen on the WAN switch's port facing it."""

    def __init__(self, topo: Topology, router: str, leg: str = "wan") -> None:
        namespace, port = topo.switch_port(router, leg)
        self.process = netns.spawn(namespace, ["python3", "-u", str(CAPTURE), port], stdout=subprocess.PIPE)
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"capture on {namespace}/{port} did not start")
        self.frames: list[tuple[float, str, str, int]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for line in self.process.stdout:  # type: ignore[union-attr]
                stamp, mac, ethertype, length = line.split()
                self.frames.append((float(stamp), mac, ethertype, int(length)))
        except (ValueError, OSError):  # the pipe closed under us at stop
            pass

    def stop(self) -> list[tuple[float, str, str, int]]:
        """Stop and return every frame: (unix time, source MAC, ethertype, length)."""
        time.sleep(0.2)  # frames in flight reach the capture
        netns.kill_pid(self.process.pid)
        self._reader.join(timeout=2)
        return list(self.frames)

    def __enter__(self) -> "WanCapture":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.stop()


def wan_address(router_exec, device: str = "eth1") -> str | None:
    """The router's IPv4 address on its WAN device, or None."""
    out = router_exec("ip", "-4", "-o", "addr", "show", "dev", device).stdout
    for line in out.splitlines():
        fields = line.split()
        if "inet" in fields:
            return fields[fields.index("inet") + 1].split("/")[0]
    return None


def wait(condition, timeout: float, what: str, interval: float = 0.05) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s: {what}")
        time.sleep(interval)
    return time.monotonic() - started
