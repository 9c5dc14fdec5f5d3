"""OpenWrt's control plane: rpcd, uhttpd and LuCI's client side (luci-base, luci-mod-status,
luci-theme-bootstrap) for the control-plane tests.

- rpcd is built with OpenWrt's prefix /usr, because it compiles its paths in (ACLs from
  /usr/share/rpcd/acl.d, exec plugins from /usr/libexec/rpcd, .so plugins from /usr/lib/rpcd),
  and installed with DESTDIR into stage/rootfs/ laid out as on a router, with the
  unauthenticated.json ACL that OpenWrt's package adds (anyone may call `session login`). Only the `file` plugin
  is built: no iwinfo, no ucode, and never `rpcsys` (reboot, sysupgrade, factory reset).
- uhttpd with the /ubus JSON-RPC plugin and CGI; no TLS, Lua or ucode. GCC 12 needs
  -Wno-error=stringop-overread for a false warning in client.c (no source change).
- LuCI: nothing to compile. The client side of both pinned trees (24.10, as OpenWrt 24.10 users
  run it, and master) is copied into stage/luci/<version>/ with `www/` (htdocs of the three
  modules) and `root/` (their acl.d, menu.d and /etc/config/luci), path for path as the packages
  install them. LuCI's server side (the ucode dispatcher and its C core) is not in the vendored
  archives.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from . import STAGE, Context, Source, recipe
from .base import GIT

RPCD = Source("rpcd-4476687403d8.tar.gz", "4476687403d8c6e988eaa1ecc892e998838e6da9", f"{GIT}/rpcd.git")
UHTTPD = Source("uhttpd-f682ccabee9e.tar.gz", "f682ccabee9ed5f39dd3b0aaf96228975eeb478d", f"{GIT}/uhttpd.git")
LUCI_GIT = "https://github.com/openwrt/luci.git"
LUCI = {
    "24.10": Source("luci-7b0663a55571.tar.gz", "7b0663a5557118499dc3b3d44550efc1b6fa3feb", LUCI_GIT),
    "master": Source("luci-daf2e0bc2bfb.tar.gz", "daf2e0bc2bfbe9e1d594f4f92ce07d005cd4011d", LUCI_GIT),
}
LUCI_PARTS = ("modules/luci-base", "modules/luci-mod-status", "themes/luci-theme-bootstrap")

ROOTFS = STAGE / "rootfs"  # components built with OpenWrt's own paths, as on a router


def luci_tree(version: str) -> Path:
    """stage/luci/<version>: `www/` and `root/` of luci-base, luci-mod-status and the bootstrap theme."""
    return STAGE / "luci" / version


@recipe("rpcd", (RPCD,), deps=("ubus", "uci"), version=2, tools=("pkg-config",))
def rpcd(ctx: Context) -> None:
    build_dir = ctx.work / "build-rpcd"
    ctx.run("cmake", "-S", ctx.src, "-B", build_dir, "-DCMAKE_INSTALL_PREFIX=/usr",
            f"-DCMAKE_PREFIX_PATH={ctx.stage}", f"-DCMAKE_C_FLAGS=-I{ctx.stage}/include",
            f"-DCMAKE_EXE_LINKER_FLAGS=-L{ctx.stage}/lib -Wl,-rpath,{ctx.stage}/lib",
            f"-DCMAKE_MODULE_LINKER_FLAGS=-L{ctx.stage}/lib -Wl,-rpath,{ctx.stage}/lib",
            "-DFILE_SUPPORT=ON", "-DIWINFO_SUPPORT=OFF", "-DRPCSYS_SUPPORT=OFF", "-DUCODE_SUPPORT=OFF")
    ctx.run("make", "-C", build_dir, "-j2")
    shutil.rmtree(ROOTFS / "usr/lib/rpcd", ignore_errors=True)
    ctx.run("make", "-C", build_dir, "install", f"DESTDIR={ROOTFS}")
    # what OpenWrt's rpcd package installs beside: the grant that lets anyone call session login
    acl = ROOTFS / "usr/share/rpcd/acl.d"
    acl.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ctx.src / "unauthenticated.json", acl / "unauthenticated.json")


@recipe("uhttpd", (UHTTPD,), deps=("ubus",))
def uhttpd(ctx: Context) -> None:
    ctx.cmake(ctx.src, "-DTLS_SUPPORT=OFF", "-DLUA_SUPPORT=OFF", "-DUCODE_SUPPORT=OFF", "-DUBUS_SUPPORT=ON",
              c_flags="-Wno-error=stringop-overread")


def _luci(version: str) -> None:
    @recipe(f"luci-{version}", (LUCI[version],))
    def build(ctx: Context) -> None:
        target = luci_tree(version)
        shutil.rmtree(target, ignore_errors=True)
        for part in LUCI_PARTS:
            source = ctx.src / part
            if not source.is_dir():
                raise FileNotFoundError(f"{LUCI[version].archive} has no {part}")
            shutil.copytree(source / "htdocs", target / "www", dirs_exist_ok=True)
            shutil.copytree(source / "root", target / "root", dirs_exist_ok=True)


for _version in LUCI:
    _luci(_version)
