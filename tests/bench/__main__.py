"""`make bench`: measure, print a table, write build/bench.json.

usage: python3 -m tests.bench [--runs N] [--flow-runs N] [--only failover,...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tests.bench import failover
from tests.lab.topology import LabTerminated, install_signal_handlers

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "build" / "bench.json"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--runs", type=int, default=5, help="repetitions of each failover scenario (default 5)")
    parser.add_argument("--flow-runs", type=int, default=1, help="TCP flow survival runs per variant")
    args = parser.parse_args()
    install_signal_handlers()
    started = time.monotonic()
    results: dict = {"runs": args.runs, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    try:
        log("failover: both profiles, ha-pair and raw keepalived baseline")
        results.update(failover.run(args.runs, args.flow_runs, log))
    except (KeyboardInterrupt, LabTerminated):
        log("interrupted: lab torn down, nothing written")
        return 130
    results["seconds"] = round(time.monotonic() - started)
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(json.dumps(results, indent=1) + "\n")
    print(failover.table(results))
    print(f"\nwritten: {OUTPUT.relative_to(REPO)} ({results['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
