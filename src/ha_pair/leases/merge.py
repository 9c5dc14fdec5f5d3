"""Merge two nodes' lease databases, and record what a node saw released.

merge() treats both sides as one pool of everything known, so the result depends only on that
pool and `now`: merge is commutative, associative and idempotent whatever the order of syncs.
1. Expired leases (0 < expiry <= now) and expired tombstones (now > expires) drop out.
2. Per slot (same client, same address), only the latest copy counts: a renewal replaces the
   copy it renewed, and a copy that has a hostname beats one that lost it.
3. A tombstone kills the copies of the lease it records: same slot, expiry no later. A later
   grant of that address to that client beats it.
4. From the latest lease down, a lease is kept unless a kept lease already holds its client
   identity or its address. Every lease that loses therefore has a *kept* witness later than
   itself; no lease is dropped because of one that was itself dropped. Losers are kept in
   `superseded` until they expire, and come back if their winner goes (is released, loses a
   conflict, expires): a lease that lost an address conflict protects that address again.
"""

from __future__ import annotations

from ..record import record
from itertools import chain
from operator import attrgetter

from .model import Lease, LeaseDb, Tombstone

TOMBSTONE_GRACE = 600  # past the killed lease's expiry: covers clock skew between the nodes
INFINITE_TOMBSTONE_TTL = 7 * 86400  # for a released infinite lease: no expiry to wait for


@record(frozen=True)
class MergeResult:
    db: LeaseDb
    conflicts: int = 0  # leases live on a node that lost their address to another client
    dropped_expired: int = 0
    tombstoned: int = 0  # leases killed by a tombstone
    conflict_descriptions: tuple[str, ...] = ()  # for the log; hostnames escaped


def _describe(lease: Lease) -> str:
    """For the log: the client and its name, hostile bytes escaped."""
    who = lease.client_id if lease.version == 6 or lease.client_id else lease.mac
    name = lease.hostname.decode("ascii", "backslashreplace") if lease.hostname else "*"
    return f"{who} ({name}, expires {lease.expiry or 'never'})"


def _tombstones(tombstones: tuple[Tombstone, ...], now: int) -> dict[tuple, Tombstone]:
    """One per slot, the one killing the most (ties: the longest lived), unexpired."""
    best: dict[tuple, Tombstone] = {}
    for tomb in tombstones:
        if now <= tomb.expires:
            current = best.get(tomb.key)
            if current is None or tomb.sort_key > current.sort_key:
                best[tomb.key] = tomb
    return best


def merge(a: LeaseDb, b: LeaseDb, now: int) -> MergeResult:
    """One database from two: see the module docstring for the rules."""
    tombs = _tombstones(a.tombstones + b.tombstones, now)
    everything = chain(a.leases, a.superseded, b.leases, b.superseded)
    pool = {lease.sort_key: lease for lease in everything}  # one of each
    expired = killed = 0
    latest: dict[tuple, Lease] = {}
    for lease in pool.values():
        tomb = tombs.get(lease.slot)
        if lease.expired(now):
            expired += 1
        elif tomb is not None and tomb.kills(lease):
            killed += 1
        else:
            current = latest.get(lease.slot)
            if current is None or lease.sort_key > current.sort_key:
                latest[lease.slot] = lease

    live: set[tuple] | None = None  # sort keys of the leases in a.leases or b.leases, if needed
    kept: list[Lease] = []
    lost: list[Lease] = []
    clients: set[tuple] = set()
    holders: dict[tuple, Lease] = {}
    descriptions: list[str] = []
    for lease in sorted(latest.values(), key=attrgetter("sort_key"), reverse=True):
        holder = holders.get(lease.address_key)
        if holder is None and lease.identity not in clients:
            kept.append(lease)
            clients.add(lease.identity)
            holders[lease.address_key] = lease
            continue
        lost.append(lease)
        if holder is not None and live is None:
            live = {other.sort_key for other in chain(a.leases, b.leases)}
        if holder is not None and lease.sort_key in live:
            descriptions.append(f"address conflict on {lease.address}: kept {_describe(holder)}, "
                                f"set aside {_describe(lease)}")

    conflicts = len(descriptions)
    # Each dnsmasq makes its own server DUID. Both nodes settling on one (the lower) is what HA
    # wants anyway: after a failover DHCPv6 clients still see the server they know.
    duids = sorted({d for d in (a.duid, b.duid) if d is not None})
    if len(duids) > 1:
        descriptions.append(f"server DUIDs differ ({duids[0]} and {duids[1]}): kept {duids[0]}")
    db = LeaseDb(tuple(kept), duids[0] if duids else None, tuple(tombs.values()), tuple(lost))
    return MergeResult(db, conflicts, expired, killed, tuple(descriptions))


def diff(old: LeaseDb, new: LeaseDb, now: int, *, grace: int = TOMBSTONE_GRACE,
         infinite_ttl: int = INFINITE_TOMBSTONE_TTL) -> tuple[Tombstone, ...]:
    """Tombstones for the leases of a node's own previous lease file (`old`) that are gone from
    its current one (`new`): released, expired, or the client moved to another address. A slot
    still present (renewed, even shortened) is no release.

    Both must come from the same running dnsmasq: a file emptied by a reboot or a wiped /tmp
    would otherwise tombstone every lease of the pair."""
    present = {lease.slot for lease in new.leases}
    tombs = []
    for lease in old.leases:
        if lease.slot not in present:
            expires = now + infinite_ttl if lease.expiry == 0 else max(lease.expiry, now) + grace
            tombs.append(Tombstone(lease, deleted_at=now, expires=expires))
    return tuple(tombs)
