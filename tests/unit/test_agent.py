"""The agent without root or daemons: FIFO lines, the state machine, reasons, history, the status
JSON, the control socket, and a real agent process fed through its FIFO."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ha_pair.agent import history
from ha_pair.agent.control import ControlServer
from ha_pair.state.observed import CheckResult
from ha_pair.agent.reasons import ReasonContext, infer_reason
from ha_pair.state.pair import HISTORY_SIZE, PairState, Transition, apply_event, with_history
from ha_pair.config.validate import Inputs, build_model
from ha_pair.events.keepalived_fifo import FifoLineError, LineBuffer, VrrpEvent, parse_line
from ha_pair.paths import Paths
from ha_pair.state.observed import Snapshot
from ha_pair.status.build import ConfigOnDisk, build_status
from ha_pair.uci import parse
from tests.support import pair, tree

REPO = Path(__file__).resolve().parents[2]


# --- FIFO lines ---------------------------------------------------------------------------------

def test_fifo_lines_parse():
    assert parse_line('GROUP "ha" MASTER 0\n') == VrrpEvent("GROUP", "ha", "MASTER", 0)
    assert parse_line('INSTANCE "lan" BACKUP 150') == VrrpEvent("INSTANCE", "lan", "BACKUP", 150)
    assert parse_line('INSTANCE "lan" MASTER_RX_LOWER_PRI 150') is None


@pytest.mark.parametrize("line", ["", "garbage", 'GROUP ha MASTER 0', 'GROUP "ha" DANCING 0',
                                  'INSTANCE "lan" MASTER x', 'INSTANCE "a"b" MASTER 1'])
def test_malformed_fifo_lines_are_rejected(line):
    with pytest.raises(FifoLineError):
        parse_line(line)


def test_line_buffer_joins_partial_reads_and_drops_overlong_lines():
    buffer = LineBuffer()
    assert buffer.feed(b'GROUP "ha" MAS') == []
    assert buffer.feed(b'TER 0\nINSTANCE "lan" BA') == ['GROUP "ha" MASTER 0']
    assert buffer.feed(b'CKUP 1\n') == ['INSTANCE "lan" BACKUP 1']
    assert buffer.feed(b"x" * 5000) == ["<overlong line dropped>"]
    assert buffer.feed(b'GROUP "ha" FAULT 0\n') == ['GROUP "ha" FAULT 0']


# --- state machine and reasons ------------------------------------------------------------------

def reason(f: str, t: str) -> str:
    return f"{f}->{t}"


def test_group_decides_the_node_state_when_there_is_a_group():
    state = PairState()
    state, t = apply_event(state, VrrpEvent("INSTANCE", "lan", "MASTER", 150), 1.0, True, reason)
    assert t is None and state.node_state == "unknown"
    assert state.instance("lan").state == "master"
    state, t = apply_event(state, VrrpEvent("GROUP", "ha", "MASTER", 0), 2.0, True, reason)
    assert t == Transition(2.0, "group ha", "unknown", "master", "unknown->master")
    assert state.node_state == "master" and state.since == 2.0
    state, t = apply_event(state, VrrpEvent("GROUP", "ha", "MASTER", 0), 3.0, True, reason)
    assert t is None, "a repeated state is not a transition"


def test_single_instance_decides_without_a_group():
    state, t = apply_event(PairState(), VrrpEvent("INSTANCE", "lan", "FAULT", 150), 1.0, False, reason)
    assert state.node_state == "fault" and t.scope == "instance lan"


def test_history_is_bounded():
    state = PairState()
    for i in range(HISTORY_SIZE + 7):
        new = "MASTER" if i % 2 else "BACKUP"
        state, _ = apply_event(state, VrrpEvent("GROUP", "ha", new, 0), float(i), True, reason)
    assert len(state.history) == HISTORY_SIZE
    assert state.history[-1].time == HISTORY_SIZE + 6


def test_history_persists(tmp_path: Path):
    transitions = tuple(Transition(float(i), "group ha", "backup", "master", "why") for i in range(3))
    history.save(tmp_path / "h.json", transitions)
    loaded = history.load(tmp_path / "h.json")
    assert tuple(loaded) == transitions
    assert with_history(loaded).last_transition == transitions[-1]
    (tmp_path / "bad.json").write_text("{not json")
    assert history.load(tmp_path / "bad.json") == []


@pytest.mark.parametrize("from_state, to_state, ctx, expected", [
    ("backup", "master", ReasonContext(peer_reachable=False), "peer stopped advertising (it does not answer"),
    ("backup", "master", ReasonContext(peer_reachable=True), "or preemption"),
    ("unknown", "master", ReasonContext(), "startup"),
    ("master", "fault", ReasonContext(links_down=("br-lan",)), "interface br-lan down"),
    ("master", "fault", ReasonContext(checks_down=(("upstream", "fault"),)), "health check upstream failed"),
    ("master", "backup", ReasonContext(checks_down=(("upstream", "weight"),)), "priority lowered"),
    ("master", "backup", ReasonContext(), "preemption: the peer took over"),
    ("master", "stopped", ReasonContext(stopping=True), "operator"),
    ("fault", "backup", ReasonContext(), "recovered from fault"),
])
def test_reasons(from_state, to_state, ctx, expected):
    assert expected in infer_reason(from_state, to_state, ctx)


# --- status JSON --------------------------------------------------------------------------------

def model(extra_global: str = "", extra: str = ""):
    inputs = Inputs(ha=parse(pair.ha("r1", extra_global=extra_global, extra=extra), "ha"),
                    network=parse(pair.network("r1"), "network"), dhcp=parse(pair.dhcp(), "dhcp"),
                    system=parse(pair.system("r1"), "system"))
    result = build_model(inputs, Paths(Path("/")), lambda p: False)
    assert result.ok
    return result.model


def test_status_shape():
    m = model(extra="\nconfig check 'upstream'\n\toption type 'ping'\n\toption target '198.51.100.254'\n")
    state = PairState()
    for event in (VrrpEvent("INSTANCE", "lan", "MASTER", 150), VrrpEvent("INSTANCE", "wan", "MASTER", 150),
                  VrrpEvent("GROUP", "ha", "MASTER", 0)):
        state, _ = apply_event(state, event, 100.0, True, reason)
    snapshot = Snapshot(
        time=200.0, addresses={"br-lan": ["192.168.50.2", "192.168.50.1"], "eth1": ["198.51.100.2"]},
        carriers={"br-lan": True, "eth1": True, "eth2": False},
        checks={"upstream": CheckResult("fail", 150.0, 3, 199.0)},
        conntrack={"running": True, "internal": {"active": 23}, "external": {"active": 4},
                   "sync": {"bytes_sent": 10, "lost_msgs": 2}},
        dhcp_answering=True)
    status = build_status(m, state, snapshot, {"pid": 1}, ConfigOnDisk(digest=m.digest))
    assert status["state"] == "master" and status["since"] == 100.0
    assert status["sync_group"] == {"name": "ha", "state": "master", "since": 100.0}
    assert status["instances"]["lan"]["vips_present"] is True
    assert status["instances"]["wan"]["vips_present"] is False
    assert status["checks"]["upstream"]["down"] is True  # 3 failures in a row, fall 3
    assert status["conntrack"]["internal_active"] == 23 and status["conntrack"]["external_active"] == 4
    assert status["conntrack"]["warnings"] == ["lost msgs: 2"]
    assert status["dhcp"] == {"managed": True, "sections": ["lan"], "answering": True, "consistent": True}
    assert status["peer"]["sync_link"] is False
    assert status["config"]["valid"] is True and len(status["config"]["digest"]) == 64
    assert status["config"]["pending_changes"] is False
    assert status["lease_sync"] == {"enabled": False}
    assert status["health"]["problems"] == [
        "virtual IPs of wan missing on the master", "health check upstream down", "sync link down (eth2)"]
    json.dumps(status)  # serialisable as is


def test_status_never_contains_the_password():
    m = model(extra_global="\toption auth_type 'pass'\n\toption auth_pass 'Zq9secrt'\n")
    status = build_status(m, PairState(), Snapshot(0.0), {}, ConfigOnDisk(digest=m.digest))
    assert "Zq9secrt" not in json.dumps(status)


# --- control socket -----------------------------------------------------------------------------

def test_control_socket_round_trip(tmp_path: Path):
    server = ControlServer(tmp_path / "agent.sock", {"status": lambda a: {"ok": True, "args": a},
                                                     "boom": lambda a: 1 / 0})
    try:
        assert oct((tmp_path / "agent.sock").stat().st_mode & 0o777) == "0o600"
        assert server.dispatch(b'{"method": "status", "args": {"x": 1}}') == {"ok": True, "args": {"x": 1}}
        assert "unknown method" in server.dispatch(b'{"method": "nope"}')["error"]
        assert "boom failed" in server.dispatch(b'{"method": "boom"}')["error"]
        assert "JSON object" in server.dispatch(b"[1]")["error"]
    finally:
        server.close()


def test_status_without_agent_reports_plainly(tmp_path: Path):
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run([sys.executable, "-m", "ha_pair", "--root", str(root), "status"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert "Traceback" not in out.stdout + out.stderr
    assert "agent is not running" in out.stdout
    assert "192.168.50.1/24: not on this node" in out.stdout


def test_lease_sync_method_asks_for_a_full_exchange_now(tmp_path: Path):
    """`ubus call ha lease_sync`: the lease-sync worker gets a full exchange at once (the timer
    named lease-full-now, delay 0); without lease sync the answer says why."""
    from ha_pair.agent.lease_sync import LeaseSync
    from ha_pair.agent.loop import Agent

    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    agent = Agent(Paths(str(root)))
    assert agent.lease_sync_now({}) == {"ok": False, "error": "lease sync is not running (ha.dhcp.lease_sync 0, "
                                                             "or no valid configuration)"}
    scheduled: list[tuple[float, str]] = []
    agent.lease_sync = LeaseSync(agent.paths, "10.255.0.2", 22, 300, lambda delay, name, _cb: scheduled.append((delay, name)))
    try:
        scheduled.clear()
        answer = agent.handlers()["lease_sync"]({})
        assert answer["ok"] is True and answer["scheduled"] == "full exchange"
        assert scheduled == [(0, "lease-full-now")]
    finally:
        agent.lease_sync.stop()


def test_config_sync_method_answers_like_the_command_and_publishes_its_policy(tmp_path: Path):
    """`ubus call ha config_sync`: the same procedure and answer as `ha-pair config-sync`; here
    an invalid local configuration, so nothing is sent (no peer is asked)."""
    from ha_pair.agent.loop import Agent

    configs = pair.configs("r1")
    configs["ha"] = configs["ha"].replace("option vrid '51'", "option vrid '300'")
    root = tree.make_tree(tmp_path / "r1", configs)
    agent = Agent(Paths(str(root)))
    answer = agent.handlers()["config_sync"]({"dry_run": True})
    assert answer["ok"] is False and "is invalid here" in answer["error"] and "nothing was sent" in answer["error"]
    assert Agent.policies()["config_sync"] == {"dry_run": "bool"}


def test_lease_events_queue_work_at_once_and_coalesce(tmp_path: Path):
    """A lease event queues a push at once (no timer: a debounce delayed every lease by 50 ms), and
    a burst of events queues it once until the worker starts it. A request to restart dnsmasq from
    the peer's forced command (which has written dnsmasq's file already) waits until the requests
    have been quiet for APPLY_QUIET_S, or APPLY_MAX_DELAY_S after the first: a burst, one restart."""
    import time

    from ha_pair.agent.lease_sync import APPLY_MAX_DELAY_S, APPLY_QUIET_S, LeaseSync

    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    scheduled: list[tuple[float, str]] = []
    sync = LeaseSync(Paths(str(root)), "10.255.0.2", 22, 300, lambda delay, name, _cb: scheduled.append((delay, name)))
    sync.stop()
    sync._worker.join(10)  # the worker has ended: whatever is queued now stays in the queue
    assert not sync._worker.is_alive()
    while not sync.jobs.empty():
        sync.jobs.get_nowait()
    scheduled.clear()

    def queued() -> list[str]:
        return [sync.jobs.get_nowait() for _ in range(sync.jobs.qsize())]

    for _ in range(5):
        sync.on_event("leases-changed")
        sync.on_event("leases-apply")
    assert {name for _, name in scheduled} == {"lease-apply"}  # the loop keeps one pending timer per name
    assert all(delay == APPLY_QUIET_S for delay, _ in scheduled)
    assert queued() == ["exchange"]
    sync._waiting.discard("exchange")  # what the worker does when it takes the job
    sync.on_event("leases-changed")
    assert queued() == ["exchange"]
    scheduled.clear()
    sync._apply_due()  # the timer fires while requests are still coming: it waits again
    assert queued() == [] and [name for _, name in scheduled] == ["lease-apply"]
    now = time.monotonic()
    sync._apply_asked = (now - APPLY_QUIET_S - 1, now - APPLY_QUIET_S - 0.5)  # quiet since
    sync._apply_due()
    assert queued() == ["apply"]
    sync._waiting.discard("apply")
    sync._apply_asked = (now - APPLY_MAX_DELAY_S - 0.1, now)  # never quiet, but waited long enough
    sync._apply_due()
    assert queued() == ["apply"]
    sync._apply_due()  # nothing asked since: nothing queued
    assert queued() == []
