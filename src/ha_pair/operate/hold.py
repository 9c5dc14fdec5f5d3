"""The operator's hold on this node's mastership: one number in a file that keepalived itself
tracks (a `track_file` in the generated keepalived.conf, weight 1), so that a handover or
maintenance mode needs no keepalived reload and holds with the agent stopped.

keepalived adds the number to each instance's priority (kept within 1-254); below -253 the
instances go to FAULT, which sends a priority-0 advert: the peer takes over after its skew time,
even with nopreempt. The values:
- NORMAL  0     no hold;
- YIELD  -253   priority 1: a backup that does not take mastership back after a handover, but
                still takes over when the peer fails (the notify script clears it on MASTER);
- OUT    -254   FAULT: no mastership at all (maintenance, and the moment of a handover).

Maintenance is recorded under the state directory (/etc/ha-pair, kept across reboots and
sysupgrade); `render` (run by the init script before keepalived starts) puts OUT back into the
hold file from that record, so a rebooted node comes up in maintenance.
"""

from __future__ import annotations

import time

from .. import leanjson
from ..fs import atomic_write
from ..paths import Paths

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any

NORMAL, YIELD, OUT = 0, -253, -254
TRACK_NAME = "ha_pair_hold"  # the track_file's name in keepalived.conf
NAMES = {NORMAL: "none", YIELD: "yield", OUT: "out"}
VALUES = {name: value for value, name in NAMES.items()}  # status names back to the number


def read_hold(paths: Paths) -> int | None:
    """The hold keepalived sees now; None when the file is missing or unreadable (keepalived then
    reads it as 0)."""
    try:
        return int(paths.hold_file.read_text().strip() or "0")
    except (OSError, ValueError):
        return None


def write_hold(paths: Paths, value: int) -> None:
    if value not in NAMES:
        raise ValueError(f"not a hold value: {value}")
    paths.hold_file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(paths.hold_file, f"{value}\n", 0o644)


def maintenance(paths: Paths) -> dict[str, Any] | None:
    """The maintenance record ({since, by}) or None when this node is not in maintenance."""
    try:
        text = paths.maintenance_record.read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return {"since": None, "by": "unreadable record"}
    try:
        record = leanjson.loads(text)
    except ValueError:
        record = {}
    if not isinstance(record, dict):
        record = {}
    since = record.get("since")
    return {"since": since if isinstance(since, (int, float)) else None, "by": str(record.get("by", ""))[:64]}


def record_maintenance(paths: Paths, on: bool, by: str) -> None:
    """Persist maintenance first, then hold (entering) or release (leaving) the node."""
    if on:
        atomic_write(paths.maintenance_record, leanjson.dumps({"since": round(time.time(), 3), "by": by}) + "\n", 0o600)
        write_hold(paths, OUT)
    else:
        try:
            paths.maintenance_record.unlink()
        except FileNotFoundError:
            pass
        write_hold(paths, NORMAL)


def restore_at_start(paths: Paths) -> None:
    """Before keepalived starts (render): maintenance survives reboots; a hold left from an
    interrupted handover does not put a node without maintenance out."""
    current = read_hold(paths)
    if maintenance(paths) is not None:
        if current != OUT:
            write_hold(paths, OUT)
    elif current is None or current == OUT:
        write_hold(paths, NORMAL)


def describe(paths: Paths) -> dict[str, Any]:
    """For status: {maintenance, since, by, hold}."""
    record = maintenance(paths)
    hold = read_hold(paths)
    return {"on": record is not None, "since": record["since"] if record else None,
            "by": record["by"] if record else None, "hold": NAMES.get(hold if hold is not None else 0, str(hold))}
