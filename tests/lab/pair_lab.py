"""The two-router lab driven by ha-pair: the topology, two OpenWrt routers (tests/lab/router.py),
and ha-pair installed and set up on them the way an operator does it.

Each router boots OpenWrt's userspace from its /etc/config (network, firewall, dhcp, dropbear,
system, ha: written into its flash before the first boot). ha-pair is installed into each
router's flash as the package installs it (files/ at their paths, the Python modules under
/usr/lib/ha-pair/python, its init script enabled in /etc/rc.d), so procd starts it at boot like any
service (START=18: before dnsmasq). Once both routers are up the lab pairs them as the README tells
an operator: `ha-pair keys` on each, the printed line into the peer's
/etc/dropbear/authorized_keys, then `ha-pair trust-peer`.

The baseline variant runs raw keepalived from a hand-written keepalived.conf on the same routers
instead (no ha-pair), so benchmarks can compare against it.

Failures are injected as on real hardware: power loss = the router's cables go dark and its PID 1
is killed (every process of it ends, its tmpfs is gone, its network namespace is replaced by a
fresh one: no address, route, firewall or conntrack state survives); power-on boots it again
from its flash.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tests.lab import ipv6, netns, rootfs, single_wan
from tests.lab.router import Router as OpenWrtRouter
from tests.lab.topology import DEFAULT_PREFIX, Topology
from tests.support import pair, tree

REPO = Path(__file__).resolve().parents[2]
ADVERT_WATCH = Path(__file__).resolve().parent / "tools" / "advert_watch.py"
# the lab's router instrumentation: fw4 includes /etc/nftables.d/*.nft in its table
COUNT_RESETS = """# lab: count the TCP resets this router sends to the WAN (fw4's reject rules have no counter)
chain lab_resets {
	type filter hook output priority filter + 1; policy accept;
	oifname "eth1" tcp flags & rst == rst counter comment "lab: TCP resets sent to the WAN"
}
"""
RESETS_CHAIN = "lab_resets"


@dataclass(frozen=True)
class LabOptions:
    profile: str = "default"  # "default" (VRRPv2, 1 s), "fast" (VRRPv3, 0.1 s) or "fastest" (VRRPv3, 0.04 s)
    conntrack: bool = True
    preempt: bool = True
    preempt_delay: int = 0
    checks: str = ""  # extra `config check` sections, UCI text
    dhcp: bool = True  # dnsmasq enabled on both routers
    commit_handover: bool = False  # conntrackd's external cache committed at takeover, not injected
    baseline: bool = False  # raw keepalived from a hand-written config, no ha-pair
    ha_pair: bool = True  # False: plain OpenWrt routers (no ha-pair, no keepalived)
    # run on each router's flash before its first boot, e.g. to install more services (see
    # rootfs.Image for programs and files, rootfs.enable for their /etc/rc.d links)
    installs: tuple[Callable[["Router"], None], ...] = ()
    ipv6: bool = False  # IPv6 on the LAN and the WAN (tests/lab/ipv6.py); needs profile "fast" (VRRPv3)
    single_wan: bool = False  # one dynamic public IP from the ISP's DHCP (tests/lab/single_wan.py)
    extra_vips: int = 0  # more vip sections in the one sync group (pair.extra_vip_sections), for the scale bench

    @property
    def advert_int(self) -> float:
        return {"fast": 0.1, "fastest": 0.04}.get(self.profile, 1.0)

    @property
    def runs_ha_pair(self) -> bool:
        return self.ha_pair and not self.baseline


def ha_config(router: str, options: LabOptions) -> str:
    extra_global = f"\toption profile '{options.profile}'\n"
    if not options.preempt:
        extra_global += "\toption preempt '0'\n"
    if options.preempt_delay:
        extra_global += f"\toption preempt_delay '{options.preempt_delay}'\n"
    text = pair.ha(router, extra_global=extra_global, extra=options.checks + pair.extra_vip_sections(options.extra_vips))
    conntrack = "\toption enabled '1'" if options.conntrack else "\toption enabled '0'"
    if options.commit_handover:
        conntrack += "\n\toption disable_external_cache '0'"
    return text.replace("config conntrack 'conntrack'\n\toption enabled '1'", f"config conntrack 'conntrack'\n{conntrack}")


def router_configs(router: str, options: LabOptions, image: Path | None = None) -> dict[str, str]:
    """Every file of the router's /etc/config the lab writes (the others are the image's defaults).
    The firewall is OpenWrt's default one with what the README asks a user to add."""
    configs = pair.configs(router)
    configs["ha"] = ha_config(router, options)
    configs["dhcp"] = lab_dhcp()
    configs["system"] = pair.system(router) + "\toption log_buffer_size '1024'\n"
    configs["dropbear"] = pair.dropbear()
    default_firewall = (image / "etc/config/firewall").read_text() if image else ""
    configs["firewall"] = default_firewall + pair.firewall_additions()
    if options.ipv6:
        configs["network"] = ipv6.network(router, configs["network"])
        configs["dhcp"] = ipv6.dhcp(configs["dhcp"])
        configs["ha"] = ipv6.ha(configs["ha"])
    if options.single_wan:
        configs["network"] = single_wan.network(router)
        configs["ha"] = single_wan.ha(configs["ha"])
        configs["firewall"] = single_wan.firewall(default_firewall)
    return configs


