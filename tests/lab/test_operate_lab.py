"""Operating the pair in the two-router lab: planned handover without a lost packet, maintenance
mode that survives the agent and a reboot, both nodes in maintenance only with --force, the peer
view, and the ubus methods with their argument policy."""

from __future__ import annotations

import json
import os
import re
import signal
import time

import pytest

from tests.lab import scenarios
from tests.lab.conftest import start_lab
from tests.lab.pair_lab import Lab, LabOptions, wait_status
from tests.lab.traffic import Pinger

PING_INTERVAL = 0.01  # 100 pings a second through the VIPs


@pytest.fixture(scope="module")
def fast_lab():
    lab = start_lab(LabOptions(profile="fast", dhcp=False))
    yield lab
    lab.stop()


def _release(lab: Lab) -> None:
    """No maintenance and no hold on either router (whatever a failed test left)."""
    for name, router in lab.routers.items():
        if not router.running:
            lab.power_on(name)
        router.run_ha_pair("maintenance", "off", check=False)
        router.sh("echo 0 > /var/run/ha-pair/operator-hold", check=False)


@pytest.fixture
def pair_up(fast_lab):
    _release(fast_lab)
    scenarios.restore(fast_lab)
    wait_status(fast_lab, "r1", lambda s: (s.get("peer_view") or {}).get("ready") is True,
                "r1 hears from r2, ready to take over", timeout=20)
    yield fast_lab
    _release(fast_lab)
    scenarios.restore(fast_lab)



def test_handover_moves_the_vips_without_losing_a_ping_and_the_old_master_yields(pair_up):
    lab = pair_up
    with Pinger(lab.topo.client_ns, lab.topo.inet_addr, interval=PING_INTERVAL) as ping:
        assert ping.wait_flowing(timeout=15)
        ping.mark()
        out = lab.run_ha_pair("r1", "--json", "handover")
        lab.wait_for(lambda: lab.master() == "r2", 5, "r2 holds the VIPs after the handover")
        assert ping.wait_flowing(timeout=15, min_replies=50, since=time.monotonic())
        result = ping.stop()
    answer = json.loads(out.stdout)
    assert answer["ok"] is True and answer["peer"] == "r2"
    assert result.lost == 0, f"{result.lost} of {result.sent} pings lost, longest gap {result.longest_gap_ms:.0f} ms"
    # r1 (priority 150, preempt on) does not take the VIPs back: it yields at priority 1
    time.sleep(2)
    assert lab.master() == "r2"
    r1 = wait_status(lab, "r1", lambda s: s["state"] == "backup", "r1 is backup after the handover")
    assert r1["maintenance"]["hold"] == "yield" and r1["maintenance"]["on"] is False
    assert r1["node"]["effective_priority"] == 1  # keepalived's: priority 150 with the yield hold (-253)
    reasons = [t["reason"] for t in json.loads(lab.run_ha_pair("r1", "--json", "history").stdout)["history"][-2:]]
    assert reasons == ["operator: handover to the peer", "operator: handover done, yielding to the peer"], reasons
    # handing back: r2 hands over to the yielding r1, whose notify script then ends its yield
    lab.run_ha_pair("r2", "handover")
    lab.wait_for(lambda: lab.master() == "r1", 5, "r1 holds the VIPs again")
    wait_status(lab, "r1", lambda s: s["maintenance"]["hold"] == "none", "r1's yield ended on MASTER")
    wait_status(lab, "r2", lambda s: s["maintenance"]["hold"] == "yield", "r2 yields")


def test_handover_is_refused_with_the_reason_when_the_peer_cannot_take_over(pair_up):
    lab = pair_up
    lab.run_ha_pair("r2", "maintenance", "on")  # r2 is backup: nothing moves
    refused = lab.run_ha_pair("r1", "handover", check=False)
    assert refused.returncode == 1
    assert "refused: the peer is not ready to take over: it is in maintenance mode" in refused.stderr
    assert lab.master() == "r1"
    lab.run_ha_pair("r2", "maintenance", "off")
    wait_status(lab, "r2", lambda s: s.get("state") == "backup", "r2 backup again after maintenance")
    # and on the backup itself: nothing to hand over
    refused = lab.run_ha_pair("r2", "handover", check=False)
    assert refused.returncode == 1 and "this node is backup, not master" in refused.stderr
    # a peer that cannot be asked at all (sync link down) is refused too
    lab.sync_link(False)
    try:
        refused = lab.run_ha_pair("r1", "handover", check=False)
        assert refused.returncode == 1 and "the peer cannot be asked" in refused.stderr
        assert lab.master() == "r1"
    finally:
        lab.sync_link(True)


