"""One exchange between two router trees, both ends real: the agent's sync.exchange on r1 and r2's
forced command (lease-peer, its own process, as dropbear runs it) behind a stand-in for the SSH
client. The peer answers with its own knowledge before it reads the message, announced on stderr;
each end merges both; the asker merges while the peer does, and still learns the peer's exit."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ha_pair.leasesync import sync, transport
from ha_pair.leasesync.message import answer_mark
from ha_pair.leasesync.store import LeaseStore
from ha_pair.leasesync.sync import exchange
from ha_pair.paths import Paths
from tests.support import pair, tree

# the peer's real forced command; AFTER runs once it has exited (a slower peer), its status kept
PEER_SSH = """#!/bin/sh
verb="$(eval echo \\${{$#}})"
SSH_ORIGINAL_COMMAND="$verb" "{peer}/usr/libexec/ha-pair/lease-peer"
status=$?
{after}
exit $status
"""


def lease(n: int, expiry: int | None = None) -> str:
    """A lease line; by default expiring an hour from now (now: when the test runs, not when the
    module was imported, which is as long before as the suite takes to get here)."""
    expiry = int(time.time()) + 3600 if expiry is None else expiry
    return f"{expiry} 02:00:00:00:00:{n:02x} 192.168.50.{n} host{n} *\n"


def addresses(root: Path) -> set[str]:
    return {str(x.address) for x in LeaseStore(Paths(root)).knowledge().leases}


@pytest.fixture
def pair_trees(tmp_path: Path, monkeypatch) -> tuple[Path, Path, Path]:
    """r1 (asks) and r2 (answers), each with a lease file; PATH holds only the stand-in client."""
    roots = []
    for name in ("r1", "r2"):
        root = tree.make_tree(tmp_path / name, pair.configs(name))
        (root / "tmp").mkdir(exist_ok=True)
        roots.append(root)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("sh", "env", "dirname", "sleep", "cat", "printf"):  # and no dbclient, which would come first
        (bindir / tool).symlink_to(shutil.which(tool))
    (bindir / "python3").symlink_to(sys.executable)
    monkeypatch.setenv("PATH", str(bindir))
    return roots[0], roots[1], bindir


def stand_in(bindir: Path, script: str) -> None:
    (bindir / "ssh").write_text(script)
    (bindir / "ssh").chmod(0o755)


def ask(r1: Path) -> sync.SyncOutcome:
    return exchange(Paths(r1), "10.255.0.2", 22, apply_if_not_answering=False, answering=True, timeout=60)


def test_both_ends_hold_the_same_merged_knowledge(pair_trees):
    r1, r2, bindir = pair_trees
    now = int(time.time())
    (r1 / "tmp/dhcp.leases").write_text(lease(11) + lease(12, now + 100))
    (r2 / "tmp/dhcp.leases").write_text(lease(12, now + 900) + lease(21))  # .12: the same client, later
    stand_in(bindir, PEER_SSH.format(peer=r2, after=""))
    outcome = ask(r1)
    assert outcome.ok, outcome.error
    assert addresses(r1) == {"192.168.50.11", "192.168.50.12", "192.168.50.21"}
    assert Paths(r1).lease_state.read_bytes() == Paths(r2).lease_state.read_bytes(), "one merge, at both ends"
    twelve = [x for x in LeaseStore(Paths(r1)).knowledge().leases if str(x.address) == "192.168.50.12"]
    assert [x.expiry for x in twelve] == [now + 900], "the later copy of a client's lease wins"
    assert (outcome.leases_peer, outcome.leases_local) == (2, 3)


def test_an_answer_outside_the_line_form_still_keeps_the_askers_own_file(pair_trees):
    """r2's file has a DHCPv6 lease: its answer goes the Lease path at r1, which must still fold in
    r1's own file (sent unmerged with its knowledge, and not in the answer, which is r2's alone)."""
    r1, r2, bindir = pair_trees
    (r1 / "tmp/dhcp.leases").write_text(lease(11))
    (r2 / "tmp/dhcp.leases").write_text(lease(21) + "duid 00:01:00:01:aa:bb\n"
                                        f"{int(time.time()) + 3600} 1234 fd00::21 pc6 00:01:00:01:cc:dd\n")
    stand_in(bindir, PEER_SSH.format(peer=r2, after=""))
    outcome = ask(r1)
    assert outcome.ok, outcome.error
    assert addresses(r1) == {"192.168.50.11", "192.168.50.21", "fd00::21"}
    assert addresses(r2) == addresses(r1)


def test_the_asker_merges_while_the_peer_still_works(pair_trees, monkeypatch):
    """The peer takes 1.5 s more after its answer (here: its stand-in sleeps): the asker has merged
    the answer long before the exchange ends, and the exchange still waits for the peer's exit."""
    r1, r2, bindir = pair_trees
    (r1 / "tmp/dhcp.leases").write_text(lease(11))
    (r2 / "tmp/dhcp.leases").write_text(lease(21))
    stand_in(bindir, PEER_SSH.format(peer=r2, after="sleep 1.5"))
    stored_at = []
    real_absorb = LeaseStore.absorb

    def noted(self: LeaseStore, *args, **kwargs):
        result = real_absorb(self, *args, **kwargs)
        stored_at.append(time.monotonic())
        return result

    monkeypatch.setattr(LeaseStore, "absorb", noted)
    outcome = ask(r1)
    ended = time.monotonic()
    assert outcome.ok, outcome.error
    assert len(stored_at) == 1 and ended - stored_at[0] >= 1.2, ended - stored_at[0]
    assert addresses(r1) == addresses(r2) == {"192.168.50.11", "192.168.50.21"}


