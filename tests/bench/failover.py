"""Failover benchmark: each scenario repeated for both profiles, with ha-pair and with a
hand-written keepalived.conf (raw keepalived, no ha-pair) on the same topology, so results
compare against a baseline instead of standing alone.

Run i of every variant injects its failures at the same phase of the advert cycle (phase_of):
with 1 s adverts the phase alone spreads a gap over ~900 ms, so random phases would hide a
difference of 50 ms; fixed phases make the runs pairs, and tests/bench/stats.py gives the
median difference with its interval."""

from __future__ import annotations

import statistics
import time
from typing import Any

from tests.bench import report, stats
from tests.lab import scenarios, wireguard
from tests.lab.pair_lab import Lab, LabOptions
from tests.lab.topology import BENCH_PREFIX as PREFIX

SCENARIOS = ("power", "lan_link", "graceful", "preempt")
# Flows through a power loss only, and none with raw keepalived (it runs no conntrackd: they break
# by design): what keeps `make bench` near 20 minutes on a shared 2-core machine (with all three
# failures on both sides the failover part alone took 20 minutes). The lab tests cover the others.
FLOW_FAILURES = ("power",)
BASELINE_FLOW_FAILURES: tuple[str, ...] = ()


def _record(series: dict[str, list], measured: scenarios.Measurement) -> None:
    series["gap_ms"].append(round(measured.gap_ms, 1))
    series["lost"].append(measured.lost)
    series["takeover_ms"].append(round(measured.takeover_s * 1000, 1))


def run_variant(profile: str, baseline: bool, runs: int, log) -> dict[str, Any]:
    """One profile, ha-pair or baseline: {scenario: {gap_ms, lost, takeover_ms}, tcp_flows: {...}}."""
    options = LabOptions(profile=profile, baseline=baseline, conntrack=not baseline, dhcp=False)
    result: dict[str, Any] = {name: {"gap_ms": [], "lost": [], "takeover_ms": []} for name in SCENARIOS}
    flows = {"total": 0, "survived_failover": 0, "survived_failback": 0, "by_failure": {}}
    with Lab(options, prefix=PREFIX) as lab:
        time.sleep(scenarios.SETTLE_S)
        for run in range(runs):
            phase = phase_of(run, runs, options.advert_int)
            _record(result["power"], scenarios.power_loss(lab, phase=phase))
            _record(result["preempt"], scenarios.power_return(lab))
            time.sleep(scenarios.SETTLE_S)
            _record(result["lan_link"], scenarios.lan_link_failure(lab, phase=phase))
            scenarios.restore(lab)
            time.sleep(scenarios.SETTLE_S)
            _record(result["graceful"], scenarios.graceful_stop(lab, phase=phase))
            scenarios.restore(lab)
            time.sleep(scenarios.SETTLE_S)
            log(f"  {profile:7} {'baseline' if baseline else 'ha-pair':8} run {run + 1}/{runs}: "
                + ", ".join(f"{n} {result[n]['gap_ms'][-1]:.0f} ms" for n in SCENARIOS))
        for failure in BASELINE_FLOW_FAILURES if baseline else FLOW_FAILURES:
            outcome = scenarios.tcp_flows(lab, failure=failure)
            scenarios.restore(lab)
            time.sleep(scenarios.SETTLE_S)
            flows["total"] += outcome.total
            flows["survived_failover"] += outcome.survived_failover
            flows["survived_failback"] += outcome.survived_failback
            flows["by_failure"][failure] = {"total": outcome.total, "survived_failover": outcome.survived_failover,
                                            "survived_failback": outcome.survived_failback}
            log(f"  {profile:7} {'baseline' if baseline else 'ha-pair':8} tcp flows ({failure}): "
                f"{outcome.survived_failover}/{outcome.total} failover, "
                f"{outcome.survived_failback}/{outcome.total} failback")
        if not baseline:
            udp = scenarios.udp_streams(lab)
            scenarios.restore(lab)
            time.sleep(scenarios.SETTLE_S)
            result["udp_streams"] = _udp_record(udp)
            log(f"  {profile:7} ha-pair  udp streams (power): failover gap echo {udp.gap_ms_failover['echo']:.0f} ms, "
                f"push {udp.gap_ms_failover['push']:.0f} ms; resumed {udp.resumed_failover} / {udp.resumed_failback}")
            result["wireguard"] = _wireguard_record(lab)
            log(f"  {profile:7} ha-pair  wireguard tunnel (power): {_wireguard_cell(result['wireguard'])}")
    result["tcp_flows"] = flows
    return result


def phase_of(run: int, runs: int, advert_int: float) -> float:
    """Seconds after an advert at which run `run` of `runs` injects: the cycle swept evenly."""
    return round((run + 0.5) / runs * advert_int, 4)


