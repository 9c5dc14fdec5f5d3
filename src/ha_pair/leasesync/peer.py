"""The forced command behind the sync key (authorized_keys `command="..."`): what the peer may do
on this router, and nothing else.

The verb comes from SSH_ORIGINAL_COMMAND and must be exactly one of:
- hello     this node's name, clock and SSH host public keys (for trust-peer and clock offset);
- get       this node's lease knowledge;
- exchange  answered at once with this node's lease knowledge (unmerged, its length announced on
            stderr); then stdin: the peer's (size-limited, parsed strictly), merged into this
            node's while the peer merges the answer: both then hold the same merged knowledge;
- push      stdin: what changed in the peer's knowledge since its last exchange or push; merged
            the same way, answered with `ok` (a single lease event costs a few hundred bytes);
- state     this node's report for the peer view (operate/peer.py): VRRP state, effective
            priority, version, shared-config digest, maintenance, whether it could take over, the
            VRRP values the pair must agree on and a fingerprint (never the password) of its auth.
            stdin: at most 256 bytes, the asker's VRRP state ({"state": ...}); an asker that is
            master makes this node's agent ask back at once. Changes nothing.
- config-get  the shared part of this node's /etc/config/ha (operate/config_sync.py), as UCI text;
            reads nothing and changes nothing;
- config-put  stdin: the peer's shared part (at most 64 KiB, no per-node option); this node keeps
            its own per-node values, validates, replaces /etc/config/ha atomically and reloads;
            refused with the reason (and nothing changed) otherwise.
Anything else is refused with exit status 1. No shell ever sees the request.
"""

from __future__ import annotations

import gc
import os
import _signal  # not signal.py: see spawn.py
import sys
import time

from .. import __version__, leanjson, log
from ..paths import Paths
from ..runfiles import dhcp_answering, pending_state
from ..leases.limits import MAX_MESSAGE_BYTES, PEER_LIFETIME_S, Budget, MessageRefused
from .importer import answering_dhcp
from .message import answer_mark, read_message
from .store import LeaseStore
from .transport import VERBS

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import BinaryIO

    from ..leases import LeaseDb
    from ..leases.lines import StateLines


