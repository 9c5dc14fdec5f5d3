"""One honest 50 000-lease exchange as the peer's forced command serves it: wall time and peak RSS
(GNU time), in a router tree of its own. Both sides hold 50 000 leases overlapping by half."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from ha_pair.leases import LeaseDb, serialise, serialise_state
from tests.bench.lease_merge import lease
from tests.support import pair, tree


def bench_exchange(n: int = 50_000, root_base: Path | None = None) -> dict[str, float]:
    now = int(time.time())
    local = LeaseDb(tuple(lease(i, now + 3600 + i % 600) for i in range(n)))
    remote = LeaseDb(tuple(lease(i, now + 7200 + i % 600) for i in range(n // 2, n // 2 + n)))
    with tempfile.TemporaryDirectory(prefix="ha-pair-bench.") as tmp:
        root = tree.make_tree(Path(tmp) / "r2", pair.configs("r2"))
        (root / "tmp").mkdir(exist_ok=True)
        (root / "tmp/dhcp.leases").write_bytes(serialise(local))
        message = Path(tmp) / "message"
        message.write_bytes(serialise_state(remote))
        report = Path(tmp) / "time"
        env = {**os.environ, "SSH_ORIGINAL_COMMAND": "exchange"}
        with open(message, "rb") as stdin:
            started = time.monotonic()
            proc = subprocess.run(["/usr/bin/time", "-o", str(report), "-f", "%M %U %S",
                                   str(root / "usr/libexec/ha-pair/lease-peer")], stdin=stdin,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, timeout=600)
            seconds = time.monotonic() - started
        if proc.returncode != 0:
            raise RuntimeError(f"exchange failed: {proc.stderr.decode(errors='replace')[-300:]}")
        peak_kb, user, system = report.read_text().split()[-3:]
        # CPU seconds beside the wall time: on a busy machine only the former means much
        return {"seconds": round(seconds, 2), "cpu_seconds": round(float(user) + float(system), 2),
                "peak_mb": round(int(peak_kb) / 1024), "message_mb": round(message.stat().st_size / 1e6, 1)}


if __name__ == "__main__":
    print(bench_exchange())
