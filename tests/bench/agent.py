"""Agent benchmark: `ha-pair status` and `ubus call ha status` latency on a lab router (its own
python3 and OpenWrt's ubusd), the agent's resident memory, and how often an idle agent wakes up."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.lab import scenarios
from tests.lab.pair_lab import Lab, LabOptions, Router
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


def time_command(router: Router, argv: list[str], runs: int) -> list[float]:
    """Wall time of each run, measured on the router by its own python3 (no nsenter in the figure)."""
    out = router.exec("python3", "-c", TIMER, json.dumps(argv), str(runs), timeout=300)
    return json.loads(out.stdout)


def run(runs: int, log) -> dict[str, Any]:
    with Lab(LabOptions(dhcp=False), prefix=PREFIX) as lab:
        time.sleep(scenarios.SETTLE_S)
        r1 = lab.routers["r1"]
        status_ms = time_command(r1, r1.ha_pair("status", "--json"), runs)
        ubus_ms = time_command(r1, ["ubus", "call", "ha", "status"], runs)
        pid = r1.instance_pid("agent")
        rss_kb = _proc_status(pid, "VmRSS")
        time.sleep(2)
        before = _proc_status(pid, "voluntary_ctxt_switches")
        time.sleep(10)
        wakeups = _proc_status(pid, "voluntary_ctxt_switches") - before
        state = lab.status("r1")["state"]
    ubus_note = "OpenWrt's ubusd and ubus CLI on a lab router"
    log(f"  agent: status {min(status_ms):.0f}-{max(status_ms):.0f} ms, ubus {min(ubus_ms):.0f}-{max(ubus_ms):.0f} ms, "
        f"RSS {rss_kb} kB, {wakeups} wake-ups in 10 s idle (state {state})")
    return {"status_ms": status_ms, "ubus_status_ms": ubus_ms, "ubus_note": ubus_note, "rss_kb": rss_kb,
            "idle_wakeups_10s": wakeups}