def host_public_keys(paths: Paths) -> list[str]:
    """This router's SSH host public keys, as known_hosts wants them: `type base64`."""
    import subprocess  # not at the top: every forced command starts through this module, few need this

    keys = []
    dropbear = paths.under("/etc/dropbear")  # the SSH servers' own files
    for name in ("dropbear_ed25519_host_key", "dropbear_ecdsa_host_key", "dropbear_rsa_host_key"):
        path = dropbear / name
        if not path.exists():
            continue
        try:
            out = subprocess.run(["dropbearkey", "-y", "-f", path], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        keys += [" ".join(line.split()[:2]) for line in out.splitlines() if line.startswith(("ssh-", "ecdsa-"))]
    openssh = paths.under("/etc/ssh")
    for name in ("ssh_host_ed25519_key.pub", "ssh_host_ecdsa_key.pub", "ssh_host_rsa_key.pub"):
        path = openssh / name
        if path.exists():
            keys.append(" ".join(path.read_text().split()[:2]))
    return keys


def node_name(paths: Paths) -> str:
    from ..config.load import validate

    result = validate(paths)
    return result.model.node.name if result.model else "unknown"


def may_write_ahead(paths: Paths) -> bool:
    """Whether dnsmasq's file may be written ahead of its memory (store.write_ahead): only on a node
    whose DHCP guard is closed and that keepalived has not just made master (its notify run checks
    for an owed restart under the lease lock, after recording that word: a writer that saw no
    MASTER word and holds the lease lock marks before that check)."""
    return dhcp_answering(paths) is False and pending_state(paths) != "master"


def request_apply(paths: Paths, store: LeaseStore, now: int) -> None:
    """Bring dnsmasq's file up to date: on the node not answering DHCP, written at once with
    dnsmasq left running, and the agent restarts dnsmasq once a burst is over (its memory is
    needed only when this node answers DHCP); without an agent, dnsmasq is restarted here."""
    with store.locked():
        if may_write_ahead(paths):
            store.write_ahead(now)
    try:
        fd = os.open(paths.events_fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        store.apply_to_dnsmasq(now)
        return
    try:
        os.write(fd, b"leases-apply\n")
    finally:
        os.close(fd)


def bound_process() -> None:
    """For the forced command's own process: it ends after PEER_LIFETIME_S whatever its client
    does, and at once (SIGPIPE) when the client is gone while it answers."""
    _signal.signal(_signal.SIGALRM, _signal.SIG_DFL)
    _signal.alarm(PEER_LIFETIME_S)
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)


def no_cycle_collection() -> None:
    """For the forced command's own process: no cyclic garbage collection. It lives at most
    PEER_LIFETIME_S and builds ~10^5 lease objects, none of them in a reference cycle; the
    collector's passes over them were 40 % of a 50 000-lease exchange's CPU time."""
    gc.disable()


def _read_request(stdin: BinaryIO, budget: Budget | None = None) -> bytes:
    try:
        fd = stdin.fileno()
    except (AttributeError, OSError, ValueError):  # an in-memory stream (tests)
        if budget is None:  # bounded by decode_remote
            return stdin.read(MAX_MESSAGE_BYTES + 1)
        raw = stdin.read(budget.max_bytes + 1)
        budget.take(raw)
        return raw
    return read_message(fd, budget)


def _take_message(store: LeaseStore, stdin: BinaryIO) -> tuple[bytes, LeaseDb | StateLines]:
    """The peer's message (exchange, push) and what it parses to, before the lease lock is taken;
    MessageRefused past its limits. Malformed lines are skipped, and said so on stderr."""
    raw = _read_request(stdin)
    remote, skipped = store.decode_remote(raw)
    if skipped:
        print(f"ha-pair lease-peer: {skipped} malformed lines skipped", file=sys.stderr)
    return raw, remote


def _refuse(message: str) -> int:
    print(f"ha-pair lease-peer: refused: {message}", file=sys.stderr)
    return 1


def serve(paths: Paths, verb: str, stdin: BinaryIO, stdout: BinaryIO) -> int:
    """One request. Bounded: the message is read as it comes within its limits (an oversized one
    is refused before any parsing), parsed before the lease lock is taken, and the whole process
    ends after PEER_LIFETIME_S whatever its client does; a client that goes away ends it too
    (end of input, or SIGPIPE on the answer)."""
    if verb not in VERBS:
        shown = verb[:60].encode("unicode_escape").decode("ascii")
        return _refuse(f"{shown!r} (allowed: {', '.join(VERBS)})")
    if verb == "state":
        from ..operate.peer import MAX_QUESTION_BYTES, heard_question, local_report
        try:
            heard_question(paths, _read_request(stdin, Budget(max_bytes=MAX_QUESTION_BYTES)))
        except MessageRefused as exc:
            return _refuse(str(exc))
        stdout.write(leanjson.dumps(local_report(paths)).encode() + b"\n")
        return 0
    if verb in ("config-get", "config-put"):
        return _config(paths, verb, stdin, stdout)
    store = LeaseStore(paths)
    now = int(time.time())
    if verb == "hello":
        reply = {"node": node_name(paths), "time": time.time(), "version": __version__,
                 "host_keys": host_public_keys(paths)}
        stdout.write(leanjson.dumps(reply).encode() + b"\n")
        return 0
    if verb == "exchange":
        return _exchange(paths, store, now, stdin, stdout)
    remote = raw = None
    if verb == "push":
        store.split_ahead()  # while the peer's message is still on its way
        try:
            raw, remote = _take_message(store, stdin)
        except MessageRefused as exc:
            return _refuse(str(exc))
    with store.locked():
        if remote is None:
            store.observe_local(now)
        else:
            try:
                store.absorb(remote, now, raw, observe=True)  # dnsmasq's file and the message: one merge
            except MessageRefused as exc:
                return _refuse(str(exc))
        merged = remote is not None
        remote = raw = None  # merged and stored: their memory is free for the answer
        answer = b"ok\n" if verb == "push" else store.knowledge_text()
        apply = verb == "push" and not answering_dhcp(paths) and store.needs_apply()
    stdout.write(answer)
    stdout.flush()
    del answer
    _after_merge(paths, store, now, apply, merged)
    return 0


def _exchange(paths: Paths, store: LeaseStore, now: int, stdin: BinaryIO, stdout: BinaryIO) -> int:
    """The answer first: this node's knowledge with the leases of dnsmasq's file it lacks, unmerged
    (as the asker sends its own: each end merges both, and the merge is one function of the same
    lines), announced on stderr (message.answer_mark). Then the asker's message is read and merged,
    while the asker merges the answer: the two routers' merges run at the same time. The exit status
    still tells whether this end took the message."""
    store.split_ahead()  # read and split while the SSH session starts
    with store.locked():
        answer = store.unfolded_text(now)
        if answer is None:  # outside the line form, or released since the last read: fold first
            store.observe_local(now)
            answer = store.knowledge_text()
    stdout.write(answer)
    stdout.flush()
    print(answer_mark(len(answer)), end="", file=sys.stderr, flush=True)
    del answer
    try:
        raw, remote = _take_message(store, stdin)
    except MessageRefused as exc:
        return _refuse(str(exc))
    with store.locked():
        try:
            store.absorb(remote, now, raw, observe=True)  # dnsmasq's file (as answered) and the message
        except MessageRefused as exc:
            return _refuse(str(exc))
        remote = raw = None  # merged and stored
        apply = not answering_dhcp(paths) and store.needs_apply()
    _after_merge(paths, store, now, apply, True)
    return 0


def _after_merge(paths: Paths, store: LeaseStore, now: int, apply: bool, merged: bool) -> None:
    if apply:
        _after_answer(paths, store, now)
    elif merged:
        _reserve_after_answer(paths, store, now)


def _config(paths: Paths, verb: str, stdin: BinaryIO, stdout: BinaryIO) -> int:
    from ..operate import config_sync

    if verb == "config-get":
        stdout.write(config_sync.shared_text(paths).encode("utf-8", "surrogateescape"))
        return 0
    try:
        raw = _read_request(stdin, Budget(max_bytes=config_sync.MAX_CONFIG_BYTES))
        answer = config_sync.accept(paths, raw)
    except (MessageRefused, config_sync.Refused) as exc:
        log.warning(f"config sync from the peer refused: {exc}")
        return _refuse(str(exc))
    stdout.write(leanjson.dumps(answer).encode() + b"\n")
    return 0


def _reserve_after_answer(paths: Paths, store: LeaseStore, now: int) -> None:
    """Bring the dhcp-hostsfile up to date (and tell dnsmasq) once the peer has its answer. The
    forced command's own process (bound_process) does it in a child of its own, so that the SSH
    session ends with the answer: the asker's exchange waits for that end, and 50 000 leases'
    reservations took ~0.1 s of it. The child takes the lease lock again (the answer's is gone), so
    it writes from the knowledge as it is then. Elsewhere (tests) in this process."""
    if not _signal.getitimer(_signal.ITIMER_REAL)[0]:
        store.reserve(now)
        return
    try:
        pid = os.fork()
    except OSError:
        store.reserve(now)
        return
    if pid:
        return
    try:  # the child: out of the session (its descriptors on /dev/null), within the forced command's lifetime
        os.setsid()
        _signal.alarm(PEER_LIFETIME_S)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        store.reserve(now)  # a signal at most: nothing that could fail the answer
    finally:
        os._exit(0)


def _after_answer(paths: Paths, store: LeaseStore, now: int) -> None:
    """Bring dnsmasq's file up to date once the peer has its answer. Nothing here may turn that
    answer into a failure (the peer would count a sync that happened as failed): errors are
    logged, and the merged knowledge stays stored, so the next exchange applies it (needs_apply)."""
    if _signal.getitimer(_signal.ITIMER_REAL)[0]:  # the forced command's own process (bound_process):
        # its lifetime still holds, but ending then is exit 0; an import already started goes on
        # in a session of its own
        _signal.signal(_signal.SIGALRM, lambda *_: os._exit(0))
        _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)  # the client may be gone, its stderr with it
    try:
        request_apply(paths, store, now)
    except Exception as exc:  # whatever it is, the answer stands
        try:
            log.warning(f"lease-peer: answered the peer, but dnsmasq's lease file was not updated: {exc}")
        except OSError:
            pass
