"""ha-pair built into an image (the image build's order, replayed with OpenWrt's own package
managers and scripts on a lab router's flash), booted by OpenWrt's procd, and backed up the way
sysupgrade does.

Nothing may die at boot but for OpenWrt's own dnsmasq race, which plain OpenWrt boots in the lab
hit too, without ha-pair (1 boot of 15; with this image 3 of 30): netifd's LAN coming up has
dnsmasq's trigger restart it and send SIGHUP before the new process has a handler
(tests/package/router.py: deaths)."""

from __future__ import annotations

import pytest

from tests.package import rootfs
from tests.package import sequences as seq
from tests.package.conftest import Packages
from tests.package.router import booted_router, deaths, events, settle
from tests.support.syslog import errors, failed_sends

HOOK = "/etc/hotplug.d/ha/50-notify"
# conntrackd's report, at a link event of the boot, that its one dedicated link (the sync link) is
# not running yet: netifd has just set it up, and the kernel reports it running once its carrier
# is settled. conntrackd keeps running and uses the link then; it is the cable's state, not a
# failure (it is logged whenever the sync link goes down, e.g. with the peer off).
LINK_NOT_RUNNING_YET = "no dedicated links available!"
PEER_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ"


@pytest.fixture(scope="session")
def booted(packages: Packages, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An image with ha-pair and r1's configuration (FILES=), booted once per release."""
    scratch = tmp_path_factory.mktemp(f"image-{packages.release.series}")
    with booted_router(packages, scratch, with_ha_pair=True) as router:
        root = router.root
        image_rc_d = rootfs.rc_d(root)  # what the image build enabled (booting enables nothing)

        def up() -> bool:
            step = seq.observe(router, "-")
            return bool(step.instance_pids("ha-pair", "keepalived")) and bool(step.conntrackd) \
                and not any(i.get("running") for i in step.services.get("keepalived", {}).get("instances", {}).values())

        seq.wait_for(up)
        step = seq.observe(router, "boot", 0, (scratch / "image.log").read_text())
        # an operator's state: the sync key, the peer's pinned host key, a hook
        setup = seq.run(router, f"ha-pair keys && ha-pair trust-peer --key '{PEER_HOST_KEY}' && "
                        f"printf '[ \"$ACTION\" = master ] && logger -t ha-hook took over\\n' > {HOOK}")
        backup = seq.run(router, "sysupgrade -l")
        state = seq.run(router, "find /etc/ha-pair -type f").stdout.split()
        settle(router)  # the record holds the whole boot
        recorded = events(router)
        settled_log = router.log()  # the whole boot, and the router since, as a backup of its own
        expected_bytecode = step.expected_bytecode(root)
    return {"rc_d": image_rc_d, "step": step, "expected_bytecode": expected_bytecode, "setup": setup,
            "backup": backup, "state": state, "events": recorded, "settled_log": settled_log}


def test_image_build_enables_every_service_as_openwrt_does(booted: dict) -> None:
    # the build's final loop enables every init script, OpenWrt's keepalived and conntrackd too:
    # what keeps them from running a second copy has to work at boot, not in the build
    assert {"S18ha-pair", "S21conntrackd", "S70keepalived"} <= set(booted["rc_d"]), booted["rc_d"]


def test_booted_image_runs_one_keepalived_and_one_conntrackd_ha_pairs(booted: dict) -> None:
    step = booted["step"]
    keepalived = step.instance_pids("ha-pair", "keepalived")
    conntrackd = step.instance_pids("ha-pair", "conntrackd-run")
    assert len(keepalived) == 1 and step.keepalived == keepalived, (step.services, step.keepalived, step.out)
    assert len(conntrackd) == 1 and step.conntrackd == conntrackd, (step.services, step.conntrackd, step.out)
    for service in ("keepalived", "conntrackd"):
        instances = step.services.get(service, {}).get("instances", {}).values()
        assert not any(i.get("running") for i in instances), (service, step.services)
    # nothing died but for OpenWrt's own dnsmasq race at boot (tests/package/router.py: deaths)
    assert [booted["events"][i] for i in deaths(booted["events"])] == [], booted["events"]
    assert [line for line in errors(step.log) if LINK_NOT_RUNNING_YET not in line] == []
    # nor later, while the router keeps its guard closed (no peer: backup, or fault until its sync
    # gate opens) and odhcpd advertises on br-lan: the guard drops those RAs without failing odhcpd's
    # sends (each used to log "Failed to send ... (Operation not permitted)" as daemon.err)
    assert failed_sends(booted["settled_log"]) == []
    # compiled at first boot (uci-defaults), before the service started
    assert set(step.pycache) == booted["expected_bytecode"]


def test_sysupgrade_keeps_configuration_keys_and_hooks(booted: dict) -> None:
    """base-files' own `sysupgrade -l`: what a sysupgrade would carry over."""
    assert booted["setup"].returncode == 0, booted["setup"]
    assert booted["backup"].returncode == 0, booted["backup"]
    backup = booted["backup"].stdout.split()
    assert "/etc/config/ha" in backup  # changed from the package's (the image's FILES=)
    assert HOOK in backup
    assert booted["state"] and set(booted["state"]) <= set(backup), (booted["state"], backup)
    assert any(path.endswith("known_hosts") for path in booted["state"])

