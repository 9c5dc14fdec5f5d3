"""`make bench`: measure, print a table, write build/bench.json.

usage: python3 -m tests.bench [--runs N] [--other-runs N] [--scale-runs N] [--load-minutes M]
                               [--only failover,handover,operator_handover,split_brain,agent,lease_sync,ipv6,single_wan,scale,load]
       python3 -m tests.bench --readme   (README's performance section from build/bench.json, measuring nothing)

Every run ends by rewriting README's performance section (tests/bench/report.py) from bench.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from tests.bench import agent, failover, ipv6, lease, load, report, scale, single_wan
from tests.lab.topology import LabTerminated, install_signal_handlers

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "build" / "bench.json"
README = REPO / "README.md"
PARTS = ("failover", "handover", "operator_handover", "split_brain", "agent", "lease_sync", "ipv6", "single_wan",
         "scale", "load")
# modules whose rows(results) give issue 15's targets (tests/bench/report.py)
ROW_SOURCES = (failover, agent, lease, scale, load)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def summary(results: dict) -> str:
    lines = []
    if "profiles" in results:
        lines.append(failover.table(results))
    if "ipv6" in results:
        lines.append(ipv6.table(results["ipv6"]))
    if "single_wan" in results:
        lines.append(single_wan.table(results["single_wan"]))
    for name, part in (("scale", scale), ("load", load)):
        if name in results:
            lines.append("\n" + part.table(results[name]))
    if "handover" in results:
        lines.append("\n| planned handover, 30 push flows every 10 ms | handovers | TCP resets sent | flows broken |")
        lines.append("|---|---|---|---|")
        for name, h in results["handover"].items():
            lines.append(f"| {name} | {h['handovers']} | {h['resets_sent']} | {h['broken']} |")
    if "operator_handover" in results:
        lines.append("\n" + failover.operator_table(results["operator_handover"]))
    if "split_brain" in results:
        lines.append("\n" + failover.split_brain_table(results["split_brain"]))
    if "agent" in results:
        a = results["agent"]
        lines.append(f"\nagent: `ha-pair status` {statistics.median(a['status_ms']):.0f} ms median "
                     f"(max {max(a['status_ms']):.0f}); RSS {a['rss_kb']} kB"
                     + (f" ({a['rss_above_python_kb']} kB above python3 alone, {a['python_rss_kb']} kB)"
                        if "python_rss_kb" in a else "") + f"; {a['idle_wakeups_10s']} voluntary "
                     f"wake-ups in 10 s idle")
        lines.append(f"\n| `ubus call ha status` on r1 ({a['ubus_note']}) | p50 ms | p95 ms | max ms | runs |")
        lines.append("|---|---|---|---|---|")
        for key, label in (("handler_ms", "inside the agent: the status handler"),
                           ("socket_ms", "the agent's control socket, round trip"),
                           ("cli_ms", "`ubus call ha status` (CLI, inside the router)"),
                           ("http_ms", "HTTP /ubus from a LAN client (uhttpd, rpcd session), a connection each"),
                           ("http_keepalive_ms", "the same over one keep-alive connection")):
            if key in a:
                lines.append(f"| {label} | {a[key]['p50']:.2f} | {a[key]['p95']:.2f} | {a[key]['max']:.2f} | "
                             f"{a[key]['n']} |")
    if "lease_sync" in results:
        ls = results["lease_sync"]
        lines.append(f"lease sync: {ls['leases']} leases from master to backup file, p50 {ls['propagation_p50_ms']} ms, "
                     f"p95 {ls['propagation_p95_ms']} ms ({ls['missing_on_backup']} missing); merge of 50 000 leases "
                     f"{ls['merge_50k_ms']} ms; one 50 000-lease exchange {ls.get('exchange_50k_s')} s, peak "
                     f"{ls.get('exchange_50k_peak_mb')} MB (the peer: {ls.get('exchange_50k_peer_s')} s, "
                     f"{ls.get('exchange_50k_peer_peak_mb')} MB); one single-lease update {ls['bytes_per_update']} bytes "
                     f"({ls['leases_known_at_update']} leases known)")
    return "\n".join(lines)


def target_rows(results: dict) -> list[report.Row]:
    sources = [module.rows for module in ROW_SOURCES]
    sources.append(lambda r: [report.duration_row(r, PARTS)])
    return report.rows(results, sources)


def write_readme(results: dict) -> None:
    """README's performance section from these results (the targets table, then summary's tables)."""
    section = report.section(results, target_rows(results), summary(results))
    README.write_text(report.replace_section(README.read_text(), section))


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--runs", type=int, default=4,
                        help="repetitions of each failover scenario, at phases swept over the advert cycle (default 4)")
    parser.add_argument("--other-runs", type=int, default=3,
                        help="repetitions in the other failover parts (single_wan, handover (at least 2), "
                             "operator_handover, split_brain, ipv6; default 3)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)}")
    parser.add_argument("--scale-runs", type=int, default=scale.DEFAULT_RUNS,
                        help=f"power losses of each kind in part scale (default {scale.DEFAULT_RUNS})")
    parser.add_argument("--load-minutes", type=float, default=load.DEFAULT_MINUTES,
                        help=f"minutes of each load kind per profile in part load (default {load.DEFAULT_MINUTES})")
    parser.add_argument("--readme", action="store_true",
                        help="only rewrite README's performance section from build/bench.json")
    args = parser.parse_args()
    if args.readme:
        if not OUTPUT.exists():
            log(f"{OUTPUT.relative_to(REPO)} is missing: run `make bench` first")
            return 1
        write_readme(json.loads(OUTPUT.read_text()))
        log(f"README.md: performance section rewritten from {OUTPUT.relative_to(REPO)}")
        return 0
    parts = [p for p in args.only.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts: {', '.join(unknown)} (known: {', '.join(PARTS)})")
    install_signal_handlers()
    started = time.monotonic()
    results: dict = {"runs": args.runs, "other_runs": args.other_runs, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "parts": parts}
    if OUTPUT.exists():  # a partial run (--only) keeps the other parts of the last one
        previous = json.loads(OUTPUT.read_text())
        results.update({k: v for k, v in previous.items() if k not in results})
    part_started = time.monotonic()

    def took(part: str) -> None:
        """Each part's seconds (what keeps `make bench` inside 20 minutes), and bench.json written
        so far: a later part that fails leaves the finished ones."""
        nonlocal part_started
        results.setdefault("part_seconds", {})[part] = round(time.monotonic() - part_started)
        part_started = time.monotonic()
        OUTPUT.parent.mkdir(exist_ok=True)
        OUTPUT.write_text(json.dumps({**results, "seconds": None}, indent=1) + "\n")

    # each part in the order it runs: what it measures (logged as it starts) and how
    steps = (
        ("failover", "failover: both profiles, ha-pair and raw keepalived baseline",
         lambda: failover.run(args.runs, log)),
        ("single_wan", "one dynamic public IP: failover and failback, profile fast, the shared DHCP address",
         lambda: single_wan.run(args.other_runs, log)),
        ("handover", "handover: resets in planned handovers, injected vs committed connection state",
         lambda: failover.handover(max(2, args.other_runs - 1), log)),
        ("operator_handover", "operator handover: `ha-pair handover` under pings every 10 ms, both profiles",
         lambda: failover.operator_handover(args.other_runs, log)),
        ("split_brain", "split brain: VRRP dropped on both switches, detection on both routers, both profiles",
         lambda: failover.split_brain(args.other_runs, log)),
        ("agent", "agent: status latency, memory, idle wake-ups", lambda: agent.run(20, log)),
        ("lease_sync", "lease sync: propagation of 100 leases, merge of 50 000, bytes per update",
         lambda: lease.run(100, log)),
        ("ipv6", "ipv6: the client's IPv6 gap beside its IPv4 gap (power loss, preemption)",
         lambda: ipv6.run(args.other_runs, log)),
        ("scale", "scale: power loss with 50 000 tracked connections and with 20 VIP groups, profile fast",
         lambda: scale.run(args.scale_runs, log)),
        ("load", f"load: false failovers under CPU, process and memory load, {args.load_minutes} min per kind",
         lambda: load.run(args.load_minutes, log)),
    )
    try:
        for part, what, measure in steps:
            if part not in parts:
                continue
            log(what)
            measured = measure()
            if part == "failover":  # its profiles, baseline and comparison sit at the top level
                results.update(measured)
            else:
                results[part] = measured
            took(part)
    except (KeyboardInterrupt, LabTerminated):
        log("interrupted: lab torn down, nothing written")
        return 130
    results["seconds"] = round(time.monotonic() - started)
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(json.dumps(results, indent=1) + "\n")
    print(report.targets_table(target_rows(results)) + "\n")
    print(summary(results))
    write_readme(results)
    print(f"\nwritten: {OUTPUT.relative_to(REPO)} ({results['seconds']} s) and README.md's performance section")
    return 0


if __name__ == "__main__":
    sys.exit(main())
