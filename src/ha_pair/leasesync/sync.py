"""One round of lease sync with the peer: send what this node knows, merge what comes back.

Both nodes run it (on lease changes, periodically, when the peer is back); both merge. In an
exchange the peer answers with its own knowledge before it reads ours (peer.py), so each end merges
the other's while the other does: the round ends with the peer's exit status. The node that is not
answering DHCP also brings dnsmasq's file up to date (stopped around the swap).
"""

from __future__ import annotations

import math
import time
from ..record import record, field

from .. import jsonsafe
from ..paths import Paths
from ..leases.limits import Budget, MessageRefused
from .store import LeaseStore, stored_counts
from .transport import TransportError, call

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Callable

    from ..leases import MergeResult
    from .store import LinesResult

HELLO_LIMIT = 65536  # bytes: a name, a time and a few host keys
CLOCK_WARNING_S = 5.0  # expiries are absolute times: a skewed clock shortens or stretches leases


@record
class SyncOutcome:
    ok: bool
    started: float
    duration: float = 0.0
    error: str | None = None
    error_kind: str | None = None
    sent: int = 0
    received: int = 0
    leases_local: int = 0
    leases_peer: int = 0
    conflicts: int = 0
    conflict_descriptions: tuple[str, ...] = ()
    tombstones: int = 0
    malformed_local: int = 0
    malformed_peer: int = 0
    applied: bool = False
    notes: list[str] = field(default_factory=list)


@record
class Hello:
    node: str
    clock_offset: float  # peer's clock minus ours, seconds
    host_keys: list[str]


def hello(paths: Paths, peer: str, port: int, scratch: str | None = None, timeout: float = 10) -> tuple[Hello, str]:
    before = time.time()
    reply, stderr = call(paths, peer, port, "hello", timeout=timeout, scratch=scratch,
                         budget=Budget(HELLO_LIMIT, 4, HELLO_LIMIT))
    after = time.time()
    try:
        data = jsonsafe.loads(reply.data, max_depth=3)
        peer_time = data["time"]
        if type(peer_time) not in (int, float) or not math.isfinite(peer_time):
            raise ValueError(f"time is not a finite number: {str(peer_time)[:40]!r}")
        keys = data.get("host_keys", [])
        if not isinstance(keys, list) or len(keys) > 16:
            raise ValueError("host_keys is not a short list")
        return Hello(str(data["node"])[:255], peer_time - (before + after) / 2, [str(k)[:4096] for k in keys]), stderr
    except (ValueError, KeyError, TypeError) as exc:
        raise TransportError("rejected", f"unreadable hello from the peer: {exc}") from None


def state_lines(paths: Paths) -> set[bytes]:
    """This node's knowledge as lines: what a push compares with what the peer already has."""
    return set(LeaseStore(paths).knowledge_text().splitlines())


def push(paths: Paths, peer: str, port: int, already_sent: set[bytes], timeout: float = 15) -> tuple[SyncOutcome, set[bytes]]:
    """Send only what changed since `already_sent` (the lines the peer got last time). Returns
    the outcome and the lines the peer has now."""
    store = LeaseStore(paths)
    outcome = SyncOutcome(ok=False, started=time.time())
    with store.locked():
        _, local = store.observe_local(int(outcome.started))
        outcome.malformed_local = len(local.problems)
        current = store.knowledge_text().splitlines()
        already_sent = already_sent | store.take_from_peer()  # the peer's own news, not worth echoing
    counts = store.counts()
    outcome.leases_local, outcome.tombstones = counts["leases"], counts["tombstones"]
    delta = [line for line in current if line not in already_sent]
    if not delta:
        outcome.ok = True
        return outcome, set(current)
    payload = b"".join(line + b"\n" for line in delta)
    try:
        reply, _ = call(paths, peer, port, "push", payload, timeout=timeout)
    except TransportError as exc:
        outcome.error, outcome.error_kind = str(exc), exc.kind
        return outcome, already_sent
    outcome.ok, outcome.sent, outcome.received = True, reply.sent, reply.received
    outcome.duration = time.time() - outcome.started
    return outcome, already_sent | set(delta)


def exchange(paths: Paths, peer: str, port: int, apply_if_not_answering: bool, answering: bool,
             timeout: float = 15) -> SyncOutcome:
    store = LeaseStore(paths)
    outcome = SyncOutcome(ok=False, started=time.time())
    now = int(outcome.started)

    made = deferred = False  # deferred: dnsmasq's file is folded in with the answer, in one merge

    def payload() -> bytes:  # made while the SSH client connects and the peer starts (transport.call)
        nonlocal made, deferred
        made = True
        with store.locked():
            text = store.unfolded_text(now)
            if text is not None:
                deferred = True
                return text
            _, local = store.observe_local(now)
            outcome.malformed_local = len(local.problems)
            return store.knowledge_text()

    merge_at: int | None = None  # the time of the merge with the answer, when its first pass ran ahead

    def ahead() -> None:  # while the peer works: the merge's first pass over what was sent
        nonlocal merge_at
        at = int(time.time())
        if deferred and store.fold_ahead(at):
            merge_at = at

    def fold() -> None:  # the exchange failed: the lease file is folded in all the same
        if deferred or not made:
            with store.locked():
                store.observe_local(now)

    applying = apply_if_not_answering and not answering  # may bring dnsmasq's file up to date

    def answered(take: Callable[[], bytes]) -> None:  # the peer's knowledge, merged while the peer merges ours
        nonlocal merged
        # parsed before taking the lock; the bytes (a copy) are free once parsed: their ~5 MB go to the merge
        remote, outcome.malformed_peer = store.decode_remote(take())
        outcome.leases_peer = len(remote.leases)
        with store.locked():
            merged = store.absorb(remote, merge_at or int(time.time()), note=False, observe=deferred)
            store.forget_from_peer()  # the caller now counts everything merged as known to the peer
            outcome.leases_local, outcome.tombstones = stored_counts(merged)
        del remote  # merged and stored
        if not applying:
            store.reserve(int(time.time()))

    merged: MergeResult | LinesResult | None = None
    try:
        reply, _ = call(paths, peer, port, "exchange", payload, timeout=timeout, idle=ahead, answered=answered)
    except TransportError as exc:
        fold()
        outcome.error, outcome.error_kind = str(exc), exc.kind
        outcome.duration = time.time() - outcome.started
        return outcome
    except MessageRefused as exc:
        fold()
        outcome.error, outcome.error_kind = f"refused the peer's leases: {exc}", "rejected"
        outcome.duration = time.time() - outcome.started
        return outcome
    outcome.sent, outcome.received = reply.sent, reply.received
    outcome.conflicts = merged.conflicts
    outcome.conflict_descriptions = merged.conflict_descriptions
    if applying:  # only after the peer has taken what was sent, too: dnsmasq is restarted for it
        with store.locked():
            apply = store.needs_apply() or store.dnsmasq_behind()
        if apply:
            outcome.applied = store.apply_to_dnsmasq(int(time.time()))
        else:
            store.reserve(int(time.time()))
    outcome.ok = True
    outcome.duration = time.time() - outcome.started
    return outcome
