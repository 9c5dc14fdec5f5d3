"""Agent benchmark, on lab router r1 (OpenWrt's procd with its ubusd, and rpcd and uhttpd installed
as packages and started by procd: tests/controlplane/packages.py):

- `ha-pair status --json` wall time, run on the router by its own python3;
- `ubus call ha status`, p50/p95: the status handler inside the agent (the router's python3 and
  files), the agent's control socket (handler plus a unix-socket round trip), the ubus CLI on the
  router, and HTTP /ubus from the LAN client with a logged-in rpcd session (a connection per call,
  and all calls over one keep-alive connection as a browser makes LuCI's);
- the agent's resident memory, and how often an idle agent wakes up.

Every timer runs where the call starts (router or LAN client), so no nsenter is in a figure.
Without rpcd/uhttpd's sources the HTTP figure is left out and says why.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable

from ha_pair.paths import Paths
from tests.bench import report
from tests.lab import scenarios
from tests.lab.pair_lab import Lab, LabOptions, Router
from tests.lab.topology import BENCH_PREFIX as PREFIX
from tests.support import pair

ROUTER_PATHS = Paths("/")
MODULES = "/usr/lib/ha-pair/python"  # where the package installs ha_pair on the router

TIMER = """
import subprocess, sys, time, json
argv = json.loads(sys.argv[1]); out = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter(); subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
    out.append(round((time.perf_counter() - start) * 1000, 2))
print(json.dumps(out))
"""

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

# The agent's status handler itself, on the router's real files, links and conntrackd, in a
# process of its own on the router (the running agent's instance is behind its sockets).
HANDLER_TIMER = """
import json, sys, time
from ha_pair.agent.lease_sync import LeaseSync
from ha_pair.agent.loop import Agent
from ha_pair.paths import Paths
agent = Agent(Paths("/")); model = agent.model
agent.lease_sync = LeaseSync(agent.paths, str(model.node.peer), model.dhcp.ssh_port, model.dhcp.reconcile_interval,
                             lambda *args: None)
agent.status({}); out = []
for _ in range(int(sys.argv[1])):
    start = time.perf_counter(); agent.status({})
    out.append(round((time.perf_counter() - start) * 1000, 3))
    time.sleep(0.005)
print(json.dumps(out))
"""


# The interpreter alone, started as the agent is (/usr/sbin/ha-pair: `#!/usr/bin/env python3`,
# site imported), holding nothing: what the agent's RSS is compared with.
BARE_RSS = "print(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])"


def _proc_status(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(text.split(f"{field}:")[1].split()[0])


def on_router(router: Router, script: str, *args: str, env: dict[str, str] | None = None) -> list[float]:
    """Run a timer script with the router's own python3, on the router; its list of ms."""
    return json.loads(router.exec("python3", "-c", script, *args, timeout=300, env=env).stdout)


def time_command(router: Router, argv: list[str], runs: int) -> list[float]:
    """Wall time of each run of a command on the router."""
    return on_router(router, TIMER, json.dumps(argv), str(runs))


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return {"p50": pick(0.5), "p95": pick(0.95), "max": ordered[-1], "n": len(ordered)}


def control_plane_packages() -> tuple[tuple[Callable[[Router], None], ...], str]:
    """The lab's installs for rpcd/uhttpd, or none and why."""
    from tests import vendor
    from tests.controlplane import packages
    try:
        packages.build()
    except (vendor.Unavailable, vendor.BuildFailed) as exc:
        return (), f"HTTP not measured: {exc}"
    return (packages.install,), "OpenWrt's ubusd (procd's), rpcd and uhttpd (procd services) on a lab router"


