"""The agent and the init script in the two-router lab: the data plane without the agent,
status and reasons, crashes and restarts, reload with the least disruption, hotplug hooks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest


from tests.lab import openwrt_dnsmasq, scenarios
from tests.lab.pair_lab import REPO, Lab, LabOptions
from tests.lab.conftest import DAEMONS, start_lab
from tests.lab.test_failover import dhcp_lease
from tests.lab.traffic import Flows


def wait_status(lab: Lab, router: str, predicate, what: str, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = lab.status(router)
        if predicate(status):
            return status
        assert time.monotonic() < deadline, f"{what}: {json.dumps(status)[:2000]}"
        time.sleep(0.1)


def procd_log(lab: Lab, router: str) -> list[tuple[float, str]]:
    lines = (lab.routers[router].log_dir / "procd.log").read_text().splitlines()
    return [(float(line.split(" ", 1)[0]), line.split(" ", 1)[1]) for line in lines]


def test_status_follows_failover_with_reasons(healthy):
    lab = healthy
    wait_status(lab, "r1", lambda s: s.get("state") == "master", "r1 reports master")
    status = lab.status("r2")
    assert status["state"] == "backup"
    assert status["conntrack"]["running"] is True and status["dhcp"]["answering"] is False
    scenarios.power_loss(lab)
    status = wait_status(lab, "r2", lambda s: s.get("state") == "master", "r2 reports master")
    assert "peer stopped advertising" in status["last_transition"]["reason"]
    assert "does not answer on the sync link" in status["last_transition"]["reason"]
    assert status["dhcp"] == {"managed": True, "sections": ["lan"], "answering": True, "consistent": True}
    assert status["instances"]["lan"]["vips_present"] and status["instances"]["wan"]["vips_present"]
    assert status["peer"]["sync_link"] is False
    scenarios.power_return(lab)
    back = wait_status(lab, "r2", lambda s: s.get("state") == "backup", "r2 reports backup after preemption")
    assert back["last_transition"]["reason"].startswith("preemption")
    r1 = wait_status(lab, "r1", lambda s: s.get("state") == "master", "r1 reports master again")
    assert r1["last_transition"]["from"] == "backup"


def test_conntrackd_crash_is_reported_and_procd_restarts_it(healthy):
    lab = healthy
    pid = lab.routers["r1"].instance_pid("conntrackd")
    os.kill(pid, signal.SIGKILL)
    wait_status(lab, "r1", lambda s: s["conntrack"]["running"] is False, "the crash shows in status", timeout=4)
    status = wait_status(lab, "r1", lambda s: s["conntrack"]["running"] is True, "procd restarted conntrackd",
                         timeout=20)
    assert lab.routers["r1"].instance_pid("conntrackd") != pid
    assert status["state"] == "master", "a conntrackd crash does not move the VIPs"


def test_agent_survives_a_keepalived_restart(healthy):
    lab = healthy
    agent = lab.routers["r1"].instance_pid("agent")
    keepalived = lab.routers["r1"].instance_pid("keepalived")
    killed = time.time()
    os.kill(keepalived, signal.SIGKILL)  # procd respawns it after 5 s; meanwhile r2 takes over
    lab.wait_for(lambda: lab.vips("r2") == {"192.168.50.1", "198.51.100.1"}, 15, "r2 takes over")
    lab.wait_for(lambda: lab.master() == "r1", 30, "the respawned keepalived takes the VIPs back")
    status = wait_status(lab, "r1", lambda s: s.get("state") == "master" and s["since"] > killed,
                         "the agent follows the respawned keepalived to master", timeout=30)
    assert status["agent"]["pid"] == agent
    assert lab.routers["r1"].instance_pid("keepalived") != keepalived


@pytest.fixture
def original_configs(healthy):
    """Put every router's /etc/config/ha back (and reload) after a test that edits them."""
    saved = {name: (r.root / "etc/config/ha").read_text() for name, r in healthy.routers.items()}
    yield healthy
    for name, router in healthy.routers.items():
        (router.root / "etc/config/ha").write_text(saved[name])
        router.service("reload")


