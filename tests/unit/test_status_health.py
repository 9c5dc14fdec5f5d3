"""The status' verdict (health) and the priority keepalived really advertises (effective_priority)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ha_pair.state.observed import CheckResult
from ha_pair.state.pair import PairState, apply_event
from ha_pair.config.validate import Inputs, build_model
from ha_pair.events.keepalived_fifo import VrrpEvent
from ha_pair import runfiles
from ha_pair.paths import Paths
from ha_pair.state.observed import Snapshot
from ha_pair.status.build import ConfigOnDisk, build_status, effective_priority, health
from ha_pair.uci import parse
from tests.support import pair

CHECKS = ("\nconfig check 'upstream'\n\toption type 'ping'\n\toption target '198.51.100.254'\n"
          "\toption weight '-60'\n"
          "\nconfig check 'bonus'\n\toption type 'ping'\n\toption target '198.51.100.253'\n\toption weight '20'\n"
          "\nconfig check 'synclink'\n\toption type 'interface'\n\toption interface 'sync'\n"
          "\toption failure 'fault'\n")


def model():
    inputs = Inputs(ha=parse(pair.ha("r1", extra=CHECKS), "ha"), network=parse(pair.network("r1"), "network"),
                    dhcp=parse(pair.dhcp(), "dhcp"))
    result = build_model(inputs, Paths("/"), lambda path: True)
    assert result.ok, result.errors
    return result.model


def master_state() -> PairState:
    state = PairState()
    for event in (VrrpEvent("INSTANCE", "lan", "MASTER", 150), VrrpEvent("INSTANCE", "wan", "MASTER", 150),
                  VrrpEvent("GROUP", "ha", "MASTER", 0)):
        state, _ = apply_event(state, event, 100.0, True, lambda f, t: "test")
    return state


def full_status(upstream: str, bonus: str, sync_link: bool = True, conntrackd: bool = True,
                lease_sync: dict | None = None, pending: bool = False, disk_errors: tuple[str, ...] = (),
                maintenance: dict | None = None, gate_closed: bool = False) -> dict:
    snapshot = Snapshot(
        time=200.0, addresses={"br-lan": ["192.168.50.1"], "eth1": ["198.51.100.1"]},
        carriers={"br-lan": True, "eth1": True, "eth2": sync_link},
        checks={"upstream": CheckResult(upstream, 150.0, 3, 199.0), "bonus": CheckResult(bonus, 150.0, 3, 199.0)},
        conntrack={"running": conntrackd, "internal": {"active": 1}, "external": {"active": 1}, "sync": {}},
        dhcp_answering=True, sync_gate_closed=gate_closed)
    in_effect = model()
    on_disk = ConfigOnDisk(disk_errors, None if disk_errors else "changed" if pending else in_effect.digest)
    return build_status(in_effect, master_state(), snapshot, {"pid": 1}, on_disk,
                        lease_sync or {"enabled": True, "peer_reachable": True, "last_error_kind": None,
                                       "clock_warning": False}, maintenance=maintenance)


@pytest.mark.parametrize("upstream, bonus, expected", [
    ("ok", "ok", 170),  # +20 while `bonus` is up
    ("fail", "ok", 110),  # -60 while `upstream` is down (3 failures, fall 3)
    ("fail", "fail", 90),
    ("ok", "fail", 150),
    ("unknown", "unknown", 170),  # not run yet: keepalived counts a script as up until it fails (no init_fail)
])
def test_effective_priority_follows_keepalived(upstream, bonus, expected):
    status = full_status(upstream, bonus)
    assert status["node"]["priority"] == 150
    assert status["node"]["effective_priority"] == expected


@pytest.mark.parametrize("hold, expected", [("none", 170), ("yield", 1), ("out", 0)])
def test_effective_priority_counts_the_operators_hold(hold, expected):
    """A yielding node advertises 1 (it does not take mastership back); held out, it is in FAULT,
    whose advert says 0."""
    status = full_status("ok", "ok", maintenance={"on": hold == "out", "since": None, "by": None, "hold": hold})
    assert status["node"]["effective_priority"] == expected


def test_a_closed_sync_gate_advertises_priority_zero(tmp_path):
    """While the sync gate holds a starting node in FAULT (keepalived reads -254 from its
    track_file), status says what keepalived advertises: 0, not the configured priority."""
    assert full_status("ok", "ok", gate_closed=True)["node"]["effective_priority"] == 0
    paths = Paths(str(tmp_path))
    assert runfiles.sync_gate_closed(paths) is False  # no gate file: not gated
    gate = Path(str(paths.sync_gate))
    gate.parent.mkdir(parents=True)
    for text, closed in (("-254\n", True), ("0\n", False), ("", False)):
        gate.write_text(text)
        assert runfiles.sync_gate_closed(paths) is closed, text


def test_effective_priority_stays_within_vrrp_range():
    from ha_pair.config.model import Check

    check = Check("c", "ping", 2, 1, 3, 2, "weight", -253)
    assert effective_priority(100, (check,), {"c": {"down": True}}) == 1
    check = Check("c", "ping", 2, 1, 3, 2, "weight", 200)
    assert effective_priority(150, (check,), {"c": {"down": False}}) == 254


def test_a_healthy_master():
    verdict = full_status("ok", "ok")["health"]
    assert verdict == {"healthy": True, "summary": "healthy", "problems": []}


def test_every_problem_is_named():
    status = full_status("fail", "ok", sync_link=False, conntrackd=False, pending=True,
                         lease_sync={"enabled": True, "peer_reachable": False, "clock_warning": True,
                                     "clock_offset_s": 42.0})
    assert status["config"]["pending_changes"] is True
    verdict = status["health"]
    assert verdict["healthy"] is False
    assert verdict["problems"] == [
        "health check upstream down", "health check synclink down", "conntrackd stopped", "sync link down (eth2)",
        "peer unreachable (lease sync)", "clocks of the pair differ by 42.0 s",
        "changes to /etc/config/ha not applied yet (reload ha-pair)"]
    assert verdict["summary"] == "degraded: " + "; ".join(verdict["problems"])


def test_a_rejected_configuration_is_not_also_reported_as_pending():
    status = full_status("ok", "ok", disk_errors=("ha.lan.vrid: '300' is outside 1-255",))
    assert status["config"]["valid"] is False and status["config"]["pending_changes"] is True
    assert status["health"]["problems"] == ["configuration rejected, the previous one is still in effect"]


def test_without_a_configuration_in_effect_status_still_has_config_lease_sync_and_health():
    status = build_status(None, PairState(), Snapshot(5.0), {"pid": 1}, ConfigOnDisk(("ha.global: missing",), None))
    assert status["config"] == {"valid": False, "errors": ["ha.global: missing"], "digest": None,
                                "pending_changes": False, "shared_digest": None, "peer_match": None,
                                "vrrp": None}
    assert status["maintenance"]["on"] is False and status["peer_view"] is None
    assert status["lease_sync"] == {"enabled": False}
    assert status["health"]["summary"] == "degraded: configuration invalid, nothing is running; no VRRP state yet (unknown)"
    assert "node" not in status and "instances" not in status


def test_status_holds_no_nan_or_infinity():
    status = full_status("ok", "ok", lease_sync={"enabled": True, "peer_reachable": True, "clock_offset_s": float("nan"),
                                                 "lag_s": float("inf")})
    assert status["lease_sync"]["clock_offset_s"] is None and status["lease_sync"]["lag_s"] is None


def test_a_master_without_its_addresses_and_a_fault():
    status = full_status("ok", "ok")
    status["instances"]["lan"]["vips_present"] = False
    assert health(status)["problems"] == ["virtual IPs of lan missing on the master"]
    status["state"] = "fault"
    assert health(status)["problems"][0] == "this node is in FAULT"
