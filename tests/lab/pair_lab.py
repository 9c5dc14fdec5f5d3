"""The two-router lab driven by ha-pair: the topology, a router file tree per router, and the
router's services started the way the package starts them.

Each router gets its own tree (`--root`): the package's files, /etc/config/{network,dhcp,system,ha}
for that router. Its services are started like on OpenWrt:
- ha-pair's own init script (files/etc/init.d/ha-pair) under mini_procd, the lab's procd
  stand-in: keepalived and conntrackd run with the configuration ha-pair generated;
- dnsmasq from /etc/config/dhcp (after ha-pair's render) through the OpenWrt init stand-in.
The baseline variant runs a hand-written keepalived.conf with raw keepalived instead (no ha-pair),
so benchmarks can compare against it.

Failures are injected as on real hardware: power loss = the switch ports go dark, every process of
the router dies and its tmpfs and conntrack table are gone on the next boot.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tests.lab import netns, openwrt_dnsmasq
from tests.lab.topology import DEFAULT_PREFIX, Topology
from tests.support import pair, tree

REPO = Path(__file__).resolve().parents[2]
PROCD = Path(__file__).resolve().parent / "procd"
TMPFS = ("var/run", "var/etc", "tmp")  # what a reboot clears on OpenWrt (/var is /tmp)


@dataclass(frozen=True)
class LabOptions:
    profile: str = "default"  # "default" (VRRPv2, 1 s) or "fast" (VRRPv3, 0.1 s)
    conntrack: bool = True
    preempt: bool = True
    preempt_delay: int = 0
    checks: str = ""  # extra `config check` sections, UCI text
    dhcp: bool = True  # run dnsmasq on both routers
    commit_handover: bool = False  # conntrackd's external cache committed at takeover, not injected
    baseline: bool = False  # raw keepalived from a hand-written config, no ha-pair

    @property
    def advert_int(self) -> float:
        return 0.1 if self.profile == "fast" else 1.0


def router_configs(router: str, options: LabOptions) -> dict[str, str]:
    extra_global = f"\toption profile '{options.profile}'\n"
    if not options.preempt:
        extra_global += "\toption preempt '0'\n"
    if options.preempt_delay:
        extra_global += f"\toption preempt_delay '{options.preempt_delay}'\n"
    configs = pair.configs(router, extra_global=extra_global, extra=options.checks)
    conntrack = "\toption enabled '1'" if options.conntrack else "\toption enabled '0'"
    if options.commit_handover:
        conntrack += "\n\toption disable_external_cache '0'"
    configs["ha"] = configs["ha"].replace("config conntrack 'conntrack'\n\toption enabled '1'",
                                          f"config conntrack 'conntrack'\n{conntrack}")
    return configs


def baseline_keepalived_conf(router: str, options: LabOptions) -> str:
    """A hand-written keepalived.conf for the same topology, as the OpenWrt wiki recipe would
    have it: what ha-pair's generated file is compared against."""
    r = pair.ROUTERS[router]
    priority = 150 if r["role"] == "primary" else 100
    version = 3 if options.profile == "fast" else 2
    advert = "0.1" if options.profile == "fast" else "1"
    preempt = "" if options.preempt else "    nopreempt\n"
    if options.preempt and options.preempt_delay:
        preempt = f"    preempt_delay {options.preempt_delay}\n"
    instances = ""
    for name, vrid, dev, vip in (("LAN", 51, "br-lan", pair.LAN_VIP), ("WAN", 52, "eth1", pair.WAN_VIP)):
        instances += (f"vrrp_instance {name} {{\n    state BACKUP\n    interface {dev}\n"
                      f"    virtual_router_id {vrid}\n    priority {priority}\n    advert_int {advert}\n"
                      f"    version {version}\n{preempt}    virtual_ipaddress {{\n        {vip}/24 dev {dev}\n"
                      "    }\n}\n")
    return (f"global_defs {{\n    router_id {router}-baseline\n}}\n{instances}"
            "vrrp_sync_group G {\n    group {\n        LAN\n        WAN\n    }\n}\n")


