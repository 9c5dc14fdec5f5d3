"""An import stops dnsmasq for a moment. Whatever dies at whichever step (the import process at
stop, swap, start or just before it is done; the agent that asked for it), dnsmasq runs again within
seconds and no lease is lost. Real dnsmasq in a network namespace of this test, run by a small
/etc/init.d/dnsmasq in a router tree (start/stop as OpenWrt's does: the lease file is written at stop
and read at start)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ha_pair.leases import parse_leases, parse_state
from tests.support import pair, tree
from tests.support.privileges import require_root_and

REPO = Path(__file__).resolve().parents[2]
NOW = int(time.time())
OWN = f"{NOW + 3600} 02:00:00:00:00:01 192.168.50.101 own 01:02:00:00:00:00:01\n"
FROM_PEER = "".join(f"{NOW + 3600} 02:00:00:00:00:{n:02x} 192.168.50.{100 + n} peer{n} *\n" for n in (2, 3))

INIT = """#!/bin/sh
# stand-in for OpenWrt's /etc/init.d/dnsmasq: real dnsmasq, DHCP only, this tree's lease file
ROOT="{root}"
PID="$ROOT/var/run/dnsmasq.pid"
running() {{ [ -f "$PID" ] && kill -0 "$(cat "$PID")" 2>/dev/null; }}
case "$1" in
	start)
		running && exit 0
		exec dnsmasq --conf-file=/dev/null --port=0 --interface=lan0 --bind-interfaces \\
			--dhcp-range=192.168.50.100,192.168.50.200,12h --dhcp-leasefile="$ROOT/tmp/dhcp.leases" \\
			--pid-file="$PID" ;;
	stop)
		running || exit 0
		pid="$(cat "$PID")"; kill "$pid"
		while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done ;;
