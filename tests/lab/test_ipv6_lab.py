"""IPv6 on the LAN follows the master: OpenWrt's odhcpd on both routers, ha-pair's guard letting
only the master's router advertisements out, with the virtual link-local router fe80::1 as their
source; a client with a SLAAC address pings an IPv6 host on the "internet" through the pair
across a power loss of the master and the failback, beside an IPv4 ping in the same run."""

from __future__ import annotations

import re

import pytest

from tests.lab import ipv6, scenarios
from tests.lab.conftest import start_lab
from tests.lab.pair_lab import LabOptions

EXTRA_MS = 100  # the bound: IPv6 resumes within the IPv4 gap + 100 ms


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
    out = lab.routers[router].exec("nft", "list", "chain", "inet", "ha_pair", "dhcp_backup").stdout
    match = re.search(r"counter packets (\d+)", out)
    return int(match.group(1)) if match else 0


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
