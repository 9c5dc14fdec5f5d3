"""The control plane on the two-router lab with real VRRP: each router runs ubusd and rpcd, r1 also
uhttpd with LuCI; the agents register `ha` on their router's ubusd.

- `ubus call ha status` on r1 and r2 through a failover and back, the `ha.transition` events
  seen by `ubus listen`, rpcd sessions on both routers;
- the LuCI pages in Chromium on the LAN client: master, backup, fault and degraded; the Overview
  include; Settings -> Save & Apply -> rpcd applies (rollback + confirm) -> ha-pair reloads ->
  the Status page shows the new priority and the backup state it caused.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.controlplane import stack
from tests.controlplane.browser import Browser, screenshot
from tests.controlplane.lab_glue import LabControlPlane
from tests.lab import scenarios
from tests.lab.conftest import start_lab
from tests.lab.pair_lab import LabOptions
from tests.support.ubusd import find_tools

STATUS = "admin/services/ha/status"


@pytest.fixture(scope="module")
def pair_cp():
    stack.require_components("master")
    find_tools()  # libubus for the test process: ServiceTrigger registers procd's `service` object
    lab = start_lab(LabOptions())
    control = None
    try:
        control = LabControlPlane(lab).start()
        yield lab, control
    finally:
        if control is not None:
            control.stop()
        lab.stop()


@pytest.fixture(scope="module")
def browser(pair_cp):
    lab, _ = pair_cp
    b = Browser(lab.topo.client_ns, lab.dir / "browser")
    yield b
    b.close()


@pytest.fixture
def healthy(pair_cp):
    lab, control = pair_cp
    scenarios.restore(lab)
    yield lab, control
    scenarios.restore(lab)


def ha_status(control: LabControlPlane, router: str) -> dict:
    return control.planes[router].call("ha", "status")


def wait_status(control, router: str, condition, what: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = ha_status(control, router)
        if condition(status):
            return status
        assert time.monotonic() < deadline, f"{what}: {router} says {status.get('state')}, {status.get('health')}"
        time.sleep(0.1)


def listen(control: LabControlPlane, router: str) -> subprocess.Popen:
    return subprocess.Popen(control.planes[router].command("/usr/bin/ubus", "-s", stack.SOCKET, "listen",
                                                           "ha.transition"),
                            stdout=subprocess.PIPE, text=True)


def events(listener: subprocess.Popen) -> list[dict]:
    listener.terminate()
    out, _ = listener.communicate(timeout=10)
    return [json.loads(line)["ha.transition"] for line in out.splitlines() if line.strip()]


def test_ubus_status_on_both_routers_through_a_failover_and_back(healthy):
    lab, control = healthy
    assert ha_status(control, "r1")["state"] == "master" and ha_status(control, "r2")["state"] == "backup"
    assert ha_status(control, "r1")["health"]["healthy"] is True, ha_status(control, "r1")["health"]
    listeners = {name: listen(control, name) for name in ("r1", "r2")}
    time.sleep(0.5)
    lab.lan_link("r1", False)
    lab.wait_for(lambda: lab.master() == "r2", 15, "r2 takes over")
    r2 = wait_status(control, "r2", lambda s: s["state"] == "master", "r2 master on ubus")
    r1 = wait_status(control, "r1", lambda s: s["state"] == "fault", "r1 in fault on ubus")
    assert r2["instances"]["lan"]["vips_present"] is True and r2["agent"]["ubus"] is True
    assert "link down on br-lan (lan)" in r1["health"]["problems"]
    assert r1["last_transition"]["reason"].startswith("interface br-lan down"), r1["last_transition"]
    lab.lan_link("r1", True)
    lab.wait_for(lambda: lab.master() == "r1", 15, "r1 back")
    wait_status(control, "r1", lambda s: s["state"] == "master", "r1 master again")
    wait_status(control, "r2", lambda s: s["state"] == "backup", "r2 backup again")
    seen = {name: events(listener) for name, listener in listeners.items()}
    assert [e["to"] for e in seen["r1"] if e["scope"].startswith("group")] == ["fault", "backup", "master"], seen
    assert [e["to"] for e in seen["r2"] if e["scope"].startswith("group")] == ["master", "backup"], seen
    assert {e["node"] for e in seen["r1"]} == {"r1"} and {e["node"] for e in seen["r2"]} == {"r2"}


def test_each_router_runs_rpcd_with_the_acls(pair_cp):
    _, control = pair_cp
    for name in ("r1", "r2"):
        login = control.planes[name].call("session", "login", {"username": "ha-viewer", "password": "viewer-pass"})
        groups = login["acls"]["access-group"]
        assert groups["luci-app-ha"] == ["read"] and "network" not in login["acls"].get("uci", {}), name


def status_page(browser, control, user: str = "ha-admin"):
    page = browser.page(control.base, user, "admin-pass", STATUS)
    page.wait_for_selector("#ha-summary")
    return page


def test_status_page_as_master_and_on_the_overview(healthy, browser):
    _, control = healthy
    page = status_page(browser, control)
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
    overview = browser.page(control.base, "ha-admin", "admin-pass", "admin/status/overview")
    overview.wait_for_selector("text=High Availability")
    overview.wait_for_selector("text=healthy")
    overview.wait_for_selector("text=r2: Backup, priority 100")
    screenshot(overview, "overview-master")


def test_the_handover_button_hands_the_vips_to_the_peer(healthy, browser):
    """ha-admin holds luci-app-ha-operate: Hand over -> Proceed -> the agent hands over -> r2
    holds the VIPs; r1 then yields, and the CLI hands them back."""
    lab, control = healthy
    page = status_page(browser, control)
    page.wait_for_selector("#ha-pair-nodes >> text=yes", timeout=15000)  # r2 could take over
    page.click("#ha-handover")
    page.wait_for_selector("#ha-confirm")
    assert lab.master() == "r1"  # nothing moves before the confirmation
    page.click("#ha-confirm")
    page.wait_for_selector("#ha-operate-answer", timeout=30000)
    assert page.inner_text("#ha-operate-answer") == "Done."
    assert lab.master() == "r2"
    assert wait_status(control, "r1", lambda s: s["state"] == "backup", "r1 backup")["maintenance"]["hold"] == "yield"
    assert page.errors == []
    lab.run_ha_pair("r2", "handover")
    lab.wait_for(lambda: lab.master() == "r1", 15, "r1 holds the VIPs again")


def test_status_page_in_fault_and_degraded(healthy, browser):
    lab, control = healthy
    lab.sync_link(False)
    wait_status(control, "r1", lambda s: "sync link down (eth2)" in s["health"]["problems"], "sync link down")
    page = status_page(browser, control)
    assert page.inner_text("#ha-summary").startswith("Degraded (Master):")
    assert "sync link down (eth2)" in page.inner_text("#ha-summary")
    screenshot(page, "status-master-degraded")
    lab.sync_link(True)
    # the WAN cable out (the LAN stays up: the browser still reaches r1): its wan instance, and so
    # the whole group, goes to FAULT
    lab.topo.set_links("r1", False, which=("wan",), side="switch")
    wait_status(control, "r1", lambda s: s["state"] == "fault", "r1 in fault")
    page.reload()
    page.wait_for_selector("#ha-summary:has-text('Degraded (Fault)')")
    summary = page.inner_text("#ha-summary")
    assert "this node is in FAULT" in summary and "link down on eth1 (wan)" in summary, summary
    screenshot(page, "status-fault")


def test_save_and_apply_reloads_ha_pair_and_the_page_shows_it(healthy, browser):
    """Priority 90 on r1 (below r2's 100): Save & Apply -> rpcd applies with rollback -> procd's
    trigger reloads ha-pair -> r2 preempts -> r1's page shows backup and the new priority."""
    lab, control = healthy
    config = lab.routers["r1"].root / "etc/config/ha"
    original = config.read_text()
    try:
        page = browser.page(control.base, "ha-admin", "admin-pass", "admin/services/ha/settings")
        page.wait_for_selector(".cbi-page-actions")
        page.click("text=Advanced Settings")
        page.fill("[id='widget.cbid.ha.global.priority']", "90")
        page.click(".cbi-page-actions .cbi-button-apply >> text=Save & Apply")
        page.wait_for_selector("text=Configuration changes applied.", timeout=40000)
        assert "option priority '90'" in config.read_text()
        assert any(e.get("data", {}).get("package") == "ha" for e in control.triggers["r1"].events)
        lab.wait_for(lambda: lab.master() == "r2", 20, "r2 preempts the lower priority")
        wait_status(control, "r1", lambda s: s["state"] == "backup" and s["node"]["priority"] == 90,
                    "r1 backup with priority 90")
        status = status_page(browser, control)
        assert "90" in status.inner_text("#ha-summary ~ .cbi-section") and "Backup" in status.inner_text("#ha-summary")
        screenshot(status, "status-backup-after-apply")
    finally:
        config.write_text(original)
        lab.routers["r1"].service("reload")
