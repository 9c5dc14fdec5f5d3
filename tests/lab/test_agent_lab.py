"""The agent and the init script in the two-router lab: the data plane without the agent,
status and reasons, crashes and restarts, reload with the least disruption, hotplug hooks."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest


from tests.lab import netns, rootfs, scenarios
from tests.lab.pair_lab import Lab, LabOptions, Router, wait_status
from tests.lab.conftest import require_routers, start_lab
from tests.lab.test_failover import dhcp_lease
from tests.lab.topology import DEFAULT_PREFIX
from tests.lab.traffic import Flows
from tests.support import pair



def test_status_follows_failover_with_reasons(healthy):
    lab = healthy
    wait_status(lab, "r1", lambda s: s.get("state") == "master", "r1 reports master")
    status = lab.status("r2")
    assert status["state"] == "backup"
    assert status["conntrack"]["running"] is True and status["dhcp"]["answering"] is False
    scenarios.power_loss(lab)
    # the notify script lets DHCP through once its MASTER actions are done: a moment after the state
    status = wait_status(lab, "r2", lambda s: s.get("state") == "master" and s["dhcp"]["answering"],
                         "r2 reports master and answers DHCP")
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


def test_the_agent_answers_on_the_routers_own_ubus(healthy):
    """On the router's ubusd (started by procd), next to procd's and netifd's objects."""
    r1 = healthy.routers["r1"]
    objects = r1.ubus("list").split()
    assert {"ha", "service", "network", "network.interface.lan"} <= set(objects), objects
    status = json.loads(r1.ubus("call", "ha", "status"))
    assert status["state"] == "master" and status["agent"]["ubus"] is True


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
    assert lab.routers["r1"].host_pid(status["agent"]["pid"]) == agent, "the same agent (it reports its router's PID)"
    assert lab.routers["r1"].instance_pid("keepalived") != keepalived


@pytest.fixture
def original_configs(healthy):
    """Put every router's /etc/config/ha back (and reload) after a test that edits them."""
    saved = {name: (r.root / "etc/config/ha").read_text() for name, r in healthy.routers.items()}
    yield healthy
    for name, router in healthy.routers.items():
        (router.root / "etc/config/ha").write_text(saved[name])
        router.service("reload")


def keepalived_reloads(router: Router) -> int:
    """How often keepalived has re-read its configuration (it logs this on SIGHUP)."""
    return router.log("Keepalived").count("Reload complete")


def edit_ha(lab: Lab, old: str, new: str) -> None:
    """The same edit of /etc/config/ha on both routers, then `/etc/init.d/ha-pair reload`."""
    for router in lab.routers.values():
        ha = router.root / "etc/config/ha"
        assert old in ha.read_text()
        ha.write_text(ha.read_text().replace(old, new))
        router.service("reload")