def test_maintenance_survives_an_agent_restart_and_a_reboot(pair_up):
    lab = pair_up
    r1 = lab.routers["r1"]
    lab.run_ha_pair("r1", "maintenance", "on")
    lab.wait_for(lambda: lab.master() == "r2", 5, "r2 takes over when r1 enters maintenance")
    status = wait_status(lab, "r1", lambda s: s["state"] == "fault", "r1 out of mastership")
    assert status["maintenance"]["on"] is True and status["maintenance"]["hold"] == "out"
    assert status["health"]["summary"].startswith("degraded: MAINTENANCE: this node is held out of mastership")
    assert status["last_transition"]["reason"] == "operator: maintenance mode"
    assert "maintenance mode ON" in r1.log("ha-pair")
    # r2's peer view shows it
    wait_status(lab, "r2", lambda s: s["peer_view"]["maintenance"] is True and s["peer_view"]["state"] == "fault",
                "r2 sees r1 in maintenance")

    agent = r1.instance_pid("agent")
    os.kill(agent, signal.SIGKILL)
    lab.wait_for(lambda: r1.instance_pid("agent") not in (None, agent), 20, "procd respawns the agent")
    status = wait_status(lab, "r1", lambda s: s.get("agent", {}).get("pid") is not None, "the new agent answers")
    assert status["maintenance"]["on"] is True and lab.master() == "r2"

    lab.power_off("r1")
    time.sleep(scenarios.MIN_OFF_S)
    lab.power_on("r1")
    r1.wait_network()
    status = wait_status(lab, "r1", lambda s: s.get("state") in ("fault", "backup", "master"), "r1 runs again",
                         timeout=30)
    time.sleep(3)  # 30 advert intervals: a node that were not held would have preempted long since
    assert lab.master() == "r2"
    status = lab.status("r1")
    assert status["state"] == "fault" and status["maintenance"]["on"] is True, status
    assert "MAINTENANCE mode" in r1.log("ha-pair")

    lab.run_ha_pair("r1", "maintenance", "off")
    lab.wait_for(lambda: lab.master() == "r1", 10, "r1 (priority 150, preempt) takes the VIPs back")
    assert lab.status("r1")["maintenance"] == {"on": False, "since": None, "by": None, "hold": "none"}


def test_both_nodes_in_maintenance_only_with_force(pair_up):
    lab = pair_up
    lab.run_ha_pair("r2", "maintenance", "on")
    wait_status(lab, "r1", lambda s: s["peer_view"]["maintenance"] is True, "r1 sees r2 in maintenance")
    refused = lab.run_ha_pair("r1", "maintenance", "on", check=False)
    assert refused.returncode == 1
    assert "the peer is in maintenance mode too: no node would hold the VIPs; --force" in refused.stderr
    assert lab.status("r1")["maintenance"]["on"] is False and lab.master() == "r1"
    forced = json.loads(lab.run_ha_pair("r1", "--json", "maintenance", "on", "--force").stdout)
    assert forced["ok"] is True and forced["forced"] is True
    lab.wait_for(lambda: not lab.vips("r1") and not lab.vips("r2"), 5, "no node holds the VIPs")
    lab.run_ha_pair("r2", "maintenance", "off")
    lab.wait_for(lambda: lab.master() == "r2", 5, "r2 takes over once it leaves maintenance")


