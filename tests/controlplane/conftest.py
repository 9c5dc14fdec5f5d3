"""Fixtures of the control-plane tests: OpenWrt's components built once, a standalone test router
per module, one Chromium per router."""

from __future__ import annotations

import pytest

from tests.controlplane import stack
from tests.controlplane.browser import Browser
from tests.controlplane.router import StandaloneRouter
from tests.lab.topology import install_signal_handlers
from tests.support.privileges import require_root_and


def standalone(luci: str = "master", script_timeout: int = 60):
    require_root_and("nsenter", "unshare", "chroot")
    stack.require_components(luci)
    install_signal_handlers()
    router = StandaloneRouter(luci, script_timeout)
    try:
        router.start()
    except BaseException:
        router.stop()
        raise
    return router


@pytest.fixture(scope="module")
def router():
    r = standalone()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def browser(router):
    b = Browser(router.namespace, router.dir / "scratch")
    yield b
    b.close()