def test_reload_keeps_vips_and_restarts_conntrackd_only_when_its_file_changed(original_configs):
    """Under procd an instance is touched on reload only when its declaration changed (its command,
    or a hash of a declared file): then it gets its reload signal, or is restarted without one."""
    lab = original_configs
    r1 = lab.routers["r1"]
    before = {name: r1.instance_pid(name) for name in ("agent", "keepalived", "conntrackd")}
    transitions = len(r1.transitions())
    reloads = keepalived_reloads(r1)
    r1.service("reload")  # procd has applied the new instance list when the init script returns
    time.sleep(1)
    assert {name: r1.instance_pid(name) for name in before} == before, "same config: nothing restarted"
    assert keepalived_reloads(r1) == reloads, "same config: keepalived is left alone"
    # a conntrack change: conntrackd restarts; keepalived.conf is the same, keepalived is left alone
    edit_ha(lab, "config conntrack 'conntrack'\n\toption enabled '1'",
            "config conntrack 'conntrack'\n\toption enabled '1'\n\toption port '3790'")
    lab.wait_for(lambda: r1.instance_pid("conntrackd") not in (None, before["conntrackd"]), 10, "conntrackd restarted")
    assert "Port 3790" in (r1.root / "var/etc/ha-pair/conntrackd.conf").read_text()
    assert r1.instance_pid("keepalived") == before["keepalived"] and keepalived_reloads(r1) == reloads
    # a VRRP change: keepalived gets SIGHUP (it re-reads its file and keeps the VIPs), no restart
    edit_ha(lab, "config global 'global'\n", "config global 'global'\n\toption preempt_delay '3'\n")
    lab.wait_for(lambda: keepalived_reloads(r1) > reloads, 10, "keepalived reloaded on procd's SIGHUP")
    assert "preempt_delay 3" in (r1.root / "var/etc/ha-pair/keepalived.conf").read_text()
    assert r1.instance_pid("keepalived") == before["keepalived"]
    assert lab.master() == "r1" and len(r1.transitions()) == transitions, \
        f"no VRRP transition on reload: {r1.transitions()}"
    # ... and the agent adopted the new configuration (procd sent it SIGHUP as well)
    wait_status(lab, "r1", lambda s: s["config"]["pending_changes"] is False, "the agent runs with the new configuration")
    assert r1.instance_pid("agent") == before["agent"]
    # an invalid config on reload changes nothing that runs, and the agent reports it
    ha = r1.root / "etc/config/ha"
    ha.write_text(ha.read_text().replace("option vrid '51'", "option vrid '999'"))
    r1.service("reload")
    status = wait_status(lab, "r1", lambda s: s["config"]["valid"] is False, "the agent reports the invalid config")
    assert any("ha.lan.vrid" in e for e in status["config"]["errors"])
    assert r1.instance_pid("keepalived") == before["keepalived"] and lab.master() == "r1"
    assert "ha.lan.vrid: '999' is outside 1-255" in r1.log("ha-pair"), "the refusal is in the log (logread)"


def test_uci_commit_and_reload_config_reach_the_service_through_procds_trigger(original_configs):
    """What LuCI's apply does: `uci commit ha` then `reload_config`; procd's config trigger runs
    /etc/init.d/ha-pair reload (the preempt delay ends up in keepalived.conf without a restart)."""
    lab = original_configs
    r1 = lab.routers["r1"]
    keepalived, reloads = r1.instance_pid("keepalived"), keepalived_reloads(r1)
    r1.sh("uci set ha.global.preempt_delay=7 && uci commit ha && reload_config")
    generated = r1.root / "var/etc/ha-pair/keepalived.conf"
    lab.wait_for(lambda: "preempt_delay 7" in generated.read_text(), 15, "procd's trigger re-rendered the config")
    lab.wait_for(lambda: keepalived_reloads(r1) > reloads, 10, "keepalived re-read it")
    assert r1.instance_pid("keepalived") == keepalived and lab.master() == "r1"


def test_the_pair_starts_at_boot_before_netifd_has_configured_the_interfaces(healthy):
    """At boot ha-pair (START=18) starts before netifd (20) has created br-lan and addressed the
    sync link: keepalived and conntrackd must wait for them, not exit (procd would try again only
    after its 5 s respawn delay, and a preempting master would meanwhile have no state sync)."""
    lab = healthy
    r1 = lab.routers["r1"]
    lab.power_off("r1")
    lab.power_on("r1")
    first = {name: r1.instance_pid(name) for name in ("keepalived", "conntrackd")}
    lab.wait_for(lambda: lab.master() == "r1", 20, "r1 preempts after its reboot")
    log = r1.log()
    assert "permanent error" not in log, log[-3000:]
    assert "conntrackd cannot start" not in log, log[-3000:]
    assert {name: r1.instance_pid(name) for name in first} == first, "the daemons started at boot are the ones running"


