"""The forced command answers the peer, then (on the node not answering DHCP) asks for dnsmasq's
file to be brought up to date. Whatever goes wrong in that second step, the peer has its answer
and the command exits 0: a sync that happened is never reported as failed, and nothing merged is
lost (the next exchange applies it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ha_pair.leases import parse_state
from ha_pair.leasesync.store import LeaseStore
from ha_pair.paths import Paths
from tests.support import pair, tree

REPO = Path(__file__).resolve().parents[2]
NOW = int(time.time())
LOCAL = f"{NOW + 3600} 02:00:00:00:00:01 192.168.50.101 laptop *\n"
REMOTE = f"{NOW + 3600} 02:00:00:00:00:02 192.168.50.102 phone *\n"


@pytest.fixture
def backup(tmp_path: Path) -> Path:
    """r2 as the backup: not answering DHCP, one lease of its own, a dnsmasq init script."""
    root = tree.make_tree(tmp_path / "r2", pair.configs("r2"))
    (root / "tmp").mkdir(exist_ok=True)
    (root / "tmp/dhcp.leases").write_text(LOCAL)
    run = root / "var/run/ha-pair"
    run.mkdir(parents=True, exist_ok=True)
    (run / "dhcp").write_text("no\n")
    init = root / "etc/init.d/dnsmasq"
    init.parent.mkdir(parents=True, exist_ok=True)
    init.write_text("#!/bin/sh\nexit 0\n")
    init.chmod(0o755)
    return root


def import_helper(root: Path, body: str) -> None:
    """The tree's /usr/sbin/ha-pair is what runs `lease-import`: replaced by `body`. The forced
    command itself then runs from the sources (python -m ha_pair)."""
    helper = root / "usr/sbin/ha-pair"
    helper.write_text(f"#!/bin/sh\n{body}\n")
    helper.chmod(0o755)


def forced_command(root: Path, code: str = "") -> subprocess.CompletedProcess:
    """`lease-peer exchange` with the peer's lease on stdin, as dropbear runs it (bound_process);
    `code` runs first in that process."""
    program = ("import sys\nfrom ha_pair.cli import main\n" + code +
               f"\nsys.exit(main(['--root', {str(root)!r}, 'lease-peer']))\n")
    env = {**os.environ, "SSH_ORIGINAL_COMMAND": "exchange", "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-c", program], input=REMOTE.encode(), capture_output=True, env=env,
                          timeout=60)


def assert_answered(root: Path, out: subprocess.CompletedProcess) -> None:
    err = out.stderr.decode(errors="replace")
    assert out.returncode == 0, (out.returncode, err)
    assert "Traceback" not in err, err
    answered = {str(lease.address) for lease in parse_state(out.stdout).db.leases}
    assert answered == {"192.168.50.101"}, "its own knowledge is the answer (the asker merges it)"
    store = LeaseStore(Paths(root))
    assert {str(lease.address) for lease in store.knowledge().leases} == {"192.168.50.101", "192.168.50.102"}, \
        "the message merged and stored: nothing lost"


def assert_restart_owed(root: Path) -> None:
    """The file was written ahead of dnsmasq (it has the peer's lease), and the restart that
    dnsmasq's memory needs is still owed: the next exchange or the MASTER catch-up does it."""
    store = LeaseStore(Paths(root))
    assert "192.168.50.102" in {str(lease.address) for lease in store.read_file().db.leases}
    assert store.dnsmasq_behind() and not store.needs_apply()


def test_a_full_event_fifo_after_the_answer_is_logged_not_a_failure(backup: Path):
    """The agent is alive but its event FIFO is full (a burst of events): the request to apply
    cannot be written (EAGAIN). 70d7397 raised it after answering: exit 1 and a traceback."""
    fifo = backup / "var/run/ha-pair/events.fifo"
    os.mkfifo(fifo, 0o600)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    try:
        while True:
            try:
                os.write(writer, b"x" * 4096)
            except BlockingIOError:
                break
        out = forced_command(backup)
    finally:
        os.close(writer)
        os.close(reader)
    assert_answered(backup, out)
    assert b"dnsmasq's lease file was not updated" in out.stderr, out.stderr
    assert_restart_owed(backup)


def test_an_import_helper_killed_after_the_answer_is_logged_not_a_failure(backup: Path):
    """No agent: the forced command runs the import itself, and the helper dies (OOM killer; what
    happens to dnsmasq then is test_lease_import's). The answer stands; before, exit 1 and a
    traceback."""
    import_helper(backup, "kill -KILL $$")
    out = forced_command(backup)
    assert_answered(backup, out)
    assert b"lease import failed (exit -9)" in out.stderr, out.stderr
    assert_restart_owed(backup)


def test_the_lifetime_ending_during_the_import_still_exits_0(backup: Path):
    """The forced command's lifetime (SIGALRM, bound_process) runs out while the import it started
    is still running: the answer was given, so the exit status is 0 (it was death by SIGALRM: the
    peer saw a failed sync). Here the lifetime is cut to 1 s; the helper sleeps."""
    pid_file = backup / "helper.pid"
    import_helper(backup, f"echo $$ > {pid_file}\nexec sleep 30")
    started = time.monotonic()
    try:
        out = forced_command(backup, "import signal\nfrom ha_pair.leasesync import peer\n"
                                     "peer.bound_process = lambda: signal.alarm(1)")
        elapsed = time.monotonic() - started
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)  # the helper, in a session of its own
    assert_answered(backup, out)
    assert elapsed < 20, "it still ends when its lifetime is over"
