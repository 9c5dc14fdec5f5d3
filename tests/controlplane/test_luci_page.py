"""luci-app-ha in headless Chromium on one router: LuCI's own JavaScript (luci-base master),
served by uhttpd, logged in through rpcd, talking to the real agent over /ubus.

The states that need a real VRRP pair (master, backup, fault, degraded, reload after Save &
Apply) are in test_luci_lab.py; here: the agent stopped (-32000) and hung (-32003), the settings
form's checks, saving without edits, logins without `network` access and read-only logins.
"""

from __future__ import annotations

import os
import signal
import time


from tests.controlplane.browser import screenshot
from tests.controlplane.router import BASE
from tests.controlplane.stack import USERS

PASSWORD = {u.name: u.password for u in USERS}
STATUS = "admin/services/ha/status"
SETTINGS = "admin/services/ha/settings"


def open_page(browser, path: str, user: str = "ha-admin"):
    return browser.page(BASE, user, PASSWORD[user], path)


def staged(router) -> dict[str, str]:
    """rpcd's staged changes of every session (its /var/run/rpcd/uci-<session>/ delta files)."""
    out = {}
    for delta in (router.root / "var/run/rpcd").glob("uci-*/*"):
        text = delta.read_text()
        if text.strip():
            out[f"{delta.parent.name}/{delta.name}"] = text
    return out


def settings_page(browser, user: str = "ha-admin"):
    page = open_page(browser, SETTINGS, user)
    page.wait_for_selector(".cbi-page-actions")
    return page


def modal_text(page) -> str:
    page.wait_for_selector("#modal_overlay .modal", state="visible")
    return page.inner_text("#modal_overlay .modal")


def test_status_page_says_the_agent_is_not_running(router, browser):
    router.stop_agent()
    try:
        page = open_page(browser, STATUS)
        page.wait_for_selector("text=The ha-pair agent is not running")
        assert "RPCError" not in page.inner_text("body") and page.errors == []
        screenshot(page, "status-agent-down")
        overview = open_page(browser, "admin/status/overview")
        overview.wait_for_selector("text=The ha-pair agent is not running.")
        screenshot(overview, "overview-agent-down")
    finally:
        router.start_agent()


def test_status_page_says_a_hung_agent_did_not_answer(router, browser):
    """uhttpd gives up after its script timeout (-t, 60 s on OpenWrt; 3 s here) with -32003."""
    router.cp.stop_process("uhttpd")
    router.cp.script_timeout = 3
    router.cp.start_uhttpd()
    agent = router.cp.processes["agent"]
    os.kill(agent.pid, signal.SIGSTOP)
    try:
        page = open_page(browser, STATUS)
        page.wait_for_selector("text=The ha-pair agent did not answer in time", timeout=30000)
        assert "RPCError" not in page.inner_text("body")
        screenshot(page, "status-agent-hung")
    finally:
        os.kill(agent.pid, signal.SIGCONT)
        router.cp.stop_process("uhttpd")
        router.cp.script_timeout = 60
        router.cp.start_uhttpd()


def test_status_page_shows_the_summary_and_effective_priority(router, browser):
    router.feed('INSTANCE "lan" BACKUP 150\nINSTANCE "wan" BACKUP 150\nGROUP "ha" BACKUP 0\n')
    router.wait_state("backup")
    page = open_page(browser, STATUS)
    summary = page.inner_text("#ha-summary")
    # no conntrackd and no paired peer on this lone router: degraded, and the page says why (with no
    # host key pinned, lease sync refuses before it connects: kind hostkey, not unreachable)
    assert summary.startswith("Degraded (Backup):") and "conntrackd stopped" in summary, summary
    assert "lease sync failing (hostkey)" in summary
    assert page.errors == []
    screenshot(page, "status-backup-degraded-alone")


def test_defaults_follow_the_options_they_depend_on(router, browser):
    """As the agent applies them: the priority follows the role, the VRRP version and the advert
    interval the profile, the external cache switch conntrack's mode. Untouched, none of them is
    staged: only the options changed by hand are."""
    before = staged(router)
    page = settings_page(browser)
    page.select_option("[id='cbi-ha-global-role'] select", "secondary")
    page.select_option("[id='cbi-ha-global-profile'] select", "fast")
    page.click("text=Advanced Settings")
    assert page.get_attribute("[id='widget.cbid.ha.global.priority']", "placeholder") == "100"
    assert page.input_value("[id='cbi-ha-global-vrrp_version'] select") == "3"
    assert page.get_attribute("[id='widget.cbid.ha.global.advert_int']", "placeholder") == "0.1"
    page.select_option("[id='cbi-ha-global-vrrp_version'] select", "2")  # by hand: whole seconds again
    assert page.get_attribute("[id='widget.cbid.ha.global.advert_int']", "placeholder") == "1"
    flag = "[id='cbi-ha-conntrack-disable_external_cache'] input[type=checkbox]"
    assert page.is_checked(flag)
    page.select_option("[id='cbi-ha-conntrack-mode'] select", "alarm")
    assert not page.is_checked(flag)
    screenshot(page, "settings-defaults-follow")
    try:
        page.click(".cbi-page-actions button.cbi-button-save")
        deadline = time.monotonic() + 10
        while staged(router) == before and time.monotonic() < deadline:
            time.sleep(0.2)
        delta = "".join(text for name, text in staged(router).items() if name not in before)
        for changed in ("role", "profile", "vrrp_version", "mode"):
            assert f".{changed}=" in delta or f".{changed} " in delta, (changed, delta)
        for following in ("priority", "advert_int", "disable_external_cache"):
            assert f".{following}" not in delta, (following, delta)
        assert page.errors == []
    finally:
        for delta in (router.root / "var/run/rpcd").glob("uci-*/*"):
            if f"{delta.parent.name}/{delta.name}" not in before:
                delta.unlink()


