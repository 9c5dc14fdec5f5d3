"""One dynamic public IP (ha.global.single_wan_ip): the failover and failback gaps of a client
pinging the internet through the pair, profile fast, the shared DHCP address on both routers
(tests/lab/single_wan.py). Each takeover records whether the new master already held the
address (it did when it had been master since it booted: a renewal, one frame) or had to ask
the ISP for it first (it booted as backup: a DHCP exchange after netifd restarts its client)."""

from __future__ import annotations

import time
from typing import Any

from tests.bench import stats
from tests.bench.failover import phase_of
from tests.lab import scenarios, single_wan
from tests.lab.pair_lab import Lab, LabOptions
from tests.lab.topology import BENCH_PREFIX as PREFIX


def _held(lab: Lab, router: str) -> bool:
    return lab.routers[router].running and single_wan.wan_address(lab.routers[router].exec) is not None


def run(runs: int, log) -> dict[str, Any]:
    options = LabOptions(profile="fast", single_wan=True, dhcp=False)
    out: dict[str, Any] = {"failover": [], "failback": []}
    with Lab(options, prefix=PREFIX) as lab:
        time.sleep(scenarios.SETTLE_S)
        for index in range(runs):
            held = _held(lab, "r2")
            measured = scenarios.power_loss(lab, phase=phase_of(index, runs, options.advert_int))
            out["failover"].append({"gap_ms": round(measured.gap_ms, 1), "lost": measured.lost,
                                    "takeover_ms": round(measured.takeover_s * 1000, 1), "held_address": held})
            back = scenarios.power_return(lab)  # r1 booted as backup: it never holds the address here
            out["failback"].append({"gap_ms": round(back.gap_ms, 1), "lost": back.lost,
                                    "takeover_ms": round(back.takeover_s * 1000, 1), "held_address": False})
            time.sleep(scenarios.SETTLE_S)
            log(f"  one dynamic IP run {index + 1}/{runs}: failover {measured.gap_ms:.0f} ms "
                f"({'address held' if held else 'DHCP first'}), failback {back.gap_ms:.0f} ms")
    for key in ("failover", "failback"):
        out[f"{key}_gap_ms"] = stats.summary([r["gap_ms"] for r in out[key]])
    return out


def table(result: dict[str, Any]) -> str:
    lines = ["\n| one dynamic public IP (fast) | gap ms p50 / p95 | runs | new master held the address |",
             "|---|---|---|---|"]
    for key in ("failover", "failback"):
        summary, rows = result[f"{key}_gap_ms"], result[key]
        held = sum(1 for r in rows if r["held_address"])
        lines.append(f"| {key} (power) | {summary['p50']:.0f} / {summary['p95']:.0f} | {len(rows)} | {held}/{len(rows)} |")
    return "\n".join(lines)
