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

from ha_pair.render import dhcp_guard, wan_silence
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
    chain = subprocess.run(["ip", "netns", "exec", namespace, "nft", "list", "chain", *dhcp_guard.TABLE.split(),
                            dhcp_guard.SWITCH_CHAIN], capture_output=True, text=True, check=True).stdout
    run = root / "var/run/ha-pair"
    return {
        "guard": "drop" if dhcp_guard.switch_rule() in chain else "answer",
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


def guard_sh(root: Path, namespace: str, call: str) -> None:
    """A function of the package's dhcp-guard.sh, as the init script runs it (paths.sh and
    nft-switch.sh first)."""
    script = (f'HA_PAIR_ROOT="{root}"; . "$HA_PAIR_ROOT/usr/share/ha-pair/paths.sh"; '
              f'. "$HA_PAIR_ROOT/usr/share/ha-pair/nft-switch.sh"; '
              f'. "$HA_PAIR_ROOT/usr/share/ha-pair/dhcp-guard.sh"; {call}')
    subprocess.run(["ip", "netns", "exec", namespace, "sh", "-c", script], check=True, timeout=30)


def tables(namespace: str) -> str:
    return subprocess.run(["ip", "netns", "exec", namespace, "nft", "list", "tables"], capture_output=True,
                          text=True, check=True).stdout


def test_the_init_scripts_load_keeps_a_master_answering_and_replaces_an_older_guard(router):
    """`start`/`reload` (and a package upgrade's start) reload the generated tables: a master keeps
    answering, in the same transaction, a backup keeps dropping, and an older ha-pair's table (one
    inet table, its dhcp_backup holding `counter drop` itself) is replaced by both of today's."""
    root, namespace = router
    notify = root / "usr/libexec/ha-pair/notify"
    subprocess.run(["ip", "netns", "exec", namespace, str(notify), "GROUP", "ha", "MASTER", "0"], check=True,
                   timeout=60)
    older = ("table inet ha_pair\ndelete table inet ha_pair\ntable bridge ha_pair\ndelete table bridge ha_pair\n"
             "table inet ha_pair {\n\tchain dhcp_backup {\n\t}\n}\n")
    subprocess.run(["ip", "netns", "exec", namespace, "nft", "-f", "-"], input=older, text=True, check=True)
    guard_sh(root, namespace, "dhcp_guard_load")
    assert observed(root, namespace) == expected("MASTER")
    assert "table bridge ha_pair" in tables(namespace)
    subprocess.run(["ip", "netns", "exec", namespace, str(notify), "GROUP", "ha", "BACKUP", "0"], check=True,
                   timeout=60)
    guard_sh(root, namespace, "dhcp_guard_load")
    assert observed(root, namespace) == expected("BACKUP")
    guard_sh(root, namespace, "dhcp_guard_remove")
    assert "ha_pair" not in tables(namespace)
    assert not (root / "var/run/ha-pair/dhcp").exists()
    guard_sh(root, namespace, "dhcp_guard_remove")  # nothing to remove: no error either


@pytest.fixture
def wan_router(tmp_path: Path):
    """ha.global.single_wan_ip in a router tree: the WAN silence table loaded in a namespace (real
    nftables, an egress hook on a veth eth1 holding the shared address) and a stand-in for the WAN's
    DHCP client with netifd's pid file (SIGUSR1, the renewal, ignored; SIGSTOP/SIGCONT as usual)."""
    require_root_and("nft", "flock")
    from tests.unit.render_cases import NETWORK_SINGLE_WAN, SINGLE_WAN_HA
    ha = SINGLE_WAN_HA.replace("option managed '1'", "option managed '1'\n\toption lease_sync '0'")
    root = tree.make_tree(tmp_path / "r1", {**pair.configs("r1"), "ha": ha, "network": NETWORK_SINGLE_WAN})
    render = subprocess.run([str(root / "usr/sbin/ha-pair"), "--root", str(root), "render"], capture_output=True,
                            text=True, timeout=60)
    assert render.returncode == 0, render.stderr
    namespace = f"hpn-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    client = None
    try:
        subprocess.run(["ip", "-n", namespace, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p"], check=True)
        subprocess.run(["ip", "-n", namespace, "addr", "add", "198.51.100.55/24", "dev", "eth1"], check=True)
        for table in ("dhcp-guard.nft", "wan-silence.nft"):
            subprocess.run(["ip", "netns", "exec", namespace, "nft", "-f", str(root / "var/etc/ha-pair" / table)],
                           check=True)
        client = subprocess.Popen(["sh", "-c", "trap '' USR1; while :; do sleep 1; done"])
        (root / "var/run").mkdir(parents=True, exist_ok=True)
        (root / "var/run/udhcpc-eth1.pid").write_text(f"{client.pid}\n")
        yield root, namespace, client.pid
    finally:
        if client is not None:
            client.kill()
            client.wait()
        subprocess.run(["ip", "netns", "del", namespace], check=True)


def wan_seen(namespace: str, client: int) -> dict:
    chain = subprocess.run(["ip", "netns", "exec", namespace, "nft", "list", "chain", *wan_silence.TABLE.split(),
                            wan_silence.BACKUP_CHAIN], capture_output=True, text=True, check=True).stdout
    return {"wan": "drop" if " drop" in chain else "open",
            "client_stopped": "\nState:\tT" in Path(f"/proc/{client}/status").read_text()}


def run_notify(root: Path, namespace: str, state: str) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", namespace, str(root / "usr/libexec/ha-pair/notify"), "GROUP", "ha",
                             state, "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_concurrent_notify_runs_leave_the_shared_wan_open_only_on_a_master(wan_router):
    """ha.global.single_wan_ip: bursts as above leave the WAN silence table dropping, and the WAN's
    DHCP client stopped, unless keepalived's last word was MASTER."""
    root, namespace, client = wan_router
    rng = random.Random(14)
    mismatches = []
    for burst in range(RUNS // BURST):
        states = [rng.choice(["MASTER", "BACKUP", "FAULT"]) for _ in range(BURST)]
        procs = []
        for state in states:
            procs.append(run_notify(root, namespace, state))
            time.sleep(rng.uniform(0.005, 0.08))
        for proc in procs:
            assert proc.wait(timeout=60) == 0
        seen = wan_seen(namespace, client)
        master = states[-1] == "MASTER"
        if seen != {"wan": "open" if master else "drop", "client_stopped": not master}:
            mismatches.append((burst, states, seen))
    assert mismatches == [], mismatches


def test_a_backup_run_older_than_the_master_run_done_does_not_leave_the_master_silent(wan_router):
    """The race the bursts rarely hit: a BACKUP run keepalived forked before a MASTER run gets to
    its early silence only after that MASTER run has finished. Its word is not the latest, so it
    acts on nothing, and its silence must not stay: the WAN ends open, the client running."""
    root, namespace, client = wan_router
    assert run_notify(root, namespace, "MASTER").wait(timeout=60) == 0
    assert wan_seen(namespace, client) == {"wan": "open", "client_stopped": False}
    run = root / "var/run/ha-pair"
    # the MASTER run as keepalived's latest word, with a PID ahead of any run started now
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    token = f"{(subprocess.Popen(['true']).pid + pid_max // 4) % pid_max}:{int(time.time())}:{uuid.uuid4()}"
    (run / "notify.wanted").write_text(f"{token} GROUP ha MASTER 0\n")
    (run / "notify.done").write_text(f"{token}\n")
    assert run_notify(root, namespace, "BACKUP").wait(timeout=60) == 0
    assert wan_seen(namespace, client) == {"wan": "open", "client_stopped": False}
    assert (run / "state").read_text().strip() == "master"  # it acted on nothing


def test_the_transition_log_stays_bounded_and_whole(router):
    """It lives in RAM (/var/run) and gets a line per transition for as long as the router runs."""
    root, namespace = router
    log = root / "var/run/ha-pair/transitions.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(f"{1700000000 + n} GROUP ha BACKUP 100\n" for n in range(5000)))  # 165 KB
    notify = root / "usr/libexec/ha-pair/notify"
    done = subprocess.run(["ip", "netns", "exec", namespace, str(notify), "GROUP", "ha", "FAULT", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = log.read_text().splitlines()
    assert len(log.read_bytes()) <= 131072 and len(lines) == 1000
    assert all(len(line.split()) == 5 for line in lines)
    assert lines[-1].split()[1:] == ["GROUP", "ha", "FAULT", "0"]
    assert lines[-2] == "1700004999 GROUP ha BACKUP 100", "the newest lines are the ones kept"


def test_a_lease_file_written_ahead_after_the_catch_up_is_loaded_before_dhcp_is_answered(router):
    """The forced command may write dnsmasq's lease file ahead of dnsmasq while keepalived's word is
    not MASTER (leasesync/peer.may_write_ahead). If the word went to BACKUP and back to MASTER while
    a MASTER run did its catch-up, a file can be written ahead after the catch-up looked: the run
    restarts dnsmasq (`lease-import`) before it opens the DHCP guard. Here the tree's ha-pair
    command writes the marker as its catch-up ends, and records each lease-import with the DHCP
    answering state it saw."""
    root, namespace = router
    run = root / "var/run/ha-pair"
    command = root / "usr/sbin/ha-pair"
    real = command.with_name("ha-pair.real")
    command.rename(real)
    calls = root / "lease-import.calls"
    command.write_text(f"""#!/bin/sh
case " $* " in
	*" lease-sync "*) "{real}" "$@"; status=$?; echo written > "{run}/dnsmasq.behind-its-file"; exit $status ;;
	*" lease-import "*) cat "{run}/dhcp" >> "{calls}"; rm -f "{run}/dnsmasq.behind-its-file"; exit 0 ;;
esac
exec "{real}" "$@"
""")
    command.chmod(0o755)
    notify = root / "usr/libexec/ha-pair/notify"
    for state in ("BACKUP", "MASTER"):
        subprocess.run(["ip", "netns", "exec", namespace, str(notify), "GROUP", "ha", state, "0"], check=True,
                       timeout=60)
    assert calls.exists() and calls.read_text().split() == ["no"], "dnsmasq restarted once, before DHCP was answered"
    assert not (run / "dnsmasq.behind-its-file").exists()
    assert observed(root, namespace) == expected("MASTER")