def test_ubus_methods_publish_their_policy_and_check_their_arguments(pair_up):
    r1 = pair_up.routers["r1"]
    listing = r1.ubus("-v", "list", "ha")
    assert '"maintenance":{"state":"String","force":"Boolean"}' in listing, listing
    assert '"handover":{}' in listing, listing
    assert '"config_sync":{"dry_run":"Boolean"}' in listing and '"lease_sync":{}' in listing, listing
    bad = json.loads(r1.ubus("call", "ha", "maintenance", '{"state": "sideways"}'))
    assert bad == {"ok": False, "error": 'argument state must be "on" or "off"'}
    # through ubus as through the command line, with the peer's reason
    r2 = pair_up.routers["r2"]
    assert json.loads(r2.ubus("call", "ha", "maintenance", '{"state": "on"}'))["ok"] is True
    refused = json.loads(r1.ubus("call", "ha", "handover"))
    assert refused["ok"] is False and "it is in maintenance mode" in refused["error"]
    assert json.loads(r2.ubus("call", "ha", "maintenance", '{"state": "off"}'))["changed"] is True


def test_the_peer_view_shows_the_other_node(pair_up):
    lab = pair_up
    status = wait_status(lab, "r1", lambda s: s["peer_view"]["state"] == "backup", "r1 sees r2 as backup")
    view = status["peer_view"]
    assert view["node"] == "r2" and view["reachable"] is True and view["effective_priority"] == 100
    assert view["config_match"] is True and view["config_digest"] == status["config"]["shared_digest"]
    assert status["config"]["digest"] != lab.status("r2")["config"]["digest"]  # per-node values differ
    assert view["age_s"] is not None and view["age_s"] < 15 and view["version"] == status["agent"]["version"]
    wait_status(lab, "r2", lambda s: s["peer_view"]["state"] == "master", "r2 sees r1 as master")
    # and `ha-pair status` shows both side by side
    text = lab.run_ha_pair("r1", "status").stdout
    assert re.search(r"^\s+this node \(r1\)\s+peer \(r2\)$", text, re.M), text
    assert re.search(r"^  state\s+MASTER\s+BACKUP$", text, re.M), text
    assert re.search(r"^  priority\s+150\s+100$", text, re.M), text
    assert re.search(r"^  config\s+(\w{12})\s+\1 \(matches\)$", text, re.M), text
    assert re.search(r"^  last heard\s+[\d.]+ s ago$", text, re.M), text


SPLIT_BRAIN_HOOK = 'case "$ACTION" in split_brain*) echo "$ACTION|$PEER|$CAUSE" >> /tmp/split-brain.log ;; esac\n'


def test_split_brain_is_detected_shown_logged_announced_and_clears(pair_up):
    """The LAN and WAN switches drop VRRP while the sync cable works: both routers take the VIPs.
    Each must say so in status with the cause, log it once, run the hooks with ACTION=split_brain,
    and clear it (ACTION=split_brain_end) once VRRP passes again."""
    lab = pair_up
    for router in lab.routers.values():
        (router.root / "etc/hotplug.d/ha").mkdir(parents=True, exist_ok=True)
        (router.root / "etc/hotplug.d/ha/90-lab-split-brain").write_text(SPLIT_BRAIN_HOOK)
        (router.root / "tmp/split-brain.log").unlink(missing_ok=True)
    try:
        took = scenarios.split_brain(lab, timeout=15)
        for name, peer in (("r1", "r2"), ("r2", "r1")):
            status = lab.status(name)
            split = status["split_brain"]
            assert status["state"] == "master" and split["episodes"] == 1, split
            assert split["cause"] == ("both nodes are master while the sync link works: VRRP adverts between "
                                      "them are lost (filtered or blocked on the LAN/WAN side?)"), split
            assert status["health"]["summary"].startswith("degraded: SPLIT BRAIN: both nodes are master"), status["health"]
            record = lab.routers[name].root / "tmp/split-brain.log"
            lab.wait_for(lambda: record.exists() and record.read_text().startswith(f"split_brain|{peer}|both nodes"),
                         5, f"{name}'s hook ran with ACTION=split_brain")
            assert lab.routers[name].log("SPLIT BRAIN").count("SPLIT BRAIN") == 1
        time.sleep(3)  # still split: announced once per episode
        assert all(len((r.root / "tmp/split-brain.log").read_text().splitlines()) == 1 for r in lab.routers.values())
    finally:
        lab.vrrp_blocked(False)
    lab.wait_for(lambda: lab.master() == "r1", 10, "r2 hears r1 again and steps back")
    for name in lab.routers:
        status = wait_status(lab, name, lambda s: not s["split_brain"]["active"], f"{name}: the split brain clears")
        assert status["split_brain"]["episodes"] == 1 and status["split_brain"]["last_end"] is not None
        record = lab.routers[name].root / "tmp/split-brain.log"
        lab.wait_for(lambda: record.read_text().splitlines()[-1:] == [f"split_brain_end|{'r2' if name == 'r1' else 'r1'}|"],
                     5, f"{name}'s hook ran with ACTION=split_brain_end")
        assert "split brain over after" in lab.routers[name].log("split brain over")
        (lab.routers[name].root / "etc/hotplug.d/ha/90-lab-split-brain").unlink()
    print(f"split brain confirmed {took['r1']:.2f} s (r1), {took['r2']:.2f} s (r2) after r2 became master "
          "(agents' clocks)")