def test_a_peer_that_fails_after_its_answer_fails_the_exchange(pair_trees):
    r1, _, bindir = pair_trees
    answer = lease(21)
    stand_in(bindir, f"#!/bin/sh\ncat > /dev/null\nprintf '%s' '{answer}'\nprintf '%s' '{answer_mark(len(answer))}' >&2\n"
                     "echo 'ha-pair lease-peer: refused: merged, the lease state would hold too many' >&2\nexit 1\n")
    outcome = ask(r1)
    assert not outcome.ok and outcome.error_kind == "refused", (outcome.error_kind, outcome.error)
    assert "answer-bytes" not in outcome.error, "the announcement is not part of the error"


def test_an_answer_longer_than_announced_is_rejected(pair_trees):
    r1, _, bindir = pair_trees
    answer = lease(21)
    stand_in(bindir, f"#!/bin/sh\ncat > /dev/null\nprintf '%s' '{answer}'\nprintf '%s' '{answer_mark(10)}' >&2\n"
                     "sleep 0.3\nprintf '%s' '{lease(22)}'\n")
    outcome = ask(r1)
    assert not outcome.ok and outcome.error_kind == "rejected", (outcome.error_kind, outcome.error)
    assert "announced" in outcome.error


def test_a_peer_that_answers_only_at_its_end_is_merged_too(pair_trees):
    """An older ha-pair merges first and answers the merged knowledge, with no announcement."""
    r1, _, bindir = pair_trees
    (r1 / "tmp/dhcp.leases").write_text(lease(11))
    stand_in(bindir, f"#!/bin/sh\ncat > /dev/null\nprintf '%s' '{lease(11)}{lease(21)}'\n")
    outcome = ask(r1)
    assert outcome.ok, outcome.error
    assert addresses(r1) == {"192.168.50.11", "192.168.50.21"}


def test_the_announced_answer_is_handed_over_and_the_whole_message_still_sent(pair_trees):
    """The peer announces its answer before it reads: transport.call hands the answer to `answered`
    and not to the Reply, and still writes the whole message (past a pipe's buffer)."""
    r1, _, bindir = pair_trees
    data = b"x" * 300_000
    stand_in(bindir, f"#!/bin/sh\nprintf 'ok'\nprintf '%s' '{answer_mark(2)}' >&2\ncat > {r1}/got\nsleep 0.3\n")
    seen = []
    reply, stderr = transport.call(Paths(r1), "10.255.0.2", 22, "exchange", data,
                                   answered=lambda take: seen.append(take()))
    assert seen == [b"ok"] and reply.data == b"" and (reply.sent, reply.received) == (len(data), 2)
    assert (r1 / "got").read_bytes() == data
    assert stderr == ""


def test_idle_runs_once_when_the_answer_comes_before_the_peer_ends(pair_trees):
    """`idle` (the asker's first pass of the merge, over what it sent) runs once the message is
    written, and not again while the call waits for the peer's exit after `answered`."""
    r1, _, bindir = pair_trees
    stand_in(bindir, f"#!/bin/sh\nprintf 'ok'\nprintf '%s' '{answer_mark(2)}' >&2\ncat > /dev/null\nsleep 0.5\n")
    calls = []
    transport.call(Paths(r1), "10.255.0.2", 22, "exchange", b"x" * 1000, idle=lambda: calls.append("idle"),
                   answered=lambda take: calls.append("answered"))
    assert calls == ["idle", "answered"]
