"""`make demo`: render the example pair's configuration for both routers and prove that
keepalived accepts it (keepalived -t, in a network namespace that has the routers' interfaces).

The two-router lab (tests/lab) extends this into a live failover story."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from tests.support import pair, tree

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    namespace = f"hpdemo-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        for args in (["link", "add", "br-lan", "type", "bridge"],
                     ["link", "add", "eth1", "type", "veth", "peer", "name", "eth2"]):
            subprocess.run(["ip", "-n", namespace, *args], check=True)
        with tempfile.TemporaryDirectory(prefix="ha-pair-demo.") as tmp:
            for router in ("r1", "r2"):
                root = tree.make_tree(Path(tmp) / router, pair.configs(router))
                cli = [sys.executable, "-m", "ha_pair", "--root", str(root)]
                print(f"\n===== {router} ({pair.ROUTERS[router]['role']}): /etc/config/ha =====")
                print((root / "etc/config/ha").read_text().strip())
                subprocess.run([*cli, "render"], check=True)
                print(f"\n----- {router}: generated files -----")
                subprocess.run([*cli, "show"], check=True)
                print(f"----- {router}: ha-pair check (keepalived -t in namespace {namespace}) -----")
                result = subprocess.run(["ip", "netns", "exec", namespace, *cli, "check"])
                if result.returncode != 0:
                    return result.returncode
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=True)
    print("\nBoth routers' configurations are valid and keepalived accepts them.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
