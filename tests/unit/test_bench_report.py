"""README's performance section is generated from build/bench.json (tests/bench/report.py): each
issue-15 target is a row with its limit, the measured figure, raw keepalived's beside it and the
verdict. A small hand-made bench.json, whose medians and 95th percentiles are worked out by hand
here, must land in the right cells; README's own section must have the generator's shape."""

from __future__ import annotations

from pathlib import Path

from tests.bench import __main__ as bench
from tests.bench import report

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def scenario(gaps: list[float]) -> dict:
    return {"gap_ms": gaps, "lost": [0] * len(gaps), "takeover_ms": gaps}


def variant(power: list[float], lan_link: list[float]) -> dict:
    flows = {"total": 30, "survived_failover": 30, "survived_failback": 29, "by_failure": {}}
    return {"power": scenario(power), "lan_link": scenario(lan_link), "graceful": scenario([20.0, 30.0, 25.0]),
            "preempt": scenario([24.0, 26.0, 25.0]), "tcp_flows": flows}


SAMPLE = {
    "runs": 3, "started": "2026-12-01T16:00:00Z", "seconds": 1002, "parts": list(bench.PARTS),
    "profiles": {"default": variant([2900.0, 3100.0, 3300.0], [1500.0, 1100.0, 1200.0]),
                 "fast": variant([195.0, 180.0, 190.0], [500.0, 450.0, 520.0])},
    "baseline": {"default": variant([2800.0, 3000.0, 3200.0], [3400.0, 2800.0, 3000.0]),
                 "fast": variant([360.0, 350.0, 370.0], [1100.0, 1000.0, 1050.0])},
    "agent": {"status_ms": [30.0, 50.0, 35.0], "rss_kb": 16384, "python_rss_kb": 8192,
              "idle_wakeups_10s": 3, "ubus_note": "sample"},
    "lease_sync": {"leases": 100, "missing_on_backup": 0, "propagation_p50_ms": 120, "propagation_p95_ms": 250,
                   "merge_50k_ms": 300, "bytes_per_update": 200, "leases_known_at_update": 101,
                   "exchange_50k_s": 2.5, "exchange_50k_peak_mb": 120},
}
SAMPLE["comparison"] = {p: bench.failover.compare(SAMPLE["profiles"][p], SAMPLE["baseline"][p]) for p in ("default", "fast")}


def table_of(results: dict) -> dict[str, list[str]]:
    text = report.section(results, bench.target_rows(results), "")
    return {cells[0]: cells[1:] for cells in report.parse_targets_table(text)}


def test_each_target_lands_in_its_row_with_limit_measured_raw_and_verdict():
    table = table_of(SAMPLE)
    label = {key: target.label for key, target in report.TARGETS.items()}
    assert list(table) == list(label.values())
    # LAN link, default: ours 1100/1200/1500 -> p50 1200, p95 1500; raw 2800/3000/3400
    assert table[label["lan_link_default"]] == ["p50 ≤ 1500 ms", "p50 1200 · p95 1500 ms (n=3)",
                                                "p50 3000 · p95 3400 ms (n=3)", "met"]
    # LAN link, fast: 450/500/520 against 400
    assert table[label["lan_link_fast"]] == ["p50 ≤ 400 ms", "p50 500 · p95 520 ms (n=3)",
                                             "p50 1050 · p95 1100 ms (n=3)", "**not met**"]
    # uplink port: LAN link p50 against power loss p50 + 100 (fast 500 > 190 + 100; default 1200 < 3100 + 100)
    assert table[label["uplink_fast"]][1:] == ["p50 500 ms; power loss p50 190 ms", "—", "**not met**"]
    assert table[label["uplink_default"]][-1] == "met"
    # power loss, fast: 180/190/195 against 200, raw 350/360/370
    assert table[label["power_200"]][1:] == ["p50 190 · p95 195 ms (n=3)", "p50 360 · p95 370 ms (n=3)", "met"]
    assert table[label["status_startup"]][1:] == ["median 35 ms (max 50, n=3)", "—", "met"]
    assert table[label["agent_rss"]][1:] == ["8.0 MB above 8.0 MB", "—", "**not met**"]
    assert table[label["lease_propagation"]][1:] == ["p95 250 ms (p50 120, n=100)", "—", "met"]
    assert table[label["lease_exchange_50k"]][-1] == "**not met**"
    assert table[label["bench_minutes"]][1:] == ["16.7 min", "—", "met"]
    # what no part measured stays, as not measured
    assert table[label["conntrack_50k"]][1:] == ["not measured", "—", "—"]


