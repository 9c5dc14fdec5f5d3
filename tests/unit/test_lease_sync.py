"""Lease sync without the network: the store (tombstones from the lease file, import into dnsmasq's
file), the forced command's verbs and limits, error classification, pinning host keys."""

from __future__ import annotations

import io
import ipaddress
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from ha_pair.commands.lease import fingerprint
from ha_pair.leases import Lease, LeaseDb, lines, merge, serialise, serialise_state
from ha_pair.leases import parse_state
from ha_pair.leasesync.message import announced_length
from ha_pair.leasesync.peer import serve
from ha_pair.leases.limits import MAX_MESSAGE_BYTES
from ha_pair.leasesync.store import LeaseStore
from ha_pair.leasesync.transport import classify
from ha_pair.paths import Paths
from tests.support import pair, tree
from tests.unit.test_lease_lines import NOW as NOW_L, db as lease_db

REPO = Path(__file__).resolve().parents[2]
NOW = int(time.time())


def line(n: int, expiry: int = NOW + 3600, name: str = "*") -> str:
    return f"{expiry} 02:00:00:00:00:{n:02x} 192.168.50.{100 + n} {name} 01:02:00:00:00:00:{n:02x}\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tree.make_tree(tmp_path / "r1", pair.configs("r1"))


def write_leases(root: Path, text: str) -> None:
    (root / "tmp").mkdir(exist_ok=True)
    (root / "tmp/dhcp.leases").write_text(text)


def test_the_lease_file_is_found_from_the_dhcp_config(root: Path):
    assert LeaseStore(Paths(root)).file == str(root / "tmp/dhcp.leases")


def test_a_lease_gone_from_the_file_becomes_a_tombstone_but_not_after_a_reboot(root: Path):
    store = LeaseStore(Paths(root))
    write_leases(root, line(1) + line(2))
    with store.locked():
        store.observe_local(NOW)
    write_leases(root, line(1))  # 2 released
    with store.locked():
        result, _ = store.observe_local(NOW + 1)
    assert [str(t.lease.address) for t in result.db.tombstones] == ["192.168.50.102"]
    assert [str(x.address) for x in result.db.leases] == ["192.168.50.101"]
    assert store.counts() == {"leases": 1, "tombstones": 1, "superseded": 0}
    # after a reboot (/var/run is tmpfs: nothing seen before), an empty file tombstones nothing
    for name in ("leases.state", "leases.seen"):
        (root / "var/run/ha-pair" / name).unlink()
    write_leases(root, "")
    with store.locked():
        result, _ = store.observe_local(NOW + 2)
    assert result.db.tombstones == ()


def test_the_seen_file_is_the_lease_file_as_read_and_the_same_bytes_need_no_release_diff(root: Path, monkeypatch):
    """The seen file holds dnsmasq's file byte for byte (in the file's order, not sorted); a fold
    that reads those same bytes again knows nothing is gone without a diff, and a changed file
    still gets one (a release becomes a tombstone)."""
    store = LeaseStore(Paths(root))
    seen = root / "var/run/ha-pair/leases.seen"
    write_leases(root, line(2) + line(1))
    with store.locked():
        store.observe_local(NOW)
    assert seen.read_text() == line(2) + line(1)
    diffs = []
    real_diff = lines.diff
    monkeypatch.setattr(lines, "diff", lambda *args: diffs.append(args) or real_diff(*args))
    with store.locked():
        LeaseStore(Paths(root)).observe_local(NOW + 1)
    assert diffs == []
    write_leases(root, line(1))  # 2 released
    with store.locked():
        LeaseStore(Paths(root)).observe_local(NOW + 2)
    assert len(diffs) >= 1 and store.counts() == {"leases": 1, "tombstones": 1, "superseded": 0}