def lab_dhcp() -> str:
    """The example pair's /etc/config/dhcp and what the lab adds: Debian's dnsmasq has no ubus
    support (OpenWrt's init passes --enable-ubus unless told not to), DHCP is logged, and a name
    on the "internet" resolves."""
    text = pair.dhcp()
    section = "config dnsmasq\n"
    assert text.count(section) == 1
    text = text.replace(section, section + "\toption ubus '0'\n\toption logdhcp '1'\n")
    return text + "\nconfig hostrecord\n\toption name 'inet.lab'\n\toption ip '198.51.100.254'\n"


def baseline_keepalived_conf(router: str, options: LabOptions) -> str:
    """A hand-written keepalived.conf for the same topology, as the OpenWrt wiki recipe would
    have it: what ha-pair's generated file is compared against."""
    r = pair.ROUTERS[router]
    priority = 150 if r["role"] == "primary" else 100
    version = 2 if options.profile == "default" else 3
    advert = f"{options.advert_int:g}"
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


class Router(OpenWrtRouter):
    """A lab router with ha-pair (or the raw keepalived baseline) on it."""

    def __init__(self, name: str, namespace: str, directory: Path, image: Path, options: LabOptions) -> None:
        super().__init__(name, namespace, directory, image)
        self.options = options
        self.keepalived_raw: subprocess.Popen | None = None
        self.ha_stopped = False  # `service("stop")` was called: the pair's service is down on a running router
        if options.single_wan:  # a backup's DHCP WAN stays silent, so it may have no address
            self.may_stay_down = ("wan",)

    # --- first boot ----------------------------------------------------------------------------
    def factory_setup(self) -> None:
        """The router's flash before its first boot: its configuration, ha-pair installed."""
        if self.options.runs_ha_pair:
            tree.install_package_files(self.flash)
            rootfs.enable(self.flash, "ha-pair")  # as opkg's postinst does: it starts at every boot
        for package, text in router_configs(self.name, self.options, self.image).items():
            self.write_flash(f"etc/config/{package}", text, 0o600 if package == "ha" else 0o644)
        self.write_flash("etc/nftables.d/90-lab-count-resets.nft", COUNT_RESETS)
        self.write_flash("etc/dropbear/authorized_keys", "", 0o600)
        if not self.options.dhcp:
            self.disable("dnsmasq")
        for install in self.options.installs:
            install(self)

    def disable(self, service: str) -> None:
        """`/etc/init.d/SERVICE disable` done on the flash: its links there are removed, the image's
        are whited out (what the overlay records when a link of the read-only image is removed)."""
        (self.flash / "etc/rc.d").mkdir(parents=True, exist_ok=True)
        for link in (self.flash / "etc/rc.d").glob(f"[SK][0-9][0-9]{service}"):
            if link.is_symlink():
                link.unlink()
        for link in (self.image / "etc/rc.d").glob(f"[SK][0-9][0-9]{service}"):
            os.mknod(self.flash / "etc/rc.d" / link.name, stat.S_IFCHR | 0o000, os.makedev(0, 0))

    # --- ha-pair -------------------------------------------------------------------------------
    def ha_pair(self, *args: str) -> list[str]:
        """The command line of the router's own `ha-pair` (run it with `exec`)."""
        return ["/usr/sbin/ha-pair", *args]

    def run_ha_pair(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        return self.exec(*self.ha_pair(*args), check=check, input=input)

    def boot(self) -> None:
        """Power-on (the Lab also resets the network namespace at power-off)."""
        self.power_on()
        self.ha_stopped = False
        if self.options.baseline:
            self.start_raw_keepalived()

    def start_raw_keepalived(self) -> None:
        conf = "/etc/keepalived/baseline.conf"
        path = self.root / conf.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(baseline_keepalived_conf(self.name, self.options))
        log = open(self.dir / "keepalived-baseline.log", "ab")
        self.keepalived_raw = self.spawn(["keepalived", "-n", "-P", "-l", "-G", "-D", "-f", conf,
                                          "-p", "/var/run/keepalived-baseline.pid",
                                          "-r", "/var/run/keepalived-baseline-vrrp.pid"], stdout=log, stderr=log)
        log.close()

    def start_dnsmasq(self) -> None:
        self.init("dnsmasq", "start")

    def dnsmasq_conf(self) -> str:
        """The configuration OpenWrt's dnsmasq init generated from /etc/config/dhcp."""
        return "".join(path.read_text() for path in sorted((self.root / "var/etc").glob("dnsmasq.conf.*")))

    def leases(self) -> str:
        try:
            return (self.root / "tmp/dhcp.leases").read_text(errors="surrogateescape")
        except OSError:
            return ""

    def procd_state(self) -> dict:
        """ha-pair's procd instances: {"instances": {name: {"pid": host PID or None, ...}}}."""
        if not self.running:
            return {"instances": {}}
        service = self.services().get("ha-pair", {})
        instances = {}
        for name, state in (service.get("instances") or {}).items():
            pid = self.host_pid(state.get("pid")) if state.get("running") else None
            instances[name] = {**state, "pid": pid}
        return {"instances": instances}

    def instance_pid(self, name: str, instance: str | None = None) -> int | None:
        """Host PID of one of ha-pair's instances (agent, keepalived, conntrackd); with two
        arguments, of SERVICE's INSTANCE."""
        if instance is not None:
            return super().instance_pid(name, instance)
        if self.options.baseline and name == "keepalived":
            raw = self.keepalived_raw
            if raw is None or raw.poll() is not None:
                return None
            children = [int(p) for p in Path(f"/proc/{raw.pid}/task/{raw.pid}/children").read_text().split()]
            return children[0] if children else None
        return self.procd_state()["instances"].get(name, {}).get("pid")

    def vrrp_pid(self) -> int | None:
        """Host PID of keepalived's VRRP child (the parent only starts and watches it)."""
        parent = self.instance_pid("keepalived")
        if parent is None:
            return None
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        return int(children[0]) if children else None

    def service(self, action: str) -> None:
        """`/etc/init.d/ha-pair stop|start|reload|restart` on the router (the baseline: raw keepalived)."""
        if self.options.baseline:
            if action == "stop" and self.keepalived_raw is not None:
                pid = self.instance_pid("keepalived")
                if pid:
                    netns.kill_pid(pid, timeout=10)
                self.keepalived_raw.wait(10)
                self.keepalived_raw = None
                self.ha_stopped = True
            elif action == "start" and self.keepalived_raw is None:
                self.start_raw_keepalived()
                self.ha_stopped = False
            return
        if not self.running:
            return
        self.init("ha-pair", action, check=action != "reload")
        if action == "stop":
            self.ha_stopped = True
        elif action in ("start", "restart"):
            self.ha_stopped = False

    def kill_everything(self) -> None:
        """Power loss of the router itself (the Lab also darkens its cables and resets its kernel)."""
        self.power_off()
        self.keepalived_raw = None

    def transitions(self) -> list[str]:
        try:
            return (self.root / "var/run/ha-pair/transitions.log").read_text().splitlines()
        except OSError:
            return []


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
        self.boot_seconds: dict[str, float] = {}
        self.timings: dict[str, float] = {}  # seconds from the first power-on to each step of start()
        self.isp: single_wan.IspDhcp | None = None  # the ISP's DHCP server (LabOptions.single_wan)

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

    def start(self, wait_master: str | None = "r1", paired: bool = True) -> None:
        """Build, boot and (with ha-pair) pair the routers; `paired=False`: see start_unpaired."""
        image = rootfs.rom()
        self.topo.build()
        if self.options.ipv6:
            ipv6.hosts(self.topo)
        if self.options.single_wan:
            self.isp = single_wan.IspDhcp(self.topo, self.dir / "isp").start()
        for name in self.topo.routers:
            router = Router(name, self.topo.ns(name), self.dir / name, image, self.options)
            router.factory_setup()
            if not paired:
                router.disable("ha-pair")
            self.routers[name] = router
        started = time.monotonic()
        first = self.routers.get(wait_master or "")
        if first is None or not self.options.runs_ha_pair:
            self.parallel(lambda router: (router.boot(), router.wait_network()))
        else:
            # The expected master boots first (the other boots once its keepalived runs, so it
            # wins the first election), and so the pair starts the same way every time. Booting
            # both at once, the secondary may win the first election and hand over within a
            # second; its MASTER and BACKUP notify scripts then run at the same time and can
            # finish in the wrong order, leaving the backup answering DHCP (a race in the notify
            # script, not in the lab). Without preemption the first master stays master: the
            # other boots only once it is.
            first.boot()
            if not self.options.preempt:
                first.wait_network()
                self.wait_for(lambda: self.vips(first.name) == {pair.LAN_VIP, pair.WAN_VIP}, 30,
                              f"{first.name} master alone")
            self.parallel(lambda router: (router.boot() if router is not first else None, router.wait_network()))
        self.timings["boot"] = time.monotonic() - started
        if self.options.runs_ha_pair and not paired:
            self.exchange_keys()
        elif self.options.runs_ha_pair:
            # paired once both run: the agents' first lease exchanges, at boot, failed and are
            # retried (up to 10 s later: tests that need lease sync wait for it)
            self.pair_routers()
            self.timings["paired"] = time.monotonic() - started
        if wait_master and (self.options.runs_ha_pair or self.options.baseline):
            self.wait_for(lambda: self.master() == wait_master, 30, f"{wait_master} becomes master at start")
            self.timings["master"] = time.monotonic() - started

    def parallel(self, action: Callable[[Router], None]) -> None:
        """Do something on every router at once (booting takes a while)."""
        errors: list[BaseException] = []

        def run(router: Router) -> None:
            try:
                action(router)
            except BaseException as exc:  # re-raised below, in the caller's thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(router,)) for router in self.routers.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    def start_unpaired(self) -> None:
        """Both routers booted with ha-pair installed but not enabled (nothing of it runs), and
        `ha-pair keys`' line of each in the peer's /etc/dropbear/authorized_keys: two routers just
        before `ha-pair trust-peer`."""
        self.start(wait_master=None, paired=False)

    def pair_routers(self) -> None:
        """What the README tells an operator to do: on each router `ha-pair keys`, the line it prints
        into the peer's /etc/dropbear/authorized_keys, then `ha-pair trust-peer` once the
        fingerprint checks out."""

        def trust(router: Router) -> None:
            peer_address = pair.ROUTERS[self.topo.peer(router.name)]["sync"]
            self.wait_for(lambda: port_open(router.namespace, peer_address, 22), 30, f"dropbear on {peer_address}")
            router.run_ha_pair("trust-peer", "--yes")

        self.exchange_keys()
        self.parallel(trust)

    def exchange_keys(self) -> None:
        """`ha-pair keys` on each router, the line it prints added to the peer's
        /etc/dropbear/authorized_keys."""
        lines: dict[str, str] = {}

        def keys(router: Router) -> None:
            lines[router.name] = json.loads(router.run_ha_pair("--json", "keys").stdout)["authorized_keys_line"]

        self.parallel(keys)
        for name, router in self.routers.items():
            authorized = self.routers[self.topo.peer(name)].root / "etc/dropbear/authorized_keys"
            authorized.write_text(authorized.read_text() + lines[name] + "\n")

    def run_ha_pair(self, router: str, *args: str, check: bool = True, input: str | None = None):
        """The router's own `ha-pair`, run on the router."""
        return self.routers[router].run_ha_pair(*args, check=check, input=input)

    def stop(self) -> None:
        try:
            for router in self.routers.values():
                router.kill_everything()
            if self.isp is not None:
                self.isp.stop()
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
        both = {pair.LAN_VIP} if self.options.single_wan else {pair.LAN_VIP, pair.WAN_VIP}
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

    def at_advert_phase(self, phase: float) -> None:
        """Return `phase` seconds after an advert of the current master reached the LAN client (a
        failure injected then hits the same point of the advert cycle every time, with ha-pair or
        raw keepalived alike: the bench compares them run by run)."""
        master = self.master()
        if master is None:
            raise AssertionError("no master to time the failure against")
        watch = netns.run(["ip", "netns", "exec", self.topo.client_ns, sys.executable, str(ADVERT_WATCH),
                           pair.ROUTERS[master]["lan"], str(5 * self.options.advert_int + 2)], check=False)
        if watch.returncode != 0:
            raise AssertionError(f"no VRRP advert from {master} seen on the LAN")
        target = float(watch.stdout) + phase
        while target < time.monotonic() + 0.002:  # adverts are regular: the same phase of a later one
            target += self.options.advert_int
        time.sleep(target - time.monotonic())

    # -- failures -----------------------------------------------------------------------------
    def power_off(self, router: str) -> None:
        """Power loss: every process of the router stopped at once, then the sync link (the peer
        sees its carrier go), the switch ports dark, every process gone, the kernel state gone.
        Stopped first because a router without power reacts to nothing: a running keepalived
        would see its LAN port go dark a moment before the WAN port and announce priority 0 on
        the WAN, which hastens the peer's takeover as no real power loss does."""
        self._stop_processes(router)
        self.topo.set_links(router, False, which=("sync",), side="router")
        self.topo.set_links(router, False, which=("lan", "wan"), side="switch")
        self.routers[router].kill_everything()
        self.topo.reset_router(router)

    def _stop_processes(self, router: str) -> None:
        """SIGSTOP every process of the router's own PID namespace (PID 1's SIGKILL ends them
        later); the host-side processes that started them keep running."""
        pid1 = self.routers[router].pid1
        try:
            own = os.readlink(f"/proc/{pid1}/ns/pid")
        except (TypeError, OSError):
            return  # not running
        for pid in netns.ns_pids(self.topo.ns(router)):
            try:
                if os.readlink(f"/proc/{pid}/ns/pid") == own:
                    os.kill(pid, signal.SIGSTOP)
            except OSError:  # gone meanwhile
                pass

    def power_on(self, router: str) -> None:
        """Boot again from the flash; the switch ports come back first."""
        self.topo.set_links(router, True, which=("lan", "wan"), side="switch")
        self.boot_seconds[router] = 0.0
        started = time.monotonic()
        self.routers[router].boot()
        self.boot_seconds[router] = time.monotonic() - started

    def lan_link(self, router: str, up: bool) -> None:
        self.topo.set_links(router, up, which=("lan",), side="switch")

    def vrrp_blocked(self, blocked: bool) -> None:
        self.topo.block_vrrp(blocked)

    def sync_link(self, up: bool) -> None:
        self.topo.set_links("r1", up, which=("sync",), side="both")

    def upstream_answers(self, router: str, answering: bool) -> None:
        address = self.topo.router_wan[router]
        if answering:
            self.topo.unblock_icmp_from(address)
        else:
            self.topo.block_icmp_from(address)


def wait_status(lab: "Lab", router: str, predicate: Callable[[dict], bool], what: str, timeout: float = 15) -> dict:
    """Poll a router's `ha-pair status --json` until `predicate` holds; the last status in the failure."""
    deadline = time.monotonic() + timeout
    while True:
        status = lab.status(router)
        if predicate(status):
            return status
        assert time.monotonic() < deadline, f"{what}: {json.dumps(status)[:3000]}"
        time.sleep(0.1)
