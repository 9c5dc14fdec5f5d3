"""The agent keeps hearing keepalived after keepalived re-creates its notify FIFO (it unlinks and
re-creates it at every reload when it created it itself, e.g. when it started before the agent):
before, the agent kept reading the deleted FIFO and missed every later transition."""

from __future__ import annotations

import os

from tests.system.test_agent_process import agent_root, feed, wait_state  # noqa: F401 (fixture)


def test_a_fifo_recreated_by_keepalived_is_followed(agent_root):  # noqa: F811
    root, proc, env = agent_root
    feed(root, 'INSTANCE "lan" MASTER 150\nINSTANCE "wan" MASTER 150\nGROUP "ha" MASTER 0\n')
    wait_state(root, env, "master")
    fifo = root / "var/run/ha-pair/notify.fifo"
    fifo.unlink()  # what keepalived's reload does with a FIFO it created
    os.mkfifo(fifo, 0o644)
    keepalived = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # keepalived opens the new one O_RDWR
    try:
        os.write(keepalived, b'INSTANCE "lan" BACKUP 90\nINSTANCE "wan" BACKUP 90\nGROUP "ha" BACKUP 0\n')
        status = wait_state(root, env, "backup")
        assert status["last_transition"]["from"] == "master" and proc.poll() is None
    finally:
        os.close(keepalived)
