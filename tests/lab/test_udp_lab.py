"""UDP through the pair's NAT: client-driven and server-driven streams across failover and
failback, with conntrackd's sync of UDP and without it (ha.conntrack.protocol)."""

from __future__ import annotations

from tests.lab import scenarios


def reconfigure(lab, script: str) -> None:
    for router in lab.routers.values():
        router.sh(f"{script} && uci commit ha && /etc/init.d/ha-pair reload")


def conntrackd_protocols(lab, router: str) -> str:
    return lab.routers[router].sh("sed -n '/Protocol Accept/,/}/p' /var/etc/ha-pair/conntrackd.conf").stdout


def test_udp_streams_through_nat_survive_failover_and_failback(healthy):
    outcome = scenarios.udp_streams(healthy)
    print(f"UDP: {outcome}")
    assert outcome.total == 4
    assert outcome.resumed_failover == {"echo": 2, "push": 2}, outcome
    assert outcome.resumed_failback == {"echo": 2, "push": 2}, outcome


def test_protocols_left_out_of_the_sync_do_not_survive(healthy):
    """ha.conntrack.protocol 'tcp': conntrackd syncs no UDP, so a stream only the server drives
    meets a new master without its NAT entry and stops (the echo streams make new entries)."""
    lab = healthy
    reconfigure(lab, "uci add_list ha.conntrack.protocol=tcp")
    try:
        for router in lab.routers:
            lab.wait_for(lambda: "UDP" not in conntrackd_protocols(lab, router), 30, f"{router} syncs TCP only")
        outcome = scenarios.udp_streams(lab, resume_s=3.0)
        print(f"UDP, TCP-only sync: {outcome}")
        assert outcome.resumed_failover["push"] == 0, outcome
        assert outcome.resumed_failover["echo"] == 2, outcome
    finally:
        reconfigure(lab, "uci -q delete ha.conntrack.protocol; true")
        scenarios.restore(lab)
    for router in lab.routers:
        assert "UDP" in conntrackd_protocols(lab, router)
