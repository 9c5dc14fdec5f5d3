"""The sync channel is bounded on both ends: a hostile 16 MB message costs the receiver < 64 MB and
is refused quickly, by the forced command and by the client; nothing of it is merged; the lease lock
is free meanwhile; status names the refusal (not "unreachable") and honest sync resumes by itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ha_pair.leasesync.store import LeaseStore
from ha_pair.paths import Paths
from tests.support import pair, tree

REPO = Path(__file__).resolve().parents[2]
NOW = int(time.time())
HOSTILE = 16_000_000  # 16 MB: under the 16 MiB the old code accepted, then parsed under the lock


def lease_line(n: int) -> bytes:
    return b"%d 02:00:00:%02x:%02x:%02x 10.%d.%d.%d host%d *\n" % (
        NOW + 3600, n >> 16 & 255, n >> 8 & 255, n & 255, n >> 16 & 255, n >> 8 & 255, n & 255, n)


def hostile_message() -> bytes:
    """16 MB of well-formed leases: nothing but its size is wrong."""
    out, n = [], 0
    size = 0
    while size < HOSTILE:
        line = lease_line(n)
        out.append(line)
        size += len(line)
        n += 1
    return b"".join(out)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tree.make_tree(tmp_path / "r2", pair.configs("r2"))


def run_measured(argv: list[str], data: bytes, env: dict) -> tuple[int, float, float, bytes]:
    """Exit status, seconds, peak RSS in MB and stderr. GNU time forks the command from itself: the
    peak is the command's own (a child forked from pytest would count pytest's pages too)."""
    if shutil.which("time") is None and not os.path.exists("/usr/bin/time"):
        pytest.skip("GNU time not installed (`make test` installs it)")
    report = Path(env["MEASURE"])
    started = time.monotonic()
    proc = subprocess.Popen(["/usr/bin/time", "-o", str(report), "-f", "%M", *argv], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    err = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()))
    reader.start()
    try:
        proc.stdin.write(data)
    except BrokenPipeError:
        pass  # refused before reading everything: what it should do
    try:
        proc.stdin.close()
    except BrokenPipeError:
        pass
    code = proc.wait()
    reader.join()
    return code, time.monotonic() - started, int(report.read_text().split()[-1]) / 1024, err[0]


def test_the_forced_command_refuses_16_mb_quickly_and_cheaply(root: Path):
    env = {**os.environ, "SSH_ORIGINAL_COMMAND": "exchange", "MEASURE": str(root / "measure")}
    code, seconds, peak_mb, err = run_measured([str(root / "usr/libexec/ha-pair/lease-peer")], hostile_message(), env)
    assert code == 1 and b"refused: more than" in err, err
    assert seconds < 5, seconds
    assert peak_mb < 64, peak_mb
    assert LeaseStore(Paths(root)).counts()["leases"] == 0, "nothing of it was merged"
    print(f"forced command: refused 16 MB in {seconds:.2f} s, peak RSS {peak_mb:.0f} MB")


def test_the_forced_command_ends_when_its_client_is_gone(root: Path):
    env = {**os.environ, "SSH_ORIGINAL_COMMAND": "exchange"}
    proc = subprocess.Popen([str(root / "usr/libexec/ha-pair/lease-peer")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdin.write(lease_line(1))
    proc.stdin.flush()
    store = LeaseStore(Paths(root))
    with store.locked():
        pass  # reading the request does not hold the lease lock
    proc.stdin.close()  # the SSH client went away: end of input
    proc.stdout.close()
    assert proc.wait(10) is not None


FAKE_SSH = """#!/bin/sh
# The hostile peer, behind a stand-in for the SSH client: its first answers are 16 MB, then it is
# honest again (the real forced command of the other router tree).
count="$(cat "{state}" 2>/dev/null || echo 0)"; echo $((count + 1)) > "{state}"
verb="$(eval echo \\${{$#}})"
if [ "$verb" = exchange ] && [ "$count" -lt {hostile_rounds} ]; then
	cat > /dev/null; yes "{line}" | head -c {size}; exit 0
fi
SSH_ORIGINAL_COMMAND="$verb" exec "{peer}/usr/libexec/ha-pair/lease-peer"
"""


def test_a_hostile_answer_is_refused_named_in_status_and_honest_sync_resumes(tmp_path: Path):
    r1 = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    r2 = tree.make_tree(tmp_path / "r2", pair.configs("r2"))
    (r2 / "tmp").mkdir(exist_ok=True)
    (r2 / "tmp/dhcp.leases").write_bytes(lease_line(7))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    ssh = bindir / "ssh"
    ssh.write_text(FAKE_SSH.format(state=tmp_path / "calls", hostile_rounds=1, size=HOSTILE, peer=r2,
                                  line=lease_line(9).decode().strip()))
    ssh.chmod(0o755)
    for tool in ("sh", "cat", "head", "yes", "env"):  # and no dbclient, which would come first
        (bindir / tool).symlink_to(shutil.which(tool))
    (bindir / "python3").symlink_to(sys.executable)
    code = f"""
import json, time
from ha_pair.agent.lease_sync import LeaseSync
from ha_pair.paths import Paths
timers = []
sync = LeaseSync(Paths({str(r1)!r}), "10.255.0.2", 22, 3600, lambda d, n, cb: timers.append((n, cb)))
sync._exchange(full=False)
first = dict(sync.state)
for name, cb in [t for t in timers if t[0] == "lease-retry"]:
    cb()
sync.jobs.put(None)
sync._exchange(full=False)
print(json.dumps({{"first": first, "then": sync.state, "leases": sync.status()["leases_local"]}}))
"""
    env = {**os.environ, "PATH": str(bindir), "PYTHONPATH": str(REPO / "src")}
    env.pop("SSH_AUTH_SOCK", None)
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    import json
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["first"]["last_error_kind"] == "rejected", (result["first"]["last_error_kind"], result["first"]["last_error"])
    assert "refused the peer's answer to exchange: more than 100000 lines" in result["first"]["last_error"]
    assert result["first"]["peer_reachable"] is not False, "a hostile answer is not an unreachable peer"
    assert result["then"]["last_error"] is None and result["then"]["peer_reachable"] is True, result["then"]
    assert result["leases"] == 1, "the honest exchange brought the peer's lease"
    assert time.monotonic() - started < 60
