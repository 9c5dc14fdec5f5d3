"""merge() and diff() over the lines of the pair's own state text, without a Lease object per line.

A 50 000-lease exchange built ~10^5 Lease objects (about 1 kB each with their derived keys) on
each end: 150 MB and seconds of CPU. Nearly every line the pair writes and sends is in one
canonical form: an IPv4 lease exactly as Lease writes it (model._CANONICAL_V4), `superseded` and
`tombstone` lines around such a lease, and at most one `duid` line. For a text made only of those,
split() keeps each lease as its line (bytes) and merge() applies merge.py's rules to the lines,
deriving the keys it needs from the line's fields as it goes. Anything else (DHCPv6, vendorclass
or agent-info, a non-canonical or malformed line) makes split() return None, and the caller takes
the Lease path: this module is an exact shortcut for the common case, never a second opinion
(tests/unit/test_lease_lines.py checks its output byte for byte against merge.py's).

In this form a lease's fields map onto merge.py's keys one to one: the line is the sort key's
tie-breaker and there are no extras, the dotted quad is the address (canonical: one text per
address), the client-id or else the MAC is the identity.
"""

from __future__ import annotations

import gc
import re
import _socket  # inet_aton without socket.py's enums (the agent imports this module)
from itertools import chain, repeat
from operator import itemgetter  # loaded with re already

from ..record import field, record
from .merge import TOMBSTONE_GRACE, INFINITE_TOMBSTONE_TTL
from .model import _CANONICAL_V4, CANONICAL_V4_SHORT, INFINITE_RANK, MAX_EXPIRY, MAX_SERVER_DUID
from .reservations import dhcp_hosts_text

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Callable, Collection, Container, Iterable, Iterator, TypeVar

    T = TypeVar("T")

# A run of lease lines (each with its newline) from the start of a text, matched in one C call:
# ~half the cost of matching line by line. Possessive (*+): no backtracking state per line.
_LEASE_RUN = re.compile(rb"(?:%s\n)*+" % CANONICAL_V4_SHORT.pattern)
_TOMBSTONE = re.compile(rb"tombstone (0|[1-9][0-9]{0,18}) ([1-9][0-9]{0,18}) (.+)")
_DUID = re.compile(rb"duid ([0-9a-f]{2}(?::[0-9a-f]{2}){0,%d})" % (MAX_SERVER_DUID - 1))


@record
class StateLines:
    """A state text (or a lease file, or a message) in the canonical form, split into its parts.
    Tombstones are (deleted_at, expires, lease line)."""

    leases: list[bytes]
    superseded: list[bytes]
    tombstones: list[tuple[int, int, bytes]]
    duid: bytes | None


def _lease_line(line: bytes) -> bool:
    match = _CANONICAL_V4.fullmatch(line)
    return match is not None and int(match[1]) <= MAX_EXPIRY


def split(text: bytes, state: bool = True, known: Container[bytes] = ()) -> StateLines | None:
    """The text's parts, or None when any line is outside the canonical form (or, for a lease
    file, `state` False, is a superseded or tombstone line): then parse.py must read it. `known`:
    lease lines split() took before (this node's knowledge), taken again without a match: most
    of what the peer sends is what this node has already."""
    leases: list[bytes] = []
    superseded: list[bytes] = []
    tombstones: list[tuple[int, int, bytes]] = []
    duid = None
    run = _LEASE_RUN.match(text).end()  # the leading lease lines, checked at once
    lines = text.split(b"\n")  # the whole text (no copy of the run: 5 MB at 50 000 leases)
    if lines[-1] == b"":
        lines.pop()
    if run:
        count = text.count(b"\n", 0, run)
        leases, lines = lines[:count], lines[count:]
    short = CANONICAL_V4_SHORT.fullmatch  # this loop's cost: one C-level match per line
    for line in lines:
        if line in known or short(line) is not None or _lease_line(line):  # the last: a 19-digit expiry
            leases.append(line)
        elif state and line.startswith(b"superseded ") and _lease_line(line[11:]):
            superseded.append(line[11:])
        elif state and (tomb := _TOMBSTONE.fullmatch(line)) is not None and _lease_line(tomb[3]) \
                and int(tomb[1]) <= MAX_EXPIRY and int(tomb[2]) <= MAX_EXPIRY:
            tombstones.append((int(tomb[1]), int(tomb[2]), tomb[3]))
        elif duid is None and _DUID.fullmatch(line):
            duid = line[5:]
        else:
            return None
    return StateLines(leases, superseded, tombstones, duid)


