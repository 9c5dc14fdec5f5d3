"""Split brain without daemons: the episode state machine (suspected, confirmed, ended, never
from a stale or missing report), the VRRP values both nodes must agree on and how a mismatch is
named, the authentication compared by fingerprint only, and the forced command's report carrying
them."""

from __future__ import annotations

import io
import json
from pathlib import Path

from ha_pair.config.load import validate
from ha_pair.config.shared import vrrp_auth, vrrp_profile
from ha_pair.leasesync.peer import serve
from ha_pair.paths import Paths
from ha_pair.state.split_brain import CONFIRM_S, SplitBrain, step
from ha_pair.status.build import health
from ha_pair.status.peer_report import parse_report, view, vrrp_mismatches
from tests.support import pair, tree


def peer_view(state: str, heard: float, mismatch: list[str] | None = None, reachable: bool = True) -> dict:
    return {"reachable": reachable, "state": state, "last_heard": heard, "vrrp_mismatch": mismatch or []}


def model_of(tmp_path: Path, router: str, **ha_options: str):
    paths = Paths(str(tree.make_tree(tmp_path / router, pair.configs(router, **ha_options))))
    result = validate(paths)
    assert result.model is not None, [str(e) for e in result.errors]
    return paths, result.model


def test_two_reports_a_second_apart_start_an_episode_and_one_report_ends_it():
    sb, event = step(SplitBrain(), "master", 0.0, peer_view("master", 100.0), 100.1)
    assert event is None and sb.suspected == 100.0 and not sb.active and sb.as_dict()["suspected"] is True
    # the same report again (a transition re-checks without a new one) proves nothing
    assert step(sb, "master", 0.0, peer_view("master", 100.0), 101.5) == (sb, None)
    # a new report too soon after the first does not confirm yet
    sb, event = step(sb, "master", 0.0, peer_view("master", 100.0 + CONFIRM_S / 2), 100.7)
    assert event is None and not sb.active
    sb, event = step(sb, "master", 0.0, peer_view("master", 101.2), 101.3)
    assert event == "start" and sb.active and sb.since == 100.0 and sb.episodes == 1
    assert sb.cause.startswith("both nodes are master while the sync link works: VRRP adverts between them are lost")
    # still both master: no second start (logged and announced once per episode)
    sb, event = step(sb, "master", 0.0, peer_view("master", 103.0), 103.1)
    assert event is None and sb.active
    sb, event = step(sb, "master", 0.0, peer_view("backup", 105.0), 105.1)
    assert event == "end" and not sb.active and sb.last_end == 105.1 and sb.episodes == 1


def test_a_report_of_backup_clears_the_suspicion_and_an_unreachable_peer_changes_nothing():
    sb, _ = step(SplitBrain(), "master", 0.0, peer_view("master", 10.0), 10.0)
    sb, event = step(sb, "master", 0.0, peer_view("backup", 12.0), 12.0)
    assert event is None and sb.suspected is None  # an ordinary failback: the peer heard us
    active = SplitBrain(active=True, since=1.0, cause="x", episodes=1, counted=5.0)
    assert step(active, "master", 0.0, peer_view("master", 9.0, reachable=False), 9.0) == (active, None)
    assert step(active, "master", 0.0, None, 9.0) == (active, None)


def test_a_report_heard_before_this_node_became_master_counts_for_nothing():
    """A preempting node's last report (taken as backup) says the peer is master, as it then was:
    neither it nor a report just after the transition may confirm a split brain by themselves."""
    sb, event = step(SplitBrain(), "master", 50.0, peer_view("master", 49.0), 50.1)
    assert event is None and sb.suspected is None
    sb, event = step(sb, "master", 50.0, peer_view("master", 50.2), 50.3)  # the peer has not heard us yet
    assert event is None and sb.suspected == 50.2
    sb, event = step(sb, "master", 50.0, peer_view("backup", 51.3), 51.4)  # it has: an ordinary failback
    assert event is None and not sb.active and sb.suspected is None


def test_leaving_master_ends_an_episode_at_once():
    active = SplitBrain(active=True, since=1.0, cause="x", episodes=1, counted=5.0)
    sb, event = step(active, "fault", 0.0, peer_view("master", 5.0), 6.0)
    assert event == "end" and not sb.active and sb.last_end == 6.0
    assert step(SplitBrain(), "backup", 0.0, peer_view("master", 5.0), 6.0)[1] is None


