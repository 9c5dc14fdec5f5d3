"""The WireGuard tunnel's figures: the gap inside the tunnel is read off the peer's ping replies
(scenarios._longest_gap_ms), and `make bench` puts them in the failover table beside the UDP row.
Without wireguard-go or wg the lab tests skip, and fail under CI=true."""

from __future__ import annotations

import pytest

from tests.bench import failover
from tests.lab import scenarios, wireguard


@pytest.mark.parametrize("ci, outcome", [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_missing_wireguard_fails_under_ci_and_skips_elsewhere(monkeypatch, ci, outcome):
    monkeypatch.setattr(wireguard, "PROGRAMS", ("wg", "no-such-wireguard-go"))
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="apt-get install wireguard-go wireguard-tools"):
        wireguard.require_wireguard()


def test_the_gap_is_the_longest_silence_across_the_window():
    replies = [0.0, 0.01, 0.02, 1.02, 1.03, 1.04, 5.04, 5.05]
    # the silence from 0.02 to 1.02 spans the failure at 0.5; the later one (from 1.04) starts after `until`
    assert round(scenarios._longest_gap_ms(replies, 0.5, 1.035)) == 1000
    # failback window: only silences ending after `since` count, the one of 4 s included
    assert round(scenarios._longest_gap_ms(replies, 2.0, None)) == 4000
    assert scenarios._longest_gap_ms(replies, 6.0, None) == 0.0


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