def test_a_half_written_lease_file_tombstones_nothing(root: Path, monkeypatch):
    """dnsmasq truncates and rewrites its file: a read in between sees only part of it."""
    store = LeaseStore(Paths(root))
    write_leases(root, line(1) + line(2) + line(3))
    with store.locked():
        store.observe_local(NOW)
    reads = iter([line(1), line(1) + line(2) + line(3), line(1) + line(2) + line(3)])
    real = LeaseStore.read_file

    def racing_read(self):
        write_leases(root, next(reads, line(1) + line(2) + line(3)))
        return real(self)

    monkeypatch.setattr(LeaseStore, "read_file", racing_read)
    with store.locked():
        result, _ = store.observe_local(NOW + 1)
    assert result.db.tombstones == ()
    assert len(result.db.leases) == 3


def test_import_into_dnsmasq_keeps_what_dnsmasq_wrote_and_adds_the_peers(root: Path):
    store = LeaseStore(Paths(root))
    write_leases(root, line(1))
    remote, _ = store.decode_remote(line(2).encode())
    with store.locked():
        store.observe_local(NOW)
        store.absorb(remote, NOW)
    assert store.needs_apply()
    assert store.apply_to_dnsmasq(NOW)  # no /etc/init.d/dnsmasq in this tree: just the file
    assert not store.needs_apply()
    assert (root / "tmp/dhcp.leases").read_text() == line(1) + line(2)


def run_serve(root: Path, verb: str, data: bytes = b"") -> tuple[int, bytes, str]:
    out = io.BytesIO()
    err = io.StringIO()
    old, sys.stderr = sys.stderr, err
    try:
        status = serve(Paths(root), verb, io.BytesIO(data), out)
    finally:
        sys.stderr = old
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("verb", ["", "sh", "hello; id", "exchange && id", "get x", "HELLO", "exchange\nid",
                                  "$(reboot)", "../../bin/sh"])
def test_the_forced_command_refuses_everything_but_its_verbs(root: Path, verb: str):
    status, out, err = run_serve(root, verb)
    assert status == 1 and out == b""
    assert "refused" in err


def test_exchange_answers_its_own_knowledge_first_then_merges_the_message(root: Path):
    write_leases(root, line(1))
    status, out, err = run_serve(root, "exchange", (line(2) + "garbage line\n").encode())
    assert status == 0, err
    assert "1 malformed lines skipped" in err
    # the answer is this node's own lease (the asker merges it itself), announced before the message is read
    assert [str(x.address) for x in parse_state(out).db.leases] == ["192.168.50.101"]
    assert announced_length(err.encode()) == len(out)
    assert err.index("answer-bytes") < err.index("malformed"), "announced before the message was read"
    stored = LeaseStore(Paths(root)).knowledge()
    assert sorted(str(x.address) for x in stored.leases) == ["192.168.50.101", "192.168.50.102"]


def test_exchange_refuses_oversized_input(root: Path):
    status, out, err = run_serve(root, "exchange", b"x" * (MAX_MESSAGE_BYTES + 1))
    assert status == 1 and "refused" in err and out == b""


def test_a_hostname_cannot_inject_a_second_line(root: Path):
    hostile = f"{NOW + 3600} 02:00:00:00:00:09 192.168.50.109 evil\n{NOW + 3600} 02:00:00:00:00:0a 192.168.50.1 x *\n"
    status, _, _ = run_serve(root, "exchange", hostile.encode())
    assert status == 0
    merged = LeaseStore(Paths(root)).knowledge()
    # the first line lacks its fifth field: refused, and what follows is its own line, never glued
    assert all(lease.line.count(b"\n") == 0 for lease in merged.leases)


