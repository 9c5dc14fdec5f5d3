"""Fixtures of the package tests: the built packages of both releases, and the stand-ins of their
dependencies.

Everything is built by tests/vendor and tests/package/build.py into build/ and reused across
runs; without OpenWrt's sources the tests skip (and fail under CI=true), as tests/vendor's
require() does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypeVar

import pytest

from tests import vendor
from tests.package import build, standins
from tests.vendor.packaging import RELEASES, Release

T = TypeVar("T")

# what the package tests build with: the two package managers and the buildroots (the lab's
# routers they install on need their own, tests/lab/conftest.py's require_routers)
COMPONENTS = ("opkg", "apk", "openwrt-24.10", "openwrt-25.12")


def built(make: Callable[[], T]) -> T:
    """make(), with tests/vendor's rules for sources that are not here."""
    vendor.require(*COMPONENTS)
    try:
        return make()
    except vendor.Unavailable as exc:
        if vendor.in_ci():
            pytest.fail(f"CI=true and an OpenWrt component is unavailable: {exc}", pytrace=False)
        pytest.skip(str(exc))
    except vendor.BuildFailed as exc:
        pytest.fail(str(exc), pytrace=False)


@dataclass(frozen=True)
class Packages:
    release: Release
    current: build.Built  # this checkout: build/packages
    upgrade: build.Built  # the next release of it, with a changed shipped /etc/config/ha
    standins: standins.Standins


_cache: dict[str, Packages] = {}


@pytest.fixture(params=list(RELEASES), ids=list(RELEASES), scope="session")
def packages(request: pytest.FixtureRequest) -> Packages:
    release = RELEASES[request.param]
    if release.series not in _cache:
        _cache[release.series] = built(lambda: Packages(
            release, build.build(release), build.build_upgrade(release), standins.build(release)))
    return _cache[release.series]

