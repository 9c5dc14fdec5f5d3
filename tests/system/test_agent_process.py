"""A real agent process (kept off the host's network in a namespace of its own: needs root):
it follows keepalived's FIFO, survives garbage and restarts with its history, and sleeps when idle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import pair, tree
from tests.support.privileges import isolated_net

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def agent_root(tmp_path: Path):
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HA_PAIR_UBUS_LIBDIR": str(tmp_path / "no-ubus")}
    proc = subprocess.Popen([*isolated_net(), sys.executable, "-m", "ha_pair", "--root", str(root), "agent"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sock = root / "var/run/ha-pair/agent.sock"
    deadline = time.monotonic() + 10
    while not sock.exists():
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "agent did not create its control socket"
        time.sleep(0.05)
    yield root, proc, env
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def ask(root: Path, env: dict, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "ha_pair", "--root", str(root), "--json", *args], env=env,
                         capture_output=True, text=True, timeout=30)
    return json.loads(out.stdout)


def feed(root: Path, text: str) -> None:
    fd = os.open(root / "var/run/ha-pair/notify.fifo", os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def wait_state(root: Path, env: dict, state: str) -> dict:
    deadline = time.monotonic() + 10
    while True:
        status = ask(root, env, "status")
        if status.get("state") == state:
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def test_agent_follows_the_fifo_and_survives_garbage_and_restart(agent_root):
    root, proc, env = agent_root
    feed(root, 'INSTANCE "lan" BACKUP 150\nGROUP "ha" BACKUP 0\n')
    wait_state(root, env, "backup")
    feed(root, "this is not a keepalived line\n\x00\xff\n")
    feed(root, 'INSTANCE "lan" MASTER 150\nINSTANCE "wan" MASTER 150\nGROUP "ha" MASTER 0\n')
    status = wait_state(root, env, "master")
    assert proc.poll() is None, "a malformed line must not stop the agent"
    assert status["last_transition"]["from"] == "backup"
    assert status["agent"]["ubus"] is False and "libubus not found" in status["agent"]["ubus_note"]
    history_before = ask(root, env, "history")["history"]
    assert [h["to"] for h in history_before] == ["backup", "master"]
    # SIGTERM ends it cleanly; a new agent starts with the persisted history
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    again = subprocess.Popen([*isolated_net(), sys.executable, "-m", "ha_pair", "--root", str(root), "agent"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if ask(root, env, "history").get("history") == history_before:
                    break
            except json.JSONDecodeError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        again.terminate()
        again.wait(10)


def test_idle_agent_sleeps(agent_root):
    """No busy loop (e.g. a FIFO at end-of-file): an idle agent barely wakes up."""
    root, proc, env = agent_root
    time.sleep(0.5)

    def switches() -> int:
        text = Path(f"/proc/{proc.pid}/status").read_text()
        return int(text.split("voluntary_ctxt_switches:")[1].split()[0])

    before = switches()
    time.sleep(2.0)
    assert switches() - before < 10
