"""The read-only root file system every lab router boots from (its "ROM"), built once and cached.

OpenWrt keeps its firmware in a read-only image (/rom) under a writable overlay. A lab router is
the same: this tree is the image, each router mounts it under its own overlay (tests/lab/router.py),
so routers share every immutable file and a router's changes (configuration, installed packages)
stay its own. The image holds, where OpenWrt puts them:

- OpenWrt 24.10.7's router-side files: base-files, procd's procd.sh/rc.common/hotplug json,
  uci.sh, netifd's scripts, the init scripts of dnsmasq, odhcpd, dropbear and logd;
- OpenWrt's programs built from the pinned sources by tests/vendor (procd, ubusd, ubus, uci,
  logd/logread, validate_data, jsonfilter, jshn, netifd, odhcpd, ucode with fw4);
- Debian's builds of the programs OpenWrt ships too: keepalived, conntrackd, conntrack, dnsmasq,
  dropbear/dbclient/dropbearkey, nft, busybox (the shell and its applets, udhcpc among them),
  util-linux flock, and the system python3 with only python3-light's modules plus the
  subpackages ha-pair's feed Makefile declares; glibc and the other libraries they link.

What is deliberately not in it (the host's kernel is shared, so these would act on the host):
udevtrigger and kmodloader are no-ops, sysfixtime (sets the clock) and the LED/GPIO scripts are
left out, and busybox applets that set the clock, load modules or read the kernel log are not
linked. The console login is not in /etc/inittab (a lab router has no console).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests import vendor
from tests.vendor.router import ROUTER_COMPONENTS

VERSION = 1  # bump when the assembly below changes what lands in the image
ROMS = vendor.BUILD / "rom"
OPENWRT_RELEASE = {"%D": "OpenWrt", "%V": "24.10.7", "%v": "24.10.7", "%d": "openwrt", "%R": "r0-b40dfac0a3",
                   "%C": "lab", "%S": "x86/64", "%A": "x86_64", "%t": "", "%u": "https://openwrt.org/",
                   "%b": "https://github.com/openwrt/openwrt/issues", "%s": "https://forum.openwrt.org/",
                   "%M": "OpenWrt lab router"}
# users and groups the packages add (their Makefiles' USERID)
USERS = (("ubus", 81), ("logd", 514), ("dnsmasq", 453))
# init scripts that are part of base-files but act on hardware the lab routers do not have, or on
# the host's clock
NOT_INSTALLED_INIT = ("sysfixtime", "led", "gpio_switch")
# busybox applets left out: they would change the host (clock, modules, kernel log, swap, consoles)
# or duplicate an OpenWrt program (logread is ubox's, syslogd is logd)
NO_APPLETS = {
    "adjtimex", "hwclock", "rdate", "ntpd", "insmod", "rmmod", "modprobe", "depmod", "modinfo", "klogd",
    "syslogd", "logread", "dmesg", "swapon", "swapoff", "mkswap", "watchdog", "devmem", "i2cdetect", "i2cdump",
    "i2cget", "i2cset", "i2ctransfer", "mdev", "uevent", "chvt", "deallocvt", "openvt", "loadkmap", "loadfont",
    "setkeycodes", "setconsole", "freeramdisk", "blkdiscard", "fdisk", "mke2fs", "mkdosfs", "partprobe",
    "fsfreeze", "fstrim", "losetup", "init", "linuxrc", "run-init", "switch_root", "acpid", "microcom",
    "getty", "nuke", "resume", "dumpkmap", "fbset",
}
DEBIAN_PROGRAMS = {  # host path -> path in the image
    "/usr/sbin/keepalived": "/usr/sbin/keepalived",
    "/usr/sbin/conntrackd": "/usr/sbin/conntrackd",
    "/usr/sbin/conntrack": "/usr/sbin/conntrack",
    "/usr/sbin/dnsmasq": "/usr/sbin/dnsmasq",
    "/usr/sbin/dropbear": "/usr/sbin/dropbear",
    "/usr/bin/dbclient": "/usr/bin/dbclient",
    "/usr/bin/dropbearkey": "/usr/bin/dropbearkey",
    "/usr/sbin/nft": "/usr/sbin/nft",
    "/bin/busybox": "/bin/busybox",
    "/usr/bin/flock": "/usr/bin/flock",
}
DEBIAN_PACKAGES = ("keepalived", "conntrackd", "conntrack", "dnsmasq-base", "dropbear-bin", "nftables", "busybox",
                   "util-linux", "libc6")
SYSTEM_PYTHON = "/usr/bin/python3"
INIT_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"  # OpenWrt's TARGET_INIT_PATH
# not part of OpenWrt's python3-light, nor any subpackage ha-pair could declare
PYTHON_NEVER = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "pydoc_data", "site-packages",
                "dist-packages", "sitecustomize.py", "__phello__", "turtle.py", "EXTERNALLY-MANAGED"}
NOOP = """#!/bin/sh
# lab router: {why}
exit 0
"""


class RomUnavailable(Exception):
    """Something the image needs is missing on this machine."""


# --- the cache -------------------------------------------------------------------------------

def rom() -> Path:
    """The image, built unless the cache holds one for exactly these inputs. Builds the OpenWrt
    components first (tests/vendor); raises vendor.Unavailable/BuildFailed or RomUnavailable."""
    for name in ROUTER_COMPONENTS:
        vendor.build(name)
    key = _key()
    target = ROMS / f"rom-{key}"
    if (target / ".complete").exists():
        return target
    ROMS.mkdir(parents=True, exist_ok=True)
    with open(ROMS / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            for old in ROMS.glob("rom-*"):
                shutil.rmtree(old, ignore_errors=True)
            work = Path(tempfile.mkdtemp(prefix="assemble-", dir=ROMS))
            try:
                assemble(work)
                (work / ".complete").write_text(key + "\n")
                os.replace(work, target)
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                raise
    return target


def _key() -> str:
    parts = [str(VERSION), Path(__file__).read_text(), *python_light_blocked()]
    for name in ROUTER_COMPONENTS:
        stamp = vendor.BUILD / "stamps" / name
        parts.append(f"{name}={stamp.read_text().strip() if stamp.exists() else '-'}")
    versions = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n", *DEBIAN_PACKAGES],
                              capture_output=True, text=True)
    parts.append(versions.stdout)
    parts.append(os.path.realpath(SYSTEM_PYTHON))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


# --- assembly --------------------------------------------------------------------------------

class Image:
    """A directory being filled as an OpenWrt root file system."""

    def __init__(self, root: Path, below: Path | None = None) -> None:
        self.root = root
        self.below = below  # an image this tree is a layer above: libraries it holds are not copied
        self.libraries: set[str] = set()

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def copy(self, source: Path, inside: str, mode: int | None = None) -> Path:
        target = self.path(inside)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        shutil.copy2(source, target)
        if mode is not None:
            target.chmod(mode)
        return target

    def copy_tree(self, source: Path, inside: str, skip: tuple[str, ...] = ()) -> None:
        for item in sorted(source.rglob("*")):
            relative = item.relative_to(source)
            if any(str(relative) == s or str(relative).startswith(s + "/") for s in skip):
                continue
            target = self.path(inside) / relative
            if item.is_symlink():
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_symlink() or target.exists():
                    target.unlink()
                target.symlink_to(os.readlink(item))
            elif item.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                self.copy(item, str(Path(inside) / relative))

    def link(self, target: str, inside: str) -> None:
        """A symlink; an absolute target is made relative, so that the link resolves the same
        when the tree is looked at from outside the router (through /proc/PID/root)."""
        where = self.path(inside)
        where.parent.mkdir(parents=True, exist_ok=True)
        if where.is_symlink() or where.exists():
            where.unlink()
        if target.startswith("/"):
            target = os.path.relpath(target, os.path.dirname("/" + inside.lstrip("/")))
        where.symlink_to(target)

    def write(self, inside: str, text: str, mode: int = 0o644) -> None:
        target = self.path(inside)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)

    def program(self, source: Path, inside: str) -> None:
        """An executable and the shared libraries it needs from the host (at their host paths,
        which the dynamic loader searches by default); the stage's own libraries are placed by
        their components."""
        self.copy(source, inside, 0o755)
        self.needs(source)

    def needs(self, binary: Path) -> None:
        listing = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
        if listing.returncode != 0 and "not a dynamic executable" not in listing.stdout + listing.stderr:
            raise RomUnavailable(f"ldd {binary}: {listing.stderr.strip()}")
        for line in listing.stdout.splitlines():
            words = line.split()
            if "not found" in line:
                raise RomUnavailable(f"{binary} needs {words[0]}, which this machine does not have")
            if "=>" in words and words[-1].startswith("("):
                path = words[words.index("=>") + 1]
            elif words and words[0].startswith("/"):
                path = words[0]  # the dynamic loader itself
            else:
                continue
            if path.startswith(str(vendor.STAGE)) or path in self.libraries \
                    or (self.below is not None and (self.below / path.lstrip("/")).exists()):
                continue
            self.libraries.add(path)
            self.copy(Path(path), path)


def assemble(root: Path) -> None:
    image = Image(root)
    skeleton(image)
    openwrt_files(image)
    openwrt_programs(image)
    debian_programs(image)
    python(image)
    users(image)
    enable_services(image)


def skeleton(image: Image) -> None:
    image.root.chmod(0o755)  # the overlay's / takes this mode: services run as ubus, logd, dnsmasq
    for directory in ("bin", "sbin", "lib", "usr/bin", "usr/sbin", "usr/lib", "usr/libexec", "usr/share", "etc/config",
                      "etc/rc.d", "etc/uci-defaults", "dev", "proc", "sys", "tmp", "root", "overlay", "rom", "mnt",
                      "www"):
        image.path(directory).mkdir(parents=True, exist_ok=True)
    image.path("tmp").chmod(0o1777)
    image.path("root").chmod(0o700)
    image.link("tmp", "var")  # relative, as OpenWrt's image has it


def openwrt_files(image: Image) -> None:
    files = vendor.STAGE / "share/openwrt/files-24.10.7"
    base = files / "base-files/files"
    skip = tuple(f"etc/init.d/{name}" for name in NOT_INSTALLED_INIT)
    image.copy_tree(base, "/", skip=skip)
    # what base-files' Makefile fills in at build time
    for name in ("etc/openwrt_release", "usr/lib/os-release", "etc/openwrt_version", "etc/banner"):
        path = image.path(name)
        text = path.read_text()
        for placeholder, value in OPENWRT_RELEASE.items():
            text = text.replace(placeholder, value)
        path.write_text(text)
    for name in ("sbin/hotplug-call", "etc/profile", "etc/preinit"):
        path = image.path(name)
        path.write_text(path.read_text().replace("%PATH%", INIT_PATH))
    # no console: procd would otherwise start a login on the host's console device
    image.write("/etc/inittab", "::sysinit:/etc/init.d/rcS S boot\n::shutdown:/etc/init.d/rcS K shutdown\n")
    # a device without wifi sleeps 1 s in /etc/init.d/boot ("compat for bcm47xx"): not here
    image.write("/etc/config/wireless", "")
    image.write("/sbin/udevtrigger", NOOP.format(why="no uevents are replayed: /sys is the host's kernel"), 0o755)
    image.write("/sbin/kmodloader", NOOP.format(why="kernel modules belong to the host's kernel"), 0o755)

    procd = files / "system/procd/files"
    image.copy(procd / "procd.sh", "/lib/functions/procd.sh")
    image.copy(procd / "reload_config", "/sbin/reload_config", 0o755)
    image.copy(procd / "service", "/sbin/service", 0o755)
    for json_file in ("hotplug.json", "hotplug-preinit.json"):
        image.copy(procd / json_file, f"/etc/{json_file}")
    image.copy(files / "system/uci/files/lib/config/uci.sh", "/lib/config/uci.sh")
    ubox = files / "system/ubox/files"
    image.copy(ubox / "log.init", "/etc/init.d/log", 0o755)
    image.copy(ubox / "logd.json", "/usr/share/acl.d/logd.json")

    image.copy_tree(files / "network/config/netifd/files", "/")
    image.path("etc/udhcpc.user.d").mkdir(parents=True, exist_ok=True)
    netifd = vendor.STAGE / "share/openwrt/netifd"
    for script in ("utils.sh", "netifd-proto.sh"):
        image.copy(netifd / "scripts" / script, f"/lib/netifd/{script}")
    for ucode_file in (netifd / "ucode").iterdir():
        image.copy(ucode_file, f"/lib/netifd/{ucode_file.name}")

    dnsmasq = files / "network/services/dnsmasq/files"
    image.copy(dnsmasq / "dhcp.conf", "/etc/config/dhcp")
    image.copy(dnsmasq / "dnsmasq.conf", "/etc/dnsmasq.conf")
    image.copy(dnsmasq / "dnsmasq.init", "/etc/init.d/dnsmasq", 0o755)
    for hotplug in ("dhcp", "neigh", "ntp", "tftp"):
        image.path(f"etc/hotplug.d/{hotplug}").mkdir(parents=True, exist_ok=True)
    image.copy(dnsmasq / "dnsmasqsec.hotplug", "/etc/hotplug.d/ntp/25-dnsmasqsec")
    image.copy(dnsmasq / "dhcpbogushostname.conf", "/usr/share/dnsmasq/dhcpbogushostname.conf")
    image.copy(dnsmasq / "rfc6761.conf", "/usr/share/dnsmasq/rfc6761.conf")
    image.copy(dnsmasq / "dhcp-script.sh", "/usr/lib/dnsmasq/dhcp-script.sh", 0o755)
    image.copy(dnsmasq / "dnsmasq_acl.json", "/usr/share/acl.d/dnsmasq_acl.json")
    for default in ("50-dnsmasq-migrate-resolv-conf-auto.sh", "50-dnsmasq-migrate-ipset.sh"):
        image.copy(dnsmasq / default, f"/etc/uci-defaults/{default}", 0o755)

    dropbear = files / "network/services/dropbear/files"
    image.copy(dropbear / "dropbear.config", "/etc/config/dropbear")
    image.copy(dropbear / "dropbear.init", "/etc/init.d/dropbear", 0o755)
    image.path("etc/dropbear").mkdir(parents=True, exist_ok=True)
    image.copy(dropbear / "dropbear.failsafe", "/lib/preinit/99_10_failsafe_dropbear")
    image.copy(dropbear / "dropbear.defaults", "/etc/uci-defaults/50-dropbear")
    # Debian's dropbear reads root's ~/.ssh/authorized_keys, OpenWrt's /etc/dropbear/authorized_keys
    image.path("root/.ssh").mkdir(parents=True, exist_ok=True)
    image.path("root/.ssh").chmod(0o700)
    image.link("../../etc/dropbear/authorized_keys", "/root/.ssh/authorized_keys")

    odhcpd = files / "network/services/odhcpd/files"
    image.copy(odhcpd / "odhcpd-update", "/usr/sbin/odhcpd-update", 0o755)
    image.copy(odhcpd / "odhcpd.init", "/etc/init.d/odhcpd", 0o755)
    image.copy(odhcpd / "odhcpd.defaults", "/etc/uci-defaults/15_odhcpd", 0o755)

    image.copy_tree(vendor.STAGE / "share/openwrt/firewall4", "/")


def openwrt_programs(image: Image) -> None:
    stage = vendor.STAGE
    for library in ("libubox.so", "libblobmsg_json.so", "libjson_script.so", "libubus.so", "libuci.so",
                    "libudebug.so", "libsetlbf.so", "libvalidate.so"):
        image.copy(stage / "lib" / library, f"/lib/{library}")
    for library in ("libnl-tiny.so", "libnl-tiny.so.1", "libucode.so", "libucode.so.0"):
        image.copy(stage / "lib" / library, f"/usr/lib/{library}")
    for module in sorted((stage / "lib/ucode").glob("*.so")):
        image.copy(module, f"/usr/lib/ucode/{module.name}")
    for source, inside in (("sbin/procd", "/sbin/procd"), ("sbin/askfirst", "/sbin/askfirst"),
                           ("sbin/ubusd", "/sbin/ubusd"), ("bin/ubus", "/bin/ubus"), ("bin/uci", "/sbin/uci"),
                           ("sbin/logd", "/sbin/logd"), ("sbin/logread", "/usr/libexec/logread-ubox"),
                           ("sbin/validate_data", "/sbin/validate_data"), ("bin/jsonpath", "/usr/bin/jsonfilter"),
                           ("bin/jshn", "/usr/bin/jshn"), ("sbin/netifd", "/sbin/netifd"),
                           ("sbin/odhcpd", "/usr/sbin/odhcpd"), ("bin/ucode", "/usr/bin/ucode")):
        image.program(stage / source, inside)
    image.link("/usr/libexec/logread-ubox", "/sbin/logread")
    image.link("ucode", "/usr/bin/utpl")
    image.copy(stage / "share/libubox/jshn.sh", "/usr/share/libubox/jshn.sh")


def debian_programs(image: Image) -> None:
    for host, inside in DEBIAN_PROGRAMS.items():
        if not os.access(host, os.X_OK):
            raise RomUnavailable(f"{host} is not installed (`make test` installs it)")
        image.program(Path(host), inside)
    applets = subprocess.run(["/bin/busybox", "--list-full"], capture_output=True, text=True, check=True)
    for path in applets.stdout.split():
        name = path.rsplit("/", 1)[-1]
        if name in NO_APPLETS or image.path(path).is_symlink() or image.path(path).exists():
            continue
        image.link("/bin/busybox", f"/{path}")
    image.link("/bin/busybox", "/bin/sh")  # OpenWrt's scripts need ash (dash has no `export -n`)
    image.link("/bin/busybox", "/bin/ash")


def python_light_blocked() -> list[str]:
    """Standard library modules that are neither in python3-light nor in a subpackage the feed
    Makefile declares (the list the unit test tests/unit/test_openwrt_package.py checks against)."""
    from tests.unit.test_openwrt_package import NOT_IN_LIGHT, variable

    declared = {d.lstrip("+") for d in variable("DEPENDS").split() if d.startswith("+python3-")}
    return sorted(module for module, package in NOT_IN_LIGHT.items() if package not in declared)


def python(image: Image) -> None:
    """The system python3 with the standard library cut down to what a router with python3-light
    and ha-pair's declared subpackages has. Modules compiled into the interpreter (unicodedata
    is, on Debian) cannot be removed."""
    executable = Path(os.path.realpath(SYSTEM_PYTHON))
    info = subprocess.run([str(executable), "-c", "import sys, sysconfig; "
                           "print(sysconfig.get_paths()['stdlib']); print(sys.implementation.cache_tag)"],
                          capture_output=True, text=True)
    if info.returncode != 0:
        raise RomUnavailable(f"{SYSTEM_PYTHON} does not run: {info.stderr.strip()}")
    stdlib, _tag = info.stdout.split()
    image.program(executable, str(executable))
    image.link(executable.name, "/usr/bin/python3")
    blocked = set(python_light_blocked()) | {"_" + m for m in python_light_blocked()}
    dynload_blocked = blocked | {"_ctypes_test", "_testbuffer", "_testcapi", "_testclinic", "_testimportmultiple",
                                 "_testinternalcapi", "_testmultiphase", "_xxtestfuzz", "xxlimited", "xxlimited_35",
                                 "_xxsubinterpreters", "_tkinter", "_curses_panel", "_gdbm", "_codecs_cn",
                                 "_codecs_hk", "_codecs_iso2022", "_codecs_jp", "_codecs_kr", "_codecs_tw",
                                 "_multibytecodec", "_dbm", "nis", "ossaudiodev", "audioop", "_crypt"}
    source = Path(stdlib)
    for item in sorted(source.iterdir()):
        stem = item.name.split(".")[0]
        if item.name in PYTHON_NEVER or stem in blocked or item.name.startswith("config-"):
            continue
        if item.name == "lib-dynload":
            for module in sorted(item.iterdir()):
                if module.name.split(".")[0] not in dynload_blocked:
                    image.program(module, str(module))
            continue
        if item.name == "__pycache__":
            for cached in sorted(item.iterdir()):
                if cached.name.split(".")[0] not in blocked and cached.name.split(".")[0] + ".py" not in PYTHON_NEVER:
                    image.copy(cached, str(cached))
            continue
        if item.is_symlink():
            continue
        if item.is_dir():
            image.copy_tree(item, str(item))
        else:
            image.copy(item, str(item))


def users(image: Image) -> None:
    passwd, group, shadow = (image.path(f"etc/{n}") for n in ("passwd", "group", "shadow"))
    for name, number in USERS:
        passwd.write_text(passwd.read_text() + f"{name}:*:{number}:{number}:{name}:/var/run/{name}:/bin/false\n")
        group.write_text(group.read_text() + f"{name}:x:{number}:\n")
        shadow.write_text(shadow.read_text() + f"{name}:*:0:0:99999:7:::\n")


def enable_services(image: Image) -> None:
    """rc.d links for every init script, as an image build makes them (rc.common `enable`)."""
    for script in sorted(image.path("etc/init.d").iterdir()):
        enable(image.root, script.name)


def add_programs(flash: Path, image: Path, programs: dict[str, str]) -> None:
    """Host programs (host path -> path in the router) put into a router's flash with the shared
    libraries they need that the image lacks, as installing a package would add them (for
    LabOptions.installs)."""
    layer = Image(flash, below=image)
    for host, inside in programs.items():
        if not os.access(host, os.X_OK):
            raise RomUnavailable(f"{host} is not installed")
        layer.program(Path(host), inside)


def enable(root: Path, name: str) -> None:
    """What `/etc/init.d/NAME enable` does, done from outside the router (as opkg does with
    IPKG_INSTROOT): S<START>NAME and K<STOP>NAME links in /etc/rc.d."""
    text = (root / "etc/init.d" / name).read_text()
    rc_d = root / "etc/rc.d"
    rc_d.mkdir(parents=True, exist_ok=True)
    for kind, letter in (("START", "S"), ("STOP", "K")):
        match = re.search(rf"^{kind}=(\d+)\s*$", text, re.M)
        if match:
            link = rc_d / f"{letter}{match.group(1)}{name}"
            if link.is_symlink():
                link.unlink()
            link.symlink_to(f"../init.d/{name}")


def main() -> int:
    print(rom())
    return 0


if __name__ == "__main__":
    sys.exit(main())
