"""Read one lease sync message within its limits, so an oversized message is refused after at most
MAX_MESSAGE_BYTES, never parsed, and never held whole beyond that."""

from __future__ import annotations

import os
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
