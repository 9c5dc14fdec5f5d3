"""The sequences the package tests run on router trees, and what they observe at each step.

A router here is an image built the way OpenWrt builds one (rootfs.image) and then booted in
its own namespaces (router.Router): first boot runs base-files' own uci_apply_defaults, then the
packages' init scripts in rc.d order, as procd's rcS does (base-files' own services are left
out: they set up hardware and the kernel).
"""

from __future__ import annotations

import gzip
import os
import shlex
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from tests.package import rootfs
from tests.package.conftest import Packages
from tests.package.router import BYTECODE_TAG, Router, add_programs
from tests.support import pair
from tests.vendor.packaging import stage_tool

README = Path(__file__).resolve().parents[2] / "README.md"

ROUTER = "r1"
# the devices of pair.network("r1"), as dummies in the router's network namespace
DEVICES = [
    {"name": "br-lan", "addresses": [f"{pair.ROUTERS[ROUTER]['lan']}/24"]},
    {"name": "eth1", "addresses": [f"{pair.ROUTERS[ROUTER]['wan']}/24"]},
    {"name": "eth2", "addresses": [f"{pair.ROUTERS[ROUTER]['sync']}/30"]},
]
# a conntrackd.conf someone left from running conntrackd by hand before installing ha-pair
USER_CONNTRACKD_CONF = """\
General {
	UNIX {
		Path /var/run/conntrackd-user.ctl
	}
	LockFile /var/lock/conntrackd-user.lock
	Syslog on
}
Stats {
	LogFile off
}
"""
PACKAGE_DIR = "/root/packages"  # where the packages are copied to, as an operator would scp them


def base_files_services(packages: Packages) -> set[str]:
    return {p.name for p in (packages.release.tree / "package/base-files/files/etc/init.d").iterdir()}


def overlay(directory: Path, ha: bool) -> Path:
    """The image's files overlay (ImageBuilder FILES=): r1's network, dhcp, system (and ha)."""
    for name, text in pair.configs(ROUTER).items():
        if name != "ha" or ha:
            (directory / "etc/config").mkdir(parents=True, exist_ok=True)
            (directory / "etc/config" / name).write_text(text)
    return directory


def build_router(packages: Packages, scratch: Path, with_ha_pair: bool) -> Path:
    """An image root: the dependencies (and ha-pair, luci-app-ha), r1's configuration as files
    overlay, the programs the scripts call, and the package files under PACKAGE_DIR."""
    root = scratch / "root"
    root.mkdir(parents=True)
    image_packages = packages.standins.all_base()
    if with_ha_pair:
        image_packages += list(packages.current.files.values())
    transcript = rootfs.image(root, packages.release, image_packages, scratch,
                              overlay(scratch / "files", ha=with_ha_pair))
    (scratch / "image.log").write_text(transcript)
    add_programs(root, packages.release)
    add_feed(root, packages, scratch)
    directory = root / PACKAGE_DIR.lstrip("/")
    for kind, files in (("current", packages.current.files.values()), ("upgrade", packages.upgrade.files.values()),
                        ("standins-upgrade", packages.standins.upgrade.values())):
        (directory / kind).mkdir(parents=True, exist_ok=True)
        for path in files:
            shutil.copy2(path, directory / kind / path.name)
    return root


def add_feed(root: Path, packages: Packages, scratch: Path) -> None:
    """The release's package feed, as /etc/opkg/distfeeds.conf or /etc/apk/repositories.d point a
    router at downloads.openwrt.org: here a local one holding the dependencies (for apk signed
    with a key of its own, as OpenWrt signs its indexes)."""
    release = packages.release
    feed = root / "root/feed"
    feed.mkdir(parents=True)
    for path in packages.standins.all_base():
        shutil.copy2(path, feed / path.name)
    if release.uses_apk:
        key = scratch / "feed-key.pem"
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)], check=True)
        public = subprocess.run(["openssl", "ec", "-in", str(key), "-pubout"], capture_output=True, check=True).stdout
        (root / "etc/apk/keys").mkdir(parents=True, exist_ok=True)
        (root / "etc/apk/keys/feed-key.pem").write_bytes(public)
        subprocess.run([str(stage_tool("apk")), "mkndx", "--allow-untrusted", "--sign", str(key), "--output",
                        "packages.adb", *sorted(p.name for p in feed.glob("*.apk"))], cwd=feed, check=True,
                       capture_output=True)
        (root / "etc/apk/repositories.d").mkdir(parents=True, exist_ok=True)
        (root / "etc/apk/repositories.d/distfeeds.list").write_text("file:///root/feed/packages.adb\n")
    else:
        mkhash = str(release.tree / "staging_dir/host/bin/mkhash")
        index = subprocess.run(["bash", str(release.tree / "scripts/ipkg-make-index.sh"), "."], cwd=feed, check=True,
                               capture_output=True, env={**os.environ, "MKHASH": mkhash})
        (feed / "Packages").write_bytes(index.stdout)
        (feed / "Packages.gz").write_bytes(gzip.compress(index.stdout, mtime=0))
        (root / "etc/opkg").mkdir(parents=True, exist_ok=True)
        (root / "etc/opkg/distfeeds.conf").write_text("src/gz openwrt_base file:///root/feed\n")


def readme_install_command(packages: Packages) -> str:
    """The install command README.md gives for this release (run on the router over ssh)."""
    manager = "apk" if packages.release.uses_apk else "opkg"
    for line in README.read_text().splitlines():
        if line.startswith("ssh root@") and f"{manager} update" in line:
            return line.split("'", 1)[1].rsplit("'", 1)[0]
    raise AssertionError(f"README.md gives no {manager} install command")


