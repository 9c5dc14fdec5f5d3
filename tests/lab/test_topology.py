"""Lab self-test: the namespace topology, the routers' NAT and the traffic tools work, and clean up.

The routers are plain OpenWrt (netifd, fw4 with the SNAT rule from /etc/config/firewall; no
ha-pair, no keepalived): the VIPs are placed by hand, which is enough to prove that traffic goes
through the VIP, SNAT translates to the WAN VIP, the flow tools see both surviving and broken
flows, and teardown leaves nothing behind, also after a crash.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.lab import netns, rootfs
from tests.lab.conftest import require_routers
from tests.lab.pair_lab import Lab, LabOptions, Router
from tests.lab.topology import DEFAULT_PREFIX, Topology, install_signal_handlers
from tests.lab.traffic import Flows, Pinger
from tests.support.privileges import require_root_and

REPO = Path(__file__).resolve().parents[2]
# labs of their own: a distinct prefix that the main lab's prefix does not cover
OTHER_PREFIX = DEFAULT_PREFIX.rstrip("-")


SERVICE = """#!/bin/sh /etc/rc.common
START=90
USE_PROCD=1

start_service() {
	procd_open_instance
	procd_set_param command /bin/sleep 3600
	procd_set_param respawn
	procd_close_instance
}
"""


def install_a_service(router: Router) -> None:
    """Another procd service in the router's flash, enabled as opkg would."""
    router.write_flash("etc/init.d/lab-sleeper", SERVICE, 0o755)
    rootfs.enable(router.flash, "lab-sleeper")


@pytest.fixture(scope="module")
def lab():
    require_routers()
    install_signal_handlers()
    plain = Lab(LabOptions(ha_pair=False, dhcp=False, installs=(install_a_service,)))
    plain.__enter__()
    try:
        yield plain
    finally:
        plain.stop()


@pytest.fixture(scope="module")
def topo(lab):
    return lab.topo


def test_a_service_installed_into_the_flash_runs_under_procd(lab: Lab) -> None:
    for router in lab.routers.values():
        instance = router.instance("lab-sleeper", "instance1")
        assert instance.get("running") is True, router.services()
        pid = router.host_pid(instance["pid"])
        assert pid and Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2] == [b"/bin/sleep", b"3600"]
        assert netns.ns_pids(router.namespace).count(pid) == 1, "it runs inside the router"


def vips_to(topo: Topology, router: str) -> None:
    """Place both VIPs on ``router`` only, by hand, and make neighbours re-learn.

    The client is flushed before the inet host: the other order lets an echo
    reply for a request that went via the old router reach the new one first.
    """
    topo.del_vips(topo.peer(router))
    if topo.vips_on(router) != {topo.lan_vip, topo.wan_vip}:
        topo.del_vips(router)
        topo.add_vips(router)
    topo.flush_neigh(("client", "inet"))


def snat_entries(topo: Topology, router: str) -> list[str]:
    """The router's conntrack lines for the lab's TCP flows."""
    out = topo.conntrack(router, "-L", "-p", "tcp", "-s", topo.client_addr)
    return [ln for ln in out.splitlines() if "dport=5001" in ln or "dport=5002" in ln]


def test_ping_and_snat_flows_through_vip(topo: Topology) -> None:
    vips_to(topo, "r1")
    assert topo.vips_on("r1") == {"192.168.50.1", "198.51.100.1"}
    assert topo.vips_on("r2") == set()

    with Pinger(topo.client_ns, topo.inet_addr) as pinger:
        assert pinger.wait_flowing(timeout=5), "no ping replies through the VIP"
        time.sleep(1.0)
        res = pinger.stop()
    assert res.received > 0
    assert res.sent >= res.received
    print(f"\nping: sent {res.sent} received {res.received} lost {res.lost} "
          f"median spacing {res.median_spacing_ms():.1f} ms longest gap {res.longest_gap_ms:.1f} ms")
    assert res.received / (res.stopped - res.started) >= 40, "ping rate too low"

    with Flows(topo, n=10) as flows:
        assert flows.wait_all_established(time.monotonic() + 10), flows.status()
        states = flows.status()
        assert Counter(f.kind for f in states) == {"echo": 10, "push": 10}
        assert all(f.established and f.broken is None and f.lines_rx > 0 for f in states)

        entries = snat_entries(topo, "r1")
        assert len(entries) == 20, entries
        for line in entries:
            reply = line.split("dst=")[2].split()[0]   # 2nd dst= is the reply tuple's
            assert reply == topo.wan_vip, f"not SNATed to the WAN VIP: {line}"
    assert not any(netns.is_alive(pid) for pid in flows.pids)


