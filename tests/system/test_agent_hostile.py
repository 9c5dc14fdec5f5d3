"""The agent's control socket under abuse, on a real agent process (kept off the host's network in
a namespace of its own: needs root): slow clients, huge and deeply nested requests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support import pair, tree
from tests.support.privileges import isolated_net

REPO = Path(__file__).resolve().parents[2]


def strict_json(data: bytes):
    def refuse(name):
        raise AssertionError(f"{name} in JSON")
    return json.loads(data, parse_constant=refuse)


@pytest.fixture
def agent(tmp_path: Path):
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1", extra="\toption lease_sync '0'\n"))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HA_PAIR_UBUS_LIBDIR": str(tmp_path / "no-ubus")}
    proc = subprocess.Popen([*isolated_net(), sys.executable, "-m", "ha_pair", "--root", str(root), "agent"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = root / "var/run/ha-pair/agent.sock"
    deadline = time.monotonic() + 10
    while not sock.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the agent did not start"
        time.sleep(0.05)
    yield root, proc
    proc.terminate()
    proc.wait(10)


def raw_request(root: Path, payload: bytes, timeout: float = 5) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(str(root / "var/run/ha-pair/agent.sock"))
        try:
            conn.sendall(payload)
        except OSError:
            pass
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def test_slow_clients_do_not_stall_the_agent(agent):
    root, proc = agent
    stop = threading.Event()
    conns = []
    for _ in range(10):
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(str(root / "var/run/ha-pair/agent.sock"))
        conns.append(conn)

    def dribble():  # each client sends one byte every 0.5 s and never finishes its line
        while not stop.is_set():
            for conn in conns:
                try:
                    conn.send(b" ")
                except OSError:
                    pass
            stop.wait(0.5)

    thread = threading.Thread(target=dribble)
    thread.start()
    try:
        time.sleep(0.7)
        history = root / "var/run/ha-pair/history.json"
        delays = []
        for state in ("BACKUP", "MASTER", "BACKUP"):
            before = history.read_text() if history.exists() else ""
            fd = os.open(root / "var/run/ha-pair/notify.fifo", os.O_WRONLY | os.O_NONBLOCK)
            sent = time.monotonic()
            os.write(fd, f'INSTANCE "lan" {state} 150\nINSTANCE "wan" {state} 150\nGROUP "ha" {state} 0\n'.encode())
            os.close(fd)
            while (history.read_text() if history.exists() else "") == before:
                assert time.monotonic() - sent < 5, "transition never recorded"
                time.sleep(0.002)
            delays.append(time.monotonic() - sent)
            time.sleep(0.3)
        assert max(delays) < 0.1, delays
        status = strict_json(raw_request(root, b'{"method": "status"}\n'))
        assert status["state"] == "backup"
    finally:
        stop.set()
        thread.join()
        for conn in conns:
            conn.close()
    assert proc.poll() is None


@pytest.mark.parametrize("payload, error", [
    (b"[" * 60000 + b"\n", "nested deeper than"),
    (b'{"method": "status", "args": ' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}\n", "nested deeper than"),
    (b'{"method": "status", "args": {"x": NaN}}\n', "NaN is not a JSON number"),
    (b"x" * 200000, "larger than 65536 bytes"),
    (b'{"method": "status"' + b"\xff\n", "bad request"),
], ids=["deep-array", "deep-args", "nan", "huge", "not-utf8"])
def test_hostile_requests_get_a_clean_error_and_the_agent_lives(agent, payload: bytes, error: str):
    root, proc = agent
    reply = strict_json(raw_request(root, payload))
    assert error in reply["error"], reply
    assert proc.poll() is None
    assert strict_json(raw_request(root, b'{"method": "history"}\n')) == {"history": []}
