"""`make bench`'s jobs and the stages they run in.

A job is one lab's worth of measuring: a part, or one variant of the failover part. Each job runs
in a process of its own (`python3 -m tests.bench --job NAME`) with a lab prefix of its own, so
the jobs of one stage run side by side; the stages run one after another. What shares a stage
only waits on timers (adverts, preemption delays, garp repeats), which is what made the bench
take 25 minutes one job at a time. What measures CPU, memory or latency of our own code (agent,
lease_sync), fills the machine (scale's 50 000 connections) or loads it on purpose (load, soak)
runs alone. Running ha-pair and raw keepalived of a profile at the same time also pairs their runs
under the same machine load.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

from tests.bench import agent, failover, ipv6, lease, load, scale, single_wan

Measure = Callable[[argparse.Namespace, Callable[[str], None]], Any]

FAILOVER_VARIANTS = {  # job name -> (profile, raw keepalived)
    "failover/default": ("default", False), "failover/default-raw": ("default", True),
    "failover/fast": ("fast", False), "failover/fast-raw": ("fast", True),
}


def _failover_variant(name: str) -> Measure:
    profile, baseline = FAILOVER_VARIANTS[name]
    return lambda args, log: failover.run_variant(profile, baseline, args.runs, log)


# job name -> (the part it belongs to, what it measures (logged as it starts), how)
JOBS: dict[str, tuple[str, str, Measure]] = {
    **{name: ("failover", f"failover, profile {profile}, {'raw keepalived' if raw else 'ha-pair'}",
              _failover_variant(name)) for name, (profile, raw) in FAILOVER_VARIANTS.items()},
    "single_wan": ("single_wan", "one dynamic public IP: failover and failback, profile fast, the shared DHCP address",
                   lambda args, log: single_wan.run(args.other_runs, log)),
    "handover": ("handover", "handover: resets in planned handovers, injected vs committed connection state",
                 lambda args, log: failover.handover(max(2, args.other_runs - 1), log)),
    "operator_handover": ("operator_handover", "operator handover: `ha-pair handover` under pings every 10 ms",
                          lambda args, log: failover.operator_handover(args.other_runs, log)),
    "split_brain": ("split_brain", "split brain: VRRP dropped on both switches, detection on both routers",
                    lambda args, log: failover.split_brain(args.other_runs, log)),
    "ipv6": ("ipv6", "ipv6: the client's IPv6 gap beside its IPv4 gap (power loss, preemption)",
             lambda args, log: ipv6.run(args.other_runs, log)),
    "agent": ("agent", "agent: status latency, memory, idle wake-ups", lambda args, log: agent.run(20, log)),
    "lease_sync": ("lease_sync", "lease sync: propagation of 100 leases, merge and exchange of 50 000",
                   lambda args, log: lease.run(100, log)),
    "scale/conntrack": ("scale", "scale: power loss with 50 000 tracked connections vs an empty table, profile fast",
                        lambda args, log: scale.conntrack_runs(args.scale_runs, log)),
    "scale/vip_groups": ("scale", "scale: power loss with 20 VIP groups in one sync group, profile fast",
                         lambda args, log: scale.vip_group_runs(args.scale_runs, log)),
    "load": ("load", "load: false failovers under CPU, process and memory load",
             lambda args, log: load.run(args.load_minutes, log)),
    "soak": ("soak", "soak: false failovers under load, long enough to tell 0 from a few per hour",
             lambda args, log: load.run(args.soak_minutes, log, pairs=args.soak_pairs)),
}

STAGES: tuple[tuple[str, ...], ...] = (
    tuple(FAILOVER_VARIANTS),
    ("single_wan", "handover", "operator_handover", "split_brain", "ipv6"),
    ("agent",),
    ("lease_sync",),
    ("scale/conntrack", "scale/vip_groups"),
    ("load",),
    ("soak",),
)
PARTS = tuple(dict.fromkeys(part for part, _, _ in JOBS.values()))
# parts only run when asked for (--only): the soak takes an hour
OPT_IN = ("soak",)
DEFAULT_PARTS = tuple(part for part in PARTS if part not in OPT_IN)


def stages_for(parts: list[str]) -> list[tuple[str, ...]]:
    """The stages, keeping only the jobs of the chosen parts (and no empty stage)."""
    chosen = [tuple(job for job in stage if JOBS[job][0] in parts) for stage in STAGES]
    return [stage for stage in chosen if stage]


def place(results: dict[str, Any], jobs: dict[str, Any]) -> None:
    """Put finished jobs' results where bench.json keeps them: the failover variants under
    profiles/baseline with their comparison, scale's two jobs under scale, a part under its name."""
    for name, measured in jobs.items():
        part = JOBS[name][0]
        if name in FAILOVER_VARIANTS:
            profile, raw = FAILOVER_VARIANTS[name]
            results.setdefault("baseline" if raw else "profiles", {})[profile] = measured
        elif part == "scale":
            results.setdefault("scale", {"profile": "fast"})[name.split("/")[1]] = measured
        else:
            results[part] = measured
    for profile in {FAILOVER_VARIANTS[n][0] for n in jobs if n in FAILOVER_VARIANTS}:
        if profile in results.get("profiles", {}) and profile in results.get("baseline", {}):
            results.setdefault("comparison", {})[profile] = failover.compare(
                results["profiles"][profile], results["baseline"][profile])
    scaled = results.get("scale", {})
    if any(n.startswith("scale/") for n in jobs) and "conntrack" in scaled and "vip_groups" in scaled:
        scale.pair_groups(scaled)
