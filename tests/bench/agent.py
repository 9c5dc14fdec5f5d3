"""Agent benchmark: `ha-pair status` latency (and `ubus call ha status` where a libubus build is
available), the agent's resident memory, and how often an idle agent wakes up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.lab import scenarios
from tests.lab.pair_lab import REPO, Lab, LabOptions
from tests.support import pair, tree
from tests.lab.topology import BENCH_PREFIX as PREFIX

TIMER = """
import subprocess, sys, time, json
argv = json.loads(sys.argv[1]); out = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter(); subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
    out.append(round((time.perf_counter() - start) * 1000, 2))
print(json.dumps(out))
"""


def _proc_status(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(text.split(f"{field}:")[1].split()[0])


def time_command(namespace: str | None, argv: list[str], runs: int, env: dict | None = None) -> list[float]:
    """Wall time of each run, measured inside the namespace (no `ip netns exec` in the figure)."""
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    out = subprocess.run([*prefix, sys.executable, "-c", TIMER, json.dumps(argv), str(runs)], capture_output=True,
                         text=True, check=True, env=env or os.environ.copy(), timeout=300)
    return json.loads(out.stdout)


def ubus_status_ms(runs: int, log) -> tuple[list[float] | None, str]:
    try:
        from tests.support.ubusd import Ubusd, find_tools
        tools = find_tools()
    except BaseException:  # find_tools skips through pytest when nothing is there
        return None, "no libubus build here (set HA_PAIR_UBUS_LIBDIR and HA_PAIR_UBUSD)"
    daemon = Ubusd(*tools)
    root = tree.make_tree(Path(daemon.dir) / "r1", pair.configs("r1"))
    env = {**daemon.env, "PYTHONPATH": f"{REPO / 'src'}"}
    agent = subprocess.Popen(["unshare", "--net", "--", sys.executable, "-m", "ha_pair", "--root", str(root), "agent", "--ubus-socket",
                              daemon.sock], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while "ha" not in daemon.ubus("list").stdout.split():
            if time.monotonic() > deadline:
                return None, "the agent did not register on the local ubusd"
            time.sleep(0.05)
        return time_command(None, [daemon.cli, "-s", daemon.sock, "call", "ha", "status"], runs, env), \
            "local libubus/ubusd build (not OpenWrt)"
    finally:
        agent.terminate()
        agent.wait(10)
        daemon.stop()


def run(runs: int, log) -> dict[str, Any]:
    with Lab(LabOptions(dhcp=False), prefix=PREFIX) as lab:
        time.sleep(scenarios.SETTLE_S)
        r1 = lab.routers["r1"]
        # the router's own entry point, with the router's PATH: its `#!/usr/bin/env python3` then picks the
        # system python3, as on OpenWrt, rather than the interpreter running the bench
        cli = [str(r1.root / "usr/sbin/ha-pair"), "--root", str(r1.root), "status", "--json"]
        status_ms = time_command(r1.namespace, cli, runs, env=r1.env())
        pid = r1.instance_pid("agent")
        rss_kb = _proc_status(pid, "VmRSS")
        time.sleep(2)
        before = _proc_status(pid, "voluntary_ctxt_switches")
        time.sleep(10)
        wakeups = _proc_status(pid, "voluntary_ctxt_switches") - before
        state = lab.status("r1")["state"]
    ubus_ms, ubus_note = ubus_status_ms(runs, log)
    log(f"  agent: status {min(status_ms):.0f}-{max(status_ms):.0f} ms, RSS {rss_kb} kB, {wakeups} wake-ups in "
        f"10 s idle (state {state}); ubus: {ubus_note}")
    return {"status_ms": status_ms, "ubus_status_ms": ubus_ms, "ubus_note": ubus_note, "rss_kb": rss_kb,
            "idle_wakeups_10s": wakeups}

