"""Agent benchmark: `ha-pair status` latency, `ubus call ha status` latency on the router's real
control plane (OpenWrt's ubusd/rpcd/uhttpd built by tests/vendor: the ubus CLI, and HTTP /ubus
from a LAN client with a logged-in session as LuCI calls it), the agent's own answer time (its
control socket: the status handler plus a unix-socket round trip), its resident memory, and how
often an idle agent wakes up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.lab import scenarios
from tests.lab.pair_lab import Lab, LabOptions
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


CONTROL_TIMER = """
import json, socket, sys, time
path, runs = sys.argv[1], int(sys.argv[2]); out = []
for _ in range(runs):
    start = time.perf_counter()
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path); s.sendall(b'{"method": "status"}\\n'); data = b""
        while not data.endswith(b"\\n"):
            data += s.recv(65536)
    out.append(round((time.perf_counter() - start) * 1000, 3))
print(json.dumps(out))
"""


# The agent's status handler itself, on the router's real files, links and conntrackd, in-process
# in the router's namespace (the running agent's own instance is behind its sockets).
HANDLER_TIMER = """
import json, sys, time
from ha_pair.agent.lease_sync import LeaseSync
from ha_pair.agent.loop import Agent
from ha_pair.paths import Paths
agent = Agent(Paths(sys.argv[1])); model = agent.model
agent.lease_sync = LeaseSync(agent.paths, str(model.node.peer), model.dhcp.ssh_port, model.dhcp.reconcile_interval,
                             lambda *args: None)
agent.status({}); out = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter(); agent.status({})
    out.append(round((time.perf_counter() - start) * 1000, 3))
    time.sleep(0.005)
print(json.dumps(out))
"""


def percentiles(samples: list[float] | None) -> dict[str, float] | None:
    if not samples:
        return None
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return {"p50": pick(0.5), "p95": pick(0.95), "max": ordered[-1], "n": len(ordered)}


def control_plane_ms(lab: Lab, runs: int) -> tuple[dict, str]:
    """`ubus call ha status` on r1: CLI inside the router, HTTP /ubus from the LAN client, and the
    agent's control socket; or why it could not be measured."""
    try:
        from tests import vendor
        from tests.controlplane import http
        from tests.controlplane.lab_glue import LabControlPlane
        from tests.controlplane.stack import COMPONENTS, SOCKET
        from tests.support.ubusd import find_tools
        for name in (*COMPONENTS, "luci-master"):
            vendor.build(name)
        find_tools()
    except BaseException as exc:  # Unavailable, BuildFailed, or a pytest skip from find_tools
        return {}, f"not measured: {exc}"
    control = LabControlPlane(lab).start()
    try:
        r1 = lab.routers["r1"]
        plane = control.planes["r1"]
        cli = plane.run("/usr/bin/python3", "-c", TIMER, json.dumps(["/usr/bin/ubus", "-s", SOCKET, "call", "ha",
                                                                     "status"]), str(runs), timeout=300)
        socket_rtt = subprocess.run(["ip", "netns", "exec", r1.namespace, sys.executable, "-c", CONTROL_TIMER,
                                     str(r1.root / "var/run/ha-pair/agent.sock"), str(runs)],
                                    capture_output=True, text=True, check=True, timeout=300)
        handler = subprocess.run(["ip", "netns", "exec", r1.namespace, sys.executable, "-c", HANDLER_TIMER,
                                  str(r1.root), str(runs)], capture_output=True, text=True, check=True, timeout=300,
                                 env={**os.environ, "PYTHONPATH": str(r1.root / "usr/lib/ha-pair/python")})
        sid = http.login(lab.topo.client_ns, control.base, "ha-viewer", "viewer-pass")
        answers = http.exchange(lab.topo.client_ns, control.base,
                                [{"path": "/ubus", "body": http.rpc(sid, "ha", "status")} for _ in range(runs)])
        assert all(a["body"]["result"][0] == 0 for a in answers), answers[:1]
        return {"handler_ms": json.loads(handler.stdout), "socket_ms": json.loads(socket_rtt.stdout),
                "cli_ms": json.loads(cli.stdout), "http_ms": [a["ms"] for a in answers]}, \
            "OpenWrt's ubusd, rpcd and uhttpd built from source"
    finally:
        control.stop()


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
        ubus, ubus_note = control_plane_ms(lab, 200)
    log(f"  agent: status {min(status_ms):.0f}-{max(status_ms):.0f} ms, RSS {rss_kb} kB, {wakeups} wake-ups in "
        f"10 s idle (state {state}); ubus: {ubus_note}")
    return {"status_ms": status_ms, "rss_kb": rss_kb, "idle_wakeups_10s": wakeups, "ubus_note": ubus_note,
            **{key: {"samples": samples, **percentiles(samples)} for key, samples in ubus.items()}}