def _split_brain_policy(lab: Lab, policy: str | None, recheck: int = 5) -> None:
    """ha.global.split_brain on both routers (shared: the digests stay equal), reloaded."""
    for router in lab.routers.values():
        if policy is None:
            router.sh("uci -q delete ha.global.split_brain; uci -q delete ha.global.split_brain_recheck; "
                      "uci commit ha", check=False)
        else:
            router.sh(f"uci set ha.global.split_brain={policy} && uci set ha.global.split_brain_recheck={recheck} && "
                      "uci commit ha")
        router.service("reload")
    for name in lab.routers:
        wait_status(lab, name, lambda s: s["split_brain"]["policy"] == (policy or "report"), f"{name} reloaded")


def test_split_brain_policy_lets_the_secondary_step_down_and_try_again(pair_up):
    """With split_brain secondary_steps_down the secondary leaves mastership (FAULT) once the split
    brain is confirmed, so one router holds the VIPs although VRRP is still blocked; it tries again
    every split_brain_recheck seconds (stepping down again while the split is there) and stays a
    backup once VRRP passes; and it comes back at once when the primary stops being master."""
    lab = pair_up
    _split_brain_policy(lab, "secondary_steps_down")
    try:
        lab.vrrp_blocked(True)
        r2 = wait_status(lab, "r2", lambda s: s["split_brain"]["stepped_down"] is not None, "r2 steps down",
                         timeout=20)
        lab.wait_for(lambda: lab.master() == "r1", 5, "r1 alone holds the VIPs while VRRP is still blocked")
        r2 = wait_status(lab, "r2", lambda s: s["state"] == "fault", "r2 in FAULT")
        assert r2["last_transition"]["reason"] == "split brain: the secondary steps down (ha.global.split_brain)"
        assert "this secondary stepped down for a split brain" in r2["health"]["summary"]
        assert r2["maintenance"]["on"] is False and r2["maintenance"]["hold"] == "out"
        assert lab.status("r1")["split_brain"]["stepped_down"] is None  # the primary never steps down
        # after 5 s it tries again, finds the split brain still there and steps down again
        lab.wait_for(lambda: bool(lab.vips("r2")), 15, "r2 tries mastership again", interval=0.02)
        retried = time.monotonic()
        lab.wait_for(lambda: not lab.vips("r2"), 10, "r2 steps down again", interval=0.02)
        print(f"a recheck into a split brain still there: r2 held the VIPs {time.monotonic() - retried:.1f} s")
        wait_status(lab, "r2", lambda s: s["split_brain"]["episodes"] >= 2 and s["split_brain"]["stepped_down"],
                    "r2 tried again and stepped down again", timeout=10)
        lab.vrrp_blocked(False)
        wait_status(lab, "r2", lambda s: s["state"] == "backup" and s["split_brain"]["stepped_down"] is None,
                    "r2 tries again and stays backup: VRRP passes", timeout=20)
        time.sleep(2)
        assert lab.master() == "r1" and lab.status("r2")["state"] == "backup"
        assert "trying mastership again" in lab.routers["r2"].log("split brain policy")

        # stepped down, the primary stops: the secondary does not wait for its recheck (now 60 s)
        _split_brain_policy(lab, "secondary_steps_down", recheck=60)
        lab.vrrp_blocked(True)
        wait_status(lab, "r2", lambda s: s["split_brain"]["stepped_down"] is not None, "r2 steps down", timeout=20)
        lab.vrrp_blocked(False)
        lab.routers["r1"].service("stop")
        stopped = time.monotonic()
        lab.wait_for(lambda: lab.master() == "r2", 10, "r2 takes over from the stopped r1 before its recheck")
        print(f"stepped-down r2 took over {time.monotonic() - stopped:.1f} s after r1's service stop returned")
        said = lab.routers["r2"].log("split brain policy")
        assert "the peer reports state stop" in said or "the peer cannot be asked" in said, said
    finally:
        lab.vrrp_blocked(False)
        lab.routers["r1"].service("start")
        _split_brain_policy(lab, None)


