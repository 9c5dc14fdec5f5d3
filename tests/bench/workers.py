"""Run a stage of bench jobs (tests/bench/jobs.py) side by side, each in a process of its own.

Each job gets a lab prefix of its own, derived from HA_PAIR_BENCH_PREFIX (`hpb-` -> `hpb-`,
`hpb1-`, `hpb2-` ...): a lab clears every namespace of its prefix at start, so two jobs never
share one. A job writes its result as JSON to a file; its log lines come out tagged with its name.
An interrupted bench sends SIGTERM to every job, which tears its lab down (LabTerminated).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from tests.lab.topology import BENCH_PREFIX

JOB_TIMEOUT_S = 30 * 60  # far above any job's time: a hung lab must not hang `make bench`


class JobFailed(RuntimeError):
    pass


def slot_prefix(slot: int, base: str = BENCH_PREFIX) -> str:
    """The lab prefix of the slot-th job running at once: the bench's own first, then numbered."""
    return base if slot == 0 else f"{base.rstrip('-')}{slot}-"


def _relay(stream, name: str, log: Callable[[str], None]) -> None:
    for line in iter(stream.readline, ""):
        log(f"  [{name}] {line.rstrip()}")


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def run_stage(jobs: Sequence[str], job_argv: Callable[[str, Path], list[str]], max_parallel: int,
              log: Callable[[str], None], timeout_s: float = JOB_TIMEOUT_S) -> dict[str, dict[str, Any]]:
    """Run the jobs, at most max_parallel at a time. Returns {job: {"result", "seconds",
    "load_average"}} once all are done; the first failure (or a job running past `timeout_s`)
    stops the others and raises JobFailed."""
    pending, running, done = list(jobs), {}, {}
    free_slots = list(range(max_parallel))
    with tempfile.TemporaryDirectory(prefix="ha-pair-bench-jobs.") as tmp:
        try:
            while pending or running:
                while pending and free_slots:
                    name, slot = pending.pop(0), free_slots.pop(0)
                    out = Path(tmp) / f"{name.replace('/', '_')}.json"
                    env = {**os.environ, "HA_PAIR_BENCH_PREFIX": slot_prefix(slot)}
                    proc = subprocess.Popen(job_argv(name, out), env=env, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, text=True, bufsize=1)
                    relay = threading.Thread(target=_relay, args=(proc.stderr, name, log), daemon=True)
                    relay.start()
                    running[name] = (proc, slot, out, relay, time.monotonic())
                for name, (proc, slot, out, relay, started) in list(running.items()):
                    if proc.poll() is None:
                        if time.monotonic() - started > timeout_s:
                            raise JobFailed(f"bench job {name} ran over {timeout_s:.0f} s")
                        continue
                    relay.join(timeout=5)
                    del running[name]
                    free_slots.append(slot)
                    if proc.returncode != 0:
                        raise JobFailed(f"bench job {name} failed (exit {proc.returncode}); its log is above")
                    done[name] = {"result": json.loads(out.read_text()), "seconds": round(time.monotonic() - started),
                                  "load_average": load_average()}
                time.sleep(0.2)
        finally:
            _stop(running)
    return done


def _stop(running: dict) -> None:
    """SIGTERM each job still running (its lab tears itself down), then wait for it."""
    for proc, *_ in running.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc, *_ in running.values():
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            print(f"bench job pid {proc.pid} did not stop after SIGTERM: killing it", file=sys.stderr)
            proc.kill()
            proc.wait()
