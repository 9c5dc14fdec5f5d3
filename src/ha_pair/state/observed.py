"""What the agent's probes saw at one moment: plain values, no I/O (the probes live in agent/)."""

from __future__ import annotations

from ..record import record, field

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any


@record(frozen=True)
class CheckResult:
    """A health check's record, as the package's `check` helper keeps it."""

    result: str  # ok | fail | unknown
    since: float | None  # when the current run of results began
    consecutive: int  # results in a row equal to `result`
    last_run: float | None


UNKNOWN_CHECK = CheckResult("unknown", None, 0, None)


@record(frozen=True)
class Snapshot:
    """What the probes saw, at `time`."""

    time: float
    addresses: dict[str, list[str]] = field(default_factory=dict)  # device -> addresses on it
    carriers: dict[str, bool | None] = field(default_factory=dict)  # device -> carrier
    checks: dict[str, CheckResult] = field(default_factory=dict)
    conntrack: dict[str, Any] = field(default_factory=dict)  # probes.conntrackd_stats()
    dhcp_answering: bool | None = None
    sync_gate_closed: bool = False  # runfiles.sync_gate_closed: keepalived holds the node in FAULT