def test_a_partial_run_does_not_pass_for_the_whole_bench_time():
    table = table_of({**SAMPLE, "parts": ["failover"], "seconds": 300})
    assert table[report.TARGETS["bench_minutes"].label][1:] == ["not measured (last run: failover only)", "—", "—"]


def test_an_empty_bench_lists_every_target_as_not_measured():
    table = table_of({})
    assert all(cells[1] == "not measured" and cells[3] == "—" for cells in table.values()), table


def test_the_section_replaces_only_what_lies_between_its_markers():
    section = report.section(SAMPLE, bench.target_rows(SAMPLE), "details")
    text = f"before\n{report.START}\nold\n{report.END}\nafter\n"
    assert report.replace_section(text, section) == f"before\n{section}\nafter\n"


def test_readme_has_the_generators_section():
    assert README.count(report.START) == 1 and README.count(report.END) == 1
    rows = report.parse_targets_table(README)
    assert [cells[:2] for cells in rows] == [[t.label, t.limit] for t in report.TARGETS.values()], (
        "README's performance section is stale: regenerate it with `python3 -m tests.bench --readme`")
    assert all(len(cells) == 5 and cells[4] in ("met", "**not met**", "—") for cells in rows), rows


def test_the_scale_and_load_parts_give_their_rows():
    scale = {"conntrack": {"difference_ms": {"median": -4, "ci95_low": -20, "ci95_high": 68, "n": 3},
                           "tcp_flows": {"survived_failover": 20, "total": 20}},
             "vip_groups": {"difference_ms": {"median": 12, "ci95_low": 4, "ci95_high": 17, "n": 3}}}
    kind = next(iter(bench.load.LOADS))
    quiet = {"false_failovers": 0, "seconds": 1800, "upper95_per_hour": 6.0}
    load = {"profiles": {"fast": {"power_loss_gap_ms": [300], kind: quiet},
                         "fastest": {"power_loss_gap_ms": [144, 213], kind: {**quiet, "false_failovers": 1}}}}
    table = table_of({**SAMPLE, "scale": scale, "load": load})
    label = {key: target.label for key, target in report.TARGETS.items()}
    # the whole interval must lie within +50 ms: +68 is not proven
    assert table[label["conntrack_50k"]][1:] == ["Δ -4 ms [-20, +68] (n=3); TCP flows kept 20/20", "—", "**not met**"]
    assert table[label["vip_groups_20"]][1:] == ["Δ +12 ms [+4, +17] (n=3)", "—", "met"]
    # one false failover in an hour of watching: not met; the fastest profile's worst gap 213 > 200
    assert table[label["false_failovers"]][1:] == ["1 in 1.00 pair-h over 2 cases (each ≤ 6/h at 95 %)", "—",
                                                   "**not met**"]
    assert table[label["power_200"]][1:] == ["max 213 ms of 2 (no load)", "—", "**not met**"]
    # none seen in a run too short to tell 0 from a few per hour: no verdict
    load["profiles"]["fastest"][kind]["false_failovers"] = 0
    assert table_of({**SAMPLE, "load": load})[label["false_failovers"]][-1] == "—"


def test_the_longer_of_load_and_soak_gives_the_false_failover_verdict():
    label = report.TARGETS["false_failovers"].label
    kind = next(iter(bench.load.LOADS))
    short = {"profiles": {"fast": {"power_loss_gap_ms": [150], kind: {"false_failovers": 0, "seconds": 9,
                                                                        "upper95_per_hour": 1198.4}}}}
    hour = {"false_failovers": 0, "seconds": 3600, "upper95_per_hour": 3.0}
    soak = {"profiles": {"fast": {"power_loss_gap_ms": [400], kind: hour},
                         "default": {"power_loss_gap_ms": [3000], kind: {**hour, "seconds": 3000,
                                                                         "upper95_per_hour": 3.6}}}}
    # one case bounded at 3.6/h: an hour short of telling 0 from a few
    assert table_of({**SAMPLE, "load": short, "soak": soak})[label][1:] == [
        "0 in 1.83 pair-h over 2 cases (each ≤ 4/h at 95 %); `make soak` of ?", "—", "—"]
    soak["profiles"]["default"][kind] = hour
    assert table_of({**SAMPLE, "load": short, "soak": soak})[label][-1] == "met"
    # a false failover in the soak is not hidden by a quiet short run
    soak["profiles"]["default"][kind] = {**hour, "false_failovers": 1, "upper95_per_hour": 4.7}
    assert table_of({**SAMPLE, "load": short, "soak": soak})[label][-1] == "**not met**"


