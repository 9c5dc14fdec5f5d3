"""The package tests' router: r1 of a lab (tests/lab: OpenWrt's procd as PID 1 with its real
rc.common and procd.sh, ubusd, logd, netifd, fw4, dnsmasq) whose image has a release's package
manager and ha-pair's dependencies built in.

`booted_router(packages, scratch, with_ha_pair)` starts a lab of plain OpenWrt routers (nothing
of ha-pair's installed by the lab) and yields r1 once it has booted; `settle(r1)` waits until
procd has run what the interfaces netifd brought up set off, and dnsmasq runs. Before its first
boot r1's flash gets:
- an image build (tests/package/flash.py) of the dependencies (tests/package/standins.py) and,
  with_ha_pair, of ha-pair and luci-app-ha with r1's /etc/config/ha as the files overlay
  (ImageBuilder FILES=); without ha-pair in the image, r1 has no /etc/config/ha;
- the release's package manager where its package puts it (opkg built from 24.10.7 with that
  package's /etc/opkg.conf, or apk-tools built from 25.12.5), a local feed of the dependencies
  configured as the router's feed, and the package files under PACKAGE_DIR;
- a lab service that records what procd notifies its `service` object's subscribers of
  (`instance.start`, `instance.stop`, `instance.respawn`, `instance.fail`, and the events it is
  told of: the tests' step marks) from early in the boot on, and marks BOOT_SETTLED after
  procd's triggers have reacted to the interfaces and dnsmasq's reload has had its effect.

The image's base-files are OpenWrt 24.10.7's for both releases: on 25.12, apk runs above 24.10.7's
default_postinst/default_prerm and sysupgrade, which already read apk's database
(/lib/apk/packages/*.list, *.conffiles_static) as 25.12's do.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.lab import rootfs as lab_rootfs
from tests.lab.conftest import require_routers
from tests.lab.pair_lab import Lab, LabOptions, Router
from tests.lab.topology import DEFAULT_PREFIX, install_signal_handlers
from tests.package import flash
from tests.package.conftest import Packages
from tests.vendor.packaging import stage_tool

ROUTER = "r1"
PACKAGE_DIR = "/root/packages"  # where the packages are copied to, as an operator would scp them
EVENTS_FILE = "/tmp/lab-events"
DIED = ("instance.respawn", "instance.fail")  # an instance exited without being stopped
# A step mark is an event procd is told of (`ubus call service event`, as reload_config does):
# procd passes it on to the service object's subscribers after every notification it sent before.
MARK = "lab.step"
# The step mark the lab's own procd trigger sends once procd has run what the interfaces netifd
# brought up set off (dnsmasq's reload): see EVENTS_INIT's service_triggers.
BOOT_SETTLED = "interfaces-handled"
SETTLED_MARK = "/usr/libexec/lab-settled"
# The mark is sent once dnsmasq's reload is over, and with it what its SIGHUP did: the reload's
# last act, the SIGHUP, reaches a dnsmasq procd has just started; it either finds its handler or
# kills it, and procd tells of that death when it reaps the process. Sent at once after the
# reload, the mark raced that notification and won once in CI (a boot's death recorded after
# the mark). So it waits until every dnsmasq catches SIGHUP or is gone from /proc (reaped:
# procd sent its instance.respawn before it handles this mark), 5 s at most.
SETTLED_MARK_SCRIPT = f"""#!/bin/sh
hup_ready() {{
	local pid mask
	for pid in $(pidof dnsmasq); do
		mask="$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null)" || continue
		[ -n "$mask" ] || continue  # reaped meanwhile
		grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null && return 1
		[ $((0x${{mask#"${{mask%?}}"}} & 1)) = 1 ] || return 1
	done
}}
i=0
until hup_ready || [ $i -ge 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
exec ubus call service event '{{"type": "{MARK}", "data": {{"step": "{BOOT_SETTLED}"}}}}'
"""
EVENTS_INIT = f"""#!/bin/sh /etc/rc.common
# lab: what procd notifies the subscribers of its service object of (instance.start, instance.stop,
# instance.respawn, instance.fail, event.trigger), one JSON line each, into {EVENTS_FILE}
START=05
USE_PROCD=1

start_service() {{
	procd_open_instance
	procd_set_param command /bin/sh -c 'exec ubus subscribe service >> {EVENTS_FILE}'
	procd_close_instance
}}

service_started() {{
	# done once the subscriber hears: what procd does after this boot step is all recorded
	local i=0
	while [ $i -lt 200 ]; do
		ubus call service event '{{"type": "{MARK}", "data": {{"step": "subscribed"}}}}'
		grep -qF '"subscribed"' {EVENTS_FILE} 2>/dev/null && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}}

service_triggers() {{
	# A step mark after procd's reactions to netifd's interface events, dnsmasq's reload among
	# them (its interface triggers). procd runs trigger commands one at a time, in the order
	# their delays end, a delay counting from the last event. Twice dnsmasq's delay, not the
	# same: procd restarts a pending delay only when less than the whole of it is left, counted
	# in whole milliseconds, so two equal delays hit by events less than 1 ms apart ended in
	# either order (the mark came first in 6 boots of 15).
	procd_add_raw_trigger "interface.*" "$((PROCD_RELOAD_DELAY * 2))" {SETTLED_MARK}
}}
"""


def make_dirs(router: Router, inside: str) -> Path:
    """A directory in the flash; those it creates take the image's modes (/root is 0700)."""
    path = router.flash
    for part in Path(inside.lstrip("/")).parts:
        path = path / part
        if not path.is_dir():
            path.mkdir()
            below = router.image / path.relative_to(router.flash)
            path.chmod(below.stat().st_mode & 0o7777 if below.is_dir() else 0o755)
    return path


def factory_image(router: Router, packages: Packages, scratch: Path, with_ha_pair: bool) -> None:
    """r1's flash before its first boot (see the module doc); a LabOptions.installs hook."""
    if router.name != ROUTER:
        return
    release = packages.release
    config = router.flash / "etc/config/ha"  # the lab's r1 configuration
    files = None
    image_packages = packages.standins.all_base()
    if with_ha_pair:
        files = scratch / "files"
        (files / "etc/config").mkdir(parents=True)
        shutil.move(config, files / "etc/config/ha")
        image_packages += list(packages.current.files.values())
    else:
        config.unlink()
    (scratch / "image.log").write_text(flash.build_into(router, release, image_packages, scratch, files))
    if release.uses_apk:
        lab_rootfs.add_programs(router.flash, router.image, {str(stage_tool("apk")): "/usr/bin/apk"})
    else:
        lab_rootfs.add_programs(router.flash, router.image, {str(stage_tool("opkg")): "/bin/opkg"})
        # what the opkg package puts on a router (package/system/opkg/files)
        shutil.copy2(release.tree / "package/system/opkg/files/opkg.conf", router.flash / "etc/opkg.conf")
    add_feed(router, packages, scratch)
    directory = make_dirs(router, PACKAGE_DIR)
    for kind, paths in (("current", packages.current.files.values()), ("upgrade", packages.upgrade.files.values()),
                        ("standins-upgrade", packages.standins.upgrade.values())):
        (directory / kind).mkdir()
        for path in paths:
            shutil.copy2(path, directory / kind / path.name)
    router.write_flash("etc/init.d/lab-events", EVENTS_INIT, 0o755)
    router.write_flash(SETTLED_MARK.lstrip("/"), SETTLED_MARK_SCRIPT, 0o755)
    lab_rootfs.enable(router.flash, "lab-events")


def add_feed(router: Router, packages: Packages, scratch: Path) -> None:
    """The release's package feed, as /etc/opkg/distfeeds.conf or /etc/apk/repositories.d point a
    router at downloads.openwrt.org: here a local one in /root/feed holding the dependencies (for
    apk signed with a key of its own, as OpenWrt signs its indexes)."""
    release = packages.release
    feed = make_dirs(router, "/root/feed")
    for path in packages.standins.all_base():
        shutil.copy2(path, feed / path.name)
    if release.uses_apk:
        key = scratch / "feed-key.pem"
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)], check=True)
        public = subprocess.run(["openssl", "ec", "-in", str(key), "-pubout"], capture_output=True, check=True).stdout
        router.write_flash("etc/apk/keys/feed-key.pem", public.decode())
        subprocess.run([str(stage_tool("apk")), "mkndx", "--allow-untrusted", "--sign", str(key), "--output",
                        "packages.adb", *sorted(p.name for p in feed.glob("*.apk"))], cwd=feed, check=True,
                       capture_output=True)
        router.write_flash("etc/apk/repositories.d/distfeeds.list", "file:///root/feed/packages.adb\n")
    else:
        mkhash = str(release.tree / "staging_dir/host/bin/mkhash")
        index = subprocess.run(["bash", str(release.tree / "scripts/ipkg-make-index.sh"), "."], cwd=feed, check=True,
                               capture_output=True, env={**os.environ, "MKHASH": mkhash})
        (feed / "Packages").write_bytes(index.stdout)
        (feed / "Packages.gz").write_bytes(gzip.compress(index.stdout, mtime=0))
        router.write_flash("etc/opkg/distfeeds.conf", "src/gz openwrt_base file:///root/feed\n")


@contextmanager
def booted_router(packages: Packages, scratch: Path, with_ha_pair: bool) -> Iterator[Router]:
    """r1 of a started lab, built as the module doc says; the lab is stopped afterwards."""
    require_routers()
    install_signal_handlers()
    options = LabOptions(ha_pair=False, installs=(lambda r: factory_image(r, packages, scratch, with_ha_pair),))
    lab = Lab(options, prefix=f"{DEFAULT_PREFIX}pkg-")
    try:
        lab.start(wait_master=None)
        yield lab.routers[ROUTER]
    finally:
        lab.stop()


def settle(router: Router, timeout: float = 60.0) -> None:
    """Until the boot is over: procd has run what netifd's interfaces set off (BOOT_SETTLED), and
    dnsmasq runs (after OpenWrt's boot race procd respawns it 5 s later: see deaths)."""
    deadline = time.monotonic() + timeout
    while not ({"event": MARK, "step": BOOT_SETTLED} in events(router) and dnsmasq_running(router)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{router.name}: the boot did not settle: {events(router)}")
        time.sleep(0.2)


def dnsmasq_running(router: Router) -> bool:
    instances = router.services().get("dnsmasq", {}).get("instances", {}).values()
    return bool(instances) and all(i.get("running") for i in instances)


def events(router: Router) -> list[dict]:
    """procd's notifications so far, {"event": "instance.start", "service": ..., "instance": ...},
    with the step marks as {"event": "lab.step", "step": ...}, in the order procd sent them."""
    try:
        text = (router.root / EVENTS_FILE.lstrip("/")).read_text()
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        ((kind, data),) = json.loads(line).items()
        if kind == "event.trigger" and data.get("type") == MARK:
            found.append({"event": MARK, **data.get("data", {})})
        else:
            found.append({"event": kind, **data})
    return found


def mark(router: Router, step: str, timeout: float = 10.0) -> None:
    """A step mark in the event record: what procd did before it is recorded before it."""
    router.exec("ubus", "call", "service", "event", json.dumps({"type": MARK, "data": {"step": step}}))
    deadline = time.monotonic() + timeout
    while {"event": MARK, "step": step} not in events(router):
        if time.monotonic() > deadline:
            raise AssertionError(f"{router.name}: the step mark {step!r} was not recorded")
        time.sleep(0.05)


def deaths(recorded: list[dict]) -> list[int]:
    """Indexes of the instances that exited without being stopped, but for OpenWrt's own race at
    boot, which happens without ha-pair too: dnsmasq (S19) starts before netifd (S20) has the LAN
    up, so without its DHCP range; the interface event has procd's trigger run dnsmasq's
    `reload` 1 s later, which restarts the instance (its conf changed) and at once sends SIGHUP
    (`procd_send_signal`), and a dnsmasq that has not set its handler yet dies (exit 129,
    respawned 5 s later). Tolerated only as exactly that: the death, by SIGHUP, of the dnsmasq
    procd started in place of another, before the boot settled (BOOT_SETTLED)."""
    steps = [e.get("step") for e in recorded]
    booting = steps.index(BOOT_SETTLED) if BOOT_SETTLED in steps else len(recorded)
    return [i for i, event in enumerate(recorded)
            if event["event"] in DIED and not (i < booting and _restarted_dnsmasq_hung_up(recorded, i))]


def _restarted_dnsmasq_hung_up(recorded: list[dict], i: int) -> bool:
    event = recorded[i]
    if (event.get("service"), event["event"], event.get("exit_code")) != ("dnsmasq", "instance.respawn", 129):
        return False
    # the old process exited, procd started the new one, which exited: a restart (a first start
    # or a respawn's start has no stop before it)
    before = [e["event"] for e in recorded[:i]
              if e.get("service") == "dnsmasq" and e.get("instance") == event.get("instance")]
    return before[-3:] == ["instance.stop", "instance.start", "instance.stop"]


def between(recorded: list[dict], first: str, second: str) -> list[dict]:
    """The events recorded between two step marks."""
    steps = [e.get("step") for e in recorded]
    return recorded[steps.index(first) + 1:steps.index(second)]


def daemons(router: Router, comm: str) -> list[int]:
    """PIDs (as the router sees them) of top-level `comm` processes (not children of another
    `comm`), from the router's /proc."""
    out = router.sh(
        f"for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue; [ \"$c\" = {comm} ] || continue; "
        f"p=$(cut -d' ' -f4 $d/stat); [ \"$(cat /proc/$p/comm 2>/dev/null)\" = {comm} ] && continue; "
        "echo ${d#/proc/}; done").stdout
    return sorted(int(pid) for pid in out.split())
