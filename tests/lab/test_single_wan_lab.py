"""One dynamic public IP (ha.global.single_wan_ip) on the real pair: an "ISP" DHCP server that
hands out one address per MAC, both routers' WAN ports on the same MAC (tests/lab/single_wan.py).

What is proved here, each on a measured fact: the ISP leases exactly one address; the master
routes the LAN through it with fw4's masquerading; the backup emits nothing at all on its WAN
port (a capture on the ISP's switch port facing it, checked against the same capture on the
master's port, which does see frames); the backup itself reaches the internet through the
master; a power-loss failover and the failback move internet access with a sub-second gap and
TCP flows through NAT survive both; after the first takeover both routers hold the address.
Gap figures are measured by `make bench` ("one dynamic IP"); here only that access resumes.
"""

from __future__ import annotations

import time

import pytest

from ha_pair.render import wan_silence
from tests.lab import scenarios, single_wan
from tests.lab.conftest import start_lab
from tests.lab.pair_lab import LabOptions
from tests.lab.traffic import Pinger

SILENCE_WINDOW_S = 4.0


@pytest.fixture(scope="module")
def wan_lab():
    lab = start_lab(LabOptions(profile="fast", single_wan=True))
    yield lab
    lab.stop()


@pytest.fixture
def pair(wan_lab):
    lab = wan_lab
    scenarios.restore(lab)
    single_wan.wait(lambda: wan_address(lab, "r1") is not None, 20, "r1 (master) holds the ISP's address")
    yield lab
    scenarios.restore(lab)


def wan_address(lab, router: str) -> str | None:
    if not lab.routers[router].running:
        return None
    return single_wan.wan_address(lab.routers[router].exec)


def dhcp_client_state(lab, router: str) -> str:
    out = lab.routers[router].exec("sh", "-c", "grep ^State /proc/$(cat /var/run/udhcpc-eth1.pid)/status",
                                   check=False).stdout
    return out.split()[1] if out.split() else "?"


def diagnosis(lab) -> str:
    """What a failed takeover leaves to read: each router's WAN and DHCP client log, the ISP's log."""
    out = []
    for name, router in lab.routers.items():
        if router.running:
            out.append(f"--- {name}: {wan_address(lab, name)}, client {dhcp_client_state(lab, name)}\n"
                       + router.log("udhcpc\\|wan\\|ha-pair:\\|Entering\\|firewall"))
    assert lab.isp is not None
    out.append("--- ISP\n" + "\n".join(line for line in lab.isp.log().splitlines()[-30:] if "DHCP" in line))
    return "\n".join(out)


def one_lease(lab) -> str:
    """The ISP's leases: exactly one, for the shared MAC; its address."""
    leases = lab.isp.lease_lines()
    assert len(leases) == 1, leases
    _, mac, address, *_ = leases[0].split()
    assert mac == single_wan.SHARED_MAC
    return address


def silent_while(lab, router: str, action, window: float = SILENCE_WINDOW_S):
    """Capture both routers' WAN switch ports while `action` runs and for `window` seconds:
    (frames from `router`, frames from the other one)."""
    other = next(name for name in lab.routers if name != router)
    with single_wan.WanCapture(lab.topo, router) as quiet, single_wan.WanCapture(lab.topo, other) as talking:
        started = time.monotonic()
        result = action()
        time.sleep(max(0.0, window - (time.monotonic() - started)))
        return quiet.stop(), talking.stop(), result


