"""Handover and maintenance without daemons: the hold file's values, what render puts back at
start, the peer report and how it is read, the procedures' refusals (against a peer answering
what each test wants), the transition reasons, and the forced command's `state` verb."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ha_pair.agent.reasons import ReasonContext, infer_reason
from ha_pair.config.load import validate
from ha_pair.leasesync.peer import serve
from ha_pair.operate import hold, procedures
from ha_pair.paths import Paths
from ha_pair.status.peer_report import not_ready, parse_report, report, view
from tests.support import pair, tree


@pytest.fixture
def r1(tmp_path: Path) -> Paths:
    paths = Paths(str(tree.make_tree(tmp_path / "r1", pair.configs("r1"))))
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    return paths


def model(paths: Paths):
    result = validate(paths)
    assert result.model is not None, [str(e) for e in result.errors]
    return result.model


def set_state(paths: Paths, state: str) -> None:
    Path(paths.state_file).write_text(state + "\n")


def peer(state: str = "backup", maintenance: bool = False, ready: bool | None = None):
    reasons = [] if ready in (None, True) and state == "backup" and not maintenance else ["it is busy"]
    return {"node": "r2", "state": state, "maintenance": maintenance, "ready": not reasons, "not_ready": reasons}


def test_hold_values_are_what_keepalived_needs():
    # below -253 FAULT; -253 still a priority (clamped to 1); 0 nothing
    assert (hold.NORMAL, hold.YIELD, hold.OUT) == (0, -253, -254)


def test_render_puts_maintenance_back_and_drops_a_stale_out(r1: Paths):
    hold.restore_at_start(r1)
    assert hold.read_hold(r1) == hold.NORMAL  # created
    hold.record_maintenance(r1, True, "test")
    hold.write_hold(r1, hold.NORMAL)  # as after a reboot: /var is empty, the record is in /etc/ha-pair
    hold.restore_at_start(r1)
    assert hold.read_hold(r1) == hold.OUT
    hold.record_maintenance(r1, False, "test")
    assert not r1.maintenance_record.exists() and hold.read_hold(r1) == hold.NORMAL
    hold.write_hold(r1, hold.OUT)  # a handover interrupted between OUT and YIELD
    hold.restore_at_start(r1)
    assert hold.read_hold(r1) == hold.NORMAL
    hold.write_hold(r1, hold.YIELD)  # a yield stays: the peer is master
    hold.restore_at_start(r1)
    assert hold.read_hold(r1) == hold.YIELD
    with pytest.raises(ValueError):
        hold.write_hold(r1, -5)


def test_describe_and_a_corrupt_record(r1: Paths):
    assert hold.describe(r1) == {"on": False, "since": None, "by": None, "hold": "none"}
    r1.maintenance_record.parent.mkdir(parents=True, exist_ok=True)
    Path(r1.maintenance_record).write_text("not json")
    hold.write_hold(r1, hold.OUT)
    assert hold.describe(r1) == {"on": True, "since": None, "by": "", "hold": "out"}


def test_not_ready_names_each_reason():
    status = {"state": "backup", "maintenance": {"on": True},
              "instances": {"lan": {"link": False, "device": "br-lan"}, "wan": {"link": True}},
              "checks": {"upstream": {"down": True}, "other": {"down": False}}}
    assert not_ready(status) == ["it is in maintenance mode", "link down on br-lan (lan)", "health check upstream down"]
    assert not_ready({"state": "fault"}) == ["it is fault, not backup"]
    assert not_ready({"state": "backup"}) == []


def test_report_and_parse_keep_only_known_well_typed_values():
    status = {"state": "backup", "node": {"name": "r2", "effective_priority": 100}, "agent": {"version": "1", "pid": 9},
              "config": {"shared_digest": "abc", "vrrp": {"version": 2, "advert_cs": 100, "instances": {
                  "lan": {"vrid": 51, "addresses": ["192.168.50.1/24"]}}}},
              "maintenance": {"on": False, "hold": "none"}}
    sent = report(status, 10.0)
    assert sent["ready"] is True and sent["config_digest"] == "abc" and sent["agent"] is True
    assert parse_report(json.dumps(sent).encode()) == sent
    hostile = parse_report(json.dumps({"state": 5, "effective_priority": True, "not_ready": ["x" * 210] * 3 + ["y"] * 30,
                                       "evil": "y", "node": "n" * 300}).encode())
    assert "state" not in hostile and "effective_priority" not in hostile and "evil" not in hostile
    assert len(hostile["not_ready"]) == 20 and len(hostile["not_ready"][0]) == 200 and len(hostile["node"]) == 100
    with pytest.raises(ValueError):
        parse_report(b"[1]")
    with pytest.raises(ValueError):
        parse_report(b" " * 17000)


def test_view_compares_the_shared_digests():
    assert view({"config_digest": "a"}, 5.0, None, None, {"shared_digest": "a"}, 7.0)["config_match"] is True
    assert view({"config_digest": "a"}, 5.0, None, None, {"shared_digest": "b"}, 7.0)["config_match"] is False
    unreachable = view(None, None, "no route", "unreachable", {"shared_digest": "a"}, 7.0)
    assert unreachable["reachable"] is False and unreachable["config_match"] is None and unreachable["age_s"] is None


def test_shared_digest_ignores_per_node_values(tmp_path: Path):
    one = model(Paths(str(tree.make_tree(tmp_path / "r1", pair.configs("r1")))))
    two = model(Paths(str(tree.make_tree(tmp_path / "r2", pair.configs("r2")))))
    assert one.digest != two.digest and one.shared_digest == two.shared_digest


def test_handover_refusals_change_nothing(r1: Paths):
    m = model(r1)
    hold.write_hold(r1, hold.NORMAL)
    set_state(r1, "backup")
    with pytest.raises(procedures.Refused, match="this node is backup, not master"):
        procedures.handover(r1, m, lambda: peer())
    # keepalived said MASTER, the notify script is still doing MASTER's work: not yet, not "backup"
    Path(r1.notify_wanted).write_text("77:1700000000:u GROUP ha MASTER 100\n")
    Path(r1.notify_done).write_text("76:1699999990:t\n")
    with pytest.raises(procedures.Refused, match="this node is becoming master.*try again in a moment"):
        procedures.handover(r1, m, lambda: peer())
    Path(r1.notify_done).write_text("77:1700000000:u\n")  # acted on (it did not become master after all)
    with pytest.raises(procedures.Refused, match="this node is backup, not master"):
        procedures.handover(r1, m, lambda: peer())
    set_state(r1, "master")
    with pytest.raises(procedures.Refused, match="the peer is not ready to take over: it is busy"):
        procedures.handover(r1, m, lambda: peer(state="fault"))

    def unreachable():
        raise OSError("no route to host")
    with pytest.raises(procedures.Refused, match="the peer cannot be asked .*no route to host"):
        procedures.handover(r1, m, unreachable)
    assert hold.read_hold(r1) == hold.NORMAL


def test_handover_yields_once_the_peer_is_master_and_gives_up_when_it_never_is(r1: Paths, monkeypatch):
    m = model(r1)
    set_state(r1, "master")
    answers = iter([peer(), peer(state="backup"), peer(state="master")])
    seen = []

    def ask():
        seen.append(hold.read_hold(r1))
        return next(answers)
    answer = procedures.handover(r1, m, ask)
    assert answer["ok"] is True and answer["peer"] == "r2"
    assert seen[1:] == [hold.OUT, hold.OUT]  # out while waiting for the peer
    assert hold.read_hold(r1) == hold.YIELD
    monkeypatch.setattr(procedures, "_takeover_timeout", lambda model: 0.3)
    with pytest.raises(procedures.Failed, match="did not take over"):
        procedures.handover(r1, m, lambda: peer())
    assert hold.read_hold(r1) == hold.NORMAL


def test_maintenance_needs_force_when_no_node_would_be_left(r1: Paths, monkeypatch):
    m = model(r1)
    set_state(r1, "backup")
    with pytest.raises(procedures.Refused, match="the peer is in maintenance mode too"):
        procedures.maintenance(r1, m, True, False, lambda: peer(state="fault", maintenance=True))
    assert not r1.maintenance_record.exists()

    def unreachable():
        raise OSError("timed out")
    with pytest.raises(procedures.Refused, match="cannot be asked"):
        procedures.maintenance(r1, m, True, False, unreachable)
    answer = procedures.maintenance(r1, m, True, True, unreachable)
    assert answer == {"ok": True, "maintenance": True, "changed": True, "forced": True}
    assert hold.read_hold(r1) == hold.OUT and hold.maintenance(r1)["by"] == "operator"
    assert procedures.maintenance(r1, m, True, False, unreachable)["changed"] is False
    assert procedures.maintenance(r1, m, False, False, unreachable) == {"ok": True, "maintenance": False,
                                                                        "changed": True}
    assert hold.read_hold(r1) == hold.NORMAL


def test_a_master_enters_maintenance_only_when_the_peer_could_take_over(r1: Paths):
    m = model(r1)
    set_state(r1, "master")
    with pytest.raises(procedures.Refused, match="the peer could not take over: it is busy"):
        procedures.maintenance(r1, m, True, False, lambda: peer(state="fault"))
    answers = iter([peer(), peer(state="master")])
    answer = procedures.maintenance(r1, m, True, False, lambda: next(answers))
    assert answer["peer_took_over"] is True and hold.read_hold(r1) == hold.OUT


def test_transitions_name_the_operator():
    assert infer_reason("master", "fault", ReasonContext(operator="maintenance")) == "operator: maintenance mode"
    assert infer_reason("master", "fault", ReasonContext(operator="handover")) == "operator: handover to the peer"
    assert infer_reason("fault", "backup", ReasonContext(operator="handover")) == \
        "operator: handover done, yielding to the peer"
    assert infer_reason("fault", "backup", ReasonContext()) == "recovered from fault"


def test_the_forced_command_state_verb_reports_without_an_agent(r1: Paths):
    set_state(r1, "backup")
    out = io.BytesIO()
    assert serve(r1, "state", io.BytesIO(b""), out) == 0
    sent = parse_report(out.getvalue())
    assert sent["state"] == "backup" and sent["node"] == "r1" and sent["agent"] is False
    assert sent["config_digest"] == model(r1).shared_digest and sent["ready"] is True


def test_the_forced_command_names_its_seven_verbs(r1: Paths, capsys):
    assert serve(r1, "shell", io.BytesIO(b""), io.BytesIO()) == 1
    assert "(allowed: hello, get, exchange, push, state, config-get, config-put)" in capsys.readouterr().err


def test_status_text_shows_the_peer_beside_this_node():
    from ha_pair.commands.status import format_status

    status = {"agent": {"running": True, "version": "0.1.0"}, "state": "master", "since": 1.0,
              "node": {"name": "r1", "role": "primary", "priority": 150, "effective_priority": 90},
              "config": {"valid": True, "digest": "d", "shared_digest": "7d586e8ca3c170df"},
              "maintenance": {"on": False, "hold": "none"},
              "peer_view": {"reachable": True, "age_s": 1.2, "node": "r2", "state": "backup", "effective_priority": 100,
                            "version": "0.2.0", "config_digest": "7d586e8ca3c170df", "config_match": True,
                            "maintenance": True, "hold": "out", "ready": False, "not_ready": ["it is in maintenance mode"],
                            "vrrp_mismatch": ["lan: vrid 51 here, 61 on the peer"]},
              "split_brain": {"active": True, "since": 5.0, "cause": "both nodes are master: x"}}
    lines = format_status(status).splitlines()
    table = lines[lines.index("") + 1:]
    assert table[0].split() == ["this", "node", "(r1)", "peer", "(r2)"]
    rows = {line[2:17].strip(): line[17:].split(None, 1) for line in table[1:8]}
    assert rows["state"] == ["MASTER", "BACKUP"] and rows["priority"] == ["90", "100"]
    assert rows["version"] == ["0.1.0", "0.2.0"] and rows["config"] == ["7d586e8ca3c1", "7d586e8ca3c1 (matches)"]
    assert rows["maintenance"] == ["off", "ON"]
    assert table[6].endswith("no: it is in maintenance mode") and table[7].endswith("1.2 s ago")
    assert "  VRRP DIFFERS: lan: vrid 51 here, 61 on the peer" in table
    assert any(line.startswith("  SPLIT BRAIN since ") and line.endswith(": both nodes are master: x") for line in table)
    # a peer that stopped answering says so, with when it was last heard
    status["peer_view"].update(reachable=False, error_kind="unreachable", last_heard=100.0, config_match=None)
    text = format_status(status)
    assert "NOT ANSWERING (unreachable), last " in text and "(?)" in text
    assert "this node" not in format_status({**status, "peer_view": None})
