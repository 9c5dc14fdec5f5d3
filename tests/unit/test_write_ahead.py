"""When the forced command may write the peer's leases into dnsmasq's file ahead of dnsmasq's
memory (peer.request_apply): only on a node whose DHCP guard is recorded closed and that
keepalived has not just made master (its notify run is between that word and opening the guard:
the catch-up has checked, or is about to check, for an owed restart). Otherwise the file is left
to the import, as before."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ha_pair.leases import parse_leases
from ha_pair.leasesync.peer import request_apply
from ha_pair.leasesync.store import LeaseStore
from ha_pair.paths import Paths
from tests.support import pair, tree

NOW = int(time.time())
LOCAL = f"{NOW + 3600} 02:00:00:00:00:01 192.168.50.101 laptop *\n"
REMOTE = f"{NOW + 3600} 02:00:00:00:00:02 192.168.50.102 phone *\n"


def node(tmp_path: Path, answering: str | None, word: str | None, acted_on: bool) -> Paths:
    root = tree.make_tree(tmp_path / "r2", pair.configs("r2"))
    (root / "tmp").mkdir(exist_ok=True)
    (root / "tmp/dhcp.leases").write_text(LOCAL)
    run = root / "var/run/ha-pair"
    run.mkdir(parents=True, exist_ok=True)
    (run / "leases.state").write_text(LOCAL + REMOTE)
    if answering is not None:
        (run / "dhcp").write_text(answering + "\n")
    if word is not None:
        (run / "notify.wanted").write_text(f"123:{NOW}:u GROUP ha {word} 0\n")
        (run / "notify.done").write_text(f"123:{NOW}:u\n" if acted_on else "older\n")
    init = root / "etc/init.d/dnsmasq"
    init.parent.mkdir(parents=True, exist_ok=True)
    init.write_text("#!/bin/sh\nexit 0\n")
    init.chmod(0o755)
    return Paths(str(root))


@pytest.mark.parametrize("answering, word, acted_on, ahead", [
    ("no", None, False, True),  # backup, nothing pending
    ("no", "BACKUP", False, True),
    ("no", "MASTER", True, True),  # a MASTER word acted on (the guard would say yes by then)
    ("no", "MASTER", False, False),  # becoming master: the catch-up owns dnsmasq now
    ("yes", None, False, False),  # answering DHCP: never
    (None, None, False, False),  # guard state unknown: counts as answering
])
def test_the_file_is_written_ahead_only_on_a_quiet_backup(tmp_path: Path, answering, word, acted_on, ahead):
    paths = node(tmp_path, answering, word, acted_on)
    os.mkfifo(paths.events_fifo, 0o600)  # an agent listening: the restart is left to it
    reader = os.open(paths.events_fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        request_apply(paths, LeaseStore(paths), NOW)
        assert os.read(reader, 4096) == b"leases-apply\n"
    finally:
        os.close(reader)
    in_file = {str(lease.address) for lease in parse_leases(paths.under("/tmp/dhcp.leases").read_bytes()).db.leases}
    assert in_file == ({"192.168.50.101", "192.168.50.102"} if ahead else {"192.168.50.101"})
    assert paths.dnsmasq_behind.exists() == ahead
