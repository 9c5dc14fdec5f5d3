"""Cost as the work grows (issue 15), profile fast:

- power loss of the master with 50 000 idle established connections in its conntrack table
  (inserted by ctnetlink like `conntrack -I`, tests/lab/tools/conntrack_fill.py, synced by
  conntrackd to the backup), against the same lab with an empty table, run i of both at the same
  advert phase: the paired difference of the client gaps; TCP flows across the failover with the
  full table; conntrackd's sync traffic (the sync link's counters) and CPU (utime + stime of both
  routers' conntrackd) while the table fills, during the failover and during the failback (the
  rebooted router's startup resync pulls the table back);
- power loss with 20 VIP groups (vip sections) in the one sync group against the 2 of the
  example pair (the empty-table runs above: same profile, same phases).
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from tests.bench import report, stats
from tests.bench.failover import phase_of
from tests.lab import netns, scenarios
from tests.lab.pair_lab import Lab, LabOptions
from tests.lab.topology import BENCH_PREFIX as PREFIX
from tests.support import pair

TOOLS = Path(__file__).resolve().parents[1] / "lab" / "tools"
DEFAULT_RUNS = 8  # power losses of each kind: 3 gave ±70 ms; 5 gave [-40, +63] around +48 (the limit is 50): --scale-runs
CONNECTIONS = 50_000
VIP_GROUPS = 20
IDLE_TIMEOUT_S = 3600  # the inserted connections outlive the bench: nothing expires under it
SYNC_WAIT_S = 60
CONNTRACKD_CONF = "/var/etc/ha-pair/conntrackd.conf"
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def table_size(lab: Lab, router: str) -> int:
    """Entries in the router's kernel conntrack table."""
    out = netns.ns_run(lab.topo.ns(router), "cat", "/proc/sys/net/netfilter/nf_conntrack_count").stdout
    return int(out)


def filled(lab: Lab, router: str) -> int:
    """The inserted connections (LAN clients to the inet host, NATed to the WAN VIP) the router's
    kernel table holds: those of r1 that reached r2 (ha-pair injects them there at once)."""
    out = lab.routers[router].exec("conntrack", "-L", "-p", "tcp", "--orig-dst", pair.UPSTREAM,
                                   "--reply-dst", pair.WAN_VIP, check=False)
    match = re.search(r"(\d+) flow entries have been shown", out.stderr)
    return int(match.group(1)) if match else 0


def fill(lab: Lab, router: str = "r1", count: int = CONNECTIONS) -> int:
    """Insert `count` idle connections (those already there are refused); returns the refused."""
    out = netns.ns_run(lab.topo.ns(router), sys.executable, str(TOOLS / "conntrack_fill.py"), str(count),
                       "192.168.50.0/24", pair.UPSTREAM, pair.WAN_VIP, str(IDLE_TIMEOUT_S), timeout=300).stdout
    return int(out)


def sync_link(lab: Lab, router: str) -> dict[str, int]:
    """The router's sync link counters (bytes and packets, both directions)."""
    info = json.loads(netns.ip(lab.topo.ns(router), "-s", "-j", "link", "show", lab.topo.sync_dev).stdout)[0]
    s = info["stats64"]
    return {"tx_bytes": s["tx"]["bytes"], "tx_packets": s["tx"]["packets"],
            "rx_bytes": s["rx"]["bytes"], "rx_packets": s["rx"]["packets"]}


def cpu_ms(lab: Lab, router: str) -> float | None:
    """utime + stime of the router's conntrackd so far, ms (None when it does not run)."""
    pid = lab.routers[router].instance_pid("conntrackd")
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * 1000 / CLOCK_TICK  # fields 14 and 15 of stat(5)


def conntrackd_stats(lab: Lab, router: str) -> dict[str, int]:
    """From `conntrackd -s`: the internal cache, what was injected into the kernel, and the sync
    messages lost or malformed (conntrackd's own count, since it started)."""
    out = lab.routers[router].exec("conntrackd", "-C", CONNTRACKD_CONF, "-s", check=False).stdout
    found: dict[str, int] = {}
    internal = re.search(r"cache internal:\s*current active connections:\s*(\d+)", out)
    injected = re.search(r"external inject:\s*connections created:\s*(\d+)\s*failed:\s*(\d+)", out)
    tracking = re.search(r"(\d+) Malformed msgs\s+(\d+) Lost msgs", out)
    if internal:
        found["internal_cache"] = int(internal.group(1))
    if injected:
        found["injected"], found["inject_failed"] = int(injected.group(1)), int(injected.group(2))
    if tracking:
        found["malformed_msgs"], found["lost_msgs"] = int(tracking.group(1)), int(tracking.group(2))
    return found


