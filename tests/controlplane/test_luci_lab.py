"""The control plane on the two-router lab with real VRRP: OpenWrt's rpcd and uhttpd installed on
both routers as packages (tests/controlplane/packages.py) and started by procd from their init
scripts, beside procd's own ubusd; the agents register `ha` on their router's ubusd.

- the three run as procd services, with the command lines /etc/config gives them, respawned and
  reloaded by procd (uhttpd on a change of /etc/config/uhttpd, rpcd keeping its sessions);
- `ubus call ha status` on r1 and r2 through a failover and back, the `ha.transition` events
  seen by `ubus listen`, rpcd sessions on both routers;
- the LuCI pages in Chromium on the LAN client: master, backup, fault and degraded; the Overview
  include; Settings -> Save & Apply -> rpcd applies (rollback + confirm) and tells procd, whose
  reload trigger reloads ha-pair -> the Status page shows the new priority and the backup state
  it caused.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests import vendor
from tests.controlplane import http, packages, stack
from tests.controlplane.browser import Browser, screenshot
from tests.lab import scenarios
from tests.lab.conftest import start_lab
from tests.lab.pair_lab import Lab, LabOptions
from tests.support import pair

STATUS = "admin/services/ha/status"
BASE = {name: f"http://{router['lan']}" for name, router in pair.ROUTERS.items()}  # from a LAN client
CONTROL_PLANE = ("ubus", "rpcd", "uhttpd")  # procd's services


@pytest.fixture(scope="module")
def lab():
    vendor.require(*packages.COMPONENTS)
    pair_lab = start_lab(LabOptions(installs=(packages.install,)))
    yield pair_lab
    pair_lab.stop()


@pytest.fixture(scope="module")
def browser(lab):
    b = Browser(lab.topo.client_ns, lab.dir / "browser")
    yield b
    b.close()


@pytest.fixture
def healthy(lab):
    """r1 master, and both routers healthy: lease sync too, which the agents retry after the lab
    paired the routers (or the sync link came back)."""
    scenarios.restore(lab)
    for name in lab.routers:
        wait_status(lab, name, lambda s: s["health"]["healthy"], "healthy", timeout=40)
    yield lab
    scenarios.restore(lab)


def call(lab: Lab, router: str, obj: str, method: str, args: dict | None = None) -> dict:
    """`ubus call` as root on the router."""
    return json.loads(lab.routers[router].ubus("call", obj, method, json.dumps(args or {})) or "{}")


def ha_status(lab: Lab, router: str) -> dict:
    return call(lab, router, "ha", "status")


def wait_status(lab: Lab, router: str, condition, what: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = ha_status(lab, router)
        if condition(status):
            return status
        assert time.monotonic() < deadline, f"{what}: {router} says {status.get('state')}, {status.get('health')}"
        time.sleep(0.1)


def wait_instance(lab: Lab, router: str, service: str, condition, what: str, timeout: float = 20) -> dict:
    """procd's state of SERVICE's only instance, once `condition` holds for it."""
    deadline = time.monotonic() + timeout
    while True:
        state = lab.routers[router].instance(service, "instance1")
        if state.get("running") and condition(state):
            return state
        assert time.monotonic() < deadline, f"{what} on {router}: {state}"
        time.sleep(0.1)


def uhttpd_max_requests(lab: Lab, router: str, value: str) -> None:
    """Change /etc/config/uhttpd and tell procd (`reload_config`, as after `uci commit` in LuCI);
    until procd has restarted uhttpd with the new option."""
    lab.routers[router].exec("uci", "set", f"uhttpd.main.max_requests={value}")
    lab.routers[router].exec("uci", "commit", "uhttpd")
    lab.routers[router].exec("reload_config")
    wait_instance(lab, router, "uhttpd", lambda s: s["command"][s["command"].index("-n") + 1] == value,
                  f"uhttpd restarted with max_requests {value}")


def listen(lab: Lab, router: str) -> subprocess.Popen:
    return lab.routers[router].spawn(["ubus", "listen", "ha.transition"], stdout=subprocess.PIPE)


def events(listener: subprocess.Popen) -> list[dict]:
    os.killpg(listener.pid, signal.SIGTERM)  # nsenter and the `ubus listen` it forked inside the router
    out, _ = listener.communicate(timeout=10)
    return [json.loads(line)["ha.transition"] for line in out.decode().splitlines() if line.strip()]


def test_ubusd_rpcd_and_uhttpd_are_procd_services(lab):
    """Each router's procd runs ubusd (its own), rpcd and uhttpd from their init scripts with the
    command lines /etc/config/rpcd and /etc/config/uhttpd (plus uhttpd-mod-ubus's first-boot
    default) give them; procd respawns a killed rpcd and restarts uhttpd when its configuration
    changes; rpcd's reload keeps the sessions it gave out."""
    for name, router in lab.routers.items():
        services = router.services()
        assert all(router.instance(s, "instance1").get("running") for s in CONTROL_PLANE), (name, services)
        assert router.instance("rpcd", "instance1")["command"] == ["/sbin/rpcd", "-s", stack.SOCKET, "-t",
                                                                  str(stack.RPCD_TIMEOUT_S)]
        command = router.instance("uhttpd", "instance1")["command"]
        assert command[:4] == ["/usr/sbin/uhttpd", "-f", "-h", "/www"] and "-R" in command, command
        for flag, value in (("-r", name), ("-x", "/cgi-bin"), ("-u", "/ubus"), ("-t", "60"), ("-n", "3")):
            assert command[command.index(flag) + 1] == value, (flag, command)
        assert [command[i + 1] for i, word in enumerate(command) if word == "-p"] == ["0.0.0.0:80", "[::]:80"]
        sid = http.login(lab.topo.client_ns, BASE[name], "ha-viewer", "viewer-pass")
        reply = http.ubus(lab.topo.client_ns, BASE[name], [http.rpc(sid, "ha", "status")])[0]
        assert reply["result"][0] == 0 and reply["result"][1]["node"]["name"] == name, reply

    r2 = lab.routers["r2"]
    sid = http.login(lab.topo.client_ns, BASE["r2"], "root", "r00t-pass")  # $p$root: /etc/shadow's hash
    rpcd = r2.instance("rpcd", "instance1")["pid"]
    r2.init("rpcd", "reload")
    wait_instance(lab, "r2", "rpcd", lambda s: "session" in r2.ubus("list").split(), "rpcd back after SIGHUP")
    assert r2.instance("rpcd", "instance1")["pid"] == rpcd  # re-executed itself in place
    reply = http.ubus(lab.topo.client_ns, BASE["r2"], [http.rpc(sid, "ha", "status")])[0]
    assert reply["result"][0] == 0, f"the session did not survive rpcd's reload: {reply}"

    os.kill(r2.instance_pid("rpcd", "instance1"), signal.SIGKILL)
    wait_instance(lab, "r2", "rpcd", lambda s: s["pid"] != rpcd and "session" in r2.ubus("list").split(),
                  "procd respawns rpcd")
    assert call(lab, "r2", "session", "login", {"username": "ha-viewer", "password": "viewer-pass"})["ubus_rpc_session"]

    try:
        uhttpd_max_requests(lab, "r2", "5")
    finally:
        uhttpd_max_requests(lab, "r2", "3")