esac
"""


@pytest.fixture
def router(tmp_path: Path):
    require_root_and("dnsmasq")
    name = f"hpi-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1", extra="\toption lease_sync '1'\n"))
    init = root / "etc/init.d/dnsmasq"
    init.write_text(INIT.format(root=root))
    init.chmod(0o755)
    (root / "tmp").mkdir(exist_ok=True)
    (root / "var/run/ha-pair").mkdir(parents=True, exist_ok=True)
    try:
        for args in (["link", "add", "lan0", "type", "veth", "peer", "name", "lan0p"],
                     ["addr", "add", "192.168.50.2/24", "dev", "lan0"], ["link", "set", "lan0", "up"],
                     ["link", "set", "lo", "up"]):
            subprocess.run(["ip", "-n", name, *args], check=True)
        (root / "tmp/dhcp.leases").write_text(OWN)
        netns(name, str(init), "start")
        # this node's knowledge holds two leases from the peer that dnsmasq has not seen yet
        (root / "var/run/ha-pair/leases.state").write_text(OWN + FROM_PEER)
        yield root, name
    finally:
        netns(name, str(root / "etc/init.d/dnsmasq"), "stop")
        subprocess.run(["ip", "netns", "del", name], check=True)


def netns(name: str, *argv: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", name, *argv], capture_output=True, text=True, timeout=60, **kwargs)


def dnsmasq_running(root: Path) -> bool:
    try:
        os.kill(int((root / "var/run/dnsmasq.pid").read_text()), 0)
        return True
    except (OSError, ValueError):
        return False


def addresses(text: bytes, state: bool = False) -> set[str]:
    db = (parse_state if state else parse_leases)(text).db
    return {str(lease.address) for lease in db.leases}


def wait_stopped(pid: int) -> None:
    deadline = time.monotonic() + 20
    while Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "T":
        assert time.monotonic() < deadline, "the import never reached its pause"
        time.sleep(0.02)


def import_process(root: Path, namespace: str, pause: str) -> subprocess.Popen:
    env = {**os.environ, "HA_PAIR_IMPORT_PAUSE": pause}
    return subprocess.Popen(["ip", "netns", "exec", namespace, str(root / "usr/sbin/ha-pair"), "--root", str(root),
                             "lease-import"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def helper_pid(root: Path) -> int:
    deadline = time.monotonic() + 20
    while True:
        marker = root / "var/run/ha-pair/dnsmasq.stopped-for-import"
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text())
        assert time.monotonic() < deadline
        time.sleep(0.02)


def assert_serving_and_nothing_lost(root: Path) -> None:
    deadline = time.monotonic() + 5
    while not dnsmasq_running(root):
        assert time.monotonic() < deadline, "dnsmasq is still stopped"
        time.sleep(0.05)
    expected = {"192.168.50.101", "192.168.50.102", "192.168.50.103"}
    in_file = addresses((root / "tmp/dhcp.leases").read_bytes())
    known = addresses((root / "var/run/ha-pair/leases.state").read_bytes(), state=True)
    assert "192.168.50.101" in in_file, "dnsmasq's own lease is in its file"
    assert expected <= in_file | known, (in_file, known)


@pytest.mark.parametrize("step", ["stop", "swap", "start", "done"])
def test_an_import_killed_at_any_step_is_recovered_when_the_agent_starts(router, step: str):
    root, namespace = router
    proc = import_process(root, namespace, step)
    pid = helper_pid(root)
    wait_stopped(pid)
    os.kill(pid, signal.SIGKILL)  # as the OOM killer would
    proc.wait(10)
    assert_stays = dnsmasq_running(root)
    # the agent (respawned by procd) starts: it recovers first thing
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HA_PAIR_UBUS_LIBDIR": str(root / "no-ubus")}
    agent = subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable, "-m", "ha_pair", "--root", str(root),
                              "agent"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert_serving_and_nothing_lost(root)
        deadline = time.monotonic() + 5
        while (root / "var/run/ha-pair/dnsmasq.stopped-for-import").exists():
            assert time.monotonic() < deadline, "the agent did not clear the interrupted import"
            time.sleep(0.05)
    finally:
        agent.terminate()
        agent.wait(10)
    if step in ("stop", "done"):
        assert assert_stays, "dnsmasq was running at this step all along"


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_the_agent_dying_mid_import_leaves_dnsmasq_running_with_every_lease(router, how: int):
    root, namespace = router
    code = ("import sys, time; from ha_pair.leasesync.store import LeaseStore; from ha_pair.paths import Paths; "
            "LeaseStore(Paths(sys.argv[1])).apply_to_dnsmasq(int(time.time()))")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HA_PAIR_IMPORT_PAUSE": "swap"}
    agent = subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable, "-c", code, str(root)], env=env)
    pid = helper_pid(root)
    wait_stopped(pid)
    assert not dnsmasq_running(root), "paused with dnsmasq stopped for the swap"
    agent.send_signal(how)
    agent.wait(10)
    os.kill(pid, signal.SIGCONT)  # the import goes on without the agent
    assert_serving_and_nothing_lost(root)
    assert addresses((root / "tmp/dhcp.leases").read_bytes()) == {"192.168.50.101", "192.168.50.102",
                                                                  "192.168.50.103"}


def test_the_import_holds_dnsmasqs_own_lock_from_stop_to_start(router):
    """A dnsmasq reload from one of procd's triggers must wait until the import has started
    dnsmasq again: between the stop and the swap it would start dnsmasq on the old lease file."""
    import fcntl

    root, namespace = router
    proc = import_process(root, namespace, "swap")
    pid = helper_pid(root)
    wait_stopped(pid)
    lock = root / "var/lock/procd_dnsmasq.lock"
    try:
        with open(lock, "a") as handle:
            with pytest.raises(BlockingIOError):
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.kill(pid, signal.SIGCONT)
        assert proc.wait(30) == 0
    with open(lock, "a") as handle:  # released with the import
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert_serving_and_nothing_lost(root)