def _udp_record(outcome: scenarios.UdpOutcome) -> dict[str, Any]:
    """JSON-safe: a stream that never resumed has no gap (None), not an infinite one."""
    def finite(gaps: dict[str, float]) -> dict[str, float | None]:
        return {k: (round(v, 1) if v != float("inf") else None) for k, v in gaps.items()}
    return {"total": outcome.total, "resumed_failover": outcome.resumed_failover,
            "resumed_failback": outcome.resumed_failback, "gap_ms_failover": finite(outcome.gap_ms_failover),
            "gap_ms_failback": finite(outcome.gap_ms_failback)}


def _wireguard_record(lab: Lab) -> dict[str, Any]:
    """The tunnel's failover and failback (scenarios.wireguard_tunnel), or why it could not run here."""
    why = wireguard.unavailable()
    if why:
        return {"not_run": why}
    outcome = scenarios.wireguard_tunnel(lab)
    scenarios.restore(lab)
    time.sleep(scenarios.SETTLE_S)
    gaps = {"gap_ms_failover": outcome.gap_ms_failover, "gap_ms_failback": outcome.gap_ms_failback}
    return {**{k: None if v is None else round(v, 1) for k, v in gaps.items()},
            "same_endpoint": outcome.endpoint_after == outcome.endpoint_before,
            "new_handshake": outcome.rehandshaked, "tunnel_age_s": outcome.tunnel_age_s}


def _wireguard_cell(record: dict[str, Any]) -> str:
    if "not_run" in record:
        return f"not run: {record['not_run']}"
    return (f"{_ms(record['gap_ms_failover'])}; {_ms(record['gap_ms_failback'])} "
            f"({'same' if record['same_endpoint'] else 'changed'} NAT endpoint, "
            f"{'a new' if record['new_handshake'] else 'no new'} handshake)")