def first_boot(router: Router, packages: Packages) -> str:
    """What the first boot of the image runs that matters here: uci-defaults (in S10boot), then
    the packages' services in rc.d order."""
    skip = base_files_services(packages)
    out = router.sh(". /etc/init.d/boot && uci_apply_defaults").out
    # config_generate and the uci-defaults of a first boot leave these in libuci's layout
    for config in ("network", "dhcp", "system"):
        router.sh(f"uci export {config} > /tmp/{config}.uci && uci import {config} < /tmp/{config}.uci").check()
    for link in sorted((router.root / "etc/rc.d").glob("S*")):
        if link.resolve().name not in skip:
            result = router.sh(f"/etc/rc.d/{link.name} boot")
            out += f"{link.name}: {result.rc} {result.out}{result.err}"
    return out


@contextmanager
def booted_router(packages: Packages, scratch: Path, with_ha_pair: bool) -> Iterator[Router]:
    """build_router(), started, after its first boot."""
    with Router(build_router(packages, scratch, with_ha_pair), DEVICES) as router:
        router.first_boot = first_boot(router, packages)  # type: ignore[attr-defined]
        yield router


def install_command(packages: Packages, kind: str, names: list[str]) -> str:
    """The live command an operator runs to install/upgrade these packages from copied files."""
    files = " ".join(f"{PACKAGE_DIR}/{kind}/{shlex.quote(_file(packages, kind, n).name)}" for n in names)
    if packages.release.uses_apk:
        return f"apk add --allow-untrusted {files}"
    return f"opkg install {files}"


def remove_command(packages: Packages, names: list[str]) -> str:
    return f"apk del {' '.join(names)}" if packages.release.uses_apk else f"opkg remove {' '.join(names)}"


def _file(packages: Packages, kind: str, name: str) -> Path:
    table = {"current": packages.current.files, "upgrade": packages.upgrade.files,
             "standins-upgrade": packages.standins.upgrade}[kind]
    return table[name]


def wait_for(check, timeout: float = 15.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    """check()'s first truthy value within timeout, else its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@dataclass
class Step:
    """What a step observed on the router."""

    name: str
    rc: int = 0
    out: str = ""
    at: float = field(default_factory=time.time)  # when it was observed (the router's clock is this one)
    services: dict = field(default_factory=dict)
    keepalived: list[int] = field(default_factory=list)  # top-level keepalived processes
    conntrackd: list[int] = field(default_factory=list)
    rc_d: list[str] = field(default_factory=list)
    files: dict[str, bytes | None] = field(default_factory=dict)
    modes: dict[str, int | None] = field(default_factory=dict)
    listing: dict[str, str] = field(default_factory=dict)
    pycache: dict[str, tuple[int, int]] = field(default_factory=dict)  # bytecode file -> size, mtime_ns
    log: str = ""
    dhcp: str = ""  # `uci export dhcp`: the DHCP settings, whatever the file's layout
    keepalived_uci: str = ""  # keepalived's globals as its init script reads them (with /var/state)

    def expected_bytecode(self, root: Path, tag: str = BYTECODE_TAG) -> set[str]:
        """One bytecode file per module installed, for the router's Python."""
        return {str(p.parent.relative_to(root) / "__pycache__" / f"{p.stem}.{tag}.pyc")
                for p in (root / "usr/lib/ha-pair/python").rglob("*.py")}

    def instance_pids(self, service: str, binary: str) -> list[int]:
        """PIDs of running instances of `service` whose command runs `binary`."""
        return [inst["pid"] for inst in self.services.get(service, {}).get("instances", {}).values()
                if inst.get("running") and any(Path(word).name == binary for word in inst.get("command", [])[:2])]


WATCHED_FILES = ("/etc/config/ha", "/etc/config/ha-opkg", "/etc/config/ha.apk-new", "/etc/config/dhcp",
                 "/etc/config/keepalived", "/etc/conntrackd/conntrackd.conf", "/etc/conntrackd/conntrackd.conf.ha-pair")
WATCHED_MODES = ("/etc/ha-pair",)
# the package managers' own records change with every operation
PACKAGE_DB = ("/usr/lib/opkg", "/lib/apk/db", "/etc/apk/world", "/lib/apk/packages", "/root/packages", "/root/feed")


def observe(router: Router, name: str, rc: int = 0, out: str = "") -> Step:
    root = router.root
    step = Step(name, rc, out)
    step.services = router.services()
    step.keepalived = router.daemons("keepalived")
    step.conntrackd = router.daemons("conntrackd")
    step.rc_d = rootfs.rc_d(root)
    for path in WATCHED_FILES:
        target = root / path.lstrip("/")
        step.files[path] = target.read_bytes() if target.is_file() else None
    for path in WATCHED_MODES:
        target = root / path.lstrip("/")
        step.modes[path] = target.stat().st_mode & 0o7777 if target.exists() else None
    step.listing = rootfs.tree_listing(root, exclude=PACKAGE_DB)
    step.pycache = {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
                    for p in (root / "usr/lib/ha-pair").rglob("*.pyc")}
    step.log = router.sh("cat /tmp/log/messages").out  # /tmp is the router's own tmpfs
    step.dhcp = router.sh("uci export dhcp").check().out
    step.keepalived_uci = router.sh("uci -q -P /var/state show keepalived.globals").out
    return step
