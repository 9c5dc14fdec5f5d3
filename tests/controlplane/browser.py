"""Headless Chromium (Debian's `chromium`) driven by Playwright's Python client, inside a
router's or a LAN client's network namespace; no browser is downloaded.

Playwright launches the browser through a two-line wrapper that enters the namespace
(`ip netns exec NS /usr/bin/chromium ...`): the DevTools pipe is inherited, so the test process
stays in the host's namespace and only the browser's traffic is inside.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests import vendor

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 20000


def _unavailable(why: str) -> None:
    if vendor.in_ci():
        pytest.fail(f"CI=true and the browser tests cannot run: {why}", pytrace=False)
    pytest.skip(f"{why} (`make test` installs chromium and playwright)")


class Browser:
    """One Chromium in `namespace`; pages log in like a user would."""

    def __init__(self, namespace: str, scratch: Path) -> None:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            _unavailable("the Python package playwright is not installed")
        if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
            _unavailable(f"{CHROMIUM} is not installed")
        wrapper = scratch / f"chromium-in-{namespace}"
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {namespace} {CHROMIUM} "$@"\n')
        wrapper.chmod(0o755)
        self._playwright = sync_playwright().start()
        self.browser = self._playwright.chromium.launch(executable_path=str(wrapper),
                                                        args=["--no-sandbox", "--disable-dev-shm-usage"])

    def page(self, base: str, user: str, password: str, path: str):
        """A fresh browser context (no cookies) logged in at `path` through LuCI's login form."""
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.errors = []  # uncaught exceptions of the page's scripts
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.goto(f"{base}/cgi-bin/luci/{path}")
        page.fill("input[name=luci_username]", user)
        page.fill("input[name=luci_password]", password)
        page.click("input[type=submit]")
        page.wait_for_selector("#view > :not(.spinning)")
        return page

    def close(self) -> None:
        self.browser.close()
        self._playwright.stop()


def screenshot(page, name: str) -> Path:
    """A full-page PNG in build/screenshots/ for a human to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
