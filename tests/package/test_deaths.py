"""The package tests' judgement of procd's event record (tests/package/router.py: deaths): OpenWrt's
own dnsmasq race at boot is let through, and only that."""

from __future__ import annotations

from tests.package.router import BOOT_SETTLED, deaths


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
