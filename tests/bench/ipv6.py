"""IPv6 on the LAN: the client's IPv6 gap beside its IPv4 gap, both measured in the same run
(one ping each, through the pair: IPv4 through the NAT to the WAN VIP, IPv6 routed via the
virtual link-local router), for a power loss of the master and for its return (preemption)."""

from __future__ import annotations

import time
from typing import Any

from tests.bench import stats
from tests.bench.failover import phase_of
from tests.lab import ipv6, scenarios
from tests.lab.pair_lab import Lab, LabOptions
from tests.lab.topology import BENCH_PREFIX as PREFIX

SCENARIOS = ("power", "preempt")


def run(runs: int, log) -> dict[str, Any]:
    options = LabOptions(profile="fast", ipv6=True)
    series = {name: {"gap_ms": [], "gap6_ms": [], "lost": [], "lost6": []} for name in SCENARIOS}
    with Lab(options, prefix=PREFIX) as lab:
        ipv6.solicit(lab.topo)
        lab.wait_for(lambda: ipv6.client_address(lab.topo) and ipv6.client_routers(lab.topo), 20,
                     "the client configures IPv6")
        time.sleep(scenarios.SETTLE_S)
        for i in range(runs):
            measured = {"power": scenarios.power_loss(lab, phase=phase_of(i, runs, options.advert_int)),
                        "preempt": scenarios.power_return(lab)}
            time.sleep(scenarios.SETTLE_S)
            for name, m in measured.items():
                s = series[name]
                s["gap_ms"].append(round(m.gap_ms, 1))
                s["gap6_ms"].append(round(m.gap6_ms, 1))
                s["lost"].append(m.lost)
                s["lost6"].append(m.lost6)
            log(f"  ipv6 run {i + 1}/{runs}: " + ", ".join(
                f"{n} IPv4 {series[n]['gap_ms'][-1]:.0f} ms / IPv6 {series[n]['gap6_ms'][-1]:.0f} ms" for n in SCENARIOS))
    for s in series.values():
        s["difference_ms"] = stats.paired_difference(s["gap6_ms"], s["gap_ms"])
    return series


def table(results: dict[str, Any]) -> str:
    lines = ["\n| fast profile, IPv6 on the LAN | IPv4 gap ms p50 / p95 | IPv6 gap ms p50 / p95 | "
             "IPv6 - IPv4 ms, paired median [95 % interval] |", "|---|---|---|---|"]
    for name in SCENARIOS:
        s = results[name]
        a, b, c = stats.summary(s["gap_ms"]), stats.summary(s["gap6_ms"]), s["difference_ms"]
        lines.append(f"| {name} | {a['p50']:.0f} / {a['p95']:.0f} | {b['p50']:.0f} / {b['p95']:.0f} | "
                     f"{c['median']:+.0f} [{c['ci95_low']:+.0f}, {c['ci95_high']:+.0f}] (n={c['n']}) |")
    return "\n".join(lines)
