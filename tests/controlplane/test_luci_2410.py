"""The same pages with LuCI as OpenWrt 24.10 ships it (luci-base, luci-mod-status and the
bootstrap theme at the commit OpenWrt v24.10.0 pins): they load, show the status, refuse what
ha-pair would reject and save nothing without an edit."""

from __future__ import annotations

import pytest

from tests.controlplane.browser import screenshot
from tests.controlplane.conftest import standalone
from tests.controlplane.test_luci_page import STATUS, modal_text, open_page, settings_page, staged


@pytest.fixture(scope="module")
def router():
    r = standalone("24.10")
    yield r
    r.stop()


def test_status_page_on_luci_24_10(router, browser):
    router.feed('INSTANCE "lan" BACKUP 150\nINSTANCE "wan" BACKUP 150\nGROUP "ha" BACKUP 0\n')
    router.wait_state("backup")
    page = open_page(browser, STATUS)
    assert page.inner_text("#ha-summary").startswith("Degraded (Backup):")
    assert "192.168.50.1/24" in page.inner_text("body") and page.errors == []
    screenshot(page, "luci-24.10-status")


def test_settings_on_luci_24_10(router, browser):
    before = staged(router)
    page = settings_page(browser)
    page.click(".cbi-page-actions button.cbi-button-save")
    page.wait_for_timeout(1500)
    assert staged(router) == before
    page.click("text=Advanced Settings")
    page.fill("[id='widget.cbid.ha.global.advert_int']", "0.5")
    page.click(".cbi-page-actions .cbi-button-apply >> text=Save & Apply")
    assert "ha.global.advert_int" in modal_text(page)
    assert staged(router) == before and page.errors == []
    screenshot(page, "luci-24.10-settings-rejected")
