"""`make bench` runs its jobs in stages, a stage's jobs side by side (tests/bench/jobs.py,
tests/bench/workers.py): every job in exactly one stage, results placed where bench.json keeps
them, each running job on a lab prefix of its own, and a failed job stops the bench."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.bench import jobs, workers

ALONE = ("agent", "lease_sync", "load", "soak")  # they measure our own CPU, memory or latency, or load the machine


def test_every_job_runs_in_exactly_one_stage_and_what_measures_cpu_runs_alone():
    staged = [job for stage in jobs.STAGES for job in stage]
    assert sorted(staged) == sorted(jobs.JOBS)
    for job in ALONE:
        assert (job,) in jobs.STAGES, f"{job} must have a stage of its own"
    assert jobs.stages_for(["agent", "failover"]) == [tuple(jobs.FAILOVER_VARIANTS), ("agent",)]
    assert jobs.stages_for(["scale"]) == [("scale/conntrack", "scale/vip_groups")]
    # the 80-minute soak runs only when asked for
    assert "soak" not in jobs.DEFAULT_PARTS and set(jobs.DEFAULT_PARTS) | {"soak"} == set(jobs.PARTS)


def test_slot_prefixes_are_distinct_and_none_clears_another():
    prefixes = [workers.slot_prefix(slot, "hpb-") for slot in range(12)]
    assert prefixes[:3] == ["hpb-", "hpb1-", "hpb2-"]
    # a lab clears every namespace starting with its prefix: no prefix may start another
    assert not [(a, b) for a in prefixes for b in prefixes if a != b and b.startswith(a)]


def variant(gap: float) -> dict:
    return {name: {"gap_ms": [gap, gap + 10, gap + 20], "lost": [0, 0, 0], "takeover_ms": [gap] * 3}
            for name in ("power", "lan_link", "graceful", "preempt")}


def test_failover_variants_land_under_profiles_and_baseline_with_their_comparison():
    results: dict = {}
    jobs.place(results, {"failover/fast": variant(100.0), "failover/fast-raw": variant(300.0)})
    assert results["profiles"]["fast"]["power"]["gap_ms"][0] == 100.0
    assert results["baseline"]["fast"]["power"]["gap_ms"][0] == 300.0
    assert results["comparison"]["fast"]["power"]["difference_ms"]["median"] == -200.0
    assert "default" not in results["comparison"]


def test_scale_jobs_join_under_scale_with_the_groups_paired_against_the_empty_table():
    results: dict = {}
    jobs.place(results, {"scale/conntrack": {"empty_gap_ms": [300.0, 310.0, 320.0]},
                         "scale/vip_groups": {"gap_ms": [330.0, 350.0, 340.0]}})
    assert results["scale"]["profile"] == "fast"
    assert results["scale"]["vip_groups"]["difference_ms"]["median"] == 30.0
    jobs.place(results, {"lease_sync": {"leases": 3}})
    assert results["lease_sync"] == {"leases": 3}


def fake_job(script: str):
    """A job command line: python3 running `script` with the job's name and output file."""
    return lambda name, out: [sys.executable, "-c", script, name, str(out)]


WRITE_PREFIX = """
import json, os, sys, time
print("starting", sys.argv[1], file=sys.stderr, flush=True)
time.sleep(1)
open(sys.argv[2], "w").write(json.dumps({"prefix": os.environ["HA_PAIR_BENCH_PREFIX"], "at": time.time()}))
"""


def test_a_stage_runs_its_jobs_at_once_each_on_its_own_prefix_and_relays_their_logs():
    lines: list[str] = []
    started = time.monotonic()
    done = workers.run_stage(["a", "b", "c"], fake_job(WRITE_PREFIX), max_parallel=3, log=lines.append)
    took = time.monotonic() - started
    assert sorted(done) == ["a", "b", "c"]
    assert len({job["result"]["prefix"] for job in done.values()}) == 3
    assert took < 2.5, f"three 1 s jobs side by side took {took:.1f} s"
    assert "  [b] starting b" in lines
    # one at a time: the same jobs, one slot, one prefix
    done = workers.run_stage(["a", "b"], fake_job(WRITE_PREFIX), max_parallel=1, log=lines.append)
    assert {job["result"]["prefix"] for job in done.values()} == {workers.slot_prefix(0)}
    assert done["b"]["result"]["at"] - done["a"]["result"]["at"] >= 0.9


def test_a_failed_job_stops_the_others_and_fails_the_stage(tmp_path: Path):
    marker = tmp_path / "still-running"
    script = f"""
import sys, time, pathlib
if sys.argv[1] == "bad":
    sys.exit(3)
pathlib.Path({str(marker)!r}).write_text("x"); time.sleep(60)
"""
    started = time.monotonic()
    with pytest.raises(workers.JobFailed, match="bad failed \\(exit 3\\)"):
        workers.run_stage(["slow", "bad"], fake_job(script), max_parallel=2, log=lambda _: None)
    assert time.monotonic() - started < 30, "the slow job was not stopped"


def test_a_job_past_its_time_stops_the_bench():
    started = time.monotonic()
    with pytest.raises(workers.JobFailed, match="slow ran over 1 s"):
        workers.run_stage(["slow"], fake_job("import time; time.sleep(60)"), max_parallel=1, log=lambda _: None,
                          timeout_s=1)
    assert time.monotonic() - started < 30, "the slow job was not stopped"
