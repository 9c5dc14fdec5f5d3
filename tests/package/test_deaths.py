"""The package tests' judgement of procd's event record (tests/package/router.py: deaths): OpenWrt's
own dnsmasq race at boot is let through, and only that."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.package.router import BOOT_SETTLED, SETTLED_MARK_SCRIPT, deaths


def start(service: str = "dnsmasq") -> dict:
    return {"event": "instance.start", "service": service, "instance": "cfg01411c"}


def stop(service: str = "dnsmasq") -> dict:
    return {"event": "instance.stop", "service": service, "instance": "cfg01411c"}


def respawn(exit_code: int = 129, service: str = "dnsmasq") -> dict:
    return {"event": "instance.respawn", "service": service, "instance": "cfg01411c", "exit_code": exit_code}


SETTLED = {"event": "lab.step", "step": BOOT_SETTLED}
# a plain OpenWrt boot in the lab (no ha-pair), as procd notified it: dnsmasq started at S19,
# netifd's LAN came up, the trigger's reload restarted dnsmasq and its SIGHUP killed the new one
BOOT = [{"event": "lab.step", "step": "subscribed"}, start(), {"event": "service.start", "service": "dnsmasq"},
        start("network"), start("odhcpd"), stop(), start(), stop(), respawn(), start()]


def test_openwrts_boot_race_is_let_through() -> None:
    assert deaths(BOOT + [SETTLED]) == []
    assert deaths(BOOT) == []  # the record of a boot that has not settled yet


def test_the_same_death_after_the_boot_settled_is_one() -> None:
    recorded = BOOT[:-4] + [SETTLED] + BOOT[-4:]
    assert deaths(recorded) == [len(recorded) - 2]


def test_a_dnsmasq_that_was_not_restarted_is_not_the_race() -> None:
    first_start = [start(), stop(), respawn(), SETTLED]  # died after its first start
    assert deaths(first_start) == [2]
    again = BOOT[:-1] + [start(), stop(), respawn(), SETTLED]  # died again after the respawn
    assert deaths(again) == [len(again) - 2]


def test_other_deaths_are_deaths() -> None:
    for death in (respawn(exit_code=1), respawn(exit_code=139), respawn(service="odhcpd"),
                  {**respawn(), "event": "instance.fail"}):
        recorded = [start(death["service"]), stop(death["service"]), start(death["service"]), stop(death["service"]),
                    death, SETTLED]
        assert deaths(recorded) == [4], death


# The settled mark's script (router.py: SETTLED_MARK_SCRIPT) run on this machine's shell, with
# `pidof` naming a stand-in dnsmasq (a Python process that does not catch SIGHUP, as a dnsmasq procd
# has just started) and `ubus` writing down what it was asked: the mark is sent only once the
# stand-in catches SIGHUP, or has died and been reaped (procd tells of a death when it reaps).
MARK_WAIT = 5.0  # the script's own bound


def marking(tmp_path: Path, dnsmasq: subprocess.Popen) -> tuple[subprocess.Popen, Path]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    asked = tmp_path / "ubus-asked"
    (bindir / "pidof").write_text(f"#!/bin/sh\necho {dnsmasq.pid}\n")
    (bindir / "ubus").write_text(f'#!/bin/sh\necho "$@" >> {asked}\n')
    for tool in bindir.iterdir():
        tool.chmod(0o755)
    script = tmp_path / "lab-settled"
    script.write_text(SETTLED_MARK_SCRIPT)
    return subprocess.Popen(["sh", str(script)], env={"PATH": f"{bindir}:/usr/bin:/bin"}), asked


def stand_in(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", f"import signal, time\n{code}\ntime.sleep(60)"])


def test_the_settled_mark_waits_until_a_hung_up_dnsmasq_is_reaped(tmp_path: Path) -> None:
    dnsmasq = stand_in("pass")
    mark, asked = marking(tmp_path, dnsmasq)
    try:
        time.sleep(0.5)
        assert mark.poll() is None and not asked.exists()  # alive, SIGHUP would kill it
        dnsmasq.send_signal(1)  # the reload's SIGHUP
        time.sleep(0.5)
        assert mark.poll() is None and not asked.exists()  # dead but not reaped: procd has not told yet
        assert dnsmasq.wait() == -1
        assert mark.wait(timeout=MARK_WAIT) == 0
        assert f'"step": "{BOOT_SETTLED}"' in asked.read_text()
    finally:
        mark.kill()
        dnsmasq.kill()
        dnsmasq.wait()


def test_the_settled_mark_waits_until_a_new_dnsmasq_catches_sighup(tmp_path: Path) -> None:
    dnsmasq = stand_in("time.sleep(0.5)\nsignal.signal(signal.SIGHUP, lambda *_: None)")
    mark, asked = marking(tmp_path, dnsmasq)
    try:
        started = time.monotonic()
        assert mark.wait(timeout=MARK_WAIT) == 0
        assert time.monotonic() - started >= 0.4  # not before the handler was set
        assert dnsmasq.poll() is None and f'"step": "{BOOT_SETTLED}"' in asked.read_text()
    finally:
        dnsmasq.kill()
        dnsmasq.wait()