def test_logread_has_each_message_once_at_its_own_priority(healthy):
    """procd turns a service's stderr into log lines of priority err: what also goes to syslog
    must not be written to stderr a second time."""
    log = healthy.routers["r1"].log().splitlines()
    started = [line for line in log if "agent started (pid" in line]
    pids = [line.split("agent started (pid ")[1].split(")")[0] for line in started]
    assert started and len(pids) == len(set(pids)), started
    assert all(" daemon.info ha-pair[" in line for line in started), started
    master = [line for line in log if "Entering MASTER STATE" in line]
    assert master and all(" daemon.info Keepalived" in line for line in master), master
    synced = [line for line in log if "initialization completed" in line]
    assert synced and all(" conntrack-tools[" in line for line in synced), synced


def test_the_init_script_reloads_dnsmasq_under_dnsmasqs_own_lock(healthy):
    """Every procd init script holds its service's lock (/var/lock/procd_NAME.lock, fd 1000) while
    it runs, so that two actions of one service never interleave. ha-pair's init updates dnsmasq (`start`)
    when it changed /etc/config/dhcp: that update must wait for a dnsmasq action in progress (e.g.
    one of procd's interface triggers), or the one that read the older /etc/config/dhcp may write
    dnsmasq's configuration last and the VIP options are lost. And render must not rewrite
    /etc/config/dhcp under that action either: a trigger's `reload` that reads the new file has
    procd restart dnsmasq and then sends SIGHUP to the new process (exit 129, seen in the package
    test)."""
    r2 = healthy.routers["r2"]
    generated = r2.root / "var/etc/dnsmasq.conf.cfg01411c"
    dhcp = r2.root / "etc/config/dhcp"
    r2.sh("uci del_list dhcp.lan.dhcp_option='3,192.168.50.1' && uci commit dhcp")  # a user's edit
    edited = dhcp.read_text()
    holder = r2.spawn(["sh", "-c", "exec 1000>/var/lock/procd_dnsmasq.lock; flock 1000; sleep 3"])
    seen_while_held = []
    try:
        time.sleep(0.5)
        watcher = threading.Thread(target=lambda: (time.sleep(1.5), seen_while_held.append(dhcp.read_text())))
        watcher.start()
        started = time.monotonic()
        r2.service("reload")  # renders the option back into /etc/config/dhcp and updates dnsmasq
        waited = time.monotonic() - started
        watcher.join()
    finally:
        holder.wait(10)
    assert seen_while_held == [edited], "render rewrote /etc/config/dhcp while a dnsmasq action held its lock"
    assert "list dhcp_option '3,192.168.50.1'" in (r2.root / "etc/config/dhcp").read_text()
    assert waited > 2, f"dnsmasq was updated after {waited:.1f} s, while another dnsmasq action held its lock"
    assert "dhcp-option=lan,3,192.168.50.1" in generated.read_text()


def test_user_hotplug_hooks_run_on_transitions(healthy):
    lab = healthy
    r2 = lab.routers["r2"]
    hook_dir = r2.root / "etc/hotplug.d/ha"
    hook_dir.mkdir(parents=True, exist_ok=True)
    record = r2.root / "tmp/hook.log"
    (hook_dir / "50-record").write_text('echo "$ACTION $TYPE $NAME" >> /tmp/hook.log\n')
    scenarios.power_loss(lab)
    lab.wait_for(lambda: record.exists() and "master GROUP ha" in record.read_text(), 10, "the hook ran")
    (hook_dir / "50-record").unlink()


def dhcp_probe(router: Router) -> bool:
    """The probe OpenWrt's dnsmasq init runs before serving DHCP on an interface without `force`."""
    return router.exec("udhcpc", "-n", "-q", "-s", "/bin/true", "-t", "3", "-i", "br-lan", check=False).returncode == 0


