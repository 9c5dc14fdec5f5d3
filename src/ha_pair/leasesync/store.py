"""This node's lease knowledge on disk, and dnsmasq's lease file (the I/O edge of lease sync).

Files (run directory, tmpfs: nothing here wears flash):
- leases.state  what this node knows: merged leases, tombstones, superseded leases;
- leases.seen   the lease file as last read, to tell releases/expiries (gone since) from
                leases that were never there;
- leases.lock   one writer at a time: the agent, the forced command serving the peer, and a
                catch-up before mastership all go through here.

dnsmasq reads its lease file only at start, so importing leases means: stop it, replace the file
atomically, start it (apply_to_dnsmasq). The node answering DHCP is never restarted for a sync.
"""

from __future__ import annotations

import fcntl
import os
import time
from ..record import record

from ..fs import atomic_write
from ..fspath import FsPath
from ..paths import Paths
from ..leases import LeaseDb, MergeResult, diff, lines, merge, parse_leases, parse_state, serialise, serialise_state
from ..leases.limits import MAX_ENTRIES, MAX_MESSAGE_BYTES, Budget, MessageRefused
from ..leases.parse import LineProblem
from ..leases.reservations import reservations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import IO


@record(frozen=True)
class LocalRead:
    db: LeaseDb
    problems: tuple[LineProblem, ...]


class LinesRead:
    """LocalRead of a lease file in the canonical form (leases/lines.py): no problems, and the
    Lease objects built only if someone asks for them."""

    problems: tuple[LineProblem, ...] = ()

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    @property
    def db(self) -> LeaseDb:
        return parse_leases(self.raw).db


class LinesResult:
    """MergeResult of the line merge: its counts, and the Lease objects only if asked for."""

    def __init__(self, merged: lines.LinesMerge) -> None:
        self.merged = merged
        self.conflicts, self.conflict_descriptions = merged.conflicts, merged.conflict_descriptions
        self.dropped_expired, self.tombstoned = merged.dropped_expired, merged.tombstoned

    @property
    def db(self) -> LeaseDb:
        return parse_state(self.merged.text).db


def lease_file(paths: Paths) -> FsPath:
    """dnsmasq's lease file: `option leasefile` of the dnsmasq section in /etc/config/dhcp."""
    from ..uci import UciSyntaxError, load

    try:
        dhcp = load(paths.config("dhcp"), "dhcp")
    except (OSError, UciSyntaxError):
        return paths.under("/tmp/dhcp.leases")
    for section in dhcp.of_type("dnsmasq"):
        configured = section.get("leasefile")
        if configured:
            return paths.under(configured)
    return paths.under("/tmp/dhcp.leases")


class _Flock:
    """An exclusive flock on a file for a `with` block (not contextlib: the agent would load it for
    this alone)."""

    def __init__(self, path: FsPath) -> None:
        self.path = path
        self.handle: IO | None = None

    def __enter__(self) -> None:
        self.handle = open(self.path, "a")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        except BaseException:
            self.handle.close()
            raise

    def __exit__(self, *_exc: object) -> None:
        try:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
        finally:
            self.handle.close()


