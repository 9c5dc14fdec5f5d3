"""ha_pair.ubus against a real ubusd and the real `ubus` CLI.

Needs a libubus/libubox/libblobmsg_json build and its ubusd + ubus binaries;
otherwise every test here is skipped. Environment:

  HA_PAIR_UBUS_LIBDIR  directory holding libubus.so, libubox.so, libblobmsg_json.so
                       (also put on LD_LIBRARY_PATH for the ubusd/ubus children)
  HA_PAIR_UBUSD        the ubusd binary (default: `ubusd` on PATH, /sbin/ubusd)
  HA_PAIR_UBUS_CLI     the ubus CLI (default: bin/ubus next to ubusd's sbin/,
                       then `ubus` on PATH, /bin/ubus)

Each test module run starts its own ubusd on a socket under /tmp and kills it
by PID afterwards; the system ubusd is never touched.
"""

from __future__ import annotations

import gc
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

try:
    import ha_pair  # noqa: F401  (only to find out whether src/ is on the path)
except ImportError:  # running from a checkout without an installed package
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from ha_pair.ubus import UbusConnection, UbusError, UbusUnavailable
from ha_pair.ubus.libubus import UBUS_STATUS_INVALID_ARGUMENT
from tests.support.ubusd import Ubusd, find_tools

STATUS = {
    "role": "primary",
    "healthy": True,
    "degraded": False,
    "count": 42,
    "negative": -7,
    "big": 2**40 + 3,
    "ratio": 0.25,
    "nothing": None,
    "name": "Zürich ✓ 東京 — \"quoted\" \\ tab\t",
    "peers": [
        {"id": "a", "ok": True, "ips": ["192.0.2.1", "2001:db8::1"]},
        {"id": "b", "ok": False, "ips": []},
    ],
    "nested": {"level1": {"level2": {"level3": [1, [2, [3]], {"x": "y"}]}}},
    "empty": {},
}


def _boom(args: dict) -> dict:
    raise RuntimeError("handler failure on purpose")


def _refuse(args: dict) -> dict:
    raise UbusError(UBUS_STATUS_INVALID_ARGUMENT, "bad argument on purpose")


METHODS = {
    "status": lambda args: STATUS,
    "echo": lambda args: {"args": args},
    "boom": _boom,
    "refuse": _refuse,
    "notdict": lambda args: ["not", "a", "dict"],
}


@pytest.fixture(scope="module")
def tools() -> tuple[str, str]:
    return find_tools()


@pytest.fixture(scope="module")
def ubusd(tools):
    d = Ubusd(*tools)
    yield d
    d.stop()


class Loop:
    """The agent's pattern: a selectors loop over conn.fileno(), in a thread."""

    def __init__(self, conn: UbusConnection) -> None:
        self.conn = conn
        self.errors: list[BaseException] = []
        self.stop_r, self.stop_w = os.pipe()
        self.thread = threading.Thread(target=self._run, name="ubus-loop", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.conn.fileno(), selectors.EVENT_READ, "ubus")
        sel.register(self.stop_r, selectors.EVENT_READ, "stop")
        try:
            while True:
                for key, _ in sel.select(timeout=1):
                    if key.data == "stop":
                        return
                    self.conn.handle_readable()
        except BaseException as exc:  # reported by the test, not swallowed
            self.errors.append(exc)
        finally:
            sel.close()

    def stop(self) -> None:
        os.write(self.stop_w, b"x")
        self.thread.join(timeout=10)
        os.close(self.stop_r)
        os.close(self.stop_w)


@pytest.fixture(scope="module")
def served(ubusd):
    conn = UbusConnection(ubusd.sock)
    # close() from inside a handler must be refused (libubus still uses the context)
    conn.add_object("hatest", dict(METHODS, selfclose=lambda args: conn.close()))
    loop = Loop(conn)
    yield conn, loop
    loop.stop()
    conn.close()
    assert not loop.errors, loop.errors


def _call(ubusd: Ubusd, method: str, args: dict | None = None) -> subprocess.CompletedProcess:
    # No -S: with it the CLI does not print "Command failed: ... (<status>)".
    return ubusd.ubus("call", "hatest", method, json.dumps(args or {}))


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------


def test_connect_failure_is_clear(tools):
    with pytest.raises(UbusUnavailable, match="cannot connect"):
        UbusConnection("/tmp/ha-pair-no-such-ubusd.sock")


