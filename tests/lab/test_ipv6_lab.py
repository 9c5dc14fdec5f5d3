"""IPv6 on the LAN follows the master: OpenWrt's odhcpd on both routers, ha-pair's guard letting
only the master's router advertisements out, with the virtual link-local router fe80::1 as their
source; a client with a SLAAC address pings an IPv6 host on the "internet" through the pair
across a power loss of the master and the failback, beside an IPv4 ping in the same run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ha_pair.render import dhcp_guard
from tests.lab import ipv6, netns, scenarios
from tests.lab.conftest import start_lab
from tests.lab.pair_lab import LabOptions
from tests.support.syslog import failed_sends

EXTRA_MS = 100  # the bound: IPv6 resumes within the IPv4 gap + 100 ms
RA_WATCH = Path(__file__).resolve().parent / "tools" / "ra_watch.py"
DHCP6_SOLICIT = Path(__file__).resolve().parent / "tools" / "dhcp6_solicit.py"


@pytest.fixture(scope="module")
def lab6():
    lab = start_lab(LabOptions(profile="fast", ipv6=True))
    try:
        ipv6.solicit(lab.topo)  # the client's first solicitations went out before the routers booted
        lab.wait_for(lambda: ipv6.client_address(lab.topo) and ipv6.client_routers(lab.topo), 20,
                     "the client configures IPv6 from the master's router advertisement")
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def healthy6(lab6):
    scenarios.restore(lab6)
    yield lab6
    scenarios.restore(lab6)


def dropped_on_backup(lab, router: str) -> int:
    """The router's RAs and DHCP replies the guard dropped on br-lan (in the bridge family's output
    hook, see render/dhcp_guard.py); 0 without that table."""
    out = lab.routers[router].exec("nft", "list", "table", *dhcp_guard.BRIDGE_TABLE.split(), check=False).stdout
    return sum(int(n) for n in re.findall(r"counter packets (\d+)", out))


def requests_dropped(lab, router: str) -> int:
    """What the guard's table dropped in the IP hooks: on a bridge LAN, the DHCP and DHCPv6
    requests that reached the backup (its daemons never see them)."""
    out = lab.routers[router].exec("nft", "list", "chain", *dhcp_guard.TABLE.split(), dhcp_guard.NOT_MASTER_CHAIN,
                                   check=False).stdout
    return sum(int(n) for n in re.findall(r"counter packets (\d+)", out))


def dhcpv6_answers(lab, seconds: float = 5, solicits: int = 3) -> dict[str, int]:
    """Solicits from the client, one per second: the answers it received, by the sender's MAC."""
    out = netns.ns_run(lab.topo.client_ns, sys.executable, str(DHCP6_SOLICIT), lab.topo.client_dev, str(seconds),
                       str(solicits)).stdout
    return json.loads(out)


def lan_mac(lab, router: str) -> str:
    return lab.routers[router].exec("cat", "/sys/class/net/br-lan/address").stdout.strip()


def client_neighbour(lab, address: str) -> str:
    return lab.topo.exec("client", "ip", "-6", "neigh", "show", address).stdout


def test_only_the_master_is_the_clients_ipv6_router(healthy6):
    lab, topo = healthy6, healthy6.topo
    before = dropped_on_backup(lab, "r2")
    ipv6.solicit(topo)  # both odhcpds answer the client's solicitation
    lab.wait_for(lambda: dropped_on_backup(lab, "r2") > before, 10, "r2 drops its answer to the solicitation")
    lab.wait_for(lambda: lan_mac(lab, "r1") in client_neighbour(lab, ipv6.ROUTER_LINK_LOCAL), 10,
                 "the client learns fe80::1 at r1's MAC")
    assert ipv6.client_address(topo), "no SLAAC address in the LAN prefix"
    # one default router, the virtual one: neither router's own link-local address
    assert ipv6.client_routers(topo) == [ipv6.ROUTER_LINK_LOCAL]
    assert lan_mac(lab, "r2") not in client_neighbour(lab, ipv6.ROUTER_LINK_LOCAL)