def test_reload_keeps_vips_and_restarts_conntrackd_only_when_its_file_changed(original_configs):
    lab = original_configs
    r1 = lab.routers["r1"]
    before = {name: r1.instance_pid(name) for name in ("agent", "keepalived", "conntrackd")}
    transitions = len(r1.transitions())
    reloads = r1.procd_state().get("reloads", 0)
    r1.service("reload")
    lab.wait_for(lambda: r1.procd_state().get("reloads") == reloads + 1, 10, "procd reloaded")
    time.sleep(1)
    assert {name: r1.instance_pid(name) for name in before} == before, "same config: nothing restarted"
    # a conntrack change: conntrackd restarts, keepalived only gets SIGHUP and keeps the VIPs
    for router in lab.routers.values():
        ha = router.root / "etc/config/ha"
        ha.write_text(ha.read_text().replace("config conntrack 'conntrack'\n\toption enabled '1'",
                                             "config conntrack 'conntrack'\n\toption enabled '1'\n\toption port '3790'"))
        router.service("reload")
    lab.wait_for(lambda: r1.instance_pid("conntrackd") not in (None, before["conntrackd"]), 10, "conntrackd restarted")
    assert r1.instance_pid("keepalived") == before["keepalived"]
    assert "sent SIGHUP to keepalived" in (r1.log_dir / "procd.log").read_text()
    assert lab.master() == "r1" and len(r1.transitions()) == transitions, \
        f"no VRRP transition on reload: {r1.transitions()}\n" + (r1.log_dir / "keepalived.log").read_text()[-3000:]
    assert "Port 3790" in (r1.root / "var/etc/ha-pair/conntrackd.conf").read_text()
    # an invalid config on reload changes nothing that runs, and the agent reports it
    ha = r1.root / "etc/config/ha"
    ha.write_text(ha.read_text().replace("option vrid '51'", "option vrid '999'"))
    r1.service("reload")
    status = wait_status(lab, "r1", lambda s: s["config"]["valid"] is False, "the agent reports the invalid config")
    assert any("ha.lan.vrid" in e for e in status["config"]["errors"])
    assert r1.instance_pid("keepalived") == before["keepalived"] and lab.master() == "r1"


def test_user_hotplug_hooks_run_on_transitions(healthy):
    lab = healthy
    r2 = lab.routers["r2"]
    hook_dir = r2.root / "etc/hotplug.d/ha"
    hook_dir.mkdir(parents=True, exist_ok=True)
    record = r2.root / "tmp/hook.log"
    (hook_dir / "50-record").write_text(f'echo "$ACTION $TYPE $NAME" >> {record}\n')
    scenarios.power_loss(lab)
    lab.wait_for(lambda: record.exists() and "master GROUP ha" in record.read_text(), 10, "the hook ran")
    (hook_dir / "50-record").unlink()


def test_force_keeps_dhcp_on_the_backup_despite_the_startup_probe(healthy):
    """OpenWrt's dnsmasq init probes for another DHCP server and serves no DHCP without `force`.
    With r1 answering, the probe from r2 finds it; ha-pair's `force` keeps r2's DHCP range."""
    r2 = healthy.routers["r2"]
    assert openwrt_dnsmasq.other_server_on(r2.namespace, "br-lan", tries=3), "the probe sees the master's DHCP"
    assert openwrt_dnsmasq.serves_dhcp(openwrt_dnsmasq.command(r2.root, r2.namespace))


# --- the data plane does not need the agent ------------------------------------------------------

def test_failover_flows_and_dhcp_work_with_the_agents_killed():
    lab = start_lab(LabOptions(profile="fast"))
    try:
        with Flows(lab.topo, n=10, keepalive=(10, 1, 5)) as flows:
            assert flows.wait_all_established(timeout=15)
            killed_at = time.time()
            for router in lab.routers.values():
                os.kill(router.instance_pid("agent"), signal.SIGKILL)
            lab.wait_for(lambda: all(r.procd_state()["instances"]["agent"]["pid"] is None
                                     for r in lab.routers.values()), 5, "both agents dead")
            lab.power_off("r1")
            lab.wait_for(lambda: lab.master() == "r2", 10, "r2 takes over without any agent")
            taken_at, taken = time.time(), time.monotonic()
            flows.wait_resumed(taken, timeout=scenarios.FLOW_RESUME_TIMEOUT)
            assert len(flows.survivors_since(taken)) == 20
        lease = dhcp_lease(lab)
        assert lease.get("serverid") == "192.168.50.3", lease  # the new master answered
        assert lease.get("router") == "192.168.50.1"
        # procd brought r2's agent back only after the takeover had happened without it
        restarts = [t for t, line in procd_log(lab, "r2") if line.startswith("started agent") and t > killed_at]
        assert not restarts or min(restarts) > taken_at
    finally:
        lab.stop()


def test_init_refuses_to_start_with_an_invalid_config(tmp_path: Path):
    from tests.support import pair, tree
    from tests.support.privileges import require_root_and

    require_root_and(*DAEMONS)
    configs = pair.configs("r1")
    configs["ha"] = configs["ha"].replace("option vrid '51'", "option vrid '0'")
    root = tree.make_tree(tmp_path / "r1", configs)
    out = tmp_path / "shim.out"
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": f"{REPO / 'src'}", "HA_PAIR_ROOT": str(root),
           "PROCD_SHIM_OUT": str(out)}
    # in a throwaway network namespace: the init script may call nft, which must not touch the host
    proc = subprocess.run(["unshare", "--net", "sh", str(REPO / "tests/lab/procd/rc.common"),
                           str(root / "etc/init.d/ha-pair"), "start"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0
    assert "ha.lan.vrid: '0' is outside 1-255" in proc.stderr
    declared = out.read_text().splitlines()
    assert "close_service" in declared and not any(line.startswith("open\t") for line in declared), \
        "procd is told to run no instance at all"
    assert not (root / "var/etc/ha-pair/keepalived.conf").exists()
