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
from tests.unit.test_lean_imports import NOT_IN_THE_AGENT

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


def _imported(importtime_log: str) -> set[str]:
    """The modules an interpreter run with -X importtime reported importing (at any time)."""
    return {line.rsplit("|", 1)[1].strip() for line in importtime_log.splitlines() if line.startswith("import time:")
            and "|" in line}


def test_invalid_configuration_at_start_and_on_reload_is_reported_and_never_loads_the_validator(tmp_path: Path):
    """The agent started as procd starts it (/usr/sbin/ha-pair) on an invalid /etc/config/ha: status
    and the log name the UCI option; a fixed configuration is adopted on SIGHUP, a broken one on the
    next SIGHUP is reported while the valid one stays in effect, and config sync refuses it. All along,
    the agent's own process imports none of the parser and validation modules, nor anything else the
    lean-imports test keeps out of it (-X importtime lists every import, lazy ones too)."""
    configs = pair.configs("r1")
    good, bad = configs["ha"], configs["ha"].replace("option vrid '51'", "option vrid '999'")
    root = tree.make_tree(tmp_path / "r1", {**configs, "ha": bad})
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HA_PAIR_UBUS_LIBDIR": str(tmp_path / "no-ubus")}
    log_path = tmp_path / "agent.stderr"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*isolated_net(), sys.executable, "-S", "-X", "importtime", str(root / "usr/sbin/ha-pair"),
                                 "--root", str(root), "agent"], env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        sock = root / "var/run/ha-pair/agent.sock"
        deadline = time.monotonic() + 20
        while not sock.exists():
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-2000:]
            time.sleep(0.05)
        message = "ha.lan.vrid: '999' is outside 1-255"
        status = ask(root, env, "status")
        assert status["config"]["valid"] is False and any(e.startswith(message) for e in status["config"]["errors"])
        assert status["config"]["digest"] is None  # nothing valid in effect
        assert f"configuration invalid, keeping the previous one: {message}" in log_path.read_text()

        def reload_until(ha_text: str, done) -> dict:
            tree.write_config(root, "ha", ha_text)
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 20
            while not done(answer := ask(root, env, "status")):
                assert time.monotonic() < deadline, answer["config"]
                time.sleep(0.1)
            return answer

        fixed = reload_until(good, lambda s: s["config"]["digest"] is not None)
        assert fixed["config"]["valid"] is True and fixed["config"]["pending_changes"] is False
        broken = reload_until(bad, lambda s: s["config"]["valid"] is False)
        assert any(e.startswith(message) for e in broken["config"]["errors"])
        assert broken["config"]["digest"] == fixed["config"]["digest"] and broken["config"]["pending_changes"] is True
        assert broken["node"]["name"] == fixed["node"]["name"] and proc.poll() is None
        # config sync from the agent (ubus config_sync) runs in a child too: the command's answer
        from ha_pair.agent import control_client
        answer = control_client.request(root / "var/run/ha-pair/agent.sock", "config_sync", {"dry_run": True}, 30)
        assert answer["ok"] is False and "is invalid here" in answer["error"], answer
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    imported = _imported(log_path.read_text())
    assert sorted(imported & set(NOT_IN_THE_AGENT)) == []
    assert "ha_pair.agent.loop" in imported and "ha_pair.config.wire" in imported  # the log is the agent's