def test_hello_names_the_node_and_its_host_keys(root: Path):
    key = root / "etc/dropbear/dropbear_ed25519_host_key"
    key.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dropbearkey", "-t", "ed25519", "-f", str(key)], capture_output=True, check=True)
    status, out, _ = run_serve(root, "hello")
    data = json.loads(out)
    assert status == 0 and data["node"] == "r1" and abs(data["time"] - time.time()) < 5
    assert len(data["host_keys"]) == 1 and data["host_keys"][0].startswith("ssh-ed25519 ")
    printed = subprocess.run(["dropbearkey", "-y", "-f", str(key)], capture_output=True, text=True).stdout
    assert fingerprint(data["host_keys"][0]) in printed


@pytest.mark.parametrize("stderr, kind", [
    ("Host key mismatch for 10.255.0.2 !", "hostkey"),
    ("Host '10.255.0.2' is not in the trusted hosts file.", "hostkey"),
    ("No auth methods could be used.", "auth"),
    ("Connection refused", "unreachable"),
    ("connect: No route to host", "unreachable"),
    ("ha-pair lease-peer: refused: 'x'", "refused"),
    ("something odd", "failed"),
])
def test_transport_errors_are_classified(stderr: str, kind: str):
    assert classify(1, stderr).kind == kind


