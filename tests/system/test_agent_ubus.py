"""`ubus call ha status` against a real ubusd: the agent process registers `ha` itself.

Needs a local libubox/ubus build (see tests/support/ubusd.py); skipped with the reason otherwise.
"""

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
from tests.support.ubusd import Ubusd, find_tools

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ubusd():
    daemon = Ubusd(*find_tools())
    yield daemon
    daemon.stop()


@pytest.fixture
def agent(ubusd, tmp_path: Path):
    root = tree.make_tree(tmp_path / "r1", pair.configs(
        "r1", extra_global="\toption auth_type 'pass'\n\toption auth_pass 'Xs3cret'\n"))
    env = {**ubusd.env, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([*isolated_net(), sys.executable, "-m", "ha_pair", "--root", str(root), "agent", "--ubus-socket",
                             ubusd.sock], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 10
    while "ha" not in ubusd.ubus("list").stdout.split():
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "the agent did not register ubus object ha"
        time.sleep(0.05)
    yield root, proc, env
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)


def call(ubusd: Ubusd, method: str) -> dict:
    result = ubusd.ubus("call", "ha", method, "{}")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_ubus_status_and_history(ubusd, agent):
    root, _, env = agent
    listener = subprocess.Popen([ubusd.cli, "-s", ubusd.sock, "listen", "ha.transition"], env=ubusd.env,
                                stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        fd = os.open(root / "var/run/ha-pair/notify.fifo", os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b'GROUP "ha" MASTER 0\n')
        os.close(fd)
        deadline = time.monotonic() + 10
        while call(ubusd, "status")["state"] != "master":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        status = call(ubusd, "status")
        local = json.loads(subprocess.run([sys.executable, "-m", "ha_pair", "--root", str(root), "status", "--json"],
                                          env=env, capture_output=True, text=True, timeout=30).stdout)
        assert status.keys() == local.keys(), "ubus and the control socket answer the same object"
        assert status["node"]["name"] == "r1" and status["agent"]["ubus"] is True
        assert "Xs3cret" not in json.dumps(status)
        assert [h["to"] for h in call(ubusd, "history")["history"]] == ["master"]
        # the transition was published as a ubus event
        line = ""
        deadline = time.monotonic() + 5
        while "ha.transition" not in line and time.monotonic() < deadline:
            line = listener.stdout.readline()
        assert '"to": "master"' in line or '"to":"master"' in line, line
    finally:
        listener.terminate()
        listener.wait(5)


def wait_registered(ubusd: Ubusd, proc: subprocess.Popen, limit: float) -> float:
    """Seconds until `ha` is on ubusd again; fails after `limit` seconds or when the agent died."""
    started = time.monotonic()
    while "ha" not in ubusd.ubus("list").stdout.split():
        assert proc.poll() is None, "the agent must survive losing ubusd"
        assert time.monotonic() - started < limit, f"ha not registered again within {limit} s"
        time.sleep(0.01)
    return time.monotonic() - started


def restart_ubusd(ubusd: Ubusd, down_for: float) -> None:
    """ubusd dies, stays away `down_for` seconds, and starts again on the same socket (as procd
    respawns it); returns once the new socket exists."""
    binary = find_tools()[0]
    ubusd.proc.send_signal(signal.SIGTERM)
    ubusd.proc.wait(5)
    time.sleep(down_for)
    ubusd.proc = subprocess.Popen([binary, "-s", ubusd.sock], env=ubusd.env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
    while not os.path.exists(ubusd.sock) or ubusd.ubus("list").returncode != 0:
        assert ubusd.proc.poll() is None
        time.sleep(0.005)


@pytest.mark.parametrize("down_for", [0.0, 3.0], ids=["respawned", "away-3s"])
def test_ha_is_back_within_a_second_of_ubusd_returning(ubusd, agent, down_for):
    _, proc, _ = agent
    restart_ubusd(ubusd, down_for)
    assert wait_registered(ubusd, proc, 1.0) < 1.0
    assert call(ubusd, "status")["agent"]["pid"] == proc.pid


def test_a_second_agent_waits_for_the_name_instead_of_crashing(ubusd, agent, tmp_path: Path):
    _, first, env = agent
    root2 = tree.make_tree(tmp_path / "r2", pair.configs("r2"))
    second = subprocess.Popen([*isolated_net(), sys.executable, "-m", "ha_pair", "--root", str(root2), "agent",
                               "--ubus-socket", ubusd.sock], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(3)  # long enough for a crash, and for a retry or two
        assert second.poll() is None, "a taken name must not stop the agent"
        assert call(ubusd, "status")["agent"]["pid"] == first.pid
        first.send_signal(signal.SIGTERM)
        first.wait(10)
        # the second agent retries every 2 s and then holds the name
        assert wait_registered(ubusd, second, 4.0) < 4.0
        assert call(ubusd, "status")["node"]["name"] == "r2"
    finally:
        second.send_signal(signal.SIGTERM)
        output = second.communicate(timeout=10)[0]
    warnings = [line for line in output.splitlines() if "holds the name" in line]
    assert len(warnings) == 1, output  # logged once, not at every retry
    assert "registered ubus object ha" in output


UBUS_MAX_MSGLEN = 1048576  # ubus's CMakeLists.txt: the largest message ubusd passes on
DEEPEST = (UBUS_MAX_MSGLEN - 64) // 8  # 8 bytes a level (blob_attr + blobmsg header): ~131 000


def test_deeply_nested_arguments_get_a_clean_error_and_the_agent_keeps_serving(ubusd, agent):
    """The ubus CLI parses JSON with json-c and stops at 32 levels; a local client that builds the
    blob itself can nest as deep as ubusd's message limit. 70d7397 decoded the arguments with
    json.loads: past ~1000 levels a RecursionError, logged with its traceback, status 9."""
    _, proc, env = agent

    def nested(depth: int) -> int:
        out = subprocess.run([sys.executable, "-m", "tests.support.ubus_client", ubusd.sock, "ha", "status", str(depth)],
                             env={**env, "PYTHONPATH": f"{REPO / 'src'}:{REPO}"}, capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        return int(out.stdout)

    assert nested(32) == 0, "32 levels (jsonsafe.MAX_DEPTH) are still arguments"
    deep = (33, 200, 5000, DEEPEST)
    for depth in deep:
        assert nested(depth) == 2, f"{depth} levels: UBUS_STATUS_INVALID_ARGUMENT"
        assert proc.poll() is None, "the agent is still running"
    assert call(ubusd, "status")["agent"]["pid"] == proc.pid, "and still answering"
    proc.send_signal(signal.SIGTERM)
    log, _ = proc.communicate(timeout=10)
    assert "Traceback" not in log, log
    assert log.count("ubus status: unparsable arguments: nested deeper than 32 levels") == len(deep), log