def test_the_cause_names_the_vrrp_mismatch_when_there_is_one():
    sb, _ = step(SplitBrain(), "master", 0.0, peer_view("master", 1.0, ["lan: vrid 51 here, 61 on the peer"]), 1.0)
    sb, event = step(sb, "master", 0.0, peer_view("master", 2.5, ["lan: vrid 51 here, 61 on the peer"]), 2.5)
    assert event == "start"
    assert sb.cause == "both nodes are master: the VRRP settings differ from the peer's: lan: vrid 51 here, 61 on the peer"
    summary = health({"state": "master", "split_brain": sb.as_dict()})["summary"]
    assert summary.startswith("degraded: SPLIT BRAIN: both nodes are master: the VRRP settings differ"), summary


def test_the_pair_agrees_on_vrrp_and_each_difference_is_named(tmp_path: Path):
    _, one = model_of(tmp_path, "r1")
    _, two = model_of(tmp_path, "r2")
    assert vrrp_profile(one) == vrrp_profile(two) and vrrp_auth(one) == vrrp_auth(two) == "none"
    assert vrrp_profile(one)["instances"]["lan"] == {"vrid": 51, "addresses": ["192.168.50.1/24"]}
    assert vrrp_mismatches(vrrp_profile(one), "none", vrrp_profile(two), "none") == []
    theirs = json.loads(json.dumps(vrrp_profile(two)))
    theirs["instances"]["lan"]["vrid"] = 61
    theirs["instances"]["wan"]["addresses"] = ["198.51.100.9/24"]
    theirs["advert_cs"] = 200
    del theirs["instances"]["lan"]
    theirs["instances"]["guest"] = {"vrid": 53, "addresses": []}
    assert vrrp_mismatches(vrrp_profile(one), "none", theirs, "none") == [
        "advert_int 1 s here, 2 s on the peer",
        "guest: a VIP group on the peer only",
        "lan: a VIP group here only",
        "wan: addresses 198.51.100.1/24 here, 198.51.100.9/24 on the peer",
    ]


def test_authentication_is_compared_by_a_fingerprint_that_hides_the_password(tmp_path: Path):
    secret = "option auth_type 'pass'\n\toption auth_pass 's3cret'"
    _, one = model_of(tmp_path, "r1", extra_global=f"\t{secret}\n")
    _, other = model_of(tmp_path, "r2", extra_global="\toption auth_type 'pass'\n\toption auth_pass 'other'\n")
    _, same = model_of(tmp_path / "b", "r2", extra_global=f"\t{secret}\n")
    assert vrrp_auth(one) == vrrp_auth(same) != vrrp_auth(other)
    assert vrrp_auth(one).startswith("pass:") and "s3cret" not in vrrp_auth(one)
    profile = vrrp_profile(one)
    assert vrrp_mismatches(profile, vrrp_auth(one), profile, vrrp_auth(other)) == ["authentication differs (auth_pass)"]
    assert vrrp_mismatches(profile, vrrp_auth(one), profile, "none") == [
        "authentication differs (auth_type pass here, none on the peer)"]
    # the view compares it but never shows the fingerprint
    shown = view({"vrrp": profile, "vrrp_auth": vrrp_auth(other)}, 1.0, None, None,
                 {"vrrp": profile, "vrrp_auth": vrrp_auth(one)}, 2.0)
    assert shown["vrrp_mismatch"] == ["authentication differs (auth_pass)"] and "vrrp_auth" not in shown
    assert "pass:" not in json.dumps(shown)


def test_the_forced_command_reports_the_vrrp_values_and_a_malformed_profile_is_dropped(tmp_path: Path):
    paths, m = model_of(tmp_path, "r1", extra_global="\toption auth_type 'pass'\n\toption auth_pass 'Zqpw'\n")
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    out = io.BytesIO()
    assert serve(paths, "state", io.BytesIO(b""), out) == 0
    sent = parse_report(out.getvalue())
    assert sent["vrrp"] == vrrp_profile(m) and sent["vrrp_auth"] == vrrp_auth(m)
    assert b"Zqpw" not in out.getvalue()
    for bad in ({"version": "2", "advert_cs": 100, "instances": {}},
                {"version": 2, "advert_cs": 100, "instances": {"lan": {"vrid": True, "addresses": []}}},
                {"version": 2, "advert_cs": 100, "instances": {"lan": {"vrid": 5, "addresses": [1]}}},
                {"version": 2, "advert_cs": 100, "instances": {str(i): {"vrid": 1, "addresses": []} for i in range(65)}}):
        assert "vrrp" not in parse_report(json.dumps({"vrrp": bad}).encode()), bad