def cli(root: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """ha-pair commands that never contact the peer (one that does: tests/system/test_trust_peer_offline.py)."""
    return subprocess.run([sys.executable, "-m", "ha_pair", "--root", str(root), *args], capture_output=True,
                          text=True, input=stdin, env={**os.environ, "PYTHONPATH": str(REPO / "src")}, timeout=60)


def test_keys_prints_a_restricted_authorized_keys_line(root: Path):
    first = json.loads(cli(root, "--json", "keys").stdout)
    line_ = first["authorized_keys_line"]
    assert line_.startswith(f'command="{root}/usr/libexec/ha-pair/lease-peer",'
                            "no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding ssh-ed25519 ")
    assert "from=" not in line_  # dropbear would ignore the whole line
    assert oct((root / "etc/ha-pair/sync_key").stat().st_mode & 0o777) == "0o600"
    assert oct((root / "etc/ha-pair").stat().st_mode & 0o777) == "0o700"
    assert json.loads(cli(root, "--json", "keys").stdout)["authorized_keys_line"] == line_, "the key is kept"


def test_trust_peer_pins_a_given_key_replacing_an_old_one(root: Path):
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOYD3GlX6jz+0y5Wz6CVuZWxL3c8Srk5DAiOfjNYzCDq"
    out = cli(root, "trust-peer", "--key", key)
    assert out.returncode == 0, out.stderr
    known = root / "etc/ha-pair/.ssh/known_hosts"
    assert known.read_text() == f"10.255.0.2 {key}\n"
    other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG/IYCApcRX7XUuDu+WvhebatkNY81NduZG8h4N1/6XQ"
    assert cli(root, "trust-peer", "--key", other).returncode == 0
    assert known.read_text() == f"10.255.0.2 {other}\n"
    assert cli(root, "trust-peer", "--key", "not a key").returncode == 2


def test_push_merges_a_delta_and_answers_ok(root: Path):
    write_leases(root, line(1))
    status, out, err = run_serve(root, "push", line(3).encode())
    assert status == 0 and out == b"ok\n", err
    store = LeaseStore(Paths(root))
    assert sorted(str(x.address) for x in store.knowledge().leases) == ["192.168.50.101", "192.168.50.103"]


@pytest.mark.parametrize("extra", ["", "vendorclass 192.168.50.101 aa:bb\n"], ids=["line path", "Lease path"])
def test_a_merge_past_the_stored_state_cap_is_refused_and_nothing_is_stored(root: Path, monkeypatch, extra: str):
    """Both ways of merging (a canonical message merges as lines; a vendorclass line makes the store
    take the Lease path) keep the cap on stored entries, and store nothing when refusing."""
    import ha_pair.leasesync.store as store_module
    from ha_pair.leases import lines
    from ha_pair.leases.limits import MessageRefused

    monkeypatch.setattr(store_module, "MAX_ENTRIES", 3)
    store = LeaseStore(Paths(root))
    write_leases(root, line(1) + line(2))
    with store.locked():
        store.observe_local(NOW)
    before = (root / "var/run/ha-pair/leases.state").read_bytes()
    remote, _ = store.decode_remote((line(3) + line(4) + extra).encode())
    assert isinstance(remote, lines.StateLines) == (not extra)
    with store.locked(), pytest.raises(MessageRefused, match="would hold 4 entries"):
        store.absorb(remote, NOW)
    assert (root / "var/run/ha-pair/leases.state").read_bytes() == before
    assert not (root / "var/run/ha-pair/leases.from-peer").exists()
    remote, _ = store.decode_remote((line(3) + extra).encode())
    with store.locked():
        store.absorb(remote, NOW)
    assert store.counts()["leases"] == 3


def store_holding(tmp: str, known: LeaseDb, in_file: LeaseDb, seen: LeaseDb | None) -> LeaseStore:
    """A LeaseStore under `tmp` whose knowledge is `known`, dnsmasq's file `in_file`, and whose
    seen file (the file as last read) is `seen`, when given."""
    paths = Paths(tmp)
    store = LeaseStore(paths)
    Path(store.file).parent.mkdir(parents=True)
    paths.run_dir.mkdir(parents=True)
    Path(store.file).write_bytes(serialise(in_file))
    Path(store.state_path).write_bytes(serialise_state(known))
    if seen is not None:
        Path(store.seen_path).write_bytes(serialise_state(LeaseDb(seen.leases, seen.duid)))
    return store


@settings(max_examples=150, deadline=None)
@given(lease_db, lease_db, lease_db, st.one_of(st.none(), lease_db), st.integers(NOW_L - 60, NOW_L + 60))
def test_folding_the_file_and_the_message_in_one_merge_is_folding_them_one_after_the_other(
        known: LeaseDb, in_file: LeaseDb, message: LeaseDb, seen: LeaseDb | None, now: int):
    """lease-peer merges dnsmasq's file and the peer's message into the knowledge at once
    (absorb(observe=True)): the state and seen files are those of observe_local then absorb,
    byte for byte, with or without releases since the last read (those take the Lease path)."""
    results = []
    for one_merge in (True, False):
        with tempfile.TemporaryDirectory() as tmp:
            store = store_holding(tmp, known, in_file, seen)
            remote, _ = store.decode_remote(serialise_state(message))
            if one_merge:
                store.absorb(remote, now, observe=True)
            else:
                store.observe_local(now)
                store.absorb(remote, now)
            results.append((Path(store.state_path).read_bytes(), Path(store.seen_path).read_bytes()))
    assert results[0] == results[1]


@settings(max_examples=150, deadline=None)
@given(lease_db, lease_db, lease_db, st.one_of(st.none(), lease_db), st.integers(NOW_L - 60, NOW_L + 60))
def test_an_exchange_that_folds_the_file_in_with_the_answer_ends_as_one_that_folds_it_first(
        known: LeaseDb, in_file: LeaseDb, peer: LeaseDb, seen: LeaseDb | None, now: int):
    """The caller may send its knowledge with the file's new leases added unmerged
    (unfolded_text) and fold the file in when it merges the answer (absorb(observe=True)), with
    or without the merge's first pass run ahead over what it sent (fold_ahead, while the peer
    works): the peer's merged knowledge, and the caller's state and seen files, are those of
    folding first."""
    results = []
    for deferred, ahead in ((True, True), (True, False), (False, False)):
        with tempfile.TemporaryDirectory() as tmp:
            store = store_holding(tmp, known, in_file, seen)
            message = store.unfolded_text(now) if deferred else None
            if message is None:
                store.observe_local(now)
                message = store.knowledge_text()
            elif ahead:
                store.fold_ahead(now)
            peer_side, _ = LeaseStore(Paths(tmp)).decode_remote(message)
            answer = lines.merge(lines.split(serialise_state(peer)), peer_side, now).text if \
                isinstance(peer_side, lines.StateLines) else serialise_state(merge(peer, peer_side, now).db)
            remote, _ = store.decode_remote(answer)
            store.absorb(remote, now, note=False, observe=deferred)
            results.append((answer, Path(store.state_path).read_bytes(), Path(store.seen_path).read_bytes()))
    assert results[0] == results[1] == results[2]


def exchange_in_process(tmp: str, caller: tuple, peer: tuple, now: int, ahead: bool) -> tuple[bytes, bytes]:
    """One exchange as sync.exchange and lease-peer run it, both ends in this process: each end
    sends its knowledge (with its file's new leases unmerged when it can) and merges the other's.
    Returns both ends' state files."""
    stores = [store_holding(f"{tmp}/{name}", *held) for name, held in (("caller", caller), ("peer", peer))]
    texts = []
    for store in stores:
        text = store.unfolded_text(now)
        if text is None:
            store.observe_local(now)
            text = store.knowledge_text()
        texts.append(text)
    asker, answerer = stores
    deferred = asker._unfolded is not None
    if deferred and ahead:
        asker.fold_ahead(now)
    remote, _ = answerer.decode_remote(texts[0])
    answerer.absorb(remote, now, texts[0], observe=True)
    remote, _ = asker.decode_remote(texts[1])
    asker.absorb(remote, now, note=False, observe=deferred)
    return Path(asker.state_path).read_bytes(), Path(answerer.state_path).read_bytes()


def with_dhcpv6(db: LeaseDb, expiry: int) -> LeaseDb:
    """db with a DHCPv6 lease added: a file outside the line form (leases/lines.py), read the Lease way."""
    v6 = Lease(expiry, ipaddress.IPv6Address("fd00::21"), client_id="00:01:00:01:cc:dd", iaid=1)
    return LeaseDb(db.leases + (v6,), db.duid or "00:01:02", db.tombstones, db.superseded)


@settings(max_examples=100, deadline=None)
@given(lease_db, lease_db, st.one_of(st.none(), lease_db), lease_db, lease_db, st.one_of(st.none(), lease_db),
       st.integers(NOW_L - 60, NOW_L + 60), st.booleans(), st.sampled_from([None, "caller", "peer"]))
def test_after_an_exchange_both_ends_hold_one_merge_of_everything_both_knew(
        known_a: LeaseDb, file_a: LeaseDb, seen_a: LeaseDb | None, known_b: LeaseDb, file_b: LeaseDb,
        seen_b: LeaseDb | None, now: int, ahead: bool, dhcpv6: str | None):
    """The peer answers with its own knowledge before merging the message (peer.py), each end merges
    the other's: both state files are byte for byte the merge of both ends' knowledge, each with its
    dnsmasq file folded in first (observe_local), whichever path (lines or Lease objects) each took
    (a DHCPv6 lease in one end's file sends what that end sends the Lease way)."""
    if dhcpv6 == "caller":
        file_a = with_dhcpv6(file_a, NOW_L + 3600)
    elif dhcpv6 == "peer":
        file_b = with_dhcpv6(file_b, NOW_L + 3600)
    with tempfile.TemporaryDirectory() as tmp:
        ends = exchange_in_process(tmp, (known_a, file_a, seen_a), (known_b, file_b, seen_b), now, ahead)
    with tempfile.TemporaryDirectory() as tmp:
        folded = []
        for name, held in (("a", (known_a, file_a, seen_a)), ("b", (known_b, file_b, seen_b))):
            store = store_holding(f"{tmp}/{name}", *held)
            store.observe_local(now)
            folded.append(store.knowledge())
        expected = serialise_state(merge(folded[0], folded[1], now).db)
    assert ends[0] == ends[1] == expected


FAKE_SSH_STARTED = """#!/bin/sh
echo $$ > "{pid}"
exec cat
"""


def test_the_exchange_payload_is_made_while_the_client_starts_and_its_failure_kills_the_client(tmp_path: Path, root: Path, monkeypatch):
    from ha_pair.leasesync import transport

    bindir = tmp_path / "bin"
    bindir.mkdir()
    pid_file = tmp_path / "ssh.pid"
    (bindir / "ssh").write_text(FAKE_SSH_STARTED.format(pid=pid_file))
    (bindir / "ssh").chmod(0o755)
    for tool in ("sh", "cat"):
        (bindir / tool).symlink_to(subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True,
                                                  text=True).stdout.strip())
    monkeypatch.setenv("PATH", str(bindir))

    def payload() -> bytes:
        deadline = time.monotonic() + 10
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pid_file.exists(), "the client runs before the payload is made"
        return b"the payload\n"

    reply, _ = transport.call(Paths(root), "10.255.0.2", 22, "exchange", payload)
    assert reply.data == b"the payload\n" and reply.sent == len(b"the payload\n")

    pid_file.unlink()

    def failing() -> bytes:
        payload()
        raise OSError("the lease file could not be read")

    with pytest.raises(OSError, match="could not be read"):
        transport.call(Paths(root), "10.255.0.2", 22, "exchange", failing)
    pid = int(pid_file.read_text())
    assert not os.path.exists(f"/proc/{pid}"), "the client was killed and reaped"
    assert not transport._running