@dataclass
class Router:
    name: str
    namespace: str
    root: Path
    options: LabOptions
    procd: object | None = None
    dropbear: object | None = None
    keepalived_raw: object | None = None

    @property
    def log_dir(self) -> Path:
        return self.root / "var/log/lab"

    def env(self) -> dict[str, str]:
        """What a router's services see: no PYTHONPATH, the tree's own ha-pair finds its modules."""
        return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONDONTWRITEBYTECODE": "1",
                "HOME": str(self.root / "root")}

    def ha_pair(self, *args: str) -> list[str]:
        """The command line of the router's own `ha-pair` (its tree's /usr/sbin/ha-pair)."""
        return [str(self.root / "usr/sbin/ha-pair"), "--root", str(self.root), *args]

    def boot(self) -> None:
        """Power-on: a fresh tmpfs, then the services in OpenWrt's order."""
        self.boot_ssh()
        self.boot_services()

    def boot_ssh(self) -> None:
        for directory in TMPFS:
            shutil.rmtree(self.root / directory, ignore_errors=True)
            (self.root / directory).mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.start_dropbear()

    def start_dropbear(self) -> None:
        """dropbear on the sync link. Debian's dropbear reads root's ~/.ssh/authorized_keys (OpenWrt's
        reads /etc/dropbear/authorized_keys): it runs in a private mount namespace where this tree's
        /root is mounted over /root, so the host's /root is never touched."""
        address = pair.ROUTERS[self.name]["sync"]
        log = open(self.log_dir / "dropbear.log", "ab")
        script = (f"mount --bind {self.root / 'root'} /root && exec dropbear -F -E -s -p {address}:22 "
                  f"-r {self.root / 'etc/dropbear/dropbear_ed25519_host_key'} -P {self.root / 'var/run/dropbear.pid'}")
        self.dropbear = netns.spawn(self.namespace, ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                    stdout=log, stderr=log, env=self.env(), text=False)
        log.close()

    def boot_services(self) -> None:
        if self.options.baseline:
            self.start_raw_keepalived()
        else:
            self.start_ha_pair()
            # OpenWrt runs init scripts one after the other: ha-pair (START=18) has rendered the
            # DHCP settings before dnsmasq (START=19) reads /etc/config/dhcp
            deadline = time.monotonic() + 30
            while not self.procd_state_path.exists():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name}: the init script did not finish starting")
                time.sleep(0.02)
        if self.options.dhcp:
            self.start_dnsmasq()

    def start_ha_pair(self) -> None:
        self.procd = netns.spawn(self.namespace, [
            sys.executable, str(PROCD / "mini_procd.py"), "--init", str(self.root / "etc/init.d/ha-pair"),
            "--rc", str(PROCD / "rc.common"), "--root", str(self.root), "--state", str(self.procd_state_path),
            "--log-dir", str(self.log_dir)], env=self.env())

    def start_raw_keepalived(self) -> None:
        conf = self.root / "etc/keepalived/keepalived.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(baseline_keepalived_conf(self.name, self.options))
        run = self.root / "var/run"
        log = open(self.log_dir / "keepalived.log", "ab")
        self.keepalived_raw = netns.spawn(self.namespace, [
            "keepalived", "-n", "-P", "-l", "-G", "-D", "-f", str(conf), "-p", str(run / "keepalived.pid"),
            "-r", str(run / "keepalived-vrrp.pid")], stdout=log, stderr=log, env=self.env(), text=False)
        log.close()

    def start_dnsmasq(self) -> None:
        """Through the tree's /etc/init.d/dnsmasq (the lab's stand-in), as the agent restarts it."""
        netns.run(["ip", "netns", "exec", self.namespace, str(self.root / "etc/init.d/dnsmasq"), "start"])

    @property
    def dnsmasq_cmdline(self) -> list[str]:
        return (self.root / "var/run/dnsmasq/cmdline").read_text().split("\n")

    def leases(self) -> str:
        try:
            return (self.root / "tmp/dhcp.leases").read_text(errors="surrogateescape")
        except OSError:
            return ""

    @property
    def procd_state_path(self) -> Path:
        return self.root / "var/run/procd-lab.json"

    def procd_state(self) -> dict:
        try:
            return json.loads(self.procd_state_path.read_text())
        except (OSError, ValueError):
            return {}

    def instance_pid(self, name: str) -> int | None:
        if self.options.baseline and name == "keepalived":
            return self.keepalived_raw.pid if self.keepalived_raw else None
        return (self.procd_state().get("instances", {}).get(name) or {}).get("pid")

    def service(self, action: str) -> None:
        """`/etc/init.d/ha-pair stop|reload` through the procd stand-in (or raw keepalived)."""
        if self.options.baseline:
            if action == "stop" and self.keepalived_raw is not None:
                netns.kill_pid(self.keepalived_raw.pid, timeout=10)
                self.keepalived_raw = None
            return
        if self.procd is None:
            return
        if action == "stop":
            netns.kill_pid(self.procd.pid, timeout=15)
            self.procd = None
        elif action == "reload":
            os.kill(self.procd.pid, signal.SIGHUP)

    def kill_everything(self) -> None:
        """Power loss: every process of this router dies at once (again while any is left: one
        that was just starting, e.g. a daemonizing dnsmasq, may have forked meanwhile)."""
        for _ in range(5):
            pids = netns.ns_pids(self.namespace)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        for proc in (self.procd, self.dropbear, self.keepalived_raw):
            if proc is not None:
                netns.kill_pid(proc.pid, timeout=2)
        self.procd = self.dropbear = self.keepalived_raw = None

    def transitions(self) -> list[str]:
        try:
            return (self.root / "var/run/ha-pair/transitions.log").read_text().splitlines()
        except OSError:
            return []


