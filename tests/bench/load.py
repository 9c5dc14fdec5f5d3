"""False failovers under load (issue 15): for each profile, each kind of load runs on the master
(stress-ng in r1's network namespace: the lab's routers share this machine's CPUs and memory, so
load anywhere is load on both keepalived processes) while nothing fails. A false failover is a
transition of the backup (r2) to MASTER, read from its notify script's transitions log; client
gaps (a ping through the VIP every 10 ms) of 100 ms or more are counted beside them.

Bursty kinds repeat a burst (BURST_S) and a pause (PAUSE_S) for the whole run. The rate per hour
is events / hours observed; with none seen, the 95 % upper bound is 3 / hours (the rule of three:
a Poisson rate above it would show an event with probability > 95 %). Telling 0 from "a few per
hour" (say 3) needs about an hour per case: `--load-minutes 60`.

What a short run can tell is the margin: a packet socket on the LAN client stamps every advert of
the master (kernel receive time), and the longest silence between two is set against what the
backup waits before it takes over (3 adverts + skew: a sync group moves only when its 3-advert
member does). A false failover needs a silence that long; the longest seen says how far off it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

from tests.bench import report
from tests.bench.failover import phase_of
from tests.bench.rates import poisson_upper95
from tests.lab import netns, scenarios
from tests.lab.pair_lab import ADVERT_WATCH, Lab, LabOptions
from tests.lab.topology import BENCH_PREFIX as PREFIX
from tests.lab.traffic import Pinger

DEFAULT_MINUTES = 0.15  # per profile and load kind: a smoke run (3 profiles x 4 kinds ~ 1.8 min of load)
PROFILES = ("default", "fast", "fastest")
POWER_RUNS = 2  # power losses per profile before the loads: the gap each profile buys
BURST_S, PAUSE_S = 2, 2  # whole seconds: stress-ng truncates its --timeout
CLIENT_GAP_MS = 100.0
BACKUP_PRIORITY = 100  # r2, role secondary (config/schema.py): its skew is (256 - 100) / 256 adverts
# exec storms by a shell (stress-ng's exec and spawn stressors refuse to run as root)
EXEC_LOOP = 'end=$(($(date +%s) + {s})); while [ "$(date +%s)" -lt "$end" ]; do /bin/true; done'


def _stress(*arguments: str) -> Callable[[int], list[str]]:
    return lambda seconds: ["stress-ng", *arguments, "--timeout", f"{seconds}s", "--quiet"]


def _process_storm(seconds: int) -> list[str]:
    """fork and vfork storms (stress-ng) with two exec loops beside them."""
    loops = " & ".join([f"sh -c '{EXEC_LOOP.format(s=seconds)}'"] * 2)
    return ["sh", "-c", f"{' '.join(_stress('--fork', '4', '--vfork', '2')(seconds))} & {loops} & wait"]


# kind -> (the command line of one burst of N seconds, bursty); a steady kind runs once for the whole time
LOADS: dict[str, tuple[Callable[[int], list[str]], bool]] = {
    "cpu_steady_90": (_stress("--cpu", "2", "--cpu-load", "90"), False),
    "process_bursts": (_process_storm, True),
    "memory_bursts": (_stress("--vm", "2", "--vm-bytes", "256M", "--vm-populate"), True),
    "cpu_spikes": (_stress("--cpu", "4", "--cpu-load", "100"), True),
}


def r2_masters(lab: Lab) -> int:
    return sum(1 for line in lab.routers["r2"].transitions() if "MASTER" in line)


def apply_load(lab: Lab, kind: str, seconds: float) -> int:
    """Run one kind of load on r1 for `seconds`; returns the bursts started."""
    command, bursty = LOADS[kind]
    end = time.monotonic() + seconds
    bursts = 0
    while time.monotonic() < end:
        length = max(1, round(min(BURST_S if bursty else seconds, end - time.monotonic())))
        proc = netns.spawn(lab.topo.ns("r1"), command(length), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        bursts += 1
        try:
            proc.wait(timeout=length + 10)
        except subprocess.TimeoutExpired:
            pass
        finally:  # the burst's whole process group (its own session): no worker outlives it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            netns.kill_pid(proc.pid, timeout=3)
        if bursty:
            time.sleep(min(PAUSE_S, max(0.0, end - time.monotonic())))
    return bursts


def backup_waits_ms(advert_int: float) -> float:
    """keepalived's master-down interval on the backup: 3 adverts + skew."""
    return round((3 + (256 - BACKUP_PRIORITY) / 256) * advert_int * 1000, 1)