def test_a_vrrp_mismatch_is_named_on_both_nodes(pair_up):
    """r2 gets another VRID for the LAN group: each node's status names the difference (the peer's
    adverts for that group are no longer its own: both would be master of it)."""
    lab = pair_up
    r2 = lab.routers["r2"]
    r2.sh("uci set ha.lan.vrid=61 && uci commit ha")
    try:
        r2.service("reload")
        r1_status = wait_status(lab, "r1", lambda s: s["peer_view"]["vrrp_mismatch"],
                                "r1 names the difference", timeout=20)
        assert r1_status["peer_view"]["vrrp_mismatch"] == ["lan: vrid 51 here, 61 on the peer"]
        assert "VRRP settings differ from the peer's: lan: vrid 51 here, 61 on the peer" in r1_status["health"]["problems"]
        assert r1_status["peer_view"]["config_match"] is False
        r2_status = wait_status(lab, "r2", lambda s: s["peer_view"]["vrrp_mismatch"], "r2 names it", timeout=20)
        assert r2_status["peer_view"]["vrrp_mismatch"] == ["lan: vrid 61 here, 51 on the peer"]
    finally:
        r2.sh("uci set ha.lan.vrid=51 && uci commit ha")
        r2.service("reload")
    wait_status(lab, "r1", lambda s: s["peer_view"]["vrrp_mismatch"] == [] and s["peer_view"]["config_match"],
                "the difference is gone", timeout=20)


def test_config_sync_shows_the_diff_refuses_what_the_peer_rejects_and_keeps_per_node_values(pair_up):
    lab = pair_up
    r1, r2 = lab.routers["r1"], lab.routers["r2"]
    original = {name: (router.root / "etc/config/ha").read_text() for name, router in lab.routers.items()}
    r2_before = original["r2"]
    try:
        r1.sh("uci set ha.global.preempt_delay=2 && uci commit ha")
        dry = lab.run_ha_pair("r1", "config-sync", "--dry-run")
        assert "+\toption preempt_delay '2'" in dry.stdout and "(dry run: nothing sent)" in dry.stdout, dry.stdout
        assert "role" not in dry.stdout and "peer" not in dry.stdout.replace("peer: /etc/config/ha", "")
        assert (r2.root / "etc/config/ha").read_text() == r2_before

        # valid on r1 (it has the script), not on r2: refused there, nothing changed, said on both ends
        r1.sh("printf '#!/bin/sh\\nexit 0\\n' > /usr/libexec/lab-check && chmod +x /usr/libexec/lab-check && "
              "uci set ha.custom=check && uci set ha.custom.type=script && "
              "uci set ha.custom.script=/usr/libexec/lab-check && uci commit ha")
        refused = lab.run_ha_pair("r1", "config-sync", check=False)
        assert refused.returncode == 1, refused
        assert "the peer refused it, nothing changed there: it would not validate here: ha.custom.script" in \
            refused.stderr, refused.stderr
        assert (r2.root / "etc/config/ha").read_text() == r2_before
        assert "config sync from the peer refused: it would not validate here" in r2.log("config sync")

        r1.sh("uci delete ha.custom && uci commit ha")
        sent = lab.run_ha_pair("r1", "config-sync")
        assert "sent: the peer took it and reloads" in sent.stdout, sent.stdout
        after = lab.run_ha_pair("r2", "show").stdout  # what r2 renders from its new file
        assert "preempt_delay 2" in after, after
        r2_file = (r2.root / "etc/config/ha").read_text()
        assert "option role 'secondary'" in r2_file and "option peer '10.255.0.1'" in r2_file, r2_file
        r1.service("reload")
        for name in ("r1", "r2"):
            wait_status(lab, name, lambda s: s["config"]["peer_match"] is True and not s["config"]["pending_changes"],
                        f"{name}: the shared configurations match again", timeout=20)
        assert lab.status("r2")["node"]["priority"] == 100  # r2's own (the role's) priority, untouched
        # the same through luci-app-ha's rpcd plugin (what the Status page's button calls; luci.ha
        # execs `ha-pair rpcd-luci`, and the lab routers have no LuCI)
        r1.sh("uci set ha.global.preempt_delay=1 && uci commit ha")
        plugin = ("/usr/sbin/ha-pair", "rpcd-luci", "call", "config_sync")
        dry = json.loads(r1.exec(*plugin, input='{"dry_run": true}').stdout)
        assert dry["ok"] is True and dry["sent"] is False and "+\toption preempt_delay '1'" in dry["diff"], dry
        # and through the agent's own ubus object, with the same answer
        assert json.loads(r1.ubus("call", "ha", "config_sync", '{"dry_run": true}')) == dry
        sent = json.loads(r1.exec(*plugin, input='{"dry_run": false}').stdout)
        assert sent["ok"] is True and sent["sent"] is True, sent
        assert "option preempt_delay '1'" in (r2.root / "etc/config/ha").read_text()
    finally:
        r1.sh("rm -f /usr/libexec/lab-check", check=False)
        for name, router in lab.routers.items():
            (router.root / "etc/config/ha").write_text(original[name])
            router.service("reload")