def test_ubus_status_on_both_routers_through_a_failover_and_back(healthy):
    lab = healthy
    assert ha_status(lab, "r1")["state"] == "master" and ha_status(lab, "r2")["state"] == "backup"
    listeners = {name: listen(lab, name) for name in ("r1", "r2")}
    time.sleep(0.5)
    lab.lan_link("r1", False)
    lab.wait_for(lambda: lab.master() == "r2", 15, "r2 takes over")
    r2 = wait_status(lab, "r2", lambda s: s["state"] == "master", "r2 master on ubus")
    r1 = wait_status(lab, "r1", lambda s: s["state"] == "fault", "r1 in fault on ubus")
    assert r2["instances"]["lan"]["vips_present"] is True and r2["agent"]["ubus"] is True
    assert "link down on br-lan (lan)" in r1["health"]["problems"]
    assert r1["last_transition"]["reason"].startswith("interface br-lan down"), r1["last_transition"]
    lab.lan_link("r1", True)
    lab.wait_for(lambda: lab.master() == "r1", 15, "r1 back")
    wait_status(lab, "r1", lambda s: s["state"] == "master", "r1 master again")
    wait_status(lab, "r2", lambda s: s["state"] == "backup", "r2 backup again")
    seen = {name: events(listener) for name, listener in listeners.items()}
    assert [e["to"] for e in seen["r1"] if e["scope"].startswith("group")] == ["fault", "backup", "master"], seen
    assert [e["to"] for e in seen["r2"] if e["scope"].startswith("group")] == ["master", "backup"], seen
    assert {e["node"] for e in seen["r1"]} == {"r1"} and {e["node"] for e in seen["r2"]} == {"r2"}


def test_each_router_runs_rpcd_with_the_acls(lab):
    for name in ("r1", "r2"):
        login = call(lab, name, "session", "login", {"username": "ha-viewer", "password": "viewer-pass"})
        groups = login["acls"]["access-group"]
        assert groups["luci-app-ha"] == ["read"] and "network" not in login["acls"].get("uci", {}), name


def status_page(browser, user: str = "ha-admin"):
    page = browser.page(BASE["r1"], user, "admin-pass", STATUS)
    page.wait_for_selector("#ha-summary")
    return page


def test_status_page_as_master_and_on_the_overview(healthy, browser):
    page = status_page(browser)
    assert page.inner_text("#ha-summary").startswith("Healthy: Master")
    assert "192.168.50.1/24" in page.inner_text("body") and page.errors == []
    # the peer beside this node, as r2 reports itself over the sync channel
    page.wait_for_selector("#ha-pair-nodes >> text=matches", timeout=15000)
    rows = {r[0]: r[1:] for r in page.eval_on_selector_all(
        "#ha-pair-nodes tr", "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))") if r}
    assert rows["State"] == ["Master", "Backup"] and rows["Node name"] == ["r1", "r2"], rows
    assert rows["Priority"] == ["150", "100 (effective)"] and rows["Could take over now"] == ["-", "yes"], rows
    assert rows["Shared configuration"][1].endswith("matches") and rows["Shared configuration"][0] in \
        rows["Shared configuration"][1], rows
    screenshot(page, "status-master")
    overview = browser.page(BASE["r1"], "ha-admin", "admin-pass", "admin/status/overview")
    overview.wait_for_selector("text=High Availability")
    overview.wait_for_selector("text=healthy")
    overview.wait_for_selector("text=r2: Backup, priority 100")
    screenshot(overview, "overview-master")


