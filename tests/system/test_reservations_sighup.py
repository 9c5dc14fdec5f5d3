"""The node answering DHCP and a peer's grant it did not see: the forced command reserves the
address and signals the running dnsmasq (a stand-in process named dnsmasq counts the SIGHUPs;
tests/lab/test_leases_lab.py proves the same with the real dnsmasq)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ha_pair.leasesync.importer import reread_reservations
from ha_pair.leasesync.peer import serve
from ha_pair.paths import Paths
from tests.support import pair, tree
from tests.unit.test_cli import run
from tests.unit.test_reservations import lease_line


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tree.make_tree(tmp_path / "r1", pair.configs("r1"))


def test_the_answering_node_reserves_what_the_peer_granted_and_signals_its_dnsmasq(root: Path):
    """The forced command serving a push on the node answering DHCP: no import (never restarted
    for a sync), but the reservations file gets the peer's grant and dnsmasq a SIGHUP."""
    assert run(root, "render").returncode == 0
    (root / "tmp").mkdir(exist_ok=True)
    (root / "tmp/dhcp.leases").write_text(lease_line(100, 1))
    (root / "var/run/ha-pair").mkdir(parents=True, exist_ok=True)
    (root / "var/run/ha-pair/dhcp").write_text("yes\n")  # this node answers DHCP
    # a process named dnsmasq standing for the running one: counts the SIGHUPs it gets
    fake = root / "dnsmasq"
    fake.write_text("import signal, sys, time\nopen('/proc/self/comm', 'w').write('dnsmasq')\nn = 0\ndef hup(*_):\n    global n\n    n += 1\n"
                    "    open(sys.argv[1], 'w').write(str(n))\nsignal.signal(signal.SIGHUP, hup)\n"
                    "print('ready', flush=True)\nwhile True: time.sleep(1)\n")
    hups = root / "hups"
    proc = subprocess.Popen([sys.executable, str(fake), str(hups)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        with open(f"/proc/{proc.pid}/comm") as comm:
            if comm.read().strip() != "dnsmasq":
                pytest.skip("cannot name a stand-in process dnsmasq here")
        (root / "var/run/dnsmasq").mkdir(parents=True)
        (root / "var/run/dnsmasq/dnsmasq.cfg01411c.pid").write_text(f"{proc.pid}\n")
        status = serve(Paths(root), "push", io.BytesIO(lease_line(242, 2).encode()), io.BytesIO())
        assert status == 0
        assert Paths(root).dhcp_reservations.read_text() == "id:ff:00:00:00:02,192.168.50.242\n"
        deadline = time.monotonic() + 30
        while not hups.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert hups.read_text() == "1"
        assert (root / "tmp/dhcp.leases").read_text() == lease_line(100, 1), "dnsmasq's file is not touched"
        # the same push again changes nothing: no second SIGHUP
        serve(Paths(root), "push", io.BytesIO(lease_line(242, 2).encode()), io.BytesIO())
        time.sleep(0.2)
        assert hups.read_text() == "1"
    finally:
        proc.kill()
        proc.wait()


def test_a_stale_pid_file_gets_no_signal(root: Path):
    (root / "var/run/dnsmasq").mkdir(parents=True)
    (root / "var/run/dnsmasq/dnsmasq.x.pid").write_text(f"{os.getpid()}\n")  # pytest, not dnsmasq
    assert reread_reservations(Paths(root)) == 0




def test_a_dnsmasq_still_starting_is_not_killed_by_the_signal(root: Path):
    """A process named dnsmasq that does not catch SIGHUP yet (as dnsmasq just after procd
    started it): the signal's default action would end it, so it gets none, and lives on."""
    (root / "var/run/dnsmasq").mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-c", "open('/proc/self/comm', 'w').write('dnsmasq'); "
                             "print('ready', flush=True); import time; time.sleep(60)"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        (root / "var/run/dnsmasq/dnsmasq.cfg01411c.pid").write_text(f"{proc.pid}\n")
        started = time.monotonic()
        assert reread_reservations(Paths(root)) == 0
        assert 0.9 <= time.monotonic() - started < 5  # it waited a moment for the handler
        time.sleep(0.1)
        assert proc.poll() is None, "the starting dnsmasq was killed by SIGHUP"
    finally:
        proc.kill()
        proc.wait()