def _identity(mac: bytes, client_id: bytes) -> bytes:
    """Who holds a lease: the client-id when there is one, else the MAC."""
    return b"i" + client_id if client_id != b"*" else b"h" + mac


def _slot(mac: bytes, quad: bytes, client_id: bytes) -> bytes:
    """Identity and address in one key."""
    return _identity(mac, client_id) + b" " + quad


def _slot_of(line: bytes) -> bytes:
    _, mac, quad, _, client_id = line.split(b" ")
    return _slot(mac, quad, client_id)


def address_order(line: bytes) -> tuple:
    """model.address_order for a canonical line: address, then merge.py's sort key."""
    expiry, _, quad, hostname, _ = line.split(b" ")
    return _socket.inet_aton(quad.decode()), int(expiry) or INFINITE_RANK, hostname != b"*", line


def _tomb_order(tomb: tuple[int, int, bytes]) -> tuple:
    deleted_at, expires, line = tomb
    order = address_order(line)
    return order, (order[1], expires, deleted_at, line)


def _describe(line: bytes) -> str:
    """merge._describe for a canonical line."""
    expiry, mac, _, hostname, client_id = line.split(b" ")
    who = (client_id if client_id != b"*" else mac).decode()
    name = hostname.decode("ascii", "backslashreplace") if hostname != b"*" else "*"
    return f"{who} ({name}, expires {int(expiry) or 'never'})"


@record
class LinesMerge:
    """merge.MergeResult, with the merged state as text (write.serialise_state's bytes)."""

    text: bytes
    leases: int
    tombstones: int
    superseded: int
    conflicts: int = 0
    dropped_expired: int = 0
    tombstoned: int = 0
    conflict_descriptions: tuple[str, ...] = ()
    state: StateLines | None = field(default=None, compare=False, repr=False)  # the text, split


