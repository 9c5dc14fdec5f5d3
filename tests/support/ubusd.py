"""A private ubusd for tests, from a local libubox/ubus build (never the system's).

By default libubox and ubus are built from OpenWrt's pinned sources into build/openwrt
(tests/vendor); these variables point at another build instead:
  HA_PAIR_UBUS_LIBDIR  directory holding libubus.so, libubox.so, libblobmsg_json.so
                       (also put on LD_LIBRARY_PATH for the ubusd/ubus children)
  HA_PAIR_UBUSD        the ubusd binary (default: `ubusd` on PATH, /sbin/ubusd)
  HA_PAIR_UBUS_CLI     the ubus CLI (default: bin/ubus next to ubusd's sbin/,
                       then `ubus` on PATH, /bin/ubus)
Without sources for the build the tests that need ubus are skipped (failed under CI=true).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from ha_pair.ubus import UbusUnavailable
from ha_pair.ubus.libubus import LIBDIR_ENV, load_libs
from tests import vendor

SKIP_HINT = (
    "set HA_PAIR_UBUS_LIBDIR to a directory with libubus.so, libubox.so and "
    "libblobmsg_json.so, and HA_PAIR_UBUSD to a ubusd binary"
)


def _find_ubusd() -> str | None:
    cand = os.environ.get("HA_PAIR_UBUSD") or shutil.which("ubusd") or "/sbin/ubusd"
    return cand if os.access(cand, os.X_OK) else None


def _find_cli(ubusd: str) -> str | None:
    cands = [os.environ.get("HA_PAIR_UBUS_CLI")]
    d = Path(ubusd).resolve().parent
    cands += [str(d / "ubus"), str(d.parent / "bin" / "ubus"), shutil.which("ubus"), "/bin/ubus"]
    for c in cands:
        if c and os.access(c, os.X_OK):
            return c
    return None


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    libdir = os.environ.get("HA_PAIR_UBUS_LIBDIR")
    if libdir:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (libdir, env.get("LD_LIBRARY_PATH")) if p
        )
    return env


class Ubusd:
    """A private ubusd on a socket under /tmp, killed by PID in stop()."""

    def __init__(self, binary: str, cli: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="ha-ubus-", dir="/tmp")
        self.sock = os.path.join(self.dir, "ubus.sock")
        self.cli = cli
        self.env = child_env()
        self.proc = subprocess.Popen(
            [binary, "-s", self.sock], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 5
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                self.stop()
                pytest.fail(f"ubusd did not start on {self.sock}: {err}")
            time.sleep(0.02)

    def ubus(self, *args: str, timeout: float = 10) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.cli, "-s", self.sock, *args], env=self.env,
            capture_output=True, text=True, timeout=timeout,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def find_tools() -> tuple[str, str]:
    if not os.environ.get(LIBDIR_ENV):
        stage = vendor.require("ubus")
        os.environ[LIBDIR_ENV] = str(stage / "lib")
        os.environ.setdefault("HA_PAIR_UBUSD", str(stage / "sbin" / "ubusd"))
    try:
        load_libs()
    except UbusUnavailable as exc:
        pytest.skip(f"libubus not found: {SKIP_HINT} ({exc})")
    ubusd = _find_ubusd()
    if not ubusd:
        pytest.skip(f"ubusd not found: {SKIP_HINT}")
    cli = _find_cli(ubusd)
    if not cli:
        pytest.skip("ubus CLI not found: set HA_PAIR_UBUS_CLI")
    return ubusd, cli