def test_saving_without_edits_stages_nothing(router, browser):
    before = staged(router)
    page = settings_page(browser)
    page.click(".cbi-page-actions button.cbi-button-save")
    time.sleep(1.5)
    assert staged(router) == before
    assert not page.is_visible("text=Unsaved Changes")


def test_values_ha_pair_would_reject_are_refused_before_they_are_staged(router, browser):
    config = router.root / "etc/config/ha"
    before, staged_before = config.read_text(), staged(router)
    page = settings_page(browser)
    page.click("text=Advanced Settings")
    page.fill("[id='widget.cbid.ha.global.advert_int']", "0.5")
    page.click(".cbi-page-actions .cbi-button-apply >> text=Save & Apply")
    text = modal_text(page)
    assert "ha.global.advert_int: advert_int 0.5 is not whole seconds" in text, text
    assert "nothing was saved" in text
    assert page.errors == []
    screenshot(page, "settings-rejected-advert-int")
    assert staged(router) == staged_before and config.read_text() == before


def test_a_table_row_that_ha_pair_would_reject_is_refused(router, browser):
    config = router.root / "etc/config/ha"
    original = config.read_text()
    config.write_text(original + "\nconfig check 'upstream'\n\toption type 'ping'\n\toption target '198.51.100.254'\n")
    try:
        page = settings_page(browser)
        page.click("#cbi-ha-upstream .cbi-button-edit")
        page.fill("[id='widget.cbid.ha.upstream.weight']", "0")
        page.click("#modal_overlay .modal .cbi-button-positive")
        page.wait_for_selector("#modal_overlay .modal >> text=ha.upstream.weight")
        text = page.inner_text("#modal_overlay .modal")
        assert "0 never changes anything" in text, text
        screenshot(page, "settings-rejected-weight-0")
        assert "weight" not in config.read_text() and staged(router) == {}
    finally:
        config.write_text(original)


def test_a_login_that_may_not_read_network_picks_interfaces_and_saves(router, browser):
    """ha-admin has luci-base and luci-app-ha only: no `network` read. The form lists the
    interfaces through luci.ha and Save & Apply (rollback + confirm) writes /etc/config/ha."""
    config = router.root / "etc/config/ha"
    original = config.read_text()
    try:
        page = settings_page(browser)
        options = page.eval_on_selector_all("[id='widget.cbid.ha.global.sync_interface'] option",
                                            "els => els.map(e => e.textContent)")
        assert "sync (eth2, 10.255.0.1/30)" in options, options
        page.fill("[id='widget.cbid.ha.global.preempt_delay']", "3")
        page.click(".cbi-page-actions .cbi-button-apply >> text=Save & Apply")
        page.wait_for_selector("text=Configuration changes applied.", timeout=30000)
        assert "option preempt_delay '3'" in config.read_text()
        screenshot(page, "settings-applied")
        # nothing reloads the agent on this lone router (no procd): the status page says so
        status = open_page(browser, STATUS)
        assert "changes to /etc/config/ha not applied yet" in status.inner_text("#ha-summary")
    finally:
        config.write_text(original)


def test_a_read_only_login_sees_the_form_but_cannot_save(router, browser):
    page = settings_page(browser, "ha-viewer")
    assert page.is_disabled(".cbi-page-actions button.cbi-button-save")
    assert page.is_disabled("[id='widget.cbid.ha.global.preempt_delay']")
    screenshot(page, "settings-read-only")


def invalid(page, widget_id: str, value: str) -> bool:
    """Type `value` into the field as a user would; True when LuCI marks it invalid."""
    selector = f"[id='{widget_id}']"
    page.fill(selector, value)
    page.dispatch_event(selector, "blur")
    return page.eval_on_selector(selector, "e => e.classList.contains('cbi-input-invalid')")


