"""A WireGuard tunnel through the pair's NAT: the LAN client to a peer on the lab's internet.

Why userspace: this kernel has no WireGuard (`ip link add type wireguard`: unknown device type),
and the routers only forward and NAT the tunnel's UDP, as they would kernel WireGuard's. So both
ends run Debian's wireguard-go (a TUN device in the client's and the inet host's namespace),
configured with `wg`, started and stopped by PID.

The client is a roaming peer behind NAT: it knows the peer's endpoint, the peer learns the
client's from its handshake (the address and port the master's SNAT gave it). No persistent
keepalive: nothing but the traffic under test keeps the NAT entry alive or would make a new one.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests import vendor
from tests.lab import netns
from tests.lab.topology import Topology

PROGRAMS = ("wireguard-go", "wg")
UAPI_DIR = Path("/var/run/wireguard")  # wireguard-go's control sockets, one per interface name, machine-wide
PEER_PORT = 51820
CLIENT_ADDR = "10.77.0.1"  # tunnel addresses, inside the lab's client and inet namespaces only
PEER_ADDR = "10.77.0.2"
TUNNEL_PLEN = 30
IFNAMSIZ = 15
REKEY_AFTER_S = 120  # WireGuard's REKEY_AFTER_TIME: an initiator sending data starts a new handshake after this


def unavailable() -> str:
    """Why no tunnel can be run here ("" when it can)."""
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if not missing:
        return ""
    return f"not installed: {', '.join(missing)} (`apt-get install wireguard-go wireguard-tools`; `make test` installs them)"


def require_wireguard() -> None:
    """For tests: skip where wireguard-go or wg is missing (fail under CI=true: CI must not pass by skipping)."""
    import pytest

    why = unavailable()
    if not why:
        return
    if vendor.in_ci():
        pytest.fail(f"CI=true and the WireGuard tunnel cannot run: {why}", pytrace=False)
    pytest.skip(why)


def _wg(ns: str, *args: str, key: str | None = None) -> str:
    return netns.run(["ip", "netns", "exec", ns, "wg", *args], input=key).stdout


@dataclass
class End:
    ns: str
    ifname: str
    addr: str
    private: str = ""
    public: str = ""
    pid: int = 0


class Tunnel:
    """wireguard-go on the LAN client and on the inet host; `with Tunnel(topo) as tunnel:`."""

    def __init__(self, topo: Topology) -> None:
        # the interface name names the control socket too, which every namespace shares: one per lab and end
        self.client = End(topo.client_ns, f"{topo.prefix}wgc", CLIENT_ADDR)
        self.peer = End(topo.inet_ns, f"{topo.prefix}wgp", PEER_ADDR)
        for end in self.ends:
            if len(end.ifname) > IFNAMSIZ:
                raise ValueError(f"lab prefix {topo.prefix!r} too long for an interface name: {end.ifname}")
        self.peer_endpoint = f"{topo.inet_addr}:{PEER_PORT}"

    @property
    def ends(self) -> tuple[End, End]:
        return (self.client, self.peer)

    def start(self, timeout: float = 10.0) -> "Tunnel":
        try:
            for end in self.ends:
                self._launch(end, timeout)
            self._configure(self.peer, f"listen-port {PEER_PORT}", self.client, "")
            self._configure(self.client, "", self.peer, f"endpoint {self.peer_endpoint}")
            if not self._handshake(timeout):
                raise RuntimeError(f"no WireGuard handshake from {self.client.ns} to {self.peer_endpoint}")
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, end: End, timeout: float) -> None:
        end.private = subprocess.run(["wg", "genkey"], capture_output=True, text=True, check=True).stdout.strip()
        end.public = subprocess.run(["wg", "pubkey"], input=end.private, capture_output=True, text=True,
                                    check=True).stdout.strip()
        (UAPI_DIR / f"{end.ifname}.sock").unlink(missing_ok=True)  # left by a killed run of this lab
        end.pid = netns.spawn(end.ns, ["wireguard-go", "--foreground", end.ifname]).pid
        deadline = time.monotonic() + timeout
        while not (UAPI_DIR / f"{end.ifname}.sock").exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"wireguard-go {end.ifname} in {end.ns} did not start")
            time.sleep(0.05)

    def _configure(self, end: End, own: str, other: End, reach: str) -> None:
        _wg(end.ns, "set", end.ifname, "private-key", "/dev/stdin", *own.split(), "peer", other.public,
            "allowed-ips", f"{other.addr}/32", "persistent-keepalive", "off", *reach.split(), key=end.private)
        netns.run(["ip", "-n", end.ns, "addr", "add", f"{end.addr}/{TUNNEL_PLEN}", "dev", end.ifname])
        netns.run(["ip", "-n", end.ns, "link", "set", end.ifname, "up"])

    def _handshake(self, timeout: float) -> bool:
        """The client speaks first (the peer cannot reach it before it knows the NAT's address)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ping = ["ip", "netns", "exec", self.client.ns, "ping", "-c", "1", "-W", "1", self.peer.addr]
            if netns.run(ping, check=False).returncode == 0 and self.endpoint():
                return True
        return False

    def latest_handshakes(self) -> dict[str, int]:
        """Per end, the time (epoch s) of its latest completed handshake (0: none)."""
        out = {}
        for name, end in (("client", self.client), ("peer", self.peer)):
            fields = _wg(end.ns, "show", end.ifname, "latest-handshakes").split()
            out[name] = int(fields[1]) if len(fields) == 2 else 0
        return out

    def endpoint(self) -> str:
        """Where the peer sends the client's packets: the address and port it last heard the client from."""
        fields = _wg(self.peer.ns, "show", self.peer.ifname, "endpoints").split()
        return fields[1] if len(fields) == 2 and fields[1] != "(none)" else ""

    def stop(self) -> None:
        """Both daemons by PID (SIGTERM removes the TUN device and the control socket). Safe twice."""
        for end in self.ends:
            if end.pid:
                netns.kill_pid(end.pid)
                end.pid = 0
            (UAPI_DIR / f"{end.ifname}.sock").unlink(missing_ok=True)

    def __enter__(self) -> "Tunnel":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