def test_list_shows_object_and_methods(ubusd, served):
    res = ubusd.ubus("list", "-v")
    assert res.returncode == 0, res.stderr
    assert "'hatest' @" in res.stdout
    for method in METHODS:
        assert f'"{method}":{{}}' in res.stdout  # n_policy 0: empty signature


def test_status_reply_equals_handler_result(ubusd, served):
    res = _call(ubusd, "status")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == STATUS


def test_handler_gets_arguments_as_dict(ubusd, served):
    args = {"ubus_rpc_session": "0" * 32, "text": "ñ—✓", "n": [1, {"b": False}], "i": -3}
    res = _call(ubusd, "echo", args)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"args": args}


def test_failing_handlers_give_ubus_errors_not_crashes(ubusd, served):
    boom = _call(ubusd, "boom")
    assert boom.returncode != 0
    assert "Unknown error" in boom.stderr
    refuse = _call(ubusd, "refuse")
    assert refuse.returncode != 0
    assert "Invalid argument" in refuse.stderr
    notdict = _call(ubusd, "notdict")
    assert notdict.returncode != 0
    missing = _call(ubusd, "nosuchmethod")
    assert missing.returncode != 0
    selfclose = _call(ubusd, "selfclose")
    assert selfclose.returncode != 0
    assert served[0].connected
    # still serving afterwards
    ok = _call(ubusd, "status")
    assert ok.returncode == 0 and json.loads(ok.stdout) == STATUS
    assert not served[1].errors


def test_200_calls_with_gc_between(ubusd, served):
    for i in range(200):
        gc.collect()
        method = "boom" if i % 10 == 9 else "echo"
        res = _call(ubusd, method, {"i": i})
        if method == "boom":
            assert res.returncode != 0
        else:
            assert res.returncode == 0, (i, res.stderr)
            assert json.loads(res.stdout) == {"args": {"i": i}}
    conn, loop = served
    assert loop.thread.is_alive() and not loop.errors
    assert conn.connected


def test_send_event_is_received_by_listener(ubusd, served):
    conn, _ = served
    listener = subprocess.Popen(
        [ubusd.cli, "-s", ubusd.sock, "-t", "10", "listen", "ha.test.*"],
        env=ubusd.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    payload = {"state": "MASTER", "prio": 150, "vip": ["192.0.2.254"], "note": "ß✓"}
    out = b""
    try:
        # The listener registers asynchronously: resend until it has seen one.
        sel = selectors.DefaultSelector()
        sel.register(listener.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and b"ha.test.state" not in out:
            conn.send_event("ha.test.state", payload)  # from this (non-loop) thread
            if sel.select(timeout=0.2):
                out += os.read(listener.stdout.fileno(), 65536)
        sel.close()
    finally:
        os.kill(listener.pid, signal.SIGTERM)
        listener.communicate(timeout=5)
    text = out.decode("utf-8")
    assert "ha.test.state" in text, text
    line = next(ln for ln in text.splitlines() if "ha.test.state" in ln)
    assert json.loads(line) == {"ha.test.state": payload}


def test_sigterm_disposition_untouched(tools):
    """uloop_init() must not leave its own SIGTERM handler behind."""

    def caught() -> int:
        for ln in Path("/proc/self/status").read_text().splitlines():
            if ln.startswith("SigCgt:"):
                return int(ln.split()[1], 16)
        return 0

    bit = 1 << (signal.SIGTERM - 1)
    before = caught() & bit
    d = Ubusd(*tools)
    try:
        conn = UbusConnection(d.sock)
        try:
            assert caught() & bit == before
        finally:
            conn.close()
    finally:
        d.stop()


def test_connection_lost_and_close_idempotent(tools):
    d = Ubusd(*tools)
    try:
        conn = UbusConnection(d.sock)
        conn.add_object("hatest_lost", {"status": lambda a: {}})
        fd = conn.fileno()
        assert fd >= 0 and conn.connected
    finally:
        d.stop()
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    assert sel.select(timeout=5), "socket should become readable (EOF)"
    sel.close()
    with pytest.raises(UbusUnavailable, match="lost"):
        conn.handle_readable()
    assert not conn.connected
    conn.close()
    conn.close()
    with pytest.raises(UbusUnavailable):
        conn.fileno()