def test_moving_vips_without_state_sync_breaks_push_flows(topo: Topology) -> None:
    """lab.md: SNAT to the WAN VIP, no state sync: echo flows 20/20, push flows 0."""
    vips_to(topo, "r1")
    with Flows(topo, n=10) as flows:
        assert flows.wait_all_established(time.monotonic() + 10), flows.status()
        time.sleep(0.3)
        moved = time.monotonic()
        vips_to(topo, "r2")   # by hand, no conntrackd: r2 knows none of the flows

        deadline = moved + 10
        while time.monotonic() < deadline:
            states = flows.status()
            if all(f.broken for f in states if f.kind == "push"):
                break
            time.sleep(0.1)
        states = flows.status()
        push = [f for f in states if f.kind == "push"]
        echo = [f for f in states if f.kind == "echo"]
        # server-first flows: the server's next segment meets r2 with no state -> RST,
        # and the client learns it (keepalive probe answered by RST)
        assert all(f.broken for f in push), [(f.id, f.broken, f.last_rx) for f in push]
        assert not [f for f in flows.survivors_since(moved + 0.5, states) if f.kind == "push"]
        assert flows.server_status()["push"]["open"] == 0
        # client-first flows are picked up loosely by r2 and keep going
        assert flows.wait_resumed(moved + 0.5, time.monotonic() + 5)
        survivors = flows.survivors_since(moved + 0.5)
        assert sorted(f.id for f in survivors if f.kind == "echo") == sorted(f.id for f in echo)
        print(f"\npush flows broken {Counter(f.broken for f in push)} after "
              f"{max(f.broken_at for f in push) - moved:.2f} s; echo survivors "
              f"{len(survivors)}/{len(echo)}")
        assert len(snat_entries(topo, "r2")) == 10   # the echo flows, picked up by r2
    vips_to(topo, "r1")


@pytest.mark.parametrize("side", ["switch", "router"])
def test_set_links_cuts_and_restores_and_pinger_measures_gap(topo: Topology, side: str) -> None:
    vips_to(topo, "r1")
    with Pinger(topo.client_ns, topo.inet_addr) as pinger:
        assert pinger.wait_flowing(timeout=5)
        topo.set_links("r1", False, side=side)
        down = pinger.mark()   # after the links are down: no reply can still be in flight
        if side == "switch":   # cable pulled: r1 sees NO-CARRIER but stays admin up
            assert "NO-CARRIER" in topo.exec("r1", "ip", "link", "show", "eth1").stdout
        time.sleep(0.5)
        topo.set_links("r1", True, side=side)
        assert pinger.wait_flowing(timeout=5), "pings did not resume after links came back"
        res = pinger.stop()
    gap = res.gap_around(down)
    print(f"\n{side}-side links down 0.5 s: gap {gap:.0f} ms, lost {res.lost}, "
          f"longest gap {res.longest_gap_ms:.0f} ms")
    assert 450 <= gap <= 3000
    assert res.longest_gap_ms >= gap - 1
    assert res.lost > 0
    # router-side admin-down removed the default route; set_links(up) restores it
    assert "default via 198.51.100.254" in topo.exec("r1", "ip", "route").stdout


def test_inet_can_ignore_one_routers_icmp(topo: Topology) -> None:
    vips_to(topo, "r1")
    topo.block_icmp_from()          # default: r1's WAN address
    try:
        assert topo.exec("r1", "ping", "-c", "1", "-W", "1", topo.inet_addr,
                         check=False).returncode != 0
        topo.exec("r2", "ping", "-c", "1", "-W", "1", topo.inet_addr)
        topo.exec("client", "ping", "-c", "1", "-W", "1", topo.inet_addr)  # SNAT to the VIP
    finally:
        topo.unblock_icmp_from()
    topo.exec("r1", "ping", "-c", "1", "-W", "1", topo.inet_addr)


