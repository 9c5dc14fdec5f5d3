"""What the package's shell scripts record in the run directory, read in one place: the notify
script's state, DHCP guard and transition log, the check helper's results. Each reader says what
"unknown" is, once; reading a file is cheap enough for every status call.
"""

from __future__ import annotations


from .operate.hold import OUT  # the init script writes the same FAULT value
from .paths import Paths
from .state.observed import UNKNOWN_CHECK, CheckResult

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from .events.keepalived_fifo import VrrpEvent

TRANSITIONS_TAIL = 65536


def dhcp_answering(paths: Paths) -> bool | None:
    """Whether the DHCP guard lets requests through, as the notify script recorded it after
    switching nft (`nft list` would cost milliseconds per status call). None: unknown (no record:
    no transition yet, no guard, or the switch failed)."""
    try:
        return {"yes": True, "no": False}.get(paths.dhcp_answering.read_text().strip())
    except OSError:
        return None


def sync_gate_closed(paths: Paths) -> bool:
    """Whether the sync gate (usr/libexec/ha-pair/sync-gate) holds this starting node in FAULT
    until it has the peer's connections: keepalived reads -254 there. Absent or open: False."""
    try:
        return paths.sync_gate.read_text().strip() == str(OUT)
    except OSError:
        return False


def node_state(paths: Paths) -> str:
    """The notify script's last action: master, backup, fault, stop; unknown without a record."""
    try:
        return paths.state_file.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def pending_state(paths: Paths) -> str | None:
    """What keepalived said last (master, backup, fault, stop) while the notify script has not
    acted on it yet (its MASTER actions can take seconds); None when nothing is pending."""
    try:
        token, _type, _name, state, _priority = paths.notify_wanted.read_text().split()
    except (OSError, ValueError):
        return None
    try:
        done = paths.notify_done.read_text().strip()
    except OSError:
        done = ""
    return state.lower() if token != done else None


def check_result(paths: Paths, name: str) -> CheckResult:
    """Written by the package's `check` helper each time keepalived runs a check."""
    path = paths.checks_dir / name
    try:
        result, since, consecutive = path.read_text().split()[:3]
        return CheckResult(result, float(since), int(consecutive), path.stat().st_mtime)
    except (OSError, ValueError):
        return UNKNOWN_CHECK


def transitions(paths: Paths) -> list[tuple[float, "VrrpEvent"]]:
    """keepalived's events as the notify script logged them (`TIME TYPE NAME STATE PRIORITY`), the
    last 64 KiB: what an agent that (re)starts under a running keepalived resumes from."""
    from .events.keepalived_fifo import VrrpEvent
    from .state.pair import NODE_STATES

    try:
        with open(paths.transitions_log, "rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - TRANSITIONS_TAIL))
            lines = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return []
    events = []
    for line in lines:
        words = line.split()
        if len(words) != 5 or words[1] not in ("GROUP", "INSTANCE") or words[3] not in NODE_STATES:
            continue
        try:
            events.append((float(words[0]), VrrpEvent(words[1], words[2], words[3], int(words[4]))))
        except ValueError:
            continue
    return events


def recent_transitions(paths: Paths, count: int = 5) -> list[str]:
    """The notify script's last lines of its transition log, as written."""
    try:
        return paths.transitions_log.read_text().splitlines()[-count:]
    except OSError:
        return []