def test_config_sync_push_sends_a_changed_configuration_when_the_primary_reloads(pair_up):
    lab = pair_up
    r1, r2 = lab.routers["r1"], lab.routers["r2"]
    original = {name: (router.root / "etc/config/ha").read_text() for name, router in lab.routers.items()}
    try:
        for router in (r1, r2):  # a shared option: both files carry it
            router.sh("uci set ha.global.config_sync=push && uci commit ha")
            router.service("reload")
        r1.sh("uci set ha.global.preempt_delay=4 && uci commit ha")
        r1.service("reload")  # as LuCI's Save & Apply or reload_config does through procd
        lab.wait_for(lambda: "option preempt_delay '4'" in (r2.root / "etc/config/ha").read_text(), 20,
                     "r2's file has the primary's change")
        r2_file = (r2.root / "etc/config/ha").read_text()
        assert "option role 'secondary'" in r2_file and "option peer '10.255.0.1'" in r2_file
        lab.wait_for(lambda: "sent to 10.255.0.2 and taken" in r1.log("config sync"), 20,
                     "r1 logs the push once r2 took it (r2 reloads before it answers)")
        wait_status(lab, "r2", lambda s: s["config"]["peer_match"] is True and not s["config"]["pending_changes"],
                    "r2 reloaded with it", timeout=20)
        # the secondary never pushes: a change there stays there
        r2.sh("uci set ha.global.preempt_delay=5 && uci commit ha")
        r2.service("reload")
        time.sleep(3)
        assert "option preempt_delay '4'" in (r1.root / "etc/config/ha").read_text()
    finally:
        for name, router in lab.routers.items():
            (router.root / "etc/config/ha").write_text(original[name])
            router.service("reload")


def test_fast_profile_runs_vrrp_in_real_time_with_memory_locked(pair_up):
    """ha.global.realtime (on with profile fast): keepalived applies vrrp_rt_priority and
    vrrp_no_swap to its VRRP process, so load on the router does not delay its adverts."""
    for router in ("r1", "r2"):
        # an earlier test may have just restarted the service: its VRRP child forks and sets its
        # scheduling within moments
        pair_up.wait_for(lambda: pair_up.routers[router].vrrp_pid() is not None, 15,
                         f"keepalived's VRRP process runs on {router}")
        pid = pair_up.routers[router].vrrp_pid()
        # keepalived sets SCHED_RESET_ON_FORK with it: the scripts it forks run ordinarily
        pair_up.wait_for(lambda: os.sched_getscheduler(pid) == os.SCHED_RR | os.SCHED_RESET_ON_FORK, 5,
                         f"keepalived's VRRP process on {router} in SCHED_RR")
        assert os.sched_getparam(pid).sched_priority == 10, router
        locked = re.search(r"VmLck:\s+(\d+) kB", open(f"/proc/{pid}/status").read())
        assert locked and int(locked.group(1)) > 0, router
