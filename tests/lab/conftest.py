"""Fixtures shared by the lab tests: a pair per test module, restored to the start state
(both routers up, r1 master) around every test."""

from __future__ import annotations

import pytest

from tests import vendor
from tests.lab import scenarios
from tests.lab.pair_lab import Lab, LabOptions
from tests.lab.topology import install_signal_handlers
from tests.support.privileges import require_root_and
from tests.vendor.router import ROUTER_COMPONENTS

# what the routers' image takes from this machine, and what the lab runs around the routers
DAEMONS = ("keepalived", "conntrackd", "conntrack", "dnsmasq", "nft", "ping", "udhcpc", "dropbear", "dbclient",
           "busybox", "flock", "nsenter", "unshare")


def require_routers() -> None:
    """Skip where root, a program of the routers' image or OpenWrt's sources are missing (the
    sources: fail instead under CI=true)."""
    require_root_and(*DAEMONS)
    vendor.require(*ROUTER_COMPONENTS)


def start_lab(options: LabOptions) -> Lab:
    """A started lab (the caller stops it)."""
    require_routers()
    install_signal_handlers()
    return Lab(options).__enter__()


@pytest.fixture(scope="module")
def lab():
    pair_lab = start_lab(LabOptions())
    yield pair_lab
    pair_lab.stop()


@pytest.fixture
def healthy(lab):
    scenarios.restore(lab)
    yield lab
    scenarios.restore(lab)
