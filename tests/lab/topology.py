"""The ha-pair lab topology: two routers, a LAN and a WAN, all in network namespaces.

Why: ha-pair's failover claims (VIP takeover time, NAT flows surviving with
conntrackd) can only be proven with real kernels forwarding real packets.  This
module builds the same shape as the hand-built lab in
shared/reference/lab.md, reproducibly, and removes it again -- also after a
crash, because :meth:`Topology.build` first clears every namespace with the
lab's prefix.  It builds the "hardware" only: namespaces, switches and cables.
The routers' own configuration (bridge, addresses, routes, firewall) is theirs:
OpenWrt's netifd and fw4 set it up from /etc/config when a router boots
(tests/lab/router.py); until then a router's ports are down, like the ports of a
router that is switched off.

Namespaces (prefix default ``hap-``)::

    hap-client --eth0--+                              +--eth0-- hap-inet
                       |                              |
                 hap-lan (bridge br0)           hap-wan (bridge br0)
                  |            |                  |            |
                lan1         lan1               eth1         eth1
                hap-r1 ------- eth2 (sync) ------- hap-r2

Address plan (RFC 1918 / RFC 5737 documentation ranges only):

=========  ===================  ===============================================
LAN        192.168.50.0/24      VIP .1 (assigned by keepalived or by a test),
                                r1 .2 and r2 .3 on ``br-lan`` (port ``lan1``,
                                as on OpenWrt 21.02+), client .100 on eth0
                                with default route via the VIP
WAN        198.51.100.0/24      VIP .1, r1 eth1 .2, r2 eth1 .3, inet eth0 .254;
                                routers' default route via .254
sync       10.255.0.0/30        direct veth ``eth2`` on both: r1 .1, r2 .2
=========  ===================  ===============================================

Switch ports are named after what they face (``hap-lan``: r1, r2, client;
``hap-wan``: r1, r2, inet), so ``set_links(side="switch")`` can pull a cable at
the switch, the realistic model of a power loss (the router's own interfaces
then see NO-CARRIER but stay administratively up).

br_netfilter is disabled in every lab namespace, as on OpenWrt.
The inet host answers ping and can be told to ignore one router's ICMP
(:meth:`Topology.block_icmp_from`) for health-check scenarios.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

if __package__ in (None, ""):  # run as a script: python3 tests/lab/topology.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.lab import netns  # type: ignore[no-redef]
else:
    from . import netns

ROUTERS = ("r1", "r2")
LEGS = ("lan", "wan", "sync")
INET_TABLE = "hap_inet"
# Two checkouts running labs side by side need distinct prefixes: a lab clears its prefix at start.
DEFAULT_PREFIX = os.environ.get("HA_PAIR_LAB_PREFIX", "hap-")
BENCH_PREFIX = os.environ.get("HA_PAIR_BENCH_PREFIX", "hpb-")  # a bench and the tests never clear each other's lab

_LIVE: dict[int, "Topology"] = {}


@dataclass(eq=False)
class Topology:
    """A buildable, removable two-router lab.  Use as ``with Topology() as topo:``."""

    prefix: str = DEFAULT_PREFIX
    lan_net: str = "192.168.50.0/24"
    wan_net: str = "198.51.100.0/24"
    sync_net: str = "10.255.0.0/30"
    lan_vip: str = "192.168.50.1"
    wan_vip: str = "198.51.100.1"
    client_addr: str = "192.168.50.100"
    inet_addr: str = "198.51.100.254"
    router_lan: dict[str, str] = field(
        default_factory=lambda: {"r1": "192.168.50.2", "r2": "192.168.50.3"})
    router_wan: dict[str, str] = field(
        default_factory=lambda: {"r1": "198.51.100.2", "r2": "198.51.100.3"})
    router_sync: dict[str, str] = field(
        default_factory=lambda: {"r1": "10.255.0.1", "r2": "10.255.0.2"})
    lan_bridge: str = "br-lan"   # router's LAN bridge (carries the addresses)
    lan_port: str = "lan1"       # router's LAN veth, port of br-lan
    wan_dev: str = "eth1"
    sync_dev: str = "eth2"
    client_dev: str = "eth0"
    inet_dev: str = "eth0"
    switch_bridge: str = "br0"   # the bridge inside hap-lan / hap-wan
    routers: tuple[str, ...] = ROUTERS
    built: bool = field(default=False, init=False)

    # --- names -----------------------------------------------------------
    def ns(self, role: str) -> str:
        """Namespace name for a role: lan, wan, client, r1, r2, inet."""
        return f"{self.prefix}{role}"

    @property
    def lan_ns(self) -> str:
        return self.ns("lan")

    @property
    def wan_ns(self) -> str:
        return self.ns("wan")

    @property
    def client_ns(self) -> str:
        return self.ns("client")

    @property
    def inet_ns(self) -> str:
        return self.ns("inet")

    @property
    def namespaces(self) -> list[str]:
        return [self.ns(r) for r in ("lan", "wan", "client", *self.routers, "inet")]

    @staticmethod
    def plen(net: str) -> str:
        return net.split("/")[1]

    def peer(self, router: str) -> str:
        """The other router."""
        self._check_router(router)
        return self.routers[1 - self.routers.index(router)]

    def router_dev(self, leg: str) -> str:
        """The router-side device of a leg (lan -> lan1, wan -> eth1, sync -> eth2)."""
        return {"lan": self.lan_port, "wan": self.wan_dev, "sync": self.sync_dev}[leg]

    def switch_port(self, router: str, leg: str) -> tuple[str, str]:
        """(namespace, device) of the far end of a router's leg: the switch port,
        or for the switchless sync link the peer router's eth2."""
        self._check_router(router)
        if leg == "lan":
            return self.lan_ns, router
        if leg == "wan":
            return self.wan_ns, router
        if leg == "sync":
            return self.ns(self.peer(router)), self.sync_dev
        raise ValueError(f"unknown leg {leg!r}; expected one of {LEGS}")

    # --- lifecycle ---------------------------------------------------------
    def build(self) -> "Topology":
        """Create everything from scratch (clears leftovers of any earlier run first)."""
        netns.cleanup_prefix(self.prefix)
        _LIVE[id(self)] = self
        try:
            self._build()
        except BaseException:
            self.teardown()
            raise
        self.built = True
        return self

    def _build(self) -> None:
        for name in self.namespaces:
            self._add_ns(name)
        for sw in (self.lan_ns, self.wan_ns):
            netns.bridge(sw, self.switch_bridge)

        def to_switch(sw: str, port: str, ns: str, dev: str, up: bool = True) -> None:
            netns.veth(sw, port, ns, dev, up=False)
            netns.enslave(sw, port, self.switch_bridge)
            netns.link_set(sw, port, True)
            if up:
                netns.link_set(ns, dev, True)

        for r in self.routers:  # a router's ports stay down until its netifd brings them up
            to_switch(self.lan_ns, r, self.ns(r), self.lan_port, up=False)
            to_switch(self.wan_ns, r, self.ns(r), self.wan_dev, up=False)
        r1, r2 = self.routers
        netns.veth(self.ns(r1), self.sync_dev, self.ns(r2), self.sync_dev, up=False)

        to_switch(self.lan_ns, "client", self.client_ns, self.client_dev)
        netns.addr_add(self.client_ns, self.client_dev,
                       f"{self.client_addr}/{self.plen(self.lan_net)}")
        netns.route_add(self.client_ns, "default", self.lan_vip)

        to_switch(self.wan_ns, "inet", self.inet_ns, self.inet_dev)
        netns.addr_add(self.inet_ns, self.inet_dev, f"{self.inet_addr}/{self.plen(self.wan_net)}")
        netns.run(["ip", "netns", "exec", self.inet_ns, "nft", "-f", "-"], input=(
            f"table inet {INET_TABLE} {{\n"
            "  set icmp_blocked { type ipv4_addr; }\n"
            "  chain input { type filter hook input priority filter; policy accept;\n"
            "    ip saddr @icmp_blocked icmp type echo-request drop\n  }\n}\n"))

    @staticmethod
    def _add_ns(name: str) -> None:
        netns.add_ns(name)
        for key in ("bridge-nf-call-iptables", "bridge-nf-call-ip6tables", "bridge-nf-call-arptables"):
            netns.ns_run(name, "sysctl", "-qw", f"net.bridge.{key}=0", check=False)

    def router_ports(self) -> tuple[str, ...]:
        """A router's "hardware": the devices the lab wires, which outlive its power cycles."""
        return (self.lan_port, self.wan_dev, self.sync_dev)

    def reset_router(self, router: str) -> None:
        """What a power cycle does to a router's kernel: everything it set up is gone (bridges,
        addresses, routes, nftables, conntrack, sysctls, neighbours). The router's network
        namespace is replaced by a fresh one holding the same ports, down. Its processes must be
        gone already (tests/lab/router.py: PID 1 killed)."""
        self._check_router(router)
        rns = self.ns(router)
        netns.kill_in_ns(rns)  # stragglers that were not in its pid namespace
        parked = {dev: f"{router}-{dev}" for dev in self.router_ports()}
        for dev, name in parked.items():  # into the (daemon-less) LAN switch while the namespace is replaced
            netns.ip(rns, "link", "set", dev, "down")
            netns.ip(rns, "link", "set", dev, "netns", self.lan_ns, "name", name)
        netns.del_ns(rns)
        self._add_ns(rns)
        for dev, name in parked.items():
            netns.ip(self.lan_ns, "link", "set", name, "netns", rns, "name", dev)

    def teardown(self) -> None:
        """Kill every process in the lab's namespaces and delete them.  Idempotent."""
        try:
            netns.cleanup_prefix(self.prefix)
        finally:
            self.built = False
            _LIVE.pop(id(self), None)

    def __enter__(self) -> "Topology":
        return self.build()

    def __exit__(self, *exc: object) -> None:
        self.teardown()

    # --- operating the lab -------------------------------------------------
    def exec(self, role: str, *cmd: str, check: bool = True,
             timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Run a command in a role's namespace and capture its output."""
        return netns.ns_run(self.ns(role), *cmd, check=check, timeout=timeout)

    def spawn(self, role: str, argv: Sequence[str], **kw) -> subprocess.Popen:
        """Start a long-running program in a role's namespace (tracked; real PID)."""
        return netns.spawn(self.ns(role), argv, **kw)

    def set_links(self, router: str, up: bool, which: Iterable[str] = LEGS,
                  side: str = "router") -> None:
        """Take a router's legs down or up.

        side="router": the router's own interfaces (lan1, eth1, eth2) go
        administratively down; side="switch": the switch port facing the router
        goes down (cable pulled / power off: the router sees NO-CARRIER);
        side="both": both ends.  The sync link has no switch: its "switch side"
        is the peer's eth2 (prefer side="router" for sync in power-loss runs --
        the survivor then just sees carrier loss).  The sync link is always
        handled first (lab.md: downing WAN before sync lets conntrackd sync the
        deletions).  Bringing a router-side WAN leg up restores the default
        route the kernel removed at admin-down.
        """
        self._check_router(router)
        if side not in ("router", "switch", "both"):
            raise ValueError(f"side must be router, switch or both, not {side!r}")
        legs = list(dict.fromkeys(which))
        for leg in legs:
            if leg not in LEGS:
                raise ValueError(f"unknown leg {leg!r}; expected one of {LEGS}")
        if "sync" in legs:
            legs.remove("sync")
            legs.insert(0, "sync")
        for leg in legs:
            if side in ("router", "both"):
                netns.link_set(self.ns(router), self.router_dev(leg), up)
            if side in ("switch", "both"):
                netns.link_set(*self.switch_port(router, leg), up)
        if up and "wan" in legs and side in ("router", "both"):
            # the kernel drops the default route at admin-down and netifd (whose interface stays
            # up through a link loss) does not add it again
            netns.route_add(self.ns(router), "default", self.inet_addr)

    def add_vips(self, router: str, legs: Iterable[str] = ("lan", "wan")) -> None:
        """Assign the VIP(s) to a router by hand (what keepalived does on MASTER)."""
        for dev, cidr in self._vip_addrs(legs):
            netns.addr_add(self.ns(router), dev, cidr)

    def del_vips(self, router: str, legs: Iterable[str] = ("lan", "wan")) -> None:
        """Remove the VIP(s) from a router (no error if absent)."""
        for dev, cidr in self._vip_addrs(legs):
            netns.addr_del(self.ns(router), dev, cidr)

    def vips_on(self, router: str) -> set[str]:
        """Which VIPs the router currently holds."""
        out = netns.ip(self.ns(router), "-4", "-o", "addr", "show").stdout
        held = {tok.split("/")[0] for line in out.splitlines() for tok in line.split()
                if "/" in tok}
        return held & {self.lan_vip, self.wan_vip}

    def flush_neigh(self, roles: Iterable[str] = ("client", "inet")) -> None:
        """Forget learnt neighbours (``ip neigh flush all``) in the given namespaces."""
        for role in roles:
            netns.ip(self.ns(role), "neigh", "flush", "all")

    def block_icmp_from(self, addr: str | None = None) -> None:
        """Make the inet host ignore ICMP echo from ``addr`` (default: r1's WAN address)."""
        addr = addr or self.router_wan[self.routers[0]]
        netns.ns_run(self.inet_ns, "nft", "add", "element", "inet", INET_TABLE,
                     "icmp_blocked", f"{{ {addr} }}")

    def unblock_icmp_from(self, addr: str | None = None) -> None:
        """Undo :meth:`block_icmp_from` for ``addr``, or for everyone if None."""
        if addr is None:
            netns.ns_run(self.inet_ns, "nft", "flush", "set", "inet", INET_TABLE, "icmp_blocked")
        else:
            netns.ns_run(self.inet_ns, "nft", "delete", "element", "inet", INET_TABLE,
                         "icmp_blocked", f"{{ {addr} }}", check=False)

    def block_vrrp(self, blocked: bool, legs: Iterable[str] = ("lan", "wan")) -> None:
        """Make the LAN and WAN switches drop VRRP (IP protocol 112) between their ports, or forward
        it again: a filtering switch, while the routers' own links and the sync cable stay up."""
        for leg in legs:
            switch = self.lan_ns if leg == "lan" else self.wan_ns
            netns.ns_run(switch, "nft", "delete", "table", "bridge", "lab_vrrp", check=False)
            if blocked:
                netns.ns_run(switch, "nft", "-f", "-", input=(
                    "table bridge lab_vrrp {\n  chain forward {\n"
                    "    type filter hook forward priority 0; policy accept;\n"
                    "    ip protocol 112 counter drop\n    ip6 nexthdr 112 counter drop\n  }\n}\n"))

    def conntrack(self, router: str, *args: str) -> str:
        """``conntrack ARGS`` in a router's namespace (e.g. ``-L -p tcp``); its stdout."""
        return netns.ns_run(self.ns(router), "conntrack", *args).stdout

    # --- helpers -----------------------------------------------------------
    def _vip_addrs(self, legs: Iterable[str]) -> list[tuple[str, str]]:
        out = []
        for leg in legs:
            if leg == "lan":
                out.append((self.lan_bridge, f"{self.lan_vip}/{self.plen(self.lan_net)}"))
            elif leg == "wan":
                out.append((self.wan_dev, f"{self.wan_vip}/{self.plen(self.wan_net)}"))
            else:
                raise ValueError(f"VIP legs are lan and wan, not {leg!r}")
        return out

    def _check_router(self, router: str) -> None:
        if router not in self.routers:
            raise ValueError(f"unknown router {router!r}; expected one of {self.routers}")


def teardown_all() -> None:
    """Tear down every topology built in this process, then any stray tracked process."""
    for topo in list(_LIVE.values()):
        try:
            topo.teardown()
        except Exception as exc:  # keep going: this runs at exit
            print(f"lab teardown of {topo.prefix}* failed: {exc}", file=sys.stderr)
    netns.stop_tracked()


atexit.register(teardown_all)


class LabTerminated(KeyboardInterrupt):
    """Raised by the handlers of :func:`install_signal_handlers`.

    A KeyboardInterrupt subclass so pytest treats SIGTERM like Ctrl-C: it stops
    the session and still runs fixture teardown (a SystemExit would only fail
    the current test and let the run go on).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def install_signal_handlers() -> None:
    """Turn SIGTERM/SIGHUP into :class:`LabTerminated` so context managers, fixtures
    and atexit tear the lab down.  Only replaces default handlers, main thread only.
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def _interrupt(signum: int, _frame: object) -> None:
        raise LabTerminated(signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _interrupt)


def main(argv: Sequence[str] | None = None) -> int:
    """``topology.py up [--prefix P]`` builds and holds the lab until SIGINT/SIGTERM;
    ``topology.py down [--prefix P]`` removes a lab left behind."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("up", "down"))
    ap.add_argument("--prefix", default=DEFAULT_PREFIX)
    args = ap.parse_args(argv)
    if args.action == "down":
        print("removed:", " ".join(netns.cleanup_prefix(args.prefix)) or "nothing")
        return 0
    install_signal_handlers()
    try:
        with Topology(prefix=args.prefix) as topo:
            print("lab up:", " ".join(topo.namespaces), "(Ctrl-C or SIGTERM to remove)",
                  flush=True)
            signal.pause()
    except LabTerminated as exc:
        return 128 + exc.signum
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
