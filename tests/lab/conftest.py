"""Fixtures shared by the lab tests: a pair per test module, restored to the start state
(both routers up, r1 master) around every test."""

from __future__ import annotations

import pytest

from tests.lab import scenarios
from tests.lab.pair_lab import Lab, LabOptions
from tests.lab.topology import install_signal_handlers
from tests.support.privileges import require_root_and

DAEMONS = ("keepalived", "conntrackd", "conntrack", "dnsmasq", "nft", "ping", "udhcpc", "dropbear", "dbclient")


def start_lab(options: LabOptions) -> Lab:
    """A started lab (the caller stops it); skipped where root or a daemon is missing."""
    require_root_and(*DAEMONS)
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