def test_status_health_names_a_vrrp_mismatch_before_it_causes_a_split_brain():
    verdict = health({"state": "master", "peer_view": {"vrrp_mismatch": ["lan: vrid 51 here, 61 on the peer"]}})
    assert "VRRP settings differ from the peer's: lan: vrid 51 here, 61 on the peer" in verdict["problems"]


def test_the_policy_holds_the_secondary_out_and_lifts_only_its_own_hold(tmp_path: Path):
    from ha_pair.agent.reasons import ReasonContext, infer_reason
    from ha_pair.operate import hold, step_down

    paths, secondary = model_of(tmp_path, "r2", extra_global="\toption split_brain 'secondary_steps_down'\n")
    _, primary = model_of(tmp_path, "r1", extra_global="\toption split_brain 'secondary_steps_down'\n")
    _, reporting = model_of(tmp_path / "b", "r2")
    assert step_down.applies(secondary) and not step_down.applies(primary) and not step_down.applies(reporting)
    assert secondary.node.split_brain_recheck == 60
    hold.write_hold(paths, hold.YIELD)  # a yield after a handover gives way to the policy
    assert step_down.step_down(paths) and hold.read_hold(paths) == hold.OUT
    assert step_down.stepped_down(paths) is not None and hold.describe(paths)["on"] is False
    assert not step_down.step_down(paths)  # already out
    assert step_down.release(paths) and hold.read_hold(paths) == hold.NORMAL and step_down.stepped_down(paths) is None
    # maintenance is the operator's: the policy neither takes it over nor lifts it
    hold.record_maintenance(paths, True, "test")
    assert not step_down.step_down(paths) and not paths.split_brain_hold.exists()
    Path(paths.split_brain_hold).write_text('{"since": 1}\n')  # a stale mark
    assert step_down.stepped_down(paths) is None and not step_down.release(paths)
    assert hold.read_hold(paths) == hold.OUT and hold.maintenance(paths) is not None
    assert infer_reason("master", "fault", ReasonContext(operator="split_brain")) == \
        "split brain: the secondary steps down (ha.global.split_brain)"


def test_a_policy_without_a_peer_is_a_warning(tmp_path: Path):
    configs = pair.configs("r1", extra_global="\toption split_brain 'secondary_steps_down'\n")
    configs["ha"] = configs["ha"].replace("\toption peer '10.255.0.2'\n", "").replace(
        "config conntrack 'conntrack'\n\toption enabled '1'", "config conntrack 'conntrack'\n\toption enabled '0'").replace(
        "\toption managed '1'", "\toption managed '1'\n\toption lease_sync '0'")
    result = validate(Paths(str(tree.make_tree(tmp_path / "r1", configs))))
    assert result.model is not None
    assert any("ha.global.split_brain: has no effect without a peer" in str(w) for w in result.warnings), \
        [str(w) for w in result.warnings]


def test_a_master_asking_makes_the_asked_agent_ask_back(tmp_path: Path):
    import os

    from ha_pair.operate.peer import heard_question

    paths, _ = model_of(tmp_path, "r2")
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    heard_question(paths, b'{"state": "master"}')  # no agent reading: nothing, no error
    os.mkfifo(paths.events_fifo)
    reader = os.open(paths.events_fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        for question in (b"", b'{"state": "backup"}', b"not json", b"[1]", b'{"state": "master"}'):
            heard_question(paths, question)
        assert os.read(reader, 100) == b"peer-master\n"  # only the master's question
    finally:
        os.close(reader)
    out = io.BytesIO()
    assert serve(paths, "state", io.BytesIO(b'{"state": "master"}'), out) == 0 and parse_report(out.getvalue())["node"] == "r2"
    assert serve(paths, "state", io.BytesIO(b"x" * 300), io.BytesIO()) == 1  # over 256 bytes: refused
