"""Local interfaces under abuse: NaN or infinity from the peer, and the rewrite of /etc/config/dhcp
(mode kept, directory fsynced). The agent's control socket: tests/system/test_agent_hostile.py."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ha_pair.apply import dhcp_config
from ha_pair.leasesync import sync
from ha_pair.leasesync.transport import Reply, TransportError
from ha_pair.paths import Paths
from tests.support import pair, tree

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("hello", [
    b'{"node": "r2", "time": NaN, "host_keys": []}',
    b'{"node": "r2", "time": 1e999, "host_keys": []}',
    b'{"node": "r2", "time": "nan", "host_keys": []}',
    b'{"node": "r2", "time": -Infinity, "host_keys": []}',
])
def test_no_nan_or_infinity_from_the_peer_reaches_the_clock_offset(monkeypatch, hello: bytes):
    monkeypatch.setattr(sync, "call", lambda *a, **k: (Reply(hello, 0, len(hello)), ""))
    with pytest.raises(TransportError) as caught:
        sync.hello(Paths("/nonexistent"), "10.255.0.2", 22)
    assert caught.value.kind == "rejected"


def test_dhcp_rewrite_keeps_the_mode_and_fsyncs_the_directory(tmp_path: Path, monkeypatch):
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    config = root / "etc/config/dhcp"
    config.chmod(0o640)
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync-dir" if stat.S_ISDIR(os.fstat(fd).st_mode)
                                                               else "fsync-file"), real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(f"rename {Path(b).name}"), real_replace(a, b)))
    assert dhcp_config.write(Paths(root), config.read_text() + "\nconfig dhcp 'guest'\n\toption interface 'guest'\n", [])
    assert oct(config.stat().st_mode & 0o777) == "0o640"
    assert events[-3:] == ["fsync-file", "rename dhcp", "fsync-dir"], events