def router_processes(lab: Lab) -> list[int]:
    return [pid for name in lab.routers for pid in netns.ns_pids(lab.topo.ns(name))]


def test_teardown_leaves_nothing_and_a_crashed_lab_is_cleared_by_the_next() -> None:
    require_routers()
    prefix = f"{OTHER_PREFIX}c-"
    lab = Lab(LabOptions(ha_pair=False, dhcp=False), prefix=prefix)
    lab.start()
    pinger = Pinger(lab.topo.client_ns, lab.topo.router_lan["r1"]).start()
    pids = [pinger.proc.pid, *(router.pid1 for router in lab.routers.values()), *router_processes(lab)]
    assert all(netns.is_alive(p) for p in pids[:3]) and len(pids) > 10, "procd, ubusd, netifd, ... of both routers"
    assert pinger.wait_flowing(timeout=5), "r1 answers on its LAN address (set by its netifd)"
    lab.stop()            # processes still running: stop must kill them
    lab.topo.teardown()   # and be safe to repeat
    assert not [n for n in netns.list_ns() if n.startswith(prefix)]
    assert not [p for p in pids if netns.is_alive(p)]

    # a crashed run: routers up, one more process, then the lab process dies without any cleanup
    crash = subprocess.run([sys.executable, "-c", (
        "import os, signal\n"
        "from tests.lab import netns\n"
        "from tests.lab.pair_lab import Lab, LabOptions\n"
        f"lab = Lab(LabOptions(ha_pair=False, dhcp=False), prefix={prefix!r}); lab.start()\n"
        "p = lab.topo.spawn('r1', ['sleep', '600'])\n"
        "print(lab.dir, p.pid, *[r.pid1 for r in lab.routers.values()],\n"
        "      *[q for n in lab.routers for q in netns.ns_pids(lab.topo.ns(n))], flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert crash.returncode == -signal.SIGKILL, crash.stderr
    crashed_dir, *pids_left = crash.stdout.split()
    stale = [int(pid) for pid in pids_left]
    assert all(netns.is_alive(pid) for pid in stale[:3]), "the sleep and both routers' procd outlived the crash"
    assert len([n for n in netns.list_ns() if n.startswith(prefix)]) == 6

    with Lab(LabOptions(ha_pair=False, dhcp=False), prefix=prefix) as lab2:
        assert not [pid for pid in stale if netns.is_alive(pid)], "the next lab ends the crashed one's routers"
        lab2.topo.exec("client", "ping", "-c", "1", "-W", "2", lab2.topo.router_lan["r1"])
        lab2.topo.exec("r1", "ping", "-c", "1", "-W", "2", lab2.topo.inet_addr)
        lab2.topo.exec("r1", "ping", "-c", "1", "-W", "2", lab2.topo.router_sync["r2"])
    assert not [n for n in netns.list_ns() if n.startswith(prefix)]
    shutil.rmtree(crashed_dir, ignore_errors=True)  # the crashed lab's files (its routers' flash)


def test_exit_paths_clean_up() -> None:
    """atexit after a normal exit without teardown, and SIGTERM to the script mode."""
    require_root_and("nft")
    prefix = f"{OTHER_PREFIX}d-"
    done = subprocess.run([sys.executable, "-c", (
        "from tests.lab.topology import Topology\n"
        f"Topology(prefix={prefix!r}).build()\n")],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not [n for n in netns.list_ns() if n.startswith(prefix)]

    proc = subprocess.Popen([sys.executable, "-m", "tests.lab.topology", "up", "--prefix", prefix],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("lab up"), (line, proc.stderr.read() if proc.poll() else "")
        assert len([n for n in netns.list_ns() if n.startswith(prefix)]) == 6
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        netns.cleanup_prefix(prefix)
    assert proc.returncode == 128 + signal.SIGTERM
    assert not [n for n in netns.list_ns() if n.startswith(prefix)]
