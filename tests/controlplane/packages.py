"""OpenWrt's control plane installed on the lab's routers (tests/lab/router.py) as packages:
what `opkg install rpcd rpcd-mod-file uhttpd uhttpd-mod-ubus luci-base luci-mod-status
luci-theme-bootstrap luci-app-ha` puts into a router's flash. `install` runs before the router's
first boot (`LabOptions(installs=(packages.install,))`), as in an image build, so procd then starts
rpcd and uhttpd from their init scripts at every boot, like on a device (ubusd is procd's own).

- programs built by tests/vendor, at OpenWrt's paths: /sbin/rpcd with /usr/lib/rpcd/file.so and
  the unauthenticated ACL, /usr/sbin/uhttpd with /usr/lib/uhttpd_ubus.so;
- /etc/init.d/rpcd and /etc/init.d/uhttpd (enabled), /etc/config/uhttpd and uhttpd-mod-ubus's
  uci-defaults: OpenWrt's own are not among the vendored 24.10.7 files, so these are the lab's,
  written from what OpenWrt's rpcd and uhttpd packages do (package_files/, one folder per package);
- /etc/config/rpcd: OpenWrt's socket and timeout, root logging in with the system password
  (`$p$root`, its hash in /etc/shadow) and the tests' other logins (stack.USERS) with crypt hashes;
- LuCI's client side and luci-app-ha with their init scripts and uci-defaults (stack.install_luci),
  the dispatcher stand-in at /www/cgi-bin/luci.
"""

from __future__ import annotations

from pathlib import Path

from tests import vendor
from tests.controlplane import stack
from tests.lab import rootfs
from tests.vendor.control import ROOTFS

PACKAGE_FILES = Path(__file__).with_name("package_files")
LUCI = "master"
COMPONENTS = (*stack.COMPONENTS, f"luci-{LUCI}")
SERVICES = ("rpcd", "uhttpd", "ucitrack")  # the init scripts these packages enable
ROOT = next(user for user in stack.USERS if user.name == "root")


def build() -> None:
    """Build what `install` copies (once; raises vendor.Unavailable or BuildFailed)."""
    for name in COMPONENTS:
        vendor.build(name)


def install(router) -> None:
    """Install the packages into `router`'s flash (before its first boot)."""
    flash = rootfs.Image(router.flash, below=router.image)
    flash.program(ROOTFS / "usr/sbin/rpcd", "/sbin/rpcd")
    stack.install_rpcd_files(router.flash)
    flash.program(vendor.STAGE / "bin/uhttpd", "/usr/sbin/uhttpd")
    flash.program(vendor.STAGE / "lib/uhttpd_ubus.so", "/usr/lib/uhttpd_ubus.so")
    for package in sorted(PACKAGE_FILES.iterdir()):
        flash.copy_tree(package, "/")
    stack.install_luci(router.flash, LUCI, init=True)
    router.write_flash("etc/config/rpcd", stack.rpcd_config(system_users=(ROOT.name,)), 0o600)
    shadow = (router.image / "etc/shadow").read_text().splitlines(keepends=True)
    root_line = f"root:{stack.salted_hash(ROOT)}:0:0:99999:7:::\n"
    router.write_flash("etc/shadow", "".join(root_line if line.startswith("root:") else line for line in shadow),
                       0o600)
    for service in SERVICES:
        rootfs.enable(router.flash, service)
