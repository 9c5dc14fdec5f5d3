"""The packages ha-pair depends on (and dnsmasq), as stand-ins built by OpenWrt's own package build.

keepalived and conntrackd reproduce what decides whether OpenWrt's own services run next to
ha-pair's (standins/README.md says which facts, and where they come from); the rest are empty
packages with the right names. Each is built for a release in that release's buildroot, and
keepalived and conntrackd also one release later, for the upgrade sequences.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests import vendor
from tests.package.build import _locked, _run, package_file
from tests.vendor.packaging import Release

HERE = Path(__file__).resolve().parent / "standins"
# Debian's builds of the daemons, shipped inside the stand-ins (as the lab runs them)
BINARIES = {"KEEPALIVED_BINARY": Path("/usr/sbin/keepalived"), "CONNTRACKD_BINARY": Path("/usr/sbin/conntrackd")}

# name -> (version, what it provides, directories it holds): packages without files. luci-base
# has the directories a LuCI app's files go to (with luci-mod-status's view/status/include, which
# a router with LuCI has too): the app leaves them in place when it is removed. dnsmasq (not a
# dependency, but in every OpenWrt image: the lab routers' dnsmasq is no package) holds its
# hotplug directories, which ha-pair adds a file to and leaves in place.
EMPTY = {
    "libc": ("1.2.5", "", ""),
    "python3-light": ("3.11.14", "", ""),
    "python3-ctypes": ("3.11.14", "", ""),
    "nftables-json": ("1.1.1", "nftables", ""),
    "dropbear": ("2024.86", "", ""),
    # kernel packages: the version of OpenWrt 24.10.7's kernel (include/kernel-6.6)
    "kmod-nft-bridge": ("6.6.141", "", ""),
    "kmod-nft-netdev": ("6.6.141", "", ""),
    "luci-base": ("25.001.0", "", "/www/luci-static/resources/view/status/include /usr/share/luci/menu.d "
                  "/usr/share/rpcd/acl.d"),
    "dnsmasq": ("2.90", "", "/etc/hotplug.d/dhcp /etc/hotplug.d/neigh /etc/hotplug.d/ntp /etc/hotplug.d/tftp"),
}
DAEMONS = ("keepalived", "conntrackd")

EMPTY_PACKAGE_MK = """\
# Stand-in for OpenWrt's {name} package: an empty package with its name.
include $(TOPDIR)/rules.mk

PKG_NAME:={name}
PKG_VERSION:={version}
PKG_RELEASE:=1

include $(INCLUDE_DIR)/package.mk

define Package/{name}
  TITLE:={name} (stand-in)
  PROVIDES:={provides}
endef

define Build/Compile
endef

define Package/{name}/install
	$(INSTALL_DIR) $(1) $(addprefix $(1),{directories})
endef

$(eval $(call BuildPackage,{name}))
"""


@dataclass(frozen=True)
class Standins:
    release: Release
    base: dict[str, Path]  # every dependency, as a release ships it
    upgrade: dict[str, Path]  # keepalived and conntrackd, one package release later

    def all_base(self) -> list[Path]:
        return list(self.base.values())


def _key(release: Release) -> str:
    digest = hashlib.sha256((vendor.BUILD / "stamps" / release.name).read_bytes())
    digest.update(Path(__file__).read_bytes())
    for path in sorted(HERE.rglob("*")):
        if path.is_file():
            digest.update(f"{path.relative_to(HERE)}:{path.stat().st_mode & 0o777:o}".encode() + path.read_bytes())
    for binary in BINARIES.values():
        digest.update(binary.read_bytes())
    return digest.hexdigest()[:20]


def _version(release: Release, directory: Path, bump: int) -> str:
    """VERSION as package-pack.mk computes it, read from the stand-in's own Makefile."""
    text = (directory / "package.mk").read_text()
    series = release.series
    if "ifeq ($(STANDIN_SERIES),24.10)" in text:
        first, second = text.split("else", 1)
        text = first if series == "24.10" else second
    version = text.split("PKG_VERSION:=", 1)[1].split()[0]
    pkg_release = int(text.split("PKG_RELEASE:=", 1)[1].split()[0]) + bump
    return f"{version}-r{pkg_release}"


def _build_one(release: Release, directory: Path, name: str, bump: int, out: Path, log: Path) -> Path:
    tree = release.tree
    version = _version(release, directory, bump)
    extra = [f"PKG_RELEASE={version.rsplit('-r', 1)[1]}"] if bump else []
    argv = ["make", "-C", str(directory), "-f", "package.mk", f"TOPDIR={tree}", f"CONFIG_PACKAGE_{name}=m",
            f"STANDIN_SERIES={release.series}", *(f"{var}={path}" for var, path in BINARIES.items()), *extra,
            "compile"]
    wanted = package_file(release, name, version, release.arch)  # like the real ones: not arch all
    for old in (tree / "bin").rglob(wanted):
        old.unlink()
    _run(argv, tree, log)
    (built,) = (tree / "bin").rglob(wanted)
    target = out / wanted
    shutil.copy2(built, target)
    return target


def build(release: Release) -> Standins:
    """The stand-ins for `release` (cached in build/package-tests/<series>/standins)."""
    vendor.build(release.name)
    out = vendor.BUILD.parent / "package-tests" / release.series / "standins"
    key = _key(release)
    record = out / ".built"
    with _locked(release):
        if not (record.exists() and record.read_text().startswith(key + "\n")):
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            sources = out / "src"
            log = vendor.BUILD / "logs" / f"standins-{release.series}.log"
            log.write_text(f"# stand-in packages for {release.tag}\n")
            lines = []
            for name, (version, provides, directories) in EMPTY.items():
                directory = sources / name
                directory.mkdir(parents=True)
                (directory / "package.mk").write_text(EMPTY_PACKAGE_MK.format(
                    name=name, version=version, provides=provides, directories=directories))
                lines.append(f"base {name} {_build_one(release, directory, name, 0, out, log).name}")
            for name in DAEMONS:
                for bump, kind in ((0, "base"), (1, "upgrade")):
                    lines.append(f"{kind} {name} {_build_one(release, HERE / name, name, bump, out, log).name}")
            shutil.rmtree(sources)
            record.write_text(key + "\n" + "\n".join(lines) + "\n")
        base: dict[str, Path] = {}
        upgrade: dict[str, Path] = {}
        for line in record.read_text().splitlines()[1:]:
            kind, name, file = line.split()
            (base if kind == "base" else upgrade)[name] = out / file
        return Standins(release, base, upgrade)
