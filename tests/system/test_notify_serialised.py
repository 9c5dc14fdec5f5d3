"""keepalived runs notify scripts concurrently. Bursts of MASTER/BACKUP/FAULT notify runs, started
a few milliseconds apart as keepalived would, must leave the DHCP guard (real nftables in a network
namespace of this test), the recorded DHCP answering, the state file and the transition log on the
state of the last run: 100 runs, 0 mismatches. The real notify script runs in a router tree."""

from __future__ import annotations

import random
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.support import pair, tree
from tests.support.privileges import require_root_and

REPO = Path(__file__).resolve().parents[2]
RUNS, BURST = 100, 10


@pytest.fixture
def router(tmp_path: Path):
    require_root_and("nft", "flock")
    configs = pair.configs("r1", extra="\toption lease_sync '0'\n")
    root = tree.make_tree(tmp_path / "r1", configs)
    render = subprocess.run([str(root / "usr/sbin/ha-pair"), "--root", str(root), "render", ], capture_output=True,
                            text=True, timeout=60)
    assert render.returncode == 0, render.stderr
    name = f"hpn-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "nft", "-f", str(root / "var/etc/ha-pair/dhcp-guard.nft")],
                       check=True)
        yield root, name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def observed(root: Path, namespace: str) -> dict[str, str]:
    chain = subprocess.run(["ip", "netns", "exec", namespace, "nft", "list", "chain", "inet", "ha_pair",
                            "dhcp_backup"], capture_output=True, text=True, check=True).stdout
    run = root / "var/run/ha-pair"
    return {
        "guard": "drop" if " drop" in chain else "answer",
        "dhcp": (run / "dhcp").read_text().strip(),
        "state": (run / "state").read_text().strip(),
        "log": (run / "transitions.log").read_text().splitlines()[-1].split()[3],
    }


def expected(state: str) -> dict[str, str]:
    master = state == "MASTER"
    return {"guard": "answer" if master else "drop", "dhcp": "yes" if master else "no", "state": state.lower(),
            "log": state}


def test_concurrent_notify_runs_end_on_keepalived_last_state(router):
    root, namespace = router
    notify = root / "usr/libexec/ha-pair/notify"
    rng = random.Random(8)
    mismatches = []
    started = time.monotonic()
    for burst in range(RUNS // BURST):
        states = [rng.choice(["MASTER", "BACKUP", "FAULT"]) for _ in range(BURST)]
        procs = []
        for state in states:
            procs.append(subprocess.Popen(["ip", "netns", "exec", namespace, str(notify), "GROUP", "ha", state, "0"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(rng.uniform(0.005, 0.08))
        for proc in procs:
            assert proc.wait(timeout=60) == 0
        seen = observed(root, namespace)
        if seen != expected(states[-1]):
            mismatches.append((burst, states, seen))
    assert mismatches == [], mismatches
    print(f"{RUNS} notify runs in {time.monotonic() - started:.1f} s")


def test_backup_closes_dhcp_while_a_master_run_still_holds_the_lock(router):
    """A MASTER run may hold the lock for its lease catch-up (up to 1.5 s): a BACKUP arriving meanwhile
    must stop DHCP at once, not after it (the failback lab test saw the old backup answer 2.3 s late)."""
    root, namespace = router
    notify = root / "usr/libexec/ha-pair/notify"
    subprocess.run(["ip", "netns", "exec", namespace, str(notify), "GROUP", "ha", "MASTER", "0"], check=True,
                   timeout=60)
    assert observed(root, namespace)["guard"] == "answer"
    lock = root / "var/run/ha-pair/notify.lock"
    holder = subprocess.Popen(["flock", str(lock), "sleep", "5"])  # a run in progress
    try:
        time.sleep(0.2)
        backup = subprocess.Popen(["ip", "netns", "exec", namespace, str(notify), "GROUP", "ha", "BACKUP", "0"])
        deadline = time.monotonic() + 1.0
        while observed(root, namespace)["guard"] != "drop":
            assert time.monotonic() < deadline, "DHCP still answered 1 s after BACKUP, while the lock was held"
            time.sleep(0.02)
        assert backup.poll() is None, "the BACKUP run must still wait for the lock to record its transition"
    finally:
        holder.kill()
        holder.wait()
    assert backup.wait(timeout=30) == 0
    assert observed(root, namespace) == expected("BACKUP")