def test_pairs_of_a_profile_pool_into_pair_hours():
    one = {"seconds": 1200.0, "pairs": 1, "bursts": 300, "false_failovers": 0, "client_gaps_over_100ms": 2,
           "longest_gap_ms": 150, "lost": 1, "sent": 120000, "adverts": 12000,
           "longest_advert_silence_ms": 101.0, "backup_waits_ms": 361.0}
    pooled = bench.load.pooled([one, {**one, "longest_gap_ms": 90, "longest_advert_silence_ms": None},
                                {**one, "false_failovers": 1, "longest_advert_silence_ms": 120.5}])
    assert pooled["seconds"] == 3600.0 and pooled["pairs"] == 3
    assert pooled["false_failovers"] == 1 and pooled["client_gaps_over_100ms"] == 6 and pooled["sent"] == 360000
    assert pooled["longest_gap_ms"] == 150 and pooled["longest_advert_silence_ms"] == 120.5
    assert pooled["per_hour"] == 1.0 and pooled["upper95_per_hour"] == 4.7



def test_the_load_table_says_how_busy_the_machine_was_and_counts_pair_hours():
    kind = next(iter(bench.load.LOADS))
    case = {"seconds": 3600, "pairs": 4, "false_failovers": 0, "per_hour": 0, "upper95_per_hour": 3.0,
            "client_gaps_over_100ms": 2, "longest_gap_ms": 120, "longest_advert_silence_ms": 100.0,
            "backup_waits_ms": 361, "adverts": 40000}
    part = {"minutes_per_kind": 15, "burst_s": 2, "pause_s": 2, "pairs_per_profile": 4, "load_average": {kind: 28.8},
            "profiles": {"fast": {"power_loss_gap_ms": [300.0], kind: case}}}
    text = bench.load.table(part)
    assert "4 pairs per profile at once" in text and "0 in 1.00 pair-h" in text
    assert f"1-minute load average as each kind ended (2 cores): {kind} 28.8" in text


def test_the_exchange_row_gives_the_medians_and_the_spread_of_the_runs():
    lease_sync = {**SAMPLE["lease_sync"], "exchange_50k_s": 0.98, "exchange_50k_cpu_s": 0.7, "exchange_50k_peak_mb": 60,
                  "exchange_50k_peer_s": 0.5, "exchange_50k_peer_cpu_s": 0.45, "exchange_50k_peer_peak_mb": 54,
                  "exchange_50k_runs_s": [0.92, 1.14, 0.98]}
    row = table_of({**SAMPLE, "lease_sync": lease_sync})[report.TARGETS["lease_exchange_50k"].label]
    assert row[1] == ("calling end 0.98 s (CPU 0.7 s), 60 MB peak; peer end 0.5 s (CPU 0.45 s), 54 MB peak "
                      "(medians of 3 runs; calling end 0.92-1.14 s)")
    assert row[-1] == "met"
    slow = {**lease_sync, "exchange_50k_s": 1.02}
    assert table_of({**SAMPLE, "lease_sync": slow})[report.TARGETS["lease_exchange_50k"].label][-1] == "**not met**"
    same = table_of({**SAMPLE, "lease_sync": {**lease_sync, "exchange_50k_same_on_both_ends": True}})
    assert same[report.TARGETS["lease_exchange_50k"].label][1].endswith("; both ends store the same knowledge")
    apart = table_of({**SAMPLE, "lease_sync": {**lease_sync, "exchange_50k_same_on_both_ends": False}})
    assert apart[report.TARGETS["lease_exchange_50k"].label][-1] == "**not met**", "fast, but not one merge"
