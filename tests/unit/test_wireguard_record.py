"""`make bench` puts the WireGuard tunnel's figures (scenarios.wireguard_tunnel) in the failover
table beside the UDP row."""

from __future__ import annotations

from tests.bench import failover


def profile_with(record: dict) -> dict:
    scenario = {"gap_ms": [100.0, 120.0], "lost": [1, 2], "takeover_ms": [90.0, 95.0]}
    flows = {"total": 20, "survived_failover": 20, "survived_failback": 20, "by_failure": {"power": {}}}
    return {**{name: scenario for name in failover.SCENARIOS}, "tcp_flows": flows, "wireguard": record}


def wireguard_row(record: dict) -> str:
    results = {"profiles": {p: profile_with(record) for p in ("default", "fast")},
               "baseline": {p: {k: v for k, v in profile_with(record).items() if k != "wireguard"}
                            for p in ("default", "fast")}}
    rows = [line for line in failover.table(results).splitlines() if "wireguard" in line]
    assert len(rows) == 2  # one per profile
    return rows[0]


def test_the_table_has_the_tunnel_row_with_its_gaps_endpoint_and_handshake():
    row = wireguard_row({"gap_ms_failover": 3483.4, "gap_ms_failback": 23.0, "same_endpoint": True,
                         "new_handshake": False, "tunnel_age_s": 13.4})
    assert "| 3483; 23 (same NAT endpoint, no new handshake) |" in row
    row = wireguard_row({"gap_ms_failover": None, "gap_ms_failback": 40.0, "same_endpoint": False,
                         "new_handshake": True, "tunnel_age_s": 30.0})
    assert "| never resumed; 40 (changed NAT endpoint, a new handshake) |" in row


def test_a_tunnel_that_could_not_run_says_why():
    assert "not run: not installed: wg" in wireguard_row({"not_run": "not installed: wg"})
