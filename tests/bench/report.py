"""README's performance section, generated from build/bench.json.

`python3 -m tests.bench --readme` (and every `make bench`, at its end) rewrites what lies between
START and END in README.md; tests/unit/test_bench_report.py keeps README's section in this shape.

The section holds one table of targets (issue 15's, each a row: target, measured, raw keepalived
beside it where there is one, met or not) and then the bench's own tables (tests/bench/__main__.py,
summary). Rows come from the bench part modules: each may define `rows(results) -> list[Row]`,
reading its own part of bench.json; a target listed in TARGETS that no module measured stays in
the table as "not measured", so a missing figure is seen, not dropped. A new part adds its target
to TARGETS (its key, label and limit) and a `rows` function to its module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

START = "<!-- bench-table:start (generated from build/bench.json by `python3 -m tests.bench --readme`) -->"
END = "<!-- bench-table:end -->"
NOT_MEASURED = "not measured"
HEADER = ("| target | limit | measured | raw keepalived | met |", "|---|---|---|---|---|")


@dataclass(frozen=True)
class Target:
    label: str
    limit: str  # what is compared, e.g. "p50 ≤ 1500 ms"


# Issue 15's targets, in the table's order. Keys are what a part module's Row names.
TARGETS: dict[str, Target] = {
    "lan_link_fast": Target("LAN link failure, profile fast: client gap", "p50 ≤ 400 ms"),
    "lan_link_default": Target("LAN link failure, profile default: client gap", "p50 ≤ 1500 ms"),
    "uplink_fast": Target("failed uplink port (tracked), profile fast", "p50 ≤ power-loss p50 + 100 ms"),
    "uplink_default": Target("failed uplink port (tracked), profile default", "p50 ≤ power-loss p50 + 100 ms"),
    "power_200": Target("power loss, fastest profile: client gap", "p50 ≤ 200 ms"),
    "false_failovers": Target("false failovers under load, every profile and kind of load", "0 per hour"),
    "agent_rss": Target("agent RSS above the bare interpreter", "≤ 6 MB"),
    "status_startup": Target("`ha-pair status` run time", "≤ 40 ms"),
    "lease_propagation": Target("lease propagation, hotplug to the peer's lease file", "p95 ≤ 300 ms"),
    "lease_exchange_50k": Target("50 000-lease exchange over the sync channel", "≤ 1 s, ≤ 64 MB peak"),
    "conntrack_50k": Target("failover gap with 50 000 tracked connections", "≤ empty table + 50 ms"),
    "vip_groups_20": Target("failover gap with 20 VIP groups", "≤ one group + 50 ms"),
    "bench_minutes": Target("`make bench` run time", "≤ 20 min"),
}


@dataclass(frozen=True)
class Row:
    key: str  # a TARGETS key
    measured: str
    met: bool | None  # None: no verdict (e.g. a figure missing)
    raw: str = "—"  # raw keepalived's figure beside it, where one exists

    def cells(self) -> list[str]:
        target = TARGETS[self.key]
        verdict = {True: "met", False: "**not met**", None: "—"}[self.met]
        return [target.label, target.limit, self.measured, self.raw, verdict]


def gap_text(summary: dict[str, float]) -> str:
    """A stats.summary as a table cell: `p50 1112 · p95 1524 ms (n=5)`."""
    return f"p50 {summary['p50']:.0f} · p95 {summary['p95']:.0f} ms (n={summary['n']})"


def at_most(key: str, summary: dict[str, float], limit: float, raw: dict[str, float] | None = None,
            on: str = "p50") -> Row:
    """A row judging summary[on] against `limit` (both in ms)."""
    return Row(key, gap_text(summary), summary[on] <= limit, gap_text(raw) if raw else "—")


def duration_row(results: dict[str, Any], all_parts: Iterable[str]) -> Row:
    """The whole bench's run time: only a run of every part (results["parts"]) measures it."""
    seconds, ran = results.get("seconds"), results.get("parts", ())
    if seconds is None or not set(all_parts) <= set(ran):
        note = f" (last run: {', '.join(ran)} only)" if ran else ""
        return Row("bench_minutes", NOT_MEASURED + note, None)
    return Row("bench_minutes", f"{seconds / 60:.1f} min", seconds <= 20 * 60)


def rows(results: dict[str, Any], sources: Iterable[Callable[[dict[str, Any]], list[Row]]]) -> list[Row]:
    """Every target once, in TARGETS' order: measured where a source gave a row, else not measured."""
    given: dict[str, Row] = {}
    for source in sources:
        for row in source(results):
            if row.key not in TARGETS:
                raise KeyError(f"{row.key!r} is not a target: add it to tests/bench/report.py TARGETS")
            given[row.key] = row
    return [given.get(key) or Row(key, NOT_MEASURED, None) for key in TARGETS]


def targets_table(table_rows: list[Row]) -> str:
    return "\n".join([*HEADER, *("| " + " | ".join(row.cells()) + " |" for row in table_rows)])


def section(results: dict[str, Any], table_rows: list[Row], details: str) -> str:
    """The README section: where the figures come from, the targets, the bench's own tables."""
    seconds = results.get("seconds")
    took = f", {seconds / 60:.1f} min" if seconds is not None else ""
    about = (f"`make bench` of {results.get('started', '?')} ({results.get('runs', '?')} runs per failover "
             f"scenario{took}) on a 2-core machine shared with other jobs: single figures are noisy; the "
             "paired differences (ha-pair − raw keepalived at the same advert phase) carry a bootstrap "
             "95 % interval, and an interval that holds 0 means the runs cannot tell the two apart.")
    if results.get("stages"):
        about += " " + stages_sentence(results)
    if results.get("note"):  # e.g. parts measured in separate runs, said where the figures are shown
        about += " " + str(results["note"])
    if not results:
        about = "No `make bench` has written build/bench.json yet."
    parts = [START, "", about, "", targets_table(table_rows)]
    if details.strip():
        parts += ["", details.strip()]
    return "\n".join(parts + ["", END])


def stages_sentence(results: dict[str, Any]) -> str:
    """How the run was laid out (tests/bench/jobs.py): each stage's jobs, side by side, with the
    stage's seconds and the highest 1-minute load average seen as one of its jobs ended."""
    stages = [f"{' + '.join(stage['jobs'])} ({stage['seconds']} s, load ≤ "
              f"{max(j['load_average'] for j in stage['jobs'].values()):.1f})" for stage in results["stages"]]
    return (f"The jobs ran in stages, those of a stage side by side, each in its own lab (at most "
            f"{results.get('parallel', 1)} at once): {'; '.join(stages)}.")


def replace_section(readme: str, new_section: str) -> str:
    start, end = readme.index(START), readme.index(END) + len(END)
    return readme[:start] + new_section + readme[end:]


def parse_targets_table(text: str) -> list[list[str]]:
    """The target table's rows (cells) inside a README section: for the README test."""
    lines = text[text.index(START):text.index(END)].splitlines()
    first = lines.index(HEADER[0])
    if lines[first + 1] != HEADER[1]:
        raise ValueError("the targets table has no separator line under its header")
    body = []
    for line in lines[first + 2:]:
        if not line.startswith("|"):
            break
        body.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return body
