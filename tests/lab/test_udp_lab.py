"""UDP through the pair's NAT: client-driven and server-driven streams and a WireGuard tunnel
across failover and failback, with conntrackd's sync of UDP and without it (ha.conntrack.protocol)."""

from __future__ import annotations

from tests.lab import scenarios, wireguard


TUNNEL_RESUME_S = 10.0  # the window a tunnel through a failover must resume in: less than WireGuard's 15 s retry


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


def test_wireguard_tunnel_through_nat_survives_failover_and_failback(healthy):
    """The peer keeps pinging the client through the tunnel across a power loss of the master and
    its return; the synced NAT entry carries it: no new handshake, the same NAT address and port."""
    wireguard.require_wireguard()
    outcome = scenarios.wireguard_tunnel(healthy, resume_s=TUNNEL_RESUME_S)
    print(f"WireGuard: {outcome}")
    assert outcome.endpoint_before.rsplit(":", 1)[0] == healthy.topo.wan_vip, outcome  # the SNAT to the VIP
    assert outcome.resumed_failover and outcome.resumed_failback, outcome
    assert outcome.endpoint_after == outcome.endpoint_before, outcome
    # a rekey is due only after REKEY_AFTER_S: below it, a changed handshake time is a re-initiation
    assert outcome.tunnel_age_s < wireguard.REKEY_AFTER_S, outcome
    assert not outcome.rehandshaked, outcome


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


def test_wireguard_tunnel_without_udp_sync_waits_for_a_new_handshake(healthy):
    """ha.conntrack.protocol 'tcp': the new master has no NAT entry for the tunnel and drops the
    peer's datagrams. The tunnel stays silent past the window the synced tunnel resumed in, until
    WireGuard itself starts a new handshake: the client sent the last replies and has heard nothing
    for KEEPALIVE + REKEY_TIMEOUT (15 s), and its handshake makes a new NAT entry."""
    wireguard.require_wireguard()
    lab = healthy
    reconfigure(lab, "uci add_list ha.conntrack.protocol=tcp")
    try:
        for router in lab.routers:
            lab.wait_for(lambda: "UDP" not in conntrackd_protocols(lab, router), 30, f"{router} syncs TCP only")
        outcome = scenarios.wireguard_tunnel(lab, failback=False, resume_s=30.0)
        print(f"WireGuard, TCP-only sync: {outcome}")
        assert outcome.endpoint_before.rsplit(":", 1)[0] == lab.topo.wan_vip, outcome
        assert outcome.resumed_failover, outcome
        # silent past the synced tunnel's window (measured: 15.2 s, WireGuard's retry)
        assert outcome.gap_ms_failover > TUNNEL_RESUME_S * 1000, outcome
        assert outcome.rehandshaked, outcome
    finally:
        scenarios.restore(lab)  # r1 back on (no failback was run)
        reconfigure(lab, "uci -q delete ha.conntrack.protocol; true")
    for router in lab.routers:
        lab.wait_for(lambda: "UDP" in conntrackd_protocols(lab, router), 30, f"{router} syncs UDP again")
