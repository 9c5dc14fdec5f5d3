"""The WireGuard tunnel's support code, without a lab: the gap inside the tunnel is read off the
peer's ping replies (PingResult.longest_gap_ms_between); without wireguard-go or wg the lab tests skip,
and fail under CI=true."""

from __future__ import annotations

import pytest

from tests.lab import wireguard
from tests.lab.traffic import PingResult


@pytest.mark.parametrize("ci, outcome", [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_missing_wireguard_fails_under_ci_and_skips_elsewhere(monkeypatch, ci, outcome):
    monkeypatch.setattr(wireguard, "PROGRAMS", ("wg", "no-such-wireguard-go"))
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="apt-get install wireguard-go wireguard-tools"):
        wireguard.require_wireguard()


def test_the_gap_is_the_longest_silence_across_the_window():
    times = [0.0, 0.01, 0.02, 1.02, 1.03, 1.04, 5.04, 5.05]
    replies = PingResult(sent=8, received=8, lost=0, longest_gap_ms=4000.0, reply_times=times,
                         reply_seqs=list(range(1, 9)), started=0.0, stopped=5.05)
    # the silence from 0.02 to 1.02 spans the failure at 0.5; the later one (from 1.04) starts after `until`
    assert round(replies.longest_gap_ms_between(0.5, 1.035)) == 1000
    # failback window: only silences ending after `since` count, the one of 4 s included
    assert round(replies.longest_gap_ms_between(2.0)) == 4000
    assert replies.longest_gap_ms_between(6.0) == 0.0