def advert_silences(stamps: list[float]) -> list[float]:
    """Milliseconds between consecutive adverts, from their receive times in seconds."""
    return [round((b - a) * 1000, 1) for a, b in zip(stamps, stamps[1:])]


@contextlib.contextmanager
def watching_adverts(lab: Lab, seconds: float):
    """Stamps of r1's LAN adverts seen by the LAN client while the block runs (a list, filled at
    exit; written to a file as they come: an hour of fastest's adverts would fill a pipe)."""
    stamps: list[float] = []
    with tempfile.TemporaryFile("w+") as out:
        watch = netns.spawn(lab.topo.client_ns, [sys.executable, str(ADVERT_WATCH), lab.topo.router_lan["r1"],
                                                 str(seconds + 60), "--all"], stdout=out)
        try:
            yield stamps
        finally:
            netns.kill_pid(watch.pid, timeout=3)
            out.seek(0)
            stamps.extend(float(line) for line in out.read().split())


def measure_kind(lab: Lab, kind: str, seconds: float) -> dict[str, Any]:
    before = r2_masters(lab)
    started = time.monotonic()
    with Pinger(lab.topo.client_ns, lab.topo.inet_addr) as ping, watching_adverts(lab, seconds) as stamps:
        if not ping.wait_flowing(timeout=15):
            raise AssertionError("no ping replies through the pair before the load")
        since = time.monotonic()
        bursts = apply_load(lab, kind, seconds)
        time.sleep(1)  # a takeover in the last burst reaches the log
        result = ping.stop()
    observed = time.monotonic() - started
    silences = advert_silences(stamps)
    gaps = [round((b - a) * 1000) for a, b in result.gaps(CLIENT_GAP_MS) if b > since]
    false = r2_masters(lab) - before
    hours = observed / 3600
    return {"seconds": round(observed, 1), "bursts": bursts, "false_failovers": false,
            "per_hour": round(false / hours, 1), "upper95_per_hour": round(poisson_upper95(false) / hours, 1),
            "client_gaps_over_100ms": len(gaps), "longest_gap_ms": round(result.longest_gap_ms),
            "lost": result.lost, "sent": result.sent, "adverts": len(stamps),
            "longest_advert_silence_ms": max(silences, default=None),
            "backup_waits_ms": backup_waits_ms(lab.options.advert_int)}


