"""`make bench`: measure, print a table, write build/bench.json.

usage: python3 -m tests.bench [--runs N] [--other-runs N] [--scale-runs N] [--load-minutes M] [--parallel N]
                               [--only failover,single_wan,handover,operator_handover,split_brain,ipv6,agent,lease_sync,scale,load]
       python3 -m tests.bench --only soak [--soak-minutes M] [--soak-pairs N]   (`make soak`: false failovers
                               under load for an hour; kept in bench.json by later runs of the other parts)
       python3 -m tests.bench --readme   (README's performance section from build/bench.json, measuring nothing)

The jobs run in stages, those of a stage side by side (tests/bench/jobs.py says which and why).
Every run ends by rewriting README's performance section (tests/bench/report.py) from bench.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

from tests.bench import agent, failover, ipv6, jobs, lease, load, report, scale, single_wan, workers
from tests.lab.topology import LabTerminated, install_signal_handlers

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "build" / "bench.json"
README = REPO / "README.md"
PARTS = jobs.PARTS
DEFAULT_PARALLEL = 4  # the failover stage's four variants at once
STALE_KEYS = ("note", "part_seconds")  # said of one earlier run only
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
    if "soak" in results:
        lines.append("\n" + load.table(results["soak"], "soak (`make soak`): false failovers under load on the master"))
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
    sources.append(lambda r: [report.duration_row(r, jobs.DEFAULT_PARTS)])
    return report.rows(results, sources)


def write_readme(results: dict) -> None:
    """README's performance section from these results (the targets table, then summary's tables)."""
    section = report.section(results, target_rows(results), summary(results))
    README.write_text(report.replace_section(README.read_text(), section))


def job_main(args: argparse.Namespace) -> int:
    """One job (tests/bench/jobs.py) in this process: its result as JSON to --job-out."""
    install_signal_handlers()
    _, what, measure = jobs.JOBS[args.job]
    log(what)
    try:
        result = measure(args, log)
    except (KeyboardInterrupt, LabTerminated):
        log("interrupted: lab torn down")
        return 130
    Path(args.job_out).write_text(json.dumps(result) + "\n")
    return 0


def job_argv(args: argparse.Namespace) -> Callable[[str, Path], list[str]]:
    """The command line of one job, with this bench's settings."""
    return lambda name, out: [sys.executable, "-m", "tests.bench", "--job", name, "--job-out", str(out),
                              "--runs", str(args.runs), "--other-runs", str(args.other_runs),
                              "--scale-runs", str(args.scale_runs), "--load-minutes", str(args.load_minutes),
                              "--soak-minutes", str(args.soak_minutes), "--soak-pairs", str(args.soak_pairs)]


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--runs", type=int, default=4,
                        help="repetitions of each failover scenario, at phases swept over the advert cycle (default 4)")
    parser.add_argument("--other-runs", type=int, default=3,
                        help="repetitions in the other failover parts (single_wan, handover (at least 2), "
                             "operator_handover, split_brain, ipv6; default 3)")
    parser.add_argument("--only", default=",".join(jobs.DEFAULT_PARTS),
                        help=f"comma-separated parts: {', '.join(PARTS)} (default: all but {', '.join(jobs.OPT_IN)})")
    parser.add_argument("--scale-runs", type=int, default=scale.DEFAULT_RUNS,
                        help=f"power losses of each kind in part scale (default {scale.DEFAULT_RUNS})")
    parser.add_argument("--load-minutes", type=float, default=load.DEFAULT_MINUTES,
                        help=f"minutes of each load kind per profile in part load (default {load.DEFAULT_MINUTES})")
    parser.add_argument("--soak-minutes", type=float, default=load.SOAK_MINUTES,
                        help=f"minutes of each load kind in part soak (default {load.SOAK_MINUTES})")
    parser.add_argument("--soak-pairs", type=int, default=load.SOAK_PAIRS,
                        help=f"pairs of each profile watched at once in part soak (default {load.SOAK_PAIRS})")
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL,
                        help=f"jobs of one stage run at once, each with its own lab (default {DEFAULT_PARALLEL}; "
                             "1 runs every job alone)")
    parser.add_argument("--readme", action="store_true",
                        help="only rewrite README's performance section from build/bench.json")
    parser.add_argument("--job", choices=sorted(jobs.JOBS), help=argparse.SUPPRESS)
    parser.add_argument("--job-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        return job_main(args)
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
    if args.parallel < 1:
        parser.error("--parallel must be at least 1")
    install_signal_handlers()
    started = time.monotonic()
    results: dict = {"runs": args.runs, "other_runs": args.other_runs, "parallel": args.parallel,
                     "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "parts": parts, "stages": []}
    if OUTPUT.exists():  # a partial run (--only) keeps the other parts of the last one, not its notes
        previous = json.loads(OUTPUT.read_text())
        results.update({k: v for k, v in previous.items() if k not in results and k not in STALE_KEYS})
    try:
        for stage in jobs.stages_for(parts):
            log(f"stage: {', '.join(stage)} ({min(len(stage), args.parallel)} at a time)")
            stage_started = time.monotonic()
            # the soak watches for as long as it is told: its loads' minutes on top of the usual bound
            soaking = len(load.LOADS) * args.soak_minutes * 60 if "soak" in stage else 0
            done = workers.run_stage(stage, job_argv(args), args.parallel, log, workers.JOB_TIMEOUT_S + soaking)
            jobs.place(results, {name: job["result"] for name, job in done.items()})
            results["stages"].append({"jobs": {name: {"seconds": job["seconds"], "load_average": job["load_average"]}
                                               for name, job in done.items()},
                                      "seconds": round(time.monotonic() - stage_started)})
            OUTPUT.parent.mkdir(exist_ok=True)  # after each stage: a later failure leaves the finished ones
            OUTPUT.write_text(json.dumps({**results, "seconds": None}, indent=1) + "\n")
    except (KeyboardInterrupt, LabTerminated):
        log("interrupted: every job's lab torn down, bench.json keeps the finished stages")
        return 130
    except workers.JobFailed as failure:
        log(str(failure))
        return 1
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
