"""One honest 50 000-lease exchange, both ends: the agent's side (leasesync.sync.exchange, the code
the agent runs, in a process of its own) calling the peer's forced command through a stand-in
for the SSH client that runs the other router tree's lease-peer (no SSH crypto in the figure).
The peer answers with its own knowledge first and merges the message while the caller merges the
answer; the caller's wall time ends with the peer's exit, so it covers both merges, and both
ends' stored knowledge is compared byte for byte after it.
Wall time of the whole exchange (at the caller) and of the peer's part; CPU time and peak RSS of
each end (the caller's own getrusage and VmHWM, the peer's from GNU time). Both sides hold 50 000 leases
overlapping by half, the caller's in its dnsmasq file (folded into its knowledge first, as the
agent does), the peer's in its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ha_pair.leases import LeaseDb, serialise
from ha_pair.paths import Paths
from tests.bench.lease_merge import lease
from tests.support import pair, tree

FAKE_SSH = """#!/bin/sh
verb="$(eval echo \\${{$#}})"
SSH_ORIGINAL_COMMAND="$verb" exec /usr/bin/time -o "{report}" -f "%e %M %U %S" "{peer}/usr/libexec/ha-pair/lease-peer"
"""

CALLER = """
import json, resource, sys, time
from ha_pair.leasesync.sync import exchange
from ha_pair.paths import Paths
started = time.monotonic()
outcome = exchange(Paths(sys.argv[1]), "10.255.0.2", 22, apply_if_not_answering=False, answering=True, timeout=120)
seconds = time.monotonic() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
# the peak of this process's own memory: ru_maxrss would report the bench's (this process's
# parent's) peak instead, which exec hands on to the new program
with open("/proc/self/status") as status:
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"ok": outcome.ok, "error": outcome.error, "seconds": seconds, "leases": outcome.leases_local,
                  "peak_kb": peak_kb, "cpu": usage.ru_utime + usage.ru_stime}))
"""


def bench_exchange(n: int = 50_000) -> dict[str, float]:
    now = int(time.time())
    caller_db = LeaseDb(tuple(lease(i, now + 3600 + i % 600) for i in range(n)))
    peer_db = LeaseDb(tuple(lease(i, now + 7200 + i % 600) for i in range(n // 2, n // 2 + n)))
    with tempfile.TemporaryDirectory(prefix="ha-pair-bench.") as tmp:
        base = Path(tmp)
        roots = {}
        for name, db in (("r1", caller_db), ("r2", peer_db)):
            roots[name] = tree.make_tree(base / name, pair.configs(name))
            (roots[name] / "tmp").mkdir(exist_ok=True)
            (roots[name] / "tmp/dhcp.leases").write_bytes(serialise(db))
        message_mb = len(serialise(peer_db)) / 1e6
        del caller_db, peer_db
        bindir = base / "bin"
        bindir.mkdir()
        report = base / "peer-time"
        (bindir / "ssh").write_text(FAKE_SSH.format(report=report, peer=roots["r2"]))
        (bindir / "ssh").chmod(0o755)
        for tool in ("sh", "env", "dirname"):  # and no dbclient, which would come first
            if shutil.which(tool):
                (bindir / tool).symlink_to(shutil.which(tool))
        (bindir / "python3").symlink_to(sys.executable)
        # the modules as the package installs them, with their bytecode (tree.make_tree)
        env = {"PATH": str(bindir), "PYTHONPATH": str(roots["r1"] / "usr/lib/ha-pair/python"),
               "PYTHONDONTWRITEBYTECODE": "1"}
        proc = subprocess.run([sys.executable, "-c", CALLER, str(roots["r1"])], capture_output=True, text=True,
                              env=env, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"exchange failed: {proc.stderr[-500:]}")
        caller = json.loads(proc.stdout.splitlines()[-1])
        if not caller["ok"]:
            raise RuntimeError(f"exchange failed: {caller['error']}")
        peer_wall, peer_kb, user, system = report.read_text().split()[-4:]
        stored = {Paths(root).lease_state.read_bytes() for root in roots.values()}
        same = len(stored) == 1 and stored != {b""}
    # CPU seconds beside the wall times: on a busy machine only the former means much
    return {"seconds": round(caller["seconds"], 2), "cpu_seconds": round(caller["cpu"], 2),
            "peak_mb": round(caller["peak_kb"] / 1024), "peer_seconds": round(float(peer_wall), 2),
            "peer_cpu_seconds": round(float(user) + float(system), 2), "peer_peak_mb": round(int(peer_kb) / 1024),
            "merged_leases": caller["leases"], "message_mb": round(message_mb, 1), "same_on_both_ends": same}


if __name__ == "__main__":
    print(bench_exchange())