def compare(ours: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """Per scenario: p50/p95 of each side's gaps and the paired difference (ha-pair - raw)."""
    return {name: {"ha_pair": stats.summary(ours[name]["gap_ms"]), "raw": stats.summary(base[name]["gap_ms"]),
                   "difference_ms": stats.paired_difference(ours[name]["gap_ms"], base[name]["gap_ms"])}
            for name in SCENARIOS}


def handover(runs: int, log) -> dict[str, Any]:
    """keepalived#2254: resets sent by the new master in planned handovers, for both hand-overs."""
    out = {}
    for name, commit in (("injected", False), ("commit", True)):
        with Lab(LabOptions(profile="fast", dhcp=False, commit_handover=commit), prefix=PREFIX) as lab:
            time.sleep(scenarios.SETTLE_S)
            outcome = scenarios.graceful_handovers(lab, runs=runs)
        out[name] = {"handovers": outcome.handovers, "flows": outcome.flows, "resets_sent": outcome.resets_sent,
                     "broken": outcome.broken}
        log(f"  handover {name}: {outcome.resets_sent} resets, {outcome.broken} flows broken "
            f"in {outcome.handovers} handovers of {outcome.flows // max(1, outcome.handovers)} push flows")
    return out


def operator_handover(runs: int, log) -> dict[str, Any]:
    """`ha-pair handover` (operate/procedures.py) under pings every 10 ms, both profiles: each
    run hands the VIPs to the other router (the yielding one takes them back the next run)."""
    out: dict[str, Any] = {}
    for profile in ("default", "fast"):
        series: dict[str, list] = {"gap_ms": [], "lost": [], "takeover_ms": []}
        with Lab(LabOptions(profile=profile, dhcp=False), prefix=PREFIX) as lab:
            time.sleep(scenarios.SETTLE_S)
            master, peer = "r1", "r2"
            for run in range(runs):
                _record(series, scenarios.operator_handover(lab, master, peer))
                log(f"  operator handover {profile} run {run + 1}/{runs} {master}->{peer}: "
                    f"gap {series['gap_ms'][-1]:.0f} ms, {series['lost'][-1]} lost, "
                    f"command took {series['takeover_ms'][-1]:.0f} ms")
                master, peer = peer, master
                time.sleep(scenarios.SETTLE_S)
        # no raw keepalived figure: it has no handover command (its closest, a clean stop, is "graceful")
        out[profile] = {**series, "gap_summary": stats.summary(series["gap_ms"])}
    return out


def operator_table(results: dict[str, Any]) -> str:
    lines = ["| `ha-pair handover`, pings every 10 ms | gap ms p50 / p95 | lost | command run time ms (until the peer reports master) |",
             "|---|---|---|---|"]
    for profile, series in results.items():
        gap = stats.summary(series["gap_ms"])
        lines.append(f"| {profile} | {gap['p50']:.0f} / {gap['p95']:.0f} (n={gap['n']}) | {_spread(series['lost'])} | "
                     f"{_spread(series['takeover_ms'])} |")
    return "\n".join(lines)


def split_brain(runs: int, log) -> dict[str, Any]:
    """Split brain (VRRP dropped on both switches, sync link up), both profiles: ms from r2's
    transition to MASTER until each router confirmed it (the agents' clocks)."""
    out: dict[str, Any] = {}
    for profile in ("default", "fast"):
        series: dict[str, list] = {"r1_ms": [], "r2_ms": []}
        with Lab(LabOptions(profile=profile, dhcp=False), prefix=PREFIX) as lab:
            time.sleep(scenarios.SETTLE_S)
            for run in range(runs):
                try:
                    took = scenarios.split_brain(lab)
                finally:
                    lab.vrrp_blocked(False)
                for name in ("r1", "r2"):
                    series[f"{name}_ms"].append(round(took[name] * 1000))
                log(f"  split brain {profile} run {run + 1}/{runs}: confirmed on r1 after {took['r1']:.2f} s, "
                    f"on r2 after {took['r2']:.2f} s")
                scenarios.restore(lab)
                time.sleep(scenarios.SETTLE_S)
        out[profile] = {**series, **{f"{name}_summary": stats.summary(series[f"{name}_ms"]) for name in ("r1", "r2")}}
    return out


def split_brain_table(results: dict[str, Any]) -> str:
    lines = ["| split brain (VRRP dropped, sync link up) | r1 (was master) confirmed after ms p50 / p95 | "
             "r2 (became master) confirmed after ms p50 / p95 |", "|---|---|---|"]
    for profile, series in results.items():
        cells = [stats.summary(series[f"{name}_ms"]) for name in ("r1", "r2")]
        lines.append(f"| {profile} | " + " | ".join(f"{c['p50']:.0f} / {c['p95']:.0f} (n={c['n']})" for c in cells) + " |")
    return "\n".join(lines)


def table(results: dict[str, Any]) -> str:
    lines = ["| profile | scenario | ha-pair gap ms p50 / p95 | lost | raw keepalived gap ms p50 / p95 | lost | "
             "Δ gap ms, paired median [95 % interval] |", "|---|---|---|---|---|---|---|"]
    for profile in ("default", "fast"):
        ours, base = results["profiles"][profile], results["baseline"][profile]
        comparison = results.get("comparison", {}).get(profile) or compare(ours, base)
        for name in SCENARIOS:
            a, b, c = comparison[name]["ha_pair"], comparison[name]["raw"], comparison[name]["difference_ms"]
            lines.append(f"| {profile} | {name} | {a['p50']:.0f} / {a['p95']:.0f} | {_spread(ours[name]['lost'])} | "
                         f"{b['p50']:.0f} / {b['p95']:.0f} | {_spread(base[name]['lost'])} | "
                         f"{c['median']:+.0f} [{c['ci95_low']:+.0f}, {c['ci95_high']:+.0f}] (n={c['n']}) |")
        f, g = ours["tcp_flows"], base["tcp_flows"]
        raw_flows = (f"{g['survived_failover']}/{g['total']} / {g['survived_failback']}/{g['total']}"
                     if g["total"] else "not run")
        lines.append(f"| {profile} | tcp flows survived failover / failback ({', '.join(f['by_failure'])}) | "
                     f"{f['survived_failover']}/{f['total']} / {f['survived_failback']}/{f['total']} | | "
                     f"{raw_flows} | | |")
        if "udp_streams" in ours:
            raw_udp = _udp_cell(base["udp_streams"]) if "udp_streams" in base else "not run"
            lines.append(f"| {profile} | udp streams (power) gap ms echo / push, failover; failback | "
                         f"{_udp_cell(ours['udp_streams'])} | | {raw_udp} | | |")
        if "wireguard" in ours:
            lines.append(f"| {profile} | wireguard tunnel (power), the peer pinging the client: gap ms failover; failback | "
                         f"{_wireguard_cell(ours['wireguard'])} | | not run | | |")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    """A gap in the table: None is a stream or tunnel that never resumed."""
    return "never resumed" if value is None else f"{value:.0f}"


def _udp_cell(udp: dict[str, Any]) -> str:
    over, back = udp["gap_ms_failover"], udp["gap_ms_failback"]
    return f"{_ms(over['echo'])} / {_ms(over['push'])}; {_ms(back['echo'])} / {_ms(back['push'])}"


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def rows(results: dict[str, Any]) -> list[report.Row]:
    """Issue 15's failover targets (tests/bench/report.py), from the failover part's comparison.
    The bench's bridge has one port, tracked like a multi-port bridge's named uplink: its LAN link
    failure is the uplink-port figure too."""
    comparison = results.get("comparison") or {}
    out: list[report.Row] = []
    for profile, limit in (("fast", 400), ("default", 1500)):
        scenarios_of = comparison.get(profile)
        if not scenarios_of:
            continue
        lan, power = scenarios_of["lan_link"], scenarios_of["power"]
        out.append(report.at_most(f"lan_link_{profile}", lan["ha_pair"], limit, lan["raw"]))
        ours, bound = lan["ha_pair"]["p50"], power["ha_pair"]["p50"]
        out.append(report.Row(f"uplink_{profile}", f"p50 {ours:.0f} ms; power loss p50 {bound:.0f} ms",
                              ours <= bound + 100))
    if "fast" in comparison:
        power = comparison["fast"]["power"]
        out.append(report.at_most("power_200", power["ha_pair"], 200, power["raw"]))
    return out