def receive_buffer_errors(lab: Lab, router: str) -> int:
    """UDP datagrams the router's kernel dropped for a full socket buffer (since its last boot)."""
    out = netns.ns_run(lab.topo.ns(router), "nstat", "-az", "UdpRcvbufErrors", check=False).stdout
    match = re.search(r"UdpRcvbufErrors\s+(\d+)", out)
    return int(match.group(1)) if match else 0


class Meter:
    """Sync traffic (r1's side of the link, both directions) and conntrackd CPU of both routers
    between start() and stop(). A conntrackd that died or restarted in between counts from 0."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def _sample(self) -> dict[str, Any]:
        return {"link": sync_link(self.lab, "r2"), "cpu": {r: cpu_ms(self.lab, r) for r in self.lab.routers},
                "pid": {r: self.lab.routers[r].instance_pid("conntrackd") for r in self.lab.routers}}

    def start(self) -> "Meter":
        self.before = self._sample()
        self.started = time.monotonic()
        return self

    def stop(self) -> dict[str, Any]:
        after, seconds = self._sample(), time.monotonic() - self.started
        link = {k: after["link"][k] - self.before["link"][k] for k in after["link"]}
        cpu = {}
        for router in self.lab.routers:
            now = after["cpu"][router]
            if now is None:
                cpu[f"{router}_cpu_ms"] = None
                continue
            same = after["pid"][router] == self.before["pid"][router] and self.before["cpu"][router] is not None
            cpu[f"{router}_cpu_ms"] = round(now - (self.before["cpu"][router] if same else 0))
        # r2's rx is what r1 sent to it (the sync link is a direct veth pair)
        return {"seconds": round(seconds, 1), "to_r2_bytes": link["rx_bytes"], "to_r2_packets": link["rx_packets"],
                "to_r1_bytes": link["tx_bytes"], "to_r1_packets": link["tx_packets"], **cpu}


def wait_synced(lab: Lab, router: str, count: int, timeout: float = SYNC_WAIT_S) -> tuple[int, float]:
    """Wait until the router's table holds `count` more than nothing (or stops growing); returns
    (entries, seconds waited)."""
    started = time.monotonic()
    last, still_since = -1, started
    while True:
        now = table_size(lab, router)
        if now >= count:
            return now, time.monotonic() - started
        if now != last:
            last, still_since = now, time.monotonic()
        if time.monotonic() - still_since > 10 or time.monotonic() - started > timeout:
            return now, time.monotonic() - started
        time.sleep(0.25)


def power_return(lab: Lab) -> tuple[scenarios.Measurement, float]:
    """scenarios.power_return, and the monotonic time r1 was powered on (its takeover_s counts from it)."""
    time.sleep(scenarios.MIN_OFF_S)
    powered = [0.0]

    def power_on() -> None:
        powered[0] = time.monotonic()
        lab.power_on("r1")

    measured = scenarios.measure(lab, power_on, "r1", 10 * lab.options.advert_int + 10 + lab.options.preempt_delay,
                                 "r1 preempts after power-on", random_phase=False)
    return measured, powered[0]


class TableWatch:
    """Samples a router's table size every 0.1 s in a thread (during a boot: its startup resync):
    when (monotonic) it first held `count`, and what it held at a given monotonic time."""

    def __init__(self, lab: Lab, router: str, count: int) -> None:
        self.lab, self.router, self.count = lab, router, count
        self.samples: list[tuple[float, int]] = []
        self.reached: float | None = None
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                size = table_size(self.lab, self.router)
            except Exception:  # the router's namespace is being replaced (power loss)
                size = 0
            now = time.monotonic()
            self.samples.append((now, size))
            if size >= self.count and self.reached is None:
                self.reached = now
            self._stop.wait(0.1)

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.reached is None and time.monotonic() < deadline:
            time.sleep(0.1)

    def at(self, moment: float) -> int:
        before = [size for sampled, size in self.samples if sampled <= moment]
        return before[-1] if before else 0

    def __enter__(self) -> "TableWatch":
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join()


def _gap(measured: scenarios.Measurement) -> float:
    return round(measured.gap_ms, 1)


def conntrack_runs(runs: int, log: Callable[[str], None]) -> dict[str, Any]:
    """The empty-table and full-table power losses, the flows, the sync cost."""
    out: dict[str, Any] = {"connections": CONNECTIONS, "empty_gap_ms": [], "full_gap_ms": [],
                           "r1_table_before_failover": [], "r2_table_before_failover": [], "failover": [],
                           "failback": []}
    options = LabOptions(profile="fast", dhcp=False)
    with Lab(options, prefix=PREFIX) as lab:
        time.sleep(scenarios.SETTLE_S)
        for run in range(runs):
            phase = phase_of(run, runs, options.advert_int)
            out["empty_gap_ms"].append(_gap(scenarios.power_loss(lab, phase=phase)))
            scenarios.power_return(lab)
            time.sleep(scenarios.SETTLE_S)
            log(f"  empty table run {run + 1}/{runs}: gap {out['empty_gap_ms'][-1]:.0f} ms")
        meter = Meter(lab).start()
        started = time.monotonic()
        refused = fill(lab)
        out["fill_seconds"] = round(time.monotonic() - started, 1)
        out["fill_refused"] = refused
        _, waited = wait_synced(lab, "r2", CONNECTIONS)
        out["fill"] = meter.stop()
        out["r2_table_synced"] = filled(lab, "r2")
        out["fill"]["sync_wait_seconds"] = round(waited, 1)
        out["conntrackd_r1"], out["conntrackd_r2"] = conntrackd_stats(lab, "r1"), conntrackd_stats(lab, "r2")
        log(f"  filled r1 with {CONNECTIONS} ({refused} refused) in {out['fill_seconds']} s; r2's table "
            f"{out['r2_table_synced']} after {waited:.1f} s more; {out['fill']}")
        for run in range(runs):
            phase = phase_of(run, runs, options.advert_int)
            fill(lab)  # tops up: after a reboot r1 has what its startup resync brought back
            wait_synced(lab, "r2", CONNECTIONS)
            out["r1_table_before_failover"].append(filled(lab, "r1"))
            out["r2_table_before_failover"].append(filled(lab, "r2"))
            time.sleep(scenarios.SETTLE_S)  # the top-up's events are synced
            meter = Meter(lab).start()
            out["full_gap_ms"].append(_gap(scenarios.power_loss(lab, phase=phase)))
            time.sleep(1)
            out["failover"].append(meter.stop())
            meter = Meter(lab).start()
            with TableWatch(lab, "r1", CONNECTIONS) as watch:
                back, powered = power_return(lab)
                watch.wait(30)
            r1_table = table_size(lab, "r1")
            reached = None if watch.reached is None else round(watch.reached - powered, 2)
            out["failback"].append({**meter.stop(), "r1_table_after_resync": r1_table,
                                    "r1_receive_buffer_errors": receive_buffer_errors(lab, "r1"),
                                    "r1_conntrackd": conntrackd_stats(lab, "r1"),
                                    "takeover_s": round(back.takeover_s, 2), "gap_ms": _gap(back),
                                    "resync_done_s": reached, "r1_table_at_takeover": watch.at(powered + back.takeover_s)})
            time.sleep(scenarios.SETTLE_S)
            log(f"  full table run {run + 1}/{runs}: gap {out['full_gap_ms'][-1]:.0f} ms "
                f"(tables r1 {out['r1_table_before_failover'][-1]}, r2 {out['r2_table_before_failover'][-1]}); "
                f"failover {out['failover'][-1]}; failback {out['failback'][-1]}")
        fill(lab)
        out["flows_table"] = wait_synced(lab, "r2", CONNECTIONS)[0]
        time.sleep(scenarios.SETTLE_S)
        flows = scenarios.tcp_flows(lab, failure="power")
        out["tcp_flows"] = {"total": flows.total, "survived_failover": flows.survived_failover,
                            "survived_failback": flows.survived_failback}
        log(f"  tcp flows with a full table: {flows.survived_failover}/{flows.total} failover, "
            f"{flows.survived_failback}/{flows.total} failback")
        scenarios.restore(lab)
    out["difference_ms"] = stats.paired_difference(out["full_gap_ms"], out["empty_gap_ms"])
    return out


def vip_group_runs(runs: int, log: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {"groups": VIP_GROUPS, "gap_ms": [], "moved": []}
    options = LabOptions(profile="fast", dhcp=False, extra_vips=VIP_GROUPS - 2)
    extra = set(pair.extra_vip_addresses(options.extra_vips))
    with Lab(options, prefix=PREFIX) as lab:
        time.sleep(scenarios.SETTLE_S)
        for run in range(runs):
            measured = scenarios.power_loss(lab, phase=phase_of(run, runs, options.advert_int))
            out["gap_ms"].append(_gap(measured))
            addresses = netns.ip(lab.topo.ns("r2"), "-4", "-o", "addr", "show").stdout
            held = {tok.split("/")[0] for tok in addresses.split() if "/" in tok}
            out["moved"].append(len(held & (extra | {pair.LAN_VIP, pair.WAN_VIP})))
            scenarios.power_return(lab)
            time.sleep(scenarios.SETTLE_S)
            log(f"  {VIP_GROUPS} VIP groups run {run + 1}/{runs}: gap {out['gap_ms'][-1]:.0f} ms, "
                f"{out['moved'][-1]} VIPs on r2 at takeover")
    return out


def pair_groups(scale_result: dict[str, Any]) -> None:
    """The VIP groups' gaps against the empty table's, run by run (both jobs sweep the same phases)."""
    groups = scale_result["vip_groups"]
    groups["difference_ms"] = stats.paired_difference(groups["gap_ms"], scale_result["conntrack"]["empty_gap_ms"])


def rows(results: dict[str, Any]) -> list[report.Row]:
    """Issue 15's scale targets (tests/bench/report.py), from bench.json's `scale` part: the
    paired difference to the empty table's gap, met when its whole 95 % interval is within 50 ms."""
    part = results.get("scale")
    if not part:
        return []
    out = []
    for key, measured, also in (("conntrack_50k", part["conntrack"], _flows_note(part["conntrack"])),
                                ("vip_groups_20", part["vip_groups"], "")):
        d = measured["difference_ms"]
        out.append(report.Row(key, f"Δ {d['median']:+.0f} ms [{d['ci95_low']:+.0f}, {d['ci95_high']:+.0f}] "
                                   f"(n={d['n']}){also}", d["ci95_high"] <= 50))
    return out