def test_an_exchange_without_an_ssh_client_still_folds_the_lease_file_in(tmp_path: Path, root: Path, monkeypatch):
    """The payload is made once the client runs; when none can start, the fold is done anyway."""
    from ha_pair.leasesync.sync import exchange

    write_leases(root, line(1))
    monkeypatch.setenv("PATH", str(tmp_path))  # neither dbclient nor ssh
    outcome = exchange(Paths(root), "10.255.0.2", 22, apply_if_not_answering=False, answering=True)
    assert not outcome.ok and outcome.error_kind == "failed" and "no SSH client" in outcome.error
    assert (root / "var/run/ha-pair/leases.state").read_text() == line(1)


def test_what_dnsmasq_writes_during_an_exchange_is_left_for_the_next_fold(root: Path):
    """The caller folds in the file as it sent it: a lease granted meanwhile is not in the peer's
    answer, so it must stay unfolded (the agent counts all it knows after an exchange as known to
    the peer, and pushes only what the next fold adds); and a seen file written meanwhile by
    another fold (lease-peer) is not replaced by the older one."""
    store = LeaseStore(Paths(root))
    state, seen = root / "var/run/ha-pair/leases.state", root / "var/run/ha-pair/leases.seen"
    write_leases(root, line(1))
    with store.locked():
        message = store.unfolded_text(NOW)
    assert message is not None and not state.exists(), "nothing folded before the answer"
    write_leases(root, line(1) + line(2))  # granted during the exchange
    answer, _ = store.decode_remote(message + line(3).encode())  # the peer's knowledge: 1 and 3
    with store.locked():
        store.absorb(answer, NOW, note=False, observe=True)
    assert state.read_text() == line(1) + line(3)
    assert seen.read_text() == line(1)
    with store.locked():
        store.observe_local(NOW)
    assert state.read_text() == line(1) + line(2) + line(3), "the next fold finds lease 2"

    other = LeaseStore(Paths(root))
    with store.locked():
        message = store.unfolded_text(NOW)
    write_leases(root, line(1) + line(2) + line(4))
    with other.locked():
        other.observe_local(NOW)  # lease-peer, serving the peer meanwhile
    answer, _ = store.decode_remote(message)
    with store.locked():
        store.absorb(answer, NOW, note=False, observe=True)
    assert seen.read_text() == line(1) + line(2) + line(4), "the newer seen file stands"
    assert state.read_text() == line(1) + line(2) + line(3) + line(4)