def prepare_tree(root: Path) -> None:
    """What a real router has beside our package: an SSH host key, root's home, and the lab's
    stand-ins for OpenWrt's dnsmasq init and dhcp-script."""
    (root / "root/.ssh").mkdir(parents=True, exist_ok=True)
    (root / "root/.ssh").chmod(0o700)
    (root / "root").chmod(0o700)
    (root / "root/.ssh/authorized_keys").touch(mode=0o600)
    hostkey = root / "etc/dropbear/dropbear_ed25519_host_key"
    hostkey.parent.mkdir(parents=True, exist_ok=True)
    netns.run(["dropbearkey", "-t", "ed25519", "-f", str(hostkey)])
    openwrt_dnsmasq.install(root)


def port_open(namespace: str, address: str, port: int) -> bool:
    probe = f"import socket; s = socket.socket(); s.settimeout(1); s.connect(({address!r}, {port}))"
    return netns.run(["ip", "netns", "exec", namespace, sys.executable, "-c", probe], check=False).returncode == 0


class Lab:
    """`with Lab(LabOptions(...)) as lab:` builds everything and always tears it down."""

    def __init__(self, options: LabOptions = LabOptions(), prefix: str = DEFAULT_PREFIX) -> None:
        self.options = options
        self.topo = Topology(prefix=prefix)
        self.dir = Path(tempfile.mkdtemp(prefix="ha-pair-lab."))
        self.routers: dict[str, Router] = {}

    # -- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> "Lab":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, wait_master: str | None = "r1") -> None:
        self.start_ssh()
        if not self.options.baseline:
            self.pair_routers()
        for router in self.routers.values():
            router.boot_services()
        if wait_master:
            self.wait_for(lambda: self.master() == wait_master, 30, f"{wait_master} becomes master at start")

    def start_ssh(self, configs: Callable[[str], dict[str, str]] | None = None) -> None:
        """The topology, each router's tree (`configs(router)`, the lab's by default) and its dropbear."""
        self.topo.build()
        for name in self.topo.routers:
            root = tree.make_tree(self.dir / name, (configs or (lambda r: router_configs(r, self.options)))(name))
            prepare_tree(root)
            self.routers[name] = Router(name, self.topo.ns(name), root, self.options)
        for router in self.routers.values():
            router.boot_ssh()

    def pair_routers(self) -> None:
        """What the README tells an operator to do: on each router `ha-pair keys`, the line it prints
        into the peer's authorized_keys, then `ha-pair trust-peer` once the fingerprint checks out."""
        self.authorize_keys()
        for name, router in self.routers.items():
            peer_address = pair.ROUTERS[self.topo.peer(name)]["sync"]
            self.wait_for(lambda: port_open(router.namespace, peer_address, 22), 10, f"dropbear on {peer_address}")
            self.run_ha_pair(name, "trust-peer", "--yes")

    def authorize_keys(self) -> None:
        """`ha-pair keys` on each router, its line added to the peer's authorized_keys."""
        for name, router in self.routers.items():
            line = json.loads(self.run_ha_pair(name, "--json", "keys").stdout)["authorized_keys_line"]
            peer = self.routers[self.topo.peer(name)]
            # the forced command is /usr/libexec/ha-pair/lease-peer on every router; in the lab each
            # router's tree is elsewhere, so the line names the peer's copy
            line = line.replace(f'command="{router.root}/', f'command="{peer.root}/')
            authorized = peer.root / "root/.ssh/authorized_keys"
            authorized.write_text(authorized.read_text() + line + "\n")
            authorized.chmod(0o600)

    def run_ha_pair(self, router: str, *args: str, check: bool = True, input: str | None = None):
        """The router's own `ha-pair` in its namespace, with the router's environment."""
        r = self.routers[router]
        return netns.run(["ip", "netns", "exec", r.namespace, "env", "-i", *(f"{k}={v}" for k, v in r.env().items()),
                          *r.ha_pair(*args)], check=check, input=input, timeout=60)

    def stop(self) -> None:
        try:
            for router in self.routers.values():
                router.kill_everything()
        finally:
            self.topo.teardown()
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- observing ----------------------------------------------------------------------------
    def status(self, router: str) -> dict:
        """`ha-pair status --json` run on the router, as an operator would."""
        return json.loads(self.run_ha_pair(router, "status", "--json", check=False).stdout)

    def vips(self, router: str) -> set[str]:
        return self.topo.vips_on(router)

    def master(self) -> str | None:
        """The router holding both VIPs while the other holds none; None otherwise."""
        held = {name: self.vips(name) for name in self.routers}
        both = {pair.LAN_VIP, pair.WAN_VIP}
        for name, vips in held.items():
            others = [v for n, v in held.items() if n != name]
            if vips == both and not any(others):
                return name
        return None

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.02) -> float:
        """Poll until `condition` holds; returns the seconds it took; fails with `what` on timeout."""
        start = time.monotonic()
        while True:
            if condition():
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                state = {name: sorted(self.vips(name)) for name in self.routers}
                raise AssertionError(f"timed out after {timeout} s waiting for: {what} (VIPs now: {state})")
            time.sleep(interval)

    def random_phase(self) -> None:
        """Sleep a random part of an advert interval, so failures do not always hit the same phase."""
        time.sleep(random.uniform(0, self.options.advert_int))

    # -- failures -----------------------------------------------------------------------------
    def power_off(self, router: str) -> None:
        self.topo.set_links(router, False, side="switch")  # sync link first, then LAN and WAN
        self.routers[router].kill_everything()
        netns.ns_run(self.topo.ns(router), "conntrack", "-F", check=False)

    def power_on(self, router: str) -> None:
        """Boot again: what a reboot clears is gone (VIPs, neighbours, conntrack, tmpfs)."""
        self.topo.del_vips(router)
        netns.ip(self.topo.ns(router), "neigh", "flush", "all", check=False)
        netns.ns_run(self.topo.ns(router), "conntrack", "-F", check=False)
        self.topo.set_links(router, True, side="switch")
        self.routers[router].boot()

    def lan_link(self, router: str, up: bool) -> None:
        self.topo.set_links(router, up, which=("lan",), side="switch")

    def sync_link(self, up: bool) -> None:
        self.topo.set_links("r1", up, which=("sync",), side="both")

    def upstream_answers(self, router: str, answering: bool) -> None:
        address = self.topo.router_wan[router]
        if answering:
            self.topo.unblock_icmp_from(address)
        else:
            self.topo.block_icmp_from(address)
