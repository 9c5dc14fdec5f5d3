"""The agent's probes read the kernel and conntrackd without forking: a status call spawns no
process at all (that rtnetlink agrees with `ip`: tests/system/test_netlink.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


from ha_pair.agent import probes
from ha_pair.agent.loop import Agent
from ha_pair.paths import Paths
from tests.support import pair, tree

REPO = Path(__file__).resolve().parents[2]

def test_probes_report_missing_devices_as_unknown():
    addresses, carriers = probes.interfaces(["lo", "no-such-device0"])
    assert "127.0.0.1" in addresses["lo"] and carriers["lo"] is True
    assert addresses["no-such-device0"] == [] and carriers["no-such-device0"] is None


def test_conntrackd_that_is_not_running_is_reported_without_forking(tmp_path: Path):
    assert probes.conntrackd_stats(tmp_path / "none.ctl") == {"running": False}


def test_a_status_call_forks_nothing(tmp_path: Path, monkeypatch):
    """Every probe of a status call (links, addresses, checks, conntrackd, DHCP record) stays in
    the agent's process: on a router a fork costs more than the whole answer."""
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    agent = Agent(Paths(str(root)))
    assert agent.model is not None and agent.model.conntrack.enabled

    def forbidden(*args, **kwargs):
        raise AssertionError(f"a status call started a process: {args[:1]}")

    for module, name in ((subprocess, "Popen"), (os, "fork"), (os, "posix_spawn"), (os, "posix_spawnp"),
                         (os, "system")):
        monkeypatch.setattr(module, name, forbidden)
    status = agent.status({})
    assert status["conntrack"]["running"] is False  # no conntrackd here: asked on its socket, not forked
    assert status["instances"]["lan"]["link"] is None  # no br-lan in this namespace
    # the reason of a transition reads links too (to "backup": no peer probe on the host's network)
    assert agent.reason_context("backup").links_down == ()


def test_conntrackd_answers_are_read_from_its_socket(tmp_path: Path):
    """The text conntrackd writes for `conntrackd -s` (request 21), parsed into numbers."""
    import socket
    import threading

    path = tmp_path / "ct.ctl"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    asked = []

    def answer() -> None:
        conn, _ = server.accept()
        asked.append(conn.recv(16))
        conn.sendall(b"cache internal:\ncurrent active connections:            4\n"
                     b"cache external:\ncurrent active connections:            2\n"
                     b"traffic (active device=eth2):\n    4416 Bytes sent          1632 Bytes recv\n"
                     b"       0 Error send             3 Error recv\n")
        conn.close()

    thread = threading.Thread(target=answer)
    thread.start()
    stats = probes.conntrackd_stats(path)
    thread.join(5)
    server.close()
    assert asked == [(21).to_bytes(4, sys.byteorder)]
    assert stats["internal"]["active"] == 4 and stats["external"]["active"] == 2
    assert stats["sync"] == {"device": "eth2", "bytes_sent": 4416, "bytes_recv": 1632, "error_send": 0,
                             "error_recv": 3}


def test_a_restarted_agent_resumes_what_keepalived_last_reported(tmp_path: Path):
    """procd respawns a crashed agent under a running keepalived, which does not repeat itself:
    the agent takes the last states from the notify script's log, without new transitions."""
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    log = root / "var/run/ha-pair/transitions.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("1000 INSTANCE lan BACKUP 150\n1000 INSTANCE wan BACKUP 150\n1000 GROUP ha BACKUP 0\n"
                   "garbage line\n1010 INSTANCE lan MASTER 150\n1010 INSTANCE wan MASTER 150\n1011 GROUP ha MASTER 0\n")
    status = Agent(Paths(str(root))).status({})
    assert status["state"] == "master" and status["since"] == 1011.0
    assert status["sync_group"] == {"name": "ha", "state": "master", "since": 1011.0}
    assert status["instances"]["lan"]["state"] == "master" and status["history_size"] == 0