class LeaseStore:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.file = lease_file(paths)
        self.state_path = paths.lease_state
        self.seen_path = paths.leases_seen
        self.lock_path = paths.leases_lock
        self.from_peer_path = paths.leases_from_peer
        self._parsed: dict[str, tuple[tuple, LeaseDb]] = {}  # path -> (its stat key, its content)
        self._written: dict[str, tuple[tuple, bytes | None]] = {}  # path -> (its stat key, the bytes written or None)
        self._file_read: tuple[bytes, LocalRead] | None = None  # dnsmasq's file: last bytes, parsed
        self._split: dict[str, tuple[tuple, lines.StateLines | None]] = {}  # path -> (stat key, lines)
        self._file_split: tuple[bytes, lines.StateLines | None] | None = None  # dnsmasq's file, as lines
        self._unfolded: tuple[bytes, lines.StateLines, tuple | None] | None = None  # unfolded_text's file, seen version
        self._folded: tuple[lines.StateLines, lines.StateLines, lines.Fold, set[bytes]] | None = None  # fold_ahead's

    def locked(self) -> _Flock:
        """`with store.locked():` holds the store's lock file (flock) for the block."""
        self.paths.run_dir.mkdir(parents=True, exist_ok=True)
        return _Flock(self.lock_path)

    # -- reading --------------------------------------------------------------------------------
    def read_file(self) -> LocalRead:
        """dnsmasq's file, parsed again only when its bytes changed (one exchange reads it up to three
        times: 50 000 leases take a while to parse). Compared by content, not by stat: dnsmasq
        rewrites the file in place, and tmpfs's mtime moves in jiffies."""
        try:
            raw = self.file.read_bytes()
        except FileNotFoundError:
            return LocalRead(LeaseDb(), ())
        if self._file_read is not None and self._file_read[0] == raw:
            return self._file_read[1]
        result = parse_leases(raw)
        read = LocalRead(result.db, tuple(result.problems))
        self._file_read = (raw, read)
        return read

    def _settled(self, first: LocalRead, attempts: int = 5, pause: float = 0.05) -> LocalRead:
        """dnsmasq rewrites its lease file in place (truncate, then write): a read at the wrong
        moment sees part of it, and every lease missing from that part would look released. Before
        a lease counts as gone, read again until two reads agree."""
        current = first
        for _ in range(attempts):
            time.sleep(pause)
            again = self.read_file()
            if again == current:
                return current
            current = again
        return current

    def knowledge(self) -> LeaseDb:
        return self._read_state(self.state_path)

    def knowledge_text(self) -> bytes:
        """serialise_state(knowledge()): the bytes this store object wrote last, while the file is
        still the one it wrote (no second serialisation of 50 000 leases)."""
        try:
            info = os.stat(self.state_path)
            written = self._written.get(str(self.state_path))
            if written is not None and written[1] is not None \
                    and written[0] == (info.st_ino, info.st_size, info.st_mtime_ns):
                return written[1]
        except OSError:
            pass
        raw = self._bytes(self.state_path)
        if lines.split(raw) is not None:
            return raw  # the pair's own form already: as a parse and serialisation would give it
        return serialise_state(self.knowledge())

    @staticmethod
    def _bytes(path: FsPath) -> bytes:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return b""

    def _state_lines(self, path: FsPath) -> lines.StateLines | None:
        """A state file split into lines, None outside the canonical form; split again only when
        the file changed (every writer replaces it: inode, size and mtime tell)."""
        try:
            info = os.stat(path)
            key: tuple | None = (info.st_ino, info.st_size, info.st_mtime_ns)
        except FileNotFoundError:
            key = None  # no file: no lines (the same object each time, as for a file unchanged)
        cached = self._split.get(str(path))
        if cached is not None and cached[0] == key:
            return cached[1]
        written = self._written.get(str(path))
        known = written is not None and written[0] == key and written[1] is not None
        split = lines.split(written[1] if known else self._bytes(path) if key is not None else b"")
        self._split[str(path)] = (key, split)
        return split

    def _file_lines(self) -> tuple[bytes, lines.StateLines | None]:
        """dnsmasq's file and its lines (None outside the canonical form), split again only when
        its bytes changed (see read_file)."""
        raw = self._bytes(self.file)
        if self._file_split is None or self._file_split[0] != raw:
            self._file_split = (raw, lines.split(raw, state=False))
        return self._file_split

    def split_ahead(self) -> None:
        """Read and split dnsmasq's file and the state files now, without the lock (the forced
        command, while the peer's message is on its way): kept for the merge, which reads them
        again under the lock and splits again only what changed meanwhile."""
        self._file_lines()
        self._state_lines(self.state_path)
        if self.seen_path.exists():
            self._state_lines(self.seen_path)

    def counts(self) -> dict[str, int]:
        """Leases and tombstones this node knows, counted from the state file's lines (cheap
        enough for every status call, whoever wrote the file last: agent or forced command)."""
        counts = {"leases": 0, "tombstones": 0, "superseded": 0}
        try:
            with open(self.state_path, "rb") as handle:
                for line in handle:
                    word = line.split(b" ", 1)[0]
                    if word == b"tombstone":
                        counts["tombstones"] += 1
                    elif word == b"superseded":
                        counts["superseded"] += 1
                    elif word not in (b"duid", b"agent-info", b"vendorclass", b"\n"):
                        counts["leases"] += 1
        except OSError:
            pass
        return counts

    def _read_state(self, path: FsPath) -> LeaseDb:
        """The parsed file, parsed again only when it changed: one round of sync reads the knowledge
        several times, and 50 000 leases take a while to parse. Every writer replaces the file
        (atomic_write: a new inode), so inode, size and mtime tell a changed file."""
        try:
            with open(path, "rb") as handle:
                info = os.fstat(handle.fileno())
                key = (str(path), info.st_ino, info.st_size, info.st_mtime_ns)
                cached = self._parsed.get(str(path))
                if cached is not None and cached[0] == key:
                    return cached[1]
                db = parse_state(handle.read()).db
        except FileNotFoundError:
            return LeaseDb()
        self._parsed[str(path)] = (key, db)
        return db

    # -- updating (callers hold the lock, except for apply_to_dnsmasq) ---------------------------
    def observe_local(self, now: int) -> tuple[MergeResult | LinesResult, LocalRead | LinesRead]:
        """Fold the current lease file into the knowledge: new and renewed leases, and tombstones for
        those gone since the last read (released or expired)."""
        fast = self._observe_lines(now)
        if fast is not None:
            return fast
        local = self.read_file()
        if self.seen_path.exists():
            seen = self._read_state(self.seen_path)
            tombstones = diff(seen, local.db, now)
            if tombstones:
                local = self._settled(local)
                tombstones = diff(seen, local.db, now)
        else:
            tombstones = ()  # first read since boot: an empty file is no evidence of releases
        observed = LeaseDb(local.db.leases, local.db.duid, tombstones)
        result = merge(self.knowledge(), observed, now)
        self._save(result.db, local.db)
        return result, local

    def _observe_lines(self, now: int) -> tuple[LinesResult, LinesRead] | None:
        """observe_local by the line merge (see _observed_lines); None where it does not apply."""
        observed = self._observed_lines(now)
        if observed is None:
            return None
        raw, local, known = observed
        merged = lines.merge(known, lines.StateLines(local.leases, [], [], local.duid), now)
        self._write_lines(self.state_path, merged)
        self._write_seen(raw, local)
        return LinesResult(merged), LinesRead(raw)

    def _observed_lines(self, now: int) -> tuple[bytes, lines.StateLines, lines.StateLines] | None:
        """dnsmasq's file (bytes and lines) and the knowledge's lines, when the lease file and both
        state files are in the canonical form and nothing was released since the last read (a
        release goes the Lease way, which reads a half-written file again before believing it)."""
        raw, local = self._file_lines()
        known = self._state_lines(self.state_path)
        if local is None or known is None:
            return None
        if self.seen_path.exists() and self._bytes(self.seen_path) != raw:  # the same bytes: nothing gone
            seen = self._state_lines(self.seen_path)
            if seen is None or lines.diff(seen.leases, local.leases, now):
                return None
        return raw, local, known

    def unfolded_text(self, now: int) -> bytes | None:
        """For an exchange: the knowledge with the leases of dnsmasq's file it lacks added, unmerged
        (the peer merges them anyway; the caller folds the file in when it merges the answer:
        absorb(observe=True)). None where that does not apply (see _observed_lines; a DUID the
        knowledge lacks; past a message's lines): then observe_local first."""
        observed = self._observed_lines(now)
        if observed is None:
            return None
        raw, local, known = observed
        if local.duid not in (None, known.duid):
            return None
        have = set(known.leases)
        extra = [line for line in local.leases if line not in have]
        del have
        if len(known.leases) + len(known.superseded) + len(known.tombstones) + len(extra) + 1 > MAX_ENTRIES:
            return None
        self._unfolded = (raw, local, _version(self.seen_path))
        return lines.serialise(lines.StateLines(known.leases + extra, known.superseded, known.tombstones, known.duid))

    def fold_ahead(self, now: int) -> bool:
        """For an exchange, while the peer works (after unfolded_text): the first pass of the merge
        that absorb(observe=True) will do, over the lines this node sent (its knowledge and the
        file's leases), at `now`. absorb uses it when given the same `now` and the knowledge is
        still the one sent (its lines then only fold in what the answer brings). Returns whether
        it folded."""
        if self._unfolded is None:
            return False
        try:
            known = self._state_lines(self.state_path)  # split for unfolded_text: no second read
        except OSError:
            return False
        if known is None:
            return False
        local = self._unfolded[1]
        folded = set(known.leases)
        folded.update(known.superseded)
        extra = [line for line in local.leases if line not in folded]
        fold = lines.Fold(known.tombstones, now)
        fold.add(known.leases)
        fold.add(known.superseded)
        fold.add(extra)
        folded.update(extra)
        self._folded = (known, local, fold, folded)
        return True

    def _write_seen(self, raw: bytes, local: lines.StateLines) -> None:
        """The seen file: dnsmasq's file as read (`raw`, split into `local`), byte for byte. In the
        canonical form a lease file is a state text too (leases and a DUID), and only the slots
        matter to a diff: no sorting; and the next fold that reads the same bytes knows at once that
        nothing is gone (_observed_lines)."""
        self._write_text(self.seen_path, raw, keep=False)
        self._remember_lines(self.seen_path, lines.StateLines(local.leases, [], [], local.duid))

    def absorb(self, remote: LeaseDb | lines.StateLines, now: int, remote_text: bytes | None = None,
               note: bool = True, observe: bool = False) -> MergeResult | LinesResult:
        """Fold the peer's knowledge into ours, noting what came from the peer (`remote_text`: the
        message it was parsed from, if at hand): it need not be pushed back to it (`note` False:
        the caller counts all it knows as known to the peer). Refused whole
        (MessageRefused, nothing stored) when the result would pass the stored-state cap.
        `observe`: observe_local(now) first, done in the same line merge where that applies
        (merging the file and the message into the knowledge at once is merging them one after
        the other at the same time: each slot's latest copy and the tombstones are the same).
        After unfolded_text, `observe` folds in the file as it was sent (and the peer's answer
        holds it already): what dnsmasq wrote since is not in the answer, and stays for the next
        fold to find (and push)."""
        raw, local, seen_key, known = b"", None, None, None
        if observe and self._unfolded is not None:
            (raw, local, seen_key), known = self._unfolded, self._state_lines(self.state_path)
            self._unfolded = None
            if known is None or not isinstance(remote, lines.StateLines):
                local = None
                self.observe_local(now)  # the Lease path's fold (of the file as it is now), then the merge
        elif observe:
            observed = self._observed_lines(now) if isinstance(remote, lines.StateLines) else None
            if observed is None:
                self.observe_local(now)  # the Lease path's fold, then the merge
            else:
                raw, local, known = observed
                seen_key = _version(self.seen_path)
        if isinstance(remote, lines.StateLines):
            known = self._state_lines(self.state_path) if local is None else known
            if known is not None:
                incoming = remote
                if local is not None:  # the file's leases join the message's (and the least DUID)
                    duids = [d for d in (local.duid, remote.duid) if d is not None]
                    sent = set(remote.leases)  # lines both hold need not go through the merge twice
                    sent.update(remote.superseded)
                    incoming = lines.StateLines([line for line in local.leases if line not in sent] + remote.leases,
                                                remote.superseded, remote.tombstones, min(duids) if duids else None)
                    del sent
                merged = self._merge_folded(known, local, incoming, now)
                if merged is None:
                    merged = lines.merge(known, incoming, now)
                del incoming
                stored = merged.leases + merged.superseded + merged.tombstones
                if stored > MAX_ENTRIES:
                    raise MessageRefused(f"merged, the lease state would hold {stored} entries (at most {MAX_ENTRIES})")
                self._write_lines(self.state_path, merged)
                if local is not None and _version(self.seen_path) == seen_key:  # else another fold
                    self._write_seen(raw, local)  # read a newer file since: its seen file stands
                if note:
                    self._note_from_peer(lines.serialise(remote) if remote_text is None else remote_text)
                return LinesResult(merged)
            remote = parse_state(lines.serialise(remote) if remote_text is None else remote_text).db
        result = merge(self.knowledge(), remote, now)
        stored = entries(result.db)
        if stored > MAX_ENTRIES:
            raise MessageRefused(f"merged, the lease state would hold {stored} entries (at most {MAX_ENTRIES})")
        self._write_state(self.state_path, result.db)
        if note:
            self._note_from_peer(serialise_state(remote) if remote_text is None else remote_text)
        return result

    def _merge_folded(self, known: lines.StateLines, local: lines.StateLines | None, incoming: lines.StateLines,
                      now: int) -> lines.LinesMerge | None:
        """lines.merge(known, incoming, now) on fold_ahead's first pass, when it folded this
        knowledge and this file at this time (else None)."""
        folded, self._folded = self._folded, None
        if folded is None or folded[0] is not known or folded[1] is not local or folded[2].now != now:
            return None
        return lines.merge_onto(folded[2], folded[3], known, incoming)

    def _note_from_peer(self, lines: bytes) -> None:
        """Append to leases.from-peer (0600). It only saves echoing the peer's news back: past one
        message's size it is dropped, which costs at most one longer push."""
        fd = os.open(self.from_peer_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "ab") as handle:
            if handle.tell() + len(lines) > MAX_MESSAGE_BYTES:
                handle.truncate(0)
                lines = lines if len(lines) <= MAX_MESSAGE_BYTES else b""
            handle.write(lines)

    def forget_from_peer(self) -> None:
        """Drop the lines noted as received (take_from_peer without reading them)."""
        self.from_peer_path.unlink(missing_ok=True)

    def take_from_peer(self) -> set[bytes]:
        """The lines received from the peer since the last call (callers hold the lock)."""
        try:
            lines = set(self.from_peer_path.read_bytes().splitlines())
        except FileNotFoundError:
            return set()
        self.from_peer_path.unlink(missing_ok=True)
        return lines

    def _save(self, knowledge: LeaseDb, seen: LeaseDb) -> None:
        self._write_state(self.state_path, knowledge)
        self._write_state(self.seen_path, LeaseDb(seen.leases, seen.duid))

    def _write_state(self, path: FsPath, db: LeaseDb) -> None:
        """Write a state file and remember what it holds (the next read need not parse it)."""
        info = self._write_text(path, serialise_state(db))
        if info is not None:
            self._parsed[str(path)] = ((str(path), info.st_ino, info.st_size, info.st_mtime_ns), db)

    def _write_lines(self, path: FsPath, merged: lines.LinesMerge) -> None:
        self._write_text(path, merged.text)
        self._remember_lines(path, merged.state)

    def _remember_lines(self, path: FsPath, state: lines.StateLines) -> None:
        written = self._written.get(str(path))
        if written is not None:
            self._split[str(path)] = (written[0], state)

    def _write_text(self, path: FsPath, text: bytes, keep: bool = True) -> os.stat_result | None:
        """Write a state file's bytes and remember them (knowledge_text need not read them back;
        `keep` False: only which version this store wrote, to save the memory of the bytes)."""
        atomic_write(path, text, 0o600)
        try:
            info = os.stat(path)
        except OSError:
            return None
        self._written[str(path)] = ((info.st_ino, info.st_size, info.st_mtime_ns), text if keep else None)
        return info

    def needs_apply(self) -> bool:
        """Whether dnsmasq's file lacks what the knowledge holds (or holds what it dropped)."""
        file_lines, known_lines = self._file_lines()[1], self._state_lines(self.state_path)
        if file_lines is not None and known_lines is not None:
            # the same lines in any order: sorted by address they would be the same list (the line
            # is address_order's last key), and plain sorting is done in C
            return (sorted(file_lines.leases), file_lines.duid) != (sorted(known_lines.leases), known_lines.duid)
        file_db = self.read_file().db
        known = self.knowledge()
        return (file_db.leases, file_db.duid) != (known.leases, known.duid)

    def apply_to_dnsmasq(self, now: int) -> bool:
        """Replace dnsmasq's lease file by the knowledge, with dnsmasq stopped around the swap (in a
        process of its own: importer.py). For the node that is not answering DHCP. Returns whether
        anything was written. The lease lock is held only for the swap."""
        from .importer import apply_to_dnsmasq

        return apply_to_dnsmasq(self.paths, now)

    def swap_into_dnsmasq_file(self, now: int) -> bool:
        """The swap, with dnsmasq stopped and the lock held: whatever dnsmasq wrote until it stopped
        is folded in first, then the file becomes the knowledge."""
        self.observe_local(now)
        knowledge = self.knowledge()
        wanted = serialise(LeaseDb(knowledge.leases, knowledge.duid))
        written = atomic_write(self.file, wanted, 0o644)
        self._save(knowledge, LeaseDb(knowledge.leases, knowledge.duid))
        self.refresh_reservations(now)  # dnsmasq reads both when it starts: nothing left to reserve
        return written

    def write_ahead(self, now: int) -> bool:
        """The swap with dnsmasq left running (the lock held): the file holds the knowledge at once,
        and dnsmasq's memory catches up at its next restart (importer.py). Safe because dnsmasq
        opens its lease file once, at start, and rewrites it only through that descriptor
        (lease.c: lease_init, lease_update_file): the swap renames a new file into place, so
        whatever the running dnsmasq writes from its older memory goes to the replaced inode, never
        over this file. Until that restart dnsmasq must not answer DHCP (what it grants would land
        in the replaced inode): the marker `dnsmasq_behind` tells the restart is owed, and the
        MASTER catch-up pays it before the DHCP guard opens. Returns whether the file changed."""
        marker = self.paths.dnsmasq_behind
        owed = marker.exists()
        if not owed:
            with open(marker, "w") as handle:  # before the rename: a crash between the two owes a restart
                handle.write(f"{now}\n")
        written = self.swap_into_dnsmasq_file(now)
        if not written and not owed:
            marker.unlink(missing_ok=True)
        return written

    def dnsmasq_behind(self) -> bool:
        """Whether dnsmasq's memory may lack leases its file holds (write_ahead since its last restart)."""
        return self.paths.dnsmasq_behind.exists()

    def refresh_reservations(self, now: int) -> bool:
        """Write the dhcp-hostsfile of leases this node knows and dnsmasq's file lacks (callers hold
        the lock). Returns whether it changed: then a running dnsmasq needs SIGHUP to read it.
        Only while the file exists (render creates it when lease sync is on: OpenWrt's dnsmasq init
        passes --dhcp-hostsfile only for a file that exists). Rewritten in place, not renamed:
        procd's jail bind-mounts the file itself into dnsmasq's view, so a new inode would stay
        unseen there."""
        file_lines, known_lines = self._file_lines()[1], self._state_lines(self.state_path)
        if file_lines is not None and known_lines is not None:
            wanted = lines.reservations(known_lines, file_lines, now)
        else:
            wanted = reservations(self.knowledge(), self.read_file().db, now).encode()
        path = self.paths.dhcp_reservations
        try:
            with open(path, "r+b") as handle:
                if handle.read() == wanted:
                    return False
                handle.seek(0)
                handle.truncate()
                handle.write(wanted)
                handle.flush()
                os.fsync(handle.fileno())
        except FileNotFoundError:
            return False
        return True

    def reserve(self, now: int) -> None:
        """refresh_reservations under the lock, then SIGHUP to the running dnsmasq if the file
        changed: it never offers those addresses to others."""
        from .importer import reread_reservations

        with self.locked():
            changed = self.refresh_reservations(now)
        if changed:
            reread_reservations(self.paths)

    def decode_remote(self, raw: bytes) -> tuple[LeaseDb | lines.StateLines, int]:
        """The peer's knowledge from the wire (parsed without the lock); malformed lines are skipped
        and counted; over a message's limits it is refused whole (MessageRefused). A message in the
        canonical form stays lines (leases/lines.py)."""
        Budget().take(raw)
        # the knowledge's lines (split now, before the lock, for the merge) and those of the lease
        # file sent (unfolded_text) were checked when they were split: no second check
        checked: set[bytes]
        if self._folded is not None:
            checked = self._folded[3]  # fold_ahead's lines: the knowledge's and the file's sent
        else:
            known = self._state_lines(self.state_path)
            checked = set(known.leases) if known is not None else set()
            if self._unfolded is not None:
                checked.update(self._unfolded[1].leases)
        split = lines.split(raw, known=checked)
        del checked
        if split is not None:
            return split, 0
        result = parse_state(raw)
        return result.db, len(result.problems)


def _version(path: FsPath) -> tuple | None:
    """Which file is at path: every writer replaces it (inode, size and mtime tell); None if none."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def entries(db: LeaseDb) -> int:
    return len(db.leases) + len(db.superseded) + len(db.tombstones)


def stored_counts(result: MergeResult | LinesResult) -> tuple[int, int]:
    """Leases and tombstones a merge result holds: what counts() finds in the file written from it."""
    if isinstance(result, LinesResult):
        return result.merged.leases, result.merged.tombstones
    return len(result.db.leases), len(result.db.tombstones)

