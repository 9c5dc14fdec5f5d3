"""keepalived's notify_fifo lines, e.g. `INSTANCE "lan" MASTER 150` or `GROUP "ha" BACKUP 0`.

keepalived writes one line per transition, in order, to the FIFO named by `notify_fifo` in
global_defs. The agent reads it; this module only turns a line into an event (pure).
"""

from __future__ import annotations

import re
from ..record import record

STATES = {"MASTER", "BACKUP", "FAULT", "STOP", "DELETED"}
# Lines keepalived may also write that carry no state change for the pair.
IGNORED_STATES = {"MASTER_RX_LOWER_PRI"}
_LINE = re.compile(r'^(INSTANCE|GROUP) "([^"]{1,64})" ([A-Z_]+) (-?\d+)$')


class FifoLineError(ValueError):
    """A line that is not a keepalived notify line we understand."""


@record(frozen=True)
class VrrpEvent:
    kind: str  # INSTANCE | GROUP
    name: str
    state: str  # MASTER | BACKUP | FAULT | STOP | DELETED
    priority: int


def parse_line(line: str) -> VrrpEvent | None:
    """The event of one line; None for lines to ignore; FifoLineError for garbage."""
    text = line.strip()
    match = _LINE.match(text)
    if not match:
        raise FifoLineError(f"not a keepalived notify line: {text[:120]!r}")
    kind, name, state, priority = match.groups()
    if state in IGNORED_STATES:
        return None
    if state not in STATES:
        raise FifoLineError(f"unknown state {state!r} in {text[:120]!r}")
    return VrrpEvent(kind, name, state, int(priority))


class LineBuffer:
    """Bytes from a FIFO in, complete lines out (a read may end mid-line)."""

    MAX_LINE = 4096

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[str]:
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        if len(self._pending) > self.MAX_LINE:  # a writer that never ends its line: drop it
            self._pending = b""
            lines.append(b"<overlong line dropped>")
        return [line.decode("utf-8", "replace") for line in lines if line.strip()]