def run_profile(profile: str, minutes: float, log: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {"power_loss_gap_ms": []}
    options = LabOptions(profile=profile, dhcp=False)
    with Lab(options, prefix=PREFIX) as lab:
        time.sleep(scenarios.SETTLE_S)
        for run in range(POWER_RUNS):
            measured = scenarios.power_loss(lab, phase=phase_of(run, POWER_RUNS, options.advert_int))
            out["power_loss_gap_ms"].append(round(measured.gap_ms, 1))
            scenarios.power_return(lab)
            time.sleep(scenarios.SETTLE_S)
        log(f"  {profile:7} power loss gaps {out['power_loss_gap_ms']} ms (no load)")
        for kind in LOADS:
            out[kind] = measure_kind(lab, kind, minutes * 60)
            if lab.master() != "r1":
                scenarios.restore(lab)
                time.sleep(scenarios.SETTLE_S)
            log(f"  {profile:7} {kind:15} {out[kind]['seconds']:.0f} s: {out[kind]['false_failovers']} false "
                f"failovers, {out[kind]['client_gaps_over_100ms']} client gaps >= 100 ms (longest "
                f"{out[kind]['longest_gap_ms']} ms); longest advert silence "
                f"{out[kind]['longest_advert_silence_ms']} ms of the {out[kind]['backup_waits_ms']} ms the backup waits")
    return out


def run(minutes: float, log: Callable[[str], None], profiles: tuple[str, ...] = PROFILES) -> dict[str, Any]:
    if shutil.which("stress-ng") is None:
        raise RuntimeError("stress-ng is missing: tests/support/install-deps.sh installs it")
    return {"minutes_per_kind": minutes, "burst_s": BURST_S, "pause_s": PAUSE_S,
            "profiles": {profile: run_profile(profile, minutes, log) for profile in profiles}}


def rows(results: dict[str, Any]) -> list[report.Row]:
    """Issue 15's load targets (tests/bench/report.py), from bench.json's `load` part: false
    failovers over every profile and kind of load (met only when none was seen; the 95 % upper
    bound says how sure a run of this length is), and the fastest profile's power-loss gap."""
    part = results.get("load")
    if not part:
        return []
    cases = [(profile, kind, r) for profile, kinds in part["profiles"].items() for kind, r in _loads(kinds)]
    seen = sum(r["false_failovers"] for _, _, r in cases)
    hours = sum(r["seconds"] for _, _, r in cases) / 3600
    bound = max(r["upper95_per_hour"] for _, _, r in cases)
    margins = [r["longest_advert_silence_ms"] / r["backup_waits_ms"] for _, _, r in cases
               if r.get("longest_advert_silence_ms") is not None]
    margin = f"; longest advert silence {max(margins):.0%} of what the backup waits" if margins else ""
    out = [report.Row("false_failovers", f"{seen} in {hours:.2f} h over {len(cases)} cases (each ≤ {bound:.0f}/h "
                                         f"at 95 %){margin}",
                      False if seen else (True if bound <= 1 else None))]  # a short run cannot tell 0 from a few
    fastest = part["profiles"].get("fastest")
    if fastest:
        gaps = fastest["power_loss_gap_ms"]
        out.append(report.Row("power_200", f"max {max(gaps):.0f} ms of {len(gaps)} (no load)", max(gaps) <= 200))
    return out


def table(results: dict[str, Any]) -> str:
    lines = [f"| false failovers under load on the master ({results['minutes_per_kind']} min per case; bursts "
             f"{results['burst_s']} s on / {results['pause_s']} s off) | profile | seen | per hour [95 % upper "
             "bound] | client gaps >= 100 ms | longest gap ms | longest advert silence ms (of what the backup "
             "waits) |", "|---|---|---|---|---|---|---|"]
    for profile, kinds in results["profiles"].items():
        for kind, r in _loads(kinds):
            lines.append(f"| {kind} | {profile} | {r['false_failovers']} in {r['seconds']:.0f} s | "
                         f"{r['per_hour']:.0f} [≤ {r['upper95_per_hour']:.0f}] | {r['client_gaps_over_100ms']} | "
                         f"{r['longest_gap_ms']} | {_silence_cell(r)} |")
    lines.append("\npower loss gap without load, ms: " + "; ".join(
        f"{profile} {', '.join(f'{g:.0f}' for g in kinds['power_loss_gap_ms'])}"
        for profile, kinds in results["profiles"].items()))
    return "\n".join(lines)


def _silence_cell(r: dict[str, Any]) -> str:
    if r.get("longest_advert_silence_ms") is None:
        return "—"
    return f"{r['longest_advert_silence_ms']:.0f} (of {r['backup_waits_ms']:.0f}; {r['adverts']} adverts)"


def _loads(kinds: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(kind, kinds[kind]) for kind in LOADS if kind in kinds]
