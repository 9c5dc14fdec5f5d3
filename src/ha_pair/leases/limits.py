"""What one lease sync message, and the stored state, may hold, and the Budget that counts a
message against it as it arrives (leasesync/message.py reads with it).

Sizes: a state line is at most ~2.7 kB (a superseded lease with a 255-byte hostname, a 255-byte
client-id and both extras); an honest lease line is 60-120 bytes, so 50 000 leases with their
tombstones are ~5 MB. The entry cap bounds the merge's work and memory whatever the bytes.
"""

from __future__ import annotations

MAX_MESSAGE_BYTES = 12 * 1024 * 1024
MAX_ENTRIES = 100_000  # lines of one message, and entries (leases, superseded, tombstones) stored: two
# nodes of 50 000 leases that share half of them merge into 75 000
MAX_LINE_BYTES = 4096
MAX_ERROR_BYTES = 65536  # what is kept of the other side's stderr
PEER_LIFETIME_S = 60  # the forced command never outlives this, whatever its client does
READ_IDLE_S = 15  # a client that sends nothing for this long is gone


class MessageRefused(ValueError):
    """A message over a limit, or too slow: refused whole, nothing of it merged."""


class Budget:
    """Counts bytes and lines of one message as they arrive."""

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES, max_lines: int = MAX_ENTRIES,
                 max_line: int = MAX_LINE_BYTES) -> None:
        self.max_bytes, self.max_lines, self.max_line = max_bytes, max_lines, max_line
        self.size = self.lines = self.open_line = 0

    def take(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise MessageRefused(f"more than {self.max_bytes} bytes")
        newlines = chunk.count(b"\n")
        self.lines += newlines
        if self.lines > self.max_lines:
            raise MessageRefused(f"more than {self.max_lines} lines")
        if newlines:
            self.open_line = len(chunk) - chunk.rindex(b"\n") - 1
            longest = max(map(len, chunk.split(b"\n")[1:-1])) if newlines > 1 else 0  # map: in C
        else:
            self.open_line += len(chunk)
            longest = 0
        if max(longest, self.open_line) > self.max_line:
            raise MessageRefused(f"a line longer than {self.max_line} bytes")