def test_the_handover_button_hands_the_vips_to_the_peer(healthy, browser):
    """ha-admin holds luci-app-ha-operate: Hand over -> Proceed -> the agent hands over -> r2
    holds the VIPs; r1 then yields, and the CLI hands them back."""
    lab = healthy
    page = status_page(browser)
    try:
        page.wait_for_selector("#ha-pair-nodes >> text=yes", timeout=15000)  # r2 could take over
        page.click("#ha-handover")
        page.wait_for_selector("#ha-confirm")
        assert lab.master() == "r1"  # nothing moves before the confirmation
        page.click("#ha-confirm")
        page.wait_for_selector("#ha-operate-answer", timeout=30000)
        assert page.inner_text("#ha-operate-answer") == "Done.", ha_status(lab, "r1")
        assert lab.master() == "r2"
        assert wait_status(lab, "r1", lambda s: s["state"] == "backup", "r1 backup")["maintenance"]["hold"] == "yield"
        assert page.errors == []
    finally:  # the VIPs back to r1, whatever happened: a yielding r1 would not take them back itself
        if lab.master() != "r1":  # r2 holds the VIPs before its notify script has done MASTER's work
            state = lab.routers["r2"].root / "var/run/ha-pair/state"
            lab.wait_for(lambda: state.read_text().strip() == "master", 20, "r2's notify script done")
            lab.run_ha_pair("r2", "handover")
        lab.wait_for(lambda: lab.master() == "r1", 15, "r1 holds the VIPs again")


def test_status_page_in_fault_and_degraded(healthy, browser):
    lab = healthy
    lab.sync_link(False)
    wait_status(lab, "r1", lambda s: "sync link down (eth2)" in s["health"]["problems"], "sync link down")
    page = status_page(browser)
    assert page.inner_text("#ha-summary").startswith("Degraded (Master):")
    assert "sync link down (eth2)" in page.inner_text("#ha-summary")
    screenshot(page, "status-master-degraded")
    lab.sync_link(True)
    # the WAN cable out (the LAN stays up: the browser still reaches r1): its wan instance, and so
    # the whole group, goes to FAULT
    lab.topo.set_links("r1", False, which=("wan",), side="switch")
    wait_status(lab, "r1", lambda s: s["state"] == "fault", "r1 in fault")
    page.reload()
    page.wait_for_selector("#ha-summary:has-text('Degraded (Fault)')")
    summary = page.inner_text("#ha-summary")
    assert "this node is in FAULT" in summary and "link down on eth1 (wan)" in summary, summary
    screenshot(page, "status-fault")


def test_save_and_apply_reloads_ha_pair_and_the_page_shows_it(healthy, browser):
    """Priority 90 on r1 (below r2's 100): Save & Apply -> rpcd applies with rollback and sends
    procd `service event` config.change -> procd's reload trigger runs `/etc/init.d/ha-pair reload`
    -> the agent (same process) reloads, keepalived gets the new priority -> r2 preempts -> r1's
    page shows backup and the new priority."""
    lab = healthy
    r1 = lab.routers["r1"]
    config = r1.root / "etc/config/ha"
    original = config.read_text()
    agent = r1.instance_pid("agent")
    reloads = len(r1.log("configuration reloaded").splitlines())
    try:
        page = browser.page(BASE["r1"], "ha-admin", "admin-pass", "admin/services/ha/settings")
        page.wait_for_selector(".cbi-page-actions")
        page.click("text=Advanced Settings")
        page.fill("[id='widget.cbid.ha.global.priority']", "90")
        page.click(".cbi-page-actions .cbi-button-apply >> text=Save & Apply")
        page.wait_for_selector("text=Configuration changes applied.", timeout=40000)
        assert "option priority '90'" in config.read_text()
        lab.wait_for(lambda: lab.master() == "r2", 20, "r2 preempts the lower priority")
        wait_status(lab, "r1", lambda s: s["state"] == "backup" and s["node"]["priority"] == 90,
                    "r1 backup with priority 90")
        assert r1.instance_pid("agent") == agent, "the agent was restarted, not reloaded"
        assert len(r1.log("configuration reloaded").splitlines()) == reloads + 1, r1.log("ha-pair")[-2000:]
        status = status_page(browser)
        assert "90" in status.inner_text("#ha-summary ~ .cbi-section") and "Backup" in status.inner_text("#ha-summary")
        screenshot(status, "status-backup-after-apply")
    finally:
        config.write_text(original)
        r1.service("reload")
