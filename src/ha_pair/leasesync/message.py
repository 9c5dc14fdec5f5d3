"""Read one lease sync message within its limits, so an oversized message is refused after at most
MAX_MESSAGE_BYTES, never parsed, and never held whole beyond that; and the line by which the
forced command announces its answer's end."""

from __future__ import annotations

import os
import re
import time

from .. import epoll_selector
from ..leases.limits import READ_IDLE_S, Budget, MessageRefused


def read_message(fd: int, budget: Budget | None = None, idle_s: float = READ_IDLE_S,
                 deadline: float | None = None) -> bytes:
    """Everything until end-of-file on fd, within the budget; MessageRefused when over it, when
    nothing arrives for idle_s, or past the monotonic deadline."""
    budget = budget or Budget()
    chunks: list[bytes] = []
    selector = epoll_selector.EpollSelector()
    try:
        selector.register(fd, epoll_selector.EVENT_READ)
    except PermissionError:  # a regular file (not pollable, never blocks): read it as it is
        selector.close()
        while chunk := os.read(fd, 65536):
            budget.take(chunk)
            chunks.append(chunk)
        return b"".join(chunks)
    try:
        while True:
            wait = idle_s if deadline is None else max(0.0, min(idle_s, deadline - time.monotonic()))
            if not selector.select(wait):
                raise MessageRefused(f"no data for {wait:.0f} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            budget.take(chunk)
            chunks.append(chunk)
    finally:
        selector.close()


# The exchange's answer comes before the forced command has merged what it was sent (peer.py): it
# then says on stderr how long the answer is, so the asker can merge it while the peer merges
# (transport.call's `answered`) and waits for the exit status only after. A byte count, not an end
# of stdout: over SSH stdout's end reaches the asker only with stderr's, at the command's exit,
# and stdout and stderr arrive in no fixed order. An asker that does not know the line ignores it.
_ANSWER_MARK = "ha-pair answer-bytes "
_ANSWER_MARK_LINE = re.compile(rb"(?m)^%s([0-9]{1,10})\n" % re.escape(_ANSWER_MARK.encode()))


def answer_mark(length: int) -> str:
    """The stderr line that announces an answer of `length` bytes."""
    return f"{_ANSWER_MARK}{length}\n"


def announced_length(stderr: bytes) -> int | None:
    """The answer's length as announced on stderr so far, None before the line is complete."""
    found = _ANSWER_MARK_LINE.search(stderr)
    return int(found[1]) if found is not None else None


def without_mark(stderr: bytes) -> bytes:
    """stderr without the announcement: what is left is for people (and for transport.classify)."""
    return _ANSWER_MARK_LINE.sub(b"", stderr, count=1)
