"""The sequences the package tests run on a live router (tests/package/router.py: a lab router
with procd as PID 1), and what they observe at each step.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab import rootfs as lab_rootfs
from tests.lab.router import Router
from tests.package import rootfs
from tests.package.conftest import Packages
from tests.package.router import PACKAGE_DIR, daemons, mark

README = Path(__file__).resolve().parents[2] / "README.md"

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
# the routers' python3 is the host's (tests/lab/rootfs.py)
BYTECODE_TAG = "cpython-" + Path(os.path.realpath(lab_rootfs.SYSTEM_PYTHON)).name.removeprefix("python").replace(".", "")


def readme_install_command(packages: Packages) -> str:
    """The install command README.md gives for this release (run on the router over ssh)."""
    manager = "apk" if packages.release.uses_apk else "opkg"
    for line in README.read_text().splitlines():
        if line.startswith("ssh root@") and f"{manager} update" in line:
            return line.split("'", 1)[1].rsplit("'", 1)[0]
    raise AssertionError(f"README.md gives no {manager} install command")


def run(router: Router, script: str, timeout: float = 180.0) -> subprocess.CompletedProcess:
    """A shell command line on the router; its exit status is the caller's to judge."""
    return router.sh(script, check=False, timeout=timeout)


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

    name: str  # also its mark in the router's event record (tests/package/router.py)
    rc: int = 0
    out: str = ""
    services: dict = field(default_factory=dict)
    keepalived: list[int] = field(default_factory=list)  # top-level keepalived processes
    conntrackd: list[int] = field(default_factory=list)
    rc_d: list[str] = field(default_factory=list)
    files: dict[str, bytes | None] = field(default_factory=dict)
    modes: dict[str, int | None] = field(default_factory=dict)
    listing: dict[str, str] = field(default_factory=dict)  # the router's flash: what it changed
    pycache: dict[str, tuple[int, int]] = field(default_factory=dict)  # bytecode file -> size, mtime_ns
    log: str = ""  # logread
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
    mark(router, name)
    root = router.root
    step = Step(name, rc, out)
    step.services = router.services()
    step.keepalived = daemons(router, "keepalived")
    step.conntrackd = daemons(router, "conntrackd")
    step.rc_d = rootfs.rc_d(root)
    for path in WATCHED_FILES:
        target = root / path.lstrip("/")
        step.files[path] = target.read_bytes() if target.is_file() else None
    for path in WATCHED_MODES:
        target = root / path.lstrip("/")
        step.modes[path] = target.stat().st_mode & 0o7777 if target.exists() else None
    step.listing = rootfs.tree_listing(router.flash, exclude=PACKAGE_DB, below=router.image)
    step.pycache = {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
                    for p in (root / "usr/lib/ha-pair").rglob("*.pyc")}
    step.log = router.log()
    step.dhcp = router.exec("uci", "export", "dhcp").stdout
    step.keepalived_uci = router.exec("uci", "-q", "-P", "/var/state", "show", "keepalived.globals", check=False).stdout
    return step