def test_ipv6_follows_the_master_across_power_loss_and_failback(healthy6):
    """The issue's bound, IPv6 gap <= IPv4 gap + 100 ms, for the power loss and for the failback.
    The failback holds only because keepalived-run waits for the router's duplicate address
    detection before keepalived starts (without it 2 of 5 and 3 of 5 runs held IPv6 1.0-2.3 s)."""
    lab = healthy6
    failover = scenarios.power_loss(lab)
    failback = scenarios.power_return(lab)
    for what, m in (("power loss", failover), ("failback", failback)):
        print(f"{what}: IPv4 gap {m.gap_ms:.0f} ms (lost {m.lost}), IPv6 gap {m.gap6_ms:.0f} ms (lost {m.lost6})")
    assert ipv6.client_routers(lab.topo) == [ipv6.ROUTER_LINK_LOCAL]
    for what, m in (("power loss", failover), ("failback", failback)):
        assert m.gap6_ms is not None and m.gap6_ms <= m.gap_ms + EXTRA_MS, (what, m)


def test_the_backup_logs_no_failed_send_while_its_advertisements_are_dropped(healthy6):
    """Both odhcpds send an RA every 3-4 s and one per solicitation. The backup's are dropped by
    the guard after odhcpd's send has succeeded, so its log stays clean: with the drop in the IP
    output hook each send failed (EPERM) and odhcpd logged "Failed to send ... (Operation not
    permitted)" as daemon.err every few seconds on every healthy backup. Over 12 s with three
    solicitations the client receives RAs from the master's br-lan only, and the backup's guard
    counts the RAs it dropped."""
    lab, topo = healthy6, healthy6.topo
    marker = f"lab-mark-{uuid.uuid4().hex[:8]}"
    for router in lab.routers.values():
        router.exec("logger", "-t", "lab", marker)
    before = dropped_on_backup(lab, "r2")
    watch = netns.spawn(topo.client_ns, [sys.executable, str(RA_WATCH), "12"], stdout=subprocess.PIPE)
    try:
        for _ in range(3):
            ipv6.solicit(topo)
            time.sleep(3)
        out, _ = watch.communicate(timeout=30)
    finally:
        netns.kill_pid(watch.pid)  # reaps it, or ends it if the test failed first
    logs = {name: router.log().split(marker, 1)[-1] for name, router in lab.routers.items()}
    failed = {name: failed_sends(log) for name, log in logs.items()}
    assert failed == {"r1": [], "r2": []}, failed
    seen = json.loads(out)
    print(f"RAs seen by the client in 12 s: {seen}; r2 dropped {dropped_on_backup(lab, 'r2') - before}")
    assert set(seen) == {lan_mac(lab, "r1")} and seen[lan_mac(lab, "r1")] >= 12 // ipv6.RA_MAX_INTERVAL, seen
    # r2's odhcpd did send: an RA per solicitation at least, each dropped before it left
    assert dropped_on_backup(lab, "r2") - before >= 3


def test_only_the_master_answers_dhcpv6_and_the_new_master_after_a_power_loss(healthy6):
    """odhcpd serves DHCPv6 on both routers (option dhcpv6 'server'); the guard drops the
    Solicits that reach the backup, so only the master's odhcpd answers, and after a power loss
    of the master the new master does."""
    lab = healthy6
    before = requests_dropped(lab, "r2")
    seen = dhcpv6_answers(lab)
    print(f"DHCPv6 answers, both up: {seen}; r2's guard dropped {requests_dropped(lab, 'r2') - before} requests")
    assert set(seen) == {lan_mac(lab, "r1")} and seen[lan_mac(lab, "r1")] >= 3, seen
    assert requests_dropped(lab, "r2") - before >= 3, "r2 got the Solicits and dropped them"
    scenarios.power_loss(lab)
    seen = dhcpv6_answers(lab)
    print(f"DHCPv6 answers, r1 off: {seen}")
    assert set(seen) == {lan_mac(lab, "r2")} and seen[lan_mac(lab, "r2")] >= 3, seen