def ubus_ms(lab: Lab, runs: int, http_too: bool) -> dict[str, list[float]]:
    """`ubus call ha status` on r1, from the inside out (see the module doc)."""
    r1 = lab.routers["r1"]
    figures = {
        "handler_ms": on_router(r1, HANDLER_TIMER, str(runs), env={"PYTHONPATH": MODULES}),
        "socket_ms": on_router(r1, CONTROL_TIMER, str(ROUTER_PATHS.control_socket), str(runs)),
        "cli_ms": time_command(r1, ["ubus", "call", "ha", "status"], runs),
    }
    if http_too:
        from tests.controlplane import http
        base = f"http://{pair.ROUTERS['r1']['lan']}"
        sid = http.login(lab.topo.client_ns, base, "ha-viewer", "viewer-pass")
        calls = [{"path": "/ubus", "body": http.rpc(sid, "ha", "status")} for _ in range(runs)]
        # a connection per call, paced below fw4's SYN flood limit (syn_flood: 25/s, burst 50),
        # which would drop the SYNs of a faster client (a 1 s retransmission each); and all calls
        # over one keep-alive connection, as a browser sends LuCI's
        for key, answers in (("http_ms", http.exchange(lab.topo.client_ns, base, calls, interval=0.05)),
                             ("http_keepalive_ms", http.exchange(lab.topo.client_ns, base, calls, keepalive=True))):
            assert all(a["body"]["result"][0] == 0 for a in answers), answers[:1]
            figures[key] = [a["ms"] for a in answers]
    return figures


def run(runs: int, log, ubus_runs: int = 200) -> dict[str, Any]:
    installs, ubus_note = control_plane_packages()
    with Lab(LabOptions(dhcp=False, installs=installs), prefix=PREFIX) as lab:
        time.sleep(scenarios.SETTLE_S)
        r1 = lab.routers["r1"]
        status_ms = time_command(r1, r1.ha_pair("status", "--json"), runs)
        pid = r1.instance_pid("agent")
        rss_kb = _proc_status(pid, "VmRSS")
        python_rss_kb = sorted(int(r1.exec("python3", "-c", BARE_RSS).stdout) for _ in range(5))[2]
        time.sleep(2)
        before = _proc_status(pid, "voluntary_ctxt_switches")
        time.sleep(10)
        wakeups = _proc_status(pid, "voluntary_ctxt_switches") - before
        state = lab.status("r1")["state"]
        ubus = ubus_ms(lab, ubus_runs, http_too=bool(installs))
    figures = {key: {"samples": samples, **percentiles(samples)} for key, samples in ubus.items()}
    log(f"  agent: status {min(status_ms):.0f}-{max(status_ms):.0f} ms, RSS {rss_kb} kB ({rss_kb - python_rss_kb} kB "
        f"above python3 alone, {python_rss_kb} kB), {wakeups} wake-ups in "
        f"10 s idle (state {state}); ubus call ha status p50/p95 ms: "
        + ", ".join(f"{key[:-3]} {f['p50']:.2f}/{f['p95']:.2f}" for key, f in figures.items()) + f" ({ubus_note})")
    return {"status_ms": status_ms, "rss_kb": rss_kb, "python_rss_kb": python_rss_kb,
            "rss_above_python_kb": rss_kb - python_rss_kb, "idle_wakeups_10s": wakeups, "ubus_note": ubus_note,
            **figures}


def rows(results: dict[str, Any]) -> list[report.Row]:
    """Issue 15's agent targets (tests/bench/report.py)."""
    a = results.get("agent")
    if not a:
        return []
    status = statistics.median(a["status_ms"])
    out = [report.Row("status_startup", f"median {status:.0f} ms (max {max(a['status_ms']):.0f}, n={len(a['status_ms'])})",
                      status <= 40)]
    interpreter = a.get("python_rss_kb")  # a bare python3 on the same router
    if interpreter is None:
        out.append(report.Row("agent_rss", f"RSS {a['rss_kb'] / 1024:.1f} MB (the bare interpreter not measured)", None))
    else:
        above = (a["rss_kb"] - interpreter) / 1024
        out.append(report.Row("agent_rss", f"{above:.1f} MB above {interpreter / 1024:.1f} MB", above <= 6))
    return out