def _flows_note(conntrack: dict[str, Any]) -> str:
    flows = conntrack["tcp_flows"]
    return f"; TCP flows kept {flows['survived_failover']}/{flows['total']}"


def table(results: dict[str, Any]) -> str:
    c, g = results["conntrack"], results["vip_groups"]
    empty, full, many = (stats.summary(c["empty_gap_ms"]), stats.summary(c["full_gap_ms"]),
                         stats.summary(g["gap_ms"]))
    d, e = c["difference_ms"], g["difference_ms"]
    fl, fo = c["fill"], c["failover"]
    lines = [
        "| scale, profile fast, power loss | gap ms p50 / p95 | Δ vs empty table, 2 VIPs: paired median [95 % interval] |",
        "|---|---|---|",
        f"| empty table, 2 VIP groups | {empty['p50']:.0f} / {empty['p95']:.0f} | |",
        f"| {c['connections']} tracked connections (r2 held {min(c['r2_table_before_failover'])}) | "
        f"{full['p50']:.0f} / {full['p95']:.0f} | {d['median']:+.0f} [{d['ci95_low']:+.0f}, {d['ci95_high']:+.0f}] "
        f"(n={d['n']}) |",
        f"| {g['groups']} VIP groups in one sync group (all moved: {min(g['moved'])}) | "
        f"{many['p50']:.0f} / {many['p95']:.0f} | {e['median']:+.0f} [{e['ci95_low']:+.0f}, {e['ci95_high']:+.0f}] "
        f"(n={e['n']}) |",
        f"\nconntrackd with {c['connections']} connections: fill {c['fill_seconds']} s, synced to r2 "
        f"{c['r2_table_synced']} ({fl['to_r2_bytes']} bytes in {fl['to_r2_packets']} packets r1→r2, "
        f"{fl['to_r1_packets']} packets back; CPU r1 {fl['r1_cpu_ms']} ms, r2 {fl['r2_cpu_ms']} ms); "
        f"failover: r2's conntrackd CPU {_spread([f['r2_cpu_ms'] for f in fo])} ms; failback (r1's startup "
        f"resync): {_spread([f['to_r1_bytes'] for f in c['failback']])} bytes r2→r1, CPU r1 "
        f"{_spread([f['r1_cpu_ms'] for f in c['failback']])} ms, r2 {_spread([f['r2_cpu_ms'] for f in c['failback']])} "
        f"ms; TCP flows survived failover {c['tcp_flows']['survived_failover']}/{c['tcp_flows']['total']}, "
        f"failback {c['tcp_flows']['survived_failback']}/{c['tcp_flows']['total']}",
        f"\nfailback with {c['connections']} connections: r1's table after its startup resync "
        f"{_spread([f['r1_table_after_resync'] for f in c['failback']])}, complete "
        f"{_spread([f['resync_done_s'] for f in c['failback']])} s after power-on (never in "
        f"{sum(f['resync_done_s'] is None for f in c['failback'])} of {len(c['failback'])}); r1 took the VIPs back after "
        f"{_spread([f['takeover_s'] for f in c['failback']])} s holding {_spread([f['r1_table_at_takeover'] for f in c['failback']])} "
        f"entries; failback gap {_spread([f['gap_ms'] for f in c['failback']])} ms; r1's UDP receive buffer errors "
        f"{_spread([f['r1_receive_buffer_errors'] for f in c['failback']])}",
    ]
    return "\n".join(lines)


def _spread(values: list) -> str:
    known = sorted(v for v in values if v is not None)
    if not known:
        return "-"
    return f"{known[len(known) // 2]} ({known[0]}-{known[-1]})"
