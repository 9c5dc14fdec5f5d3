"""On the node not answering DHCP, the forced command writes the peer's leases into dnsmasq's
file at once and leaves dnsmasq running; its restart (which makes dnsmasq's memory hold them) is
owed, done by the agent after a burst or by the MASTER catch-up before DHCP is answered. Real
dnsmasq in a network namespace of this test, with a dhcp-script that logs what dnsmasq's memory
holds (it runs `old` for every lease loaded at start, `del` for every lease it drops)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ha_pair.leases import parse_leases
from tests.support import pair, tree
from tests.support.privileges import require_root_and
from tests.system.test_lease_import import INIT, netns

REPO = Path(__file__).resolve().parents[2]
PEER_ADDRESSES = {"192.168.50.102", "192.168.50.103"}


def own_lease(expires: int) -> str:
    return f"{expires} 02:00:00:00:00:01 192.168.50.101 own 01:02:00:00:00:00:01\n"


def from_peer(now: int) -> str:
    return "".join(f"{now + 3600} 02:00:00:00:00:{n:02x} 192.168.50.{100 + n} peer{n} *\n" for n in (2, 3))


@pytest.fixture
def backup(tmp_path: Path):
    """A backup (DHCP guard closed) whose dnsmasq runs with one lease of its own, expiring in
    `OWN_EXPIRES_S` (at its expiry dnsmasq rewrites its lease file), and whose knowledge holds two
    leases from the peer that dnsmasq has not seen."""
    require_root_and("dnsmasq")
    name = f"hpw-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    root = tree.make_tree(tmp_path / "r2", pair.configs("r2", extra="\toption lease_sync '1'\n"))
    events = tmp_path / "events"
    events.mkdir(mode=0o777)
    events.chmod(0o777)
    script = root / "dhcp-script"
    # run by dnsmasq's script helper, a child of dnsmasq: the helper's parent names the dnsmasq
    script.write_text(f"#!/bin/sh\necho \"$(cut -d' ' -f4 /proc/$PPID/stat) $1 $3\" >> {events}/log\n")
    script.chmod(0o755)
    init = root / "etc/init.d/dnsmasq"
    init.write_text(INIT.format(root=root).replace("--pid-file=", f"--dhcp-script={script} --pid-file="))
    init.chmod(0o755)
    (root / "tmp").mkdir(exist_ok=True)
    run = root / "var/run/ha-pair"
    run.mkdir(parents=True, exist_ok=True)
    (run / "dhcp").write_text("no\n")
    now = int(time.time())
    try:
        for args in (["link", "add", "lan0", "type", "veth", "peer", "name", "lan0p"],
                     ["addr", "add", "192.168.50.3/24", "dev", "lan0"], ["link", "set", "lan0", "up"],
                     ["link", "set", "lo", "up"]):
            subprocess.run(["ip", "-n", name, *args], check=True)
        (root / "tmp/dhcp.leases").write_text(own_lease(now + OWN_EXPIRES_S))
        netns(name, str(init), "start")
        (run / "leases.state").write_text(own_lease(now + OWN_EXPIRES_S) + from_peer(now))
        wait_for(lambda: dnsmasq_pid(root) is not None and "192.168.50.101" in loaded(events, dnsmasq_pid(root)),
                 "dnsmasq started with its own lease")
        yield root, name, events / "log"
    finally:
        netns(name, str(root / "etc/init.d/dnsmasq"), "stop")
        subprocess.run(["ip", "netns", "del", name], check=True)


OWN_EXPIRES_S = 4


def wait_for(condition, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def dnsmasq_pid(root: Path) -> int | None:
    try:
        pid = int((root / "var/run/dnsmasq.pid").read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def events_of(log: Path, pid: int) -> list[tuple[str, str]]:
    """(action, address) the dnsmasq `pid` ran its script for."""
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == str(pid):
            out.append((words[1], words[2]))
    return out


def loaded(events: Path, pid: int | None) -> set[str]:
    """The addresses dnsmasq `pid` loaded from its file at start (`old` events)."""
    return {address for action, address in events_of(events / "log", pid)} if pid else set()


def in_file(root: Path) -> set[str]:
    return {str(lease.address) for lease in parse_leases((root / "tmp/dhcp.leases").read_bytes()).db.leases}


def python_in(namespace: str, root: Path, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return netns(namespace, sys.executable, "-c", code, str(root), env=env)


def write_ahead_as_the_forced_command(namespace: str, root: Path) -> subprocess.CompletedProcess:
    """What the forced command does after answering a push (peer.request_apply), with an agent
    listening on the events FIFO (so the restart is left to the agent)."""
    fifo = root / "var/run/ha-pair/events.fifo"
    os.mkfifo(fifo, 0o600)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        out = python_in(namespace, root, "import sys, time\nfrom ha_pair.paths import Paths\n"
                        "from ha_pair.leasesync.peer import request_apply\n"
                        "from ha_pair.leasesync.store import LeaseStore\n"
                        "paths = Paths(sys.argv[1])\nrequest_apply(paths, LeaseStore(paths), int(time.time()))\n")
        asked = os.read(reader, 4096)
    finally:
        os.close(reader)
        fifo.unlink()
    assert out.returncode == 0, out.stderr
    assert asked == b"leases-apply\n", "the agent is asked for the restart"
    return out


def test_a_file_written_ahead_is_never_overwritten_by_the_running_dnsmasq_and_its_restart_loads_it(backup):
    root, namespace, log = backup
    before = dnsmasq_pid(root)
    write_ahead_as_the_forced_command(namespace, root)
    assert PEER_ADDRESSES <= in_file(root), "the peer's leases are in the file at once"
    assert dnsmasq_pid(root) == before, "dnsmasq was left running"
    assert (root / "var/run/ha-pair/dnsmasq.behind-its-file").exists(), "its restart is owed"
    # dnsmasq's own lease expires: it drops it from its memory and rewrites its lease file from that
    # memory, which lacks the peer's leases (an in-place swap would lose them here)
    wait_for(lambda: ("del", "192.168.50.101") in events_of(log, before), "dnsmasq dropped its expired lease",
             timeout=OWN_EXPIRES_S + 15)
    time.sleep(0.5)
    assert PEER_ADDRESSES <= in_file(root), "the running dnsmasq did not write over the file"
    # the restart the agent does once the burst is over
    out = netns(namespace, str(root / "usr/sbin/ha-pair"), "--root", str(root), "lease-import")
    assert out.returncode == 0, ("a restart owed counts as an import", out.returncode, out.stderr)
    after = dnsmasq_pid(root)
    assert after not in (None, before), "dnsmasq was restarted"
    wait_for(lambda: PEER_ADDRESSES <= loaded(log.parent, after), "the new dnsmasq loaded the peer's leases")
    assert not (root / "var/run/ha-pair/dnsmasq.behind-its-file").exists()


@pytest.mark.parametrize("reachable", ["sync link down", "peer unreachable"])
def test_the_master_catch_up_restarts_a_dnsmasq_written_ahead_of(backup, reachable: str):
    """keepalived makes this node master before the agent's restart came: the catch-up restarts
    dnsmasq before the DHCP guard opens, also when the peer cannot be asked (a failover)."""
    root, namespace, log = backup
    before = dnsmasq_pid(root)
    write_ahead_as_the_forced_command(namespace, root)
    assert PEER_ADDRESSES.isdisjoint(loaded(log.parent, before))
    if reachable == "sync link down":  # the sync device (eth2) exists without carrier: the catch-up asks no one
        for args in (["link", "add", "eth2", "type", "veth", "peer", "name", "eth2p"], ["link", "set", "eth2", "up"]):
            subprocess.run(["ip", "-n", namespace, *args], check=True)
    out = netns(namespace, str(root / "usr/sbin/ha-pair"), "--root", str(root), "lease-sync", "--catch-up")
    after = dnsmasq_pid(root)
    assert after not in (None, before), ("dnsmasq was restarted before answering DHCP", out.stdout, out.stderr)
    wait_for(lambda: PEER_ADDRESSES <= loaded(log.parent, after), "the new dnsmasq loaded the peer's leases")
    assert not (root / "var/run/ha-pair/dnsmasq.behind-its-file").exists()
