"""The WireGuard tunnel's support code, without a lab: the gap inside the tunnel is read off the
peer's ping replies (scenarios._longest_gap_ms); without wireguard-go or wg the lab tests skip,
and fail under CI=true."""

from __future__ import annotations

import pytest

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