def test_the_master_holds_the_one_address_and_the_backup_is_silent_yet_online(pair):
    lab = pair
    address = one_lease(lab)
    assert wan_address(lab, "r1") == address

    def backup_and_clients_use_the_internet():
        lan_client = lab.topo.exec("client", "ping", "-c", "5", "-i", "0.2", "-W", "1", lab.topo.inet_addr, check=False)
        backup = lab.routers["r2"].exec("ping", "-c", "5", "-W", "1", lab.topo.inet_addr, check=False)
        return lan_client, backup

    from_backup, from_master, (lan_client, backup) = silent_while(lab, "r2", backup_and_clients_use_the_internet)
    assert lan_client.returncode == 0, lan_client.stdout
    assert backup.returncode == 0, backup.stdout  # r2 itself, through the LAN VIP: rule 32780, table 240
    assert from_master, "the capture sees the master's frames (it is not blind)"
    assert {mac for _, mac, _, _ in from_master} == {single_wan.SHARED_MAC}
    assert from_backup == [], f"the backup sent {len(from_backup)} frames toward the ISP: {from_backup[:5]}"
    # both translated to the one address on the master: r2's own ping too
    nat = lab.routers["r1"].exec("conntrack", "-L", "-p", "icmp", "-d", lab.topo.inet_addr).stdout
    assert f"dst={address}" in nat and "src=192.168.50.3" in nat, nat
    # the silence is the egress table's doing: it dropped what r2 tried to send (its DHCP client,
    # ARP answers to the ISP's requests...)
    chain = lab.routers["r2"].exec("nft", "list", "chain", *wan_silence.TABLE.split(), wan_silence.BACKUP_CHAIN).stdout
    assert "drop" in chain


def test_failover_and_failback_move_internet_access_and_tcp_through_nat_survives(pair):
    lab = pair
    address = one_lease(lab)
    outcome = scenarios.tcp_flows(lab, n=5, failure="power")
    print(f"one dynamic IP, TCP flows: {outcome}")
    assert outcome.survived_failover == outcome.total, outcome
    assert outcome.survived_failback == outcome.total, outcome
    # r2 was master once: it now holds the address as backup, its DHCP client frozen, and is silent
    assert wan_address(lab, "r1") == address and wan_address(lab, "r2") == address
    assert dhcp_client_state(lab, "r2") == "T"
    from_backup, from_master, _ = silent_while(lab, "r2", lambda: lab.topo.exec(
        "client", "ping", "-c", "3", "-W", "1", lab.topo.inet_addr))
    assert from_master and from_backup == [], from_backup[:5]
    assert one_lease(lab) == address  # the ISP still sees one client


def test_a_backup_holding_the_address_takes_over_within_the_usual_gap(pair):
    """Power loss and return with the address already held by both (r2 was master before):
    ping through the pair resumes on each new master."""
    lab = pair
    if wan_address(lab, "r2") is None:  # r2 has not been master since it booted: make it once
        scenarios.power_loss(lab)
        scenarios.power_return(lab)
    assert wan_address(lab, "r2") == wan_address(lab, "r1")
    failover = scenarios.power_loss(lab)
    try:
        failback = scenarios.power_return(lab)
    except AssertionError as failed:
        raise AssertionError(f"{failed}\n{diagnosis(lab)}") from None
    print(f"one dynamic IP: failover {failover}, failback {failback}")
    assert failover.lost > 0 and failback.sent > 0
    assert wan_address(lab, "r1") == wan_address(lab, "r2") == one_lease(lab)


def test_a_master_still_waiting_for_its_wan_route_tracks_no_client_connection(pair):
    """A master whose DHCP answer has not come yet (here: its table 250 flushed) must not send new
    client connections to the LAN fallback route (the VIP: itself), or they stay tracked without
    NAT and never work once the WAN route is back: the rule at 32780 is for its own traffic only."""
    lab = pair
    r1 = lab.routers["r1"]
    r1.exec("ip", "route", "flush", "table", "250")
    with Pinger(lab.topo.client_ns, lab.topo.inet_addr) as ping:  # a new connection (ICMP id) meanwhile
        time.sleep(1.0)
        r1.exec("ifup", "wan")  # netifd asks the ISP again and puts the routes back
        resumed = ping.wait_flowing(timeout=15, min_replies=10, since=time.monotonic())
    single_wan.wait(lambda: wan_address(lab, "r1") is not None, 10, "r1's address back")
    assert resumed, diagnosis(lab)