def _uncollected(work: Callable[..., T], *args: object) -> T:
    """work(*args) with the cyclic garbage collector off: the merge builds ~10^5 tuples and no
    cycle among them, so the collector's passes would only cost."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return work(*args)
    finally:
        if collecting:
            gc.enable()


def merge(a: StateLines, b: StateLines, now: int) -> LinesMerge:
    """merge.merge() for two canonical texts (see there for the rules, step by step)."""
    return _uncollected(_merge, a, b, now)


def _merge(a: StateLines, b: StateLines, now: int) -> LinesMerge:
    fold = Fold(chain(a.tombstones, b.tombstones), now)
    # A line of b that a holds too would only repeat a's key (and an expired or killed line counts
    # once): left out. After an exchange, most of the answer is what the asker sent.
    in_a = set(a.leases)
    in_a.update(a.superseded)
    only_b = [line for line in chain(b.leases, b.superseded) if line not in in_a]
    del in_a
    fold.add(chain(a.leases, a.superseded, only_b))
    del only_b
    return _finish(fold, a, b)


def _tombs(tombstones: Iterable[tuple[int, int, bytes]], now: int) -> dict[bytes, tuple]:
    """slot -> (the killed lease's rank, expires, deleted_at, line): each slot's latest tombstone
    still in force at `now`."""
    tombs: dict[bytes, tuple] = {}
    for deleted_at, expires, line in tombstones:
        if now <= expires:
            expiry, mac, quad, _, client_id = line.split(b" ")
            key = (int(expiry) or INFINITE_RANK, expires, deleted_at, line)
            slot = _slot(mac, quad, client_id)
            current = tombs.get(slot)
            if current is None or key > current:
                tombs[slot] = key
    return tombs


class Fold:
    """merge()'s first pass, over lines given in parts: each slot's latest copy, and the expired
    and killed lines. The pass is a fold over a set of lines (each slot keeps its greatest key,
    each dropped line counts once), so its parts may come in any order and at any time: the
    caller of an exchange folds its own lines while the peer works (merge_onto)."""

    def __init__(self, tombstones: Iterable[tuple[int, int, bytes]], now: int) -> None:
        self.now = now
        self.tombs = _tombs(tombstones, now)
        self.expired = self.killed = 0
        self.dropped: set[bytes] = set()  # expired or killed lines, each counted once (as merge.py's pool does)
        self.latest: dict[bytes, tuple] = {}  # slot -> its latest copy's sort key (rank, has a name, line)

    def add(self, pool: Iterable[bytes]) -> None:
        _uncollected(self._add, pool)

    def _add(self, pool: Iterable[bytes]) -> None:
        # This loop runs for every line (10^5 at 50 000 leases a side): _slot is spelled out inline.
        now, tombs, dropped, latest = self.now, self.tombs, self.dropped, self.latest
        get = latest.get
        expired = killed = 0
        for line in pool:
            expiry, mac, quad, hostname, client_id = line.split(b" ")
            rank = int(expiry)
            if 0 < rank <= now:
                if line not in dropped:
                    dropped.add(line)
                    expired += 1
                continue
            slot = (b"i" + client_id if client_id != b"*" else b"h" + mac) + b" " + quad  # _slot
            if tombs:
                tomb = tombs.get(slot)
                if tomb is not None and (rank or INFINITE_RANK) <= tomb[0]:
                    if line not in dropped:
                        dropped.add(line)
                        killed += 1
                    continue
            key = (rank or INFINITE_RANK, hostname != b"*", line)
            current = get(slot)
            if current is None or key > current:
                latest[slot] = key
        self.expired += expired
        self.killed += killed


def merge_onto(fold: Fold, folded: Container[bytes], a: StateLines, b: StateLines) -> LinesMerge | None:
    """merge(a, b, fold.now) when `fold` has folded exactly the lines in `folded`, all of them
    lines of a or b, among them every lease and superseded line of a, with a's tombstones: the
    rest of b is folded now. None (nothing changed) when b brings a tombstone that would change
    the fold's: then merge() must do it all."""
    if _tombs(chain(a.tombstones, b.tombstones), fold.now) != fold.tombs:
        return None
    fold.add([line for line in chain(b.leases, b.superseded) if line not in folded])
    return _uncollected(_finish, fold, a, b)


def _finish(fold: Fold, a: StateLines, b: StateLines) -> LinesMerge:
    """merge()'s steps after the first pass: who keeps each address, the kept leases in address
    order, the set-aside ones, the tombstones, the DUID."""
    latest, tombs, expired, killed = fold.latest, fold.tombs, fold.expired, fold.killed
    fold.latest, fold.dropped = {}, set()  # spent: its memory goes with the lines below
    lost: list[tuple] = []  # (packed address, sort key): model._address_order
    descriptions: list[str] = []
    holders: dict[bytes, bytes]  # packed address -> the kept line holding it: the kept leases
    # When no two slots share an address or a client, each slot's latest copy is kept (_hold would
    # keep them all): found with no sort by rank and no loop in Python. One line per address: as
    # many holders as slots.
    holders = {}
    if _apart(latest, 0):
        addresses = map(_socket.inet_aton, map(bytes.decode, _parts(latest, 2)))
        holders = dict(zip(addresses, map(itemgetter(2), latest.values())))
    if len(holders) != len(latest):
        holders = _hold(latest, a, b, lost, descriptions)
    del latest
    conflicts = len(descriptions)
    duids = sorted({d for d in (a.duid, b.duid) if d is not None})
    if len(duids) > 1:
        descriptions.append(f"server DUIDs differ ({duids[0].decode()} and {duids[1].decode()}): "
                            f"kept {duids[0].decode()}")
    kept = [holders[address] for address in sorted(holders)]  # model._address_order: one per address
    del holders
    lost.sort()
    tombstones = sorted(((deleted_at, expires, line) for _, expires, deleted_at, line in tombs.values()),
                        key=_tomb_order)
    state = StateLines(kept, [entry[3] for entry in lost], tombstones, duids[0] if duids else None)
    del lost
    merged = LinesMerge(serialise(state), len(state.leases), len(tombstones), len(state.superseded),
                        conflicts, expired, killed, tuple(descriptions), state)
    return merged


def _parts(slots: Iterable[bytes], part: int) -> Iterator[bytes]:
    """The identity (part 0) or the dotted quad (part 2) of each slot, in C."""
    return map(itemgetter(part), map(bytes.rpartition, slots, repeat(b" ")))


def _apart(slots: Collection[bytes], part: int) -> bool:
    """Whether no two slots share that part (by hash, which holds less memory than the parts: a
    collision only sends the merge the long way)."""
    return len(set(map(hash, _parts(slots, part)))) == len(slots)


def _hold(latest: dict[bytes, tuple], a: StateLines, b: StateLines, lost: list[tuple],
          descriptions: list[str]) -> dict[bytes, bytes]:
    """merge.py's pass over the slots' latest copies, latest first: a copy is kept when neither its
    address nor its client is taken yet, else set aside (into `lost`; a conflict over an address
    between live leases is described). Returns the kept lines by packed address."""
    live: set[bytes] | None = None  # the lines of a.leases and b.leases, if needed
    clients: set[bytes] = set()
    holders: dict[bytes, bytes] = {}
    aton = _socket.inet_aton
    for (rank, named, line), slot in sorted(zip(latest.values(), latest), reverse=True):
        identity, _, quad = slot.rpartition(b" ")
        packed = aton(quad.decode())
        holder = holders.get(packed)
        if holder is None and identity not in clients:
            clients.add(identity)
            holders[packed] = line
            continue
        lost.append((packed, rank, named, line))
        if holder is not None and live is None:
            live = set(chain(a.leases, b.leases))
        if holder is not None and line in live:
            descriptions.append(f"address conflict on {quad.decode()}: kept {_describe(holder)}, "
                                f"set aside {_describe(line)}")
    return holders


def serialise(state: StateLines) -> bytes:
    """write.serialise_state's layout: leases, duid, superseded, tombstones (each part in the
    order the caller gives)."""
    parts = [b"\n".join(state.leases)] if state.leases else []
    if state.duid is not None:
        parts.append(b"duid " + state.duid)
    if state.superseded:
        parts.append(b"superseded " + b"\nsuperseded ".join(state.superseded))
    if state.tombstones:
        parts.append(b"\n".join(b"tombstone %d %d %s" % tomb for tomb in state.tombstones))
    return b"\n".join(parts) + b"\n" if parts else b""


def diff(old: list[bytes], new: list[bytes], now: int) -> list[tuple[int, int, bytes]]:
    """merge.diff() for canonical lease lines: tombstones for the slots of `old` gone from `new`."""
    present = {_slot_of(line) for line in new}
    tombs = []
    for line in old:
        if _slot_of(line) not in present:
            expiry = int(line[:line.index(b" ")])
            expires = now + INFINITE_TOMBSTONE_TTL if expiry == 0 else max(expiry, now) + TOMBSTONE_GRACE
            tombs.append((now, expires, line))
    return tombs


def reservations(knowledge: StateLines, in_dnsmasq: StateLines, now: int) -> bytes:
    """reservations.reservations() for canonical texts (see there), over `knowledge`'s leases in
    the order of its text (the pair's state files are written in address order), as bytes."""
    # reservations() also skips a lease whose slot dnsmasq holds: its address is then taken too.
    # A line dnsmasq's file holds as it is has its address taken: a set difference (in C) leaves
    # only the others, and a set of the file's addresses those whose address is free, for the loop
    # (after an exchange, most of the knowledge is in the file).
    in_file = set(in_dnsmasq.leases)
    candidates = [line for line in knowledge.leases if line not in in_file]
    if not candidates:
        return b""
    taken = set(_field(in_dnsmasq.leases, 2))
    out = []
    for line in [line for line, quad in zip(candidates, _field(candidates, 2)) if quad not in taken]:
        expiry, mac, quad, _, client_id = line.split(b" ")
        if 0 < int(expiry) <= now:
            continue
        if client_id != b"*" and b":" in client_id:
            out.append(b"id:%s,%s" % (client_id, quad))
        elif client_id == b"*" and mac.count(b":") == 5:  # Ethernet: the form has no `<type>-`
            out.append(b"%s,%s" % (mac, quad))
    return dhcp_hosts_text(out)


def _field(leases: Iterable[bytes], index: int) -> Iterator[bytes]:
    """Field `index` (0: expiry ... 4: client-id) of each lease line, split in C."""
    return map(itemgetter(index), map(bytes.split, leases, repeat(b" "), repeat(index + 1)))