def test_force_keeps_dhcp_on_the_backup_despite_the_startup_probe(healthy):
    """OpenWrt's dnsmasq init probes for another DHCP server and serves no DHCP without `force`.
    With r1 answering, the probe from r2 finds it; ha-pair's `force` keeps r2's DHCP range."""
    r2 = healthy.routers["r2"]
    assert dhcp_probe(r2), "the probe sees the master's DHCP"
    r2.init("dnsmasq", "restart")
    assert "dhcp-range=set:lan," in r2.dnsmasq_conf(), "force: the range is there although the probe finds r1"
    # without force the same init refuses, which is what force is there for
    r2.sh("uci delete dhcp.lan.force && uci commit dhcp && /etc/init.d/dnsmasq restart")
    try:
        assert "dhcp-range=set:lan," not in r2.dnsmasq_conf()
        assert "refusing to start" in r2.log("dnsmasq")
    finally:
        r2.sh("uci set dhcp.lan.force=1 && uci commit dhcp && rm -f /var/run/dnsmasq/*.dhcp; "
              "/etc/init.d/dnsmasq restart")
    assert "dhcp-range=set:lan," in r2.dnsmasq_conf()


# --- the data plane does not need the agent ------------------------------------------------------

def test_failover_flows_and_dhcp_work_with_the_agents_killed():
    lab = start_lab(LabOptions(profile="fast"))
    try:
        with Flows(lab.topo, n=10, keepalive=(10, 1, 5)) as flows:
            assert flows.wait_all_established(timeout=15)
            for router in lab.routers.values():
                os.kill(router.instance_pid("agent"), signal.SIGKILL)
            lab.wait_for(lambda: all(r.procd_state()["instances"]["agent"]["pid"] is None
                                     for r in lab.routers.values()), 5, "both agents dead")
            lab.power_off("r1")
            lab.wait_for(lambda: lab.master() == "r2", 10, "r2 takes over without any agent")
            taken_at, taken = time.time(), time.monotonic()
            agent_back = lab.routers["r2"].instance_pid("agent")
            flows.wait_resumed(taken, timeout=scenarios.FLOW_RESUME_TIMEOUT)
            assert len(flows.survivors_since(taken)) == 20
        lease = dhcp_lease(lab)
        assert lease.get("serverid") == "192.168.50.3", lease  # the new master answered
        assert lease.get("router") == "192.168.50.1"
        # procd respawned r2's agent (after its 5 s respawn delay), not before the takeover
        assert agent_back is None, "the takeover happened while the agent was dead"
        status = wait_status(lab, "r2", lambda s: s.get("state") == "master" and "started" in s.get("agent", {}),
                             "the respawned agent reports master", timeout=20)
        assert status["agent"]["started"] > taken_at - 1
    finally:
        lab.stop()


@pytest.fixture
def solo_router(tmp_path: Path):
    """One router alone (no topology), booted from the flash a test prepares."""
    require_routers()
    namespace = f"{DEFAULT_PREFIX}solo"
    netns.cleanup_prefix(namespace)
    netns.add_ns(namespace)
    router = Router("r1", namespace, tmp_path / "r1", rootfs.rom(), LabOptions())
    try:
        yield router
    finally:
        router.power_off()
        netns.cleanup_prefix(namespace)


def test_init_refuses_to_start_with_an_invalid_config_at_boot(solo_router: Router):
    """/etc/init.d/ha-pair at boot, under procd, with an invalid /etc/config/ha: nothing runs, the
    errors are in the log, nothing is generated."""
    router = solo_router
    router.factory_setup()
    rootfs.enable(router.flash, "ha-pair")  # installed and enabled: it runs at boot
    ha = pair.ha("r1").replace("option vrid '51'", "option vrid '0'")
    router.write_flash("etc/config/ha", ha, 0o600)
    router.power_on()
    service = router.services().get("ha-pair")
    assert service is not None, "procd knows the service (its init script ran)"
    assert not service.get("instances"), f"procd runs no instance at all: {service}"
    assert "ha.lan.vrid: '0' is outside 1-255" in router.log("ha-pair")
    assert not (router.root / "var/etc/ha-pair/keepalived.conf").exists()