def test_the_form_follows_the_generated_schema(router, browser):
    """Every option of every section type has its field, with the schema's default and range
    (the only place the form takes them from: ha.schema, generated from config/schema.py)."""
    from ha_pair.config import luci_form

    sections = luci_form.sections()
    page = settings_page(browser)
    missing = []
    for section, ucisection in (("global", "global"), ("conntrack", "conntrack"), ("dhcp", "dhcp")):
        for name in sections[section]["options"]:
            if not page.query_selector(f"[id='cbi-ha-{ucisection}-{name}']"):
                missing.append(f"{section}.{name}")
    # the table rows edit the repeatable sections in a dialog
    page.click("#cbi-ha-lan .cbi-button-edit")
    page.wait_for_selector("#modal_overlay .modal [id='cbi-ha-lan-interface']")
    missing += [f"vip.{name}" for name in sections["vip"]["options"]
                if not page.query_selector(f"#modal_overlay [id='cbi-ha-lan-{name}']")]
    assert missing == []
    page.click("#modal_overlay .modal .cbi-button:has-text('Dismiss')")

    options = sections["global"]["options"]
    placeholder = page.get_attribute("[id='widget.cbid.ha.global.priority']", "placeholder")
    assert placeholder == str(options["priority"]["default"]) == "150"  # r1 is the primary
    assert page.is_checked("[id='cbi-ha-global-preempt'] input[type=checkbox]") is options["preempt"]["default"] is True
    assert page.input_value("[id='cbi-ha-global-initial_state'] select") == options["initial_state"]["default"]
    page.click("text=Advanced Settings")
    for section, name in (("global", "priority"), ("global", "preempt_delay"), ("conntrack", "port"),
                          ("dhcp", "ssh_port"), ("dhcp", "reconcile_interval"), ("global", "advert_int")):
        spec = sections[section]["options"][name]
        widget = f"widget.cbid.ha.{section}.{name}"
        assert not invalid(page, widget, str(spec["max"])), f"{section}.{name} = {spec['max']}"
        assert invalid(page, widget, str(spec["max"] + 1)), f"{section}.{name} = {spec['max'] + 1}"
        assert invalid(page, widget, str(spec["min"] - 1)), f"{section}.{name} = {spec['min'] - 1}"


def operate_answer(page, button: str, force: bool = False) -> str:
    """Click an operate button, confirm (with `force` ticked if asked) and read the agent's answer."""
    page.click(button)
    page.wait_for_selector("#ha-confirm")
    if force:
        page.check("#ha-force")
    page.click("#ha-confirm")
    page.wait_for_selector("#ha-operate-answer")
    text = page.inner_text("#ha-operate-answer")
    page.click("#modal_overlay .modal .cbi-button:has-text('Close')")
    return text


def test_the_pair_side_by_side_and_operating_needs_its_acl_group_and_a_confirmation(router, browser):
    """The status page shows this node beside the peer (here: a peer that was never paired, so it
    cannot be asked). A read-only login sees the buttons disabled and why; a login with
    luci-app-ha-operate gets a confirmation first, the agent's refusal with its reason, and with
    force the maintenance mode, which the page then shows."""
    record = router.root / "etc/ha-pair/maintenance.json"
    router.feed('INSTANCE "lan" BACKUP 150\nINSTANCE "wan" BACKUP 150\nGROUP "ha" BACKUP 0\n')
    router.wait_state("backup")
    viewer = open_page(browser, STATUS, "ha-viewer")
    viewer.wait_for_selector("#ha-pair-nodes")
    nodes = viewer.inner_text("#ha-pair-nodes")
    assert "This node" in nodes and "Peer" in nodes and "not answering (hostkey)" in nodes, nodes
    assert viewer.is_disabled("#ha-handover") and viewer.is_disabled("#ha-maintenance")
    assert viewer.is_disabled("#ha-config-sync")
    assert "need the ACL group luci-app-ha-operate" in viewer.inner_text("#ha-operate-denied")
    assert viewer.errors == []
    screenshot(viewer, "status-pair-read-only")

    page = open_page(browser, STATUS)
    page.wait_for_selector("#ha-pair-nodes")
    assert page.query_selector("#ha-operate-denied") is None
    assert page.is_disabled("#ha-handover")  # a backup has nothing to hand over
    try:
        page.click("#ha-maintenance")
        assert "Keep this node out of mastership" in modal_text(page)
        page.click("#modal_overlay .modal .cbi-button:has-text('Cancel')")
        assert not record.exists()
        refused = operate_answer(page, "#ha-maintenance")
        assert refused.startswith("refused: the peer cannot be asked") and "--force" in refused, refused
        assert not record.exists()
        assert operate_answer(page, "#ha-maintenance", force=True) == "Done."
        assert record.exists() and router.cp.call("ha", "status")["maintenance"]["on"] is True
        page.wait_for_selector("#ha-pair-nodes >> text=ON: held out of mastership", timeout=15000)
        page.wait_for_selector("#ha-maintenance:has-text('Leave maintenance mode')")
        screenshot(page, "status-pair-maintenance")
        assert operate_answer(page, "#ha-maintenance") == "Done."
        assert not record.exists()
        # config sync asks the peer for its configuration first (a dry run): this peer was never paired
        page.click("#ha-config-sync")
        page.wait_for_selector("#ha-operate-answer")
        text = page.inner_text("#ha-operate-answer")
        assert text.startswith("hostkey: no host key pinned for 10.255.0.2"), text
        page.click("#modal_overlay .modal .cbi-button:has-text('Close')")
        assert page.errors == []
    finally:
        router.cp.call("ha", "maintenance", {"state": "off"})
