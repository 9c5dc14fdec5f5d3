"""OpenWrt's packaging machinery: the package managers and the two minimal buildroots.

- `opkg`: opkg-lede as OpenWrt 24.10.7 builds it for the host (package/system/opkg, with libubox
  49056d1 linked statically, the libubox that release pins); installed as stage/bin/opkg.
- `apk`: apk-tools 3.0.5 with OpenWrt 25.12.5's patches and meson options (package/system/apk);
  installed as stage/bin/apk.
- `openwrt-24.10`, `openwrt-25.12`: a minimal buildroot of each release (include/, scripts/,
  package/base-files, ... with the release's default target), with a luci feed holding only
  LuCI's luci.mk, prepared with `make defconfig`. Package builds happen in tests/package/build.py.

Facts (options, what the trees hold, what the host needs) are from the vendor folder's
packaging-kit.md; the steps here are ours.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import BUILD, Context, Source, Unavailable, recipe, vendor_file

GIT = "https://git.openwrt.org/project"
OPENWRT_GIT = "https://git.openwrt.org/openwrt/openwrt.git"
LUCI_GIT = "https://github.com/openwrt/luci.git"

LIBUBOX_OPKG = Source("libubox-49056d1.tar.gz", "49056d178f42da98048a5d4c23f83a6f6bc6dd80", f"{GIT}/libubox.git")
OPKG = Source("opkg-lede-38eccbb.tar.gz", "38eccbb1fd694d4798ac1baf88f9ba83d1eac616", f"{GIT}/opkg-lede.git")
OPKG_VERSION = "38eccbb1fd694d4798ac1baf88f9ba83d1eac616 (2024-10-16)"  # as OpenWrt's Makefile sets it
APK_TOOLS = Source("apk-tools-3.0.5.tar.gz", "b5a31c0d865342ad80be10d68f1bb3d3ad9b0866",
                   "https://gitlab.alpinelinux.org/alpine/apk-tools.git")
# package/system/apk of OpenWrt v25.12.5: its patches/ and Makefile
APK_PATCHES = Source("openwrt-apk-patches-v25.12.5.tar.gz", "f0a60eee2fe051741c643ea6118718aae1ef17fb", OPENWRT_GIT)


@dataclass(frozen=True)
class Release:
    """One OpenWrt release as the package tests use it."""

    name: str  # recipe name, e.g. openwrt-24.10
    series: str  # 24.10
    tag: str  # v24.10.7
    buildroot: Source
    luci_mk: str  # vendor file name luci.mk-<commit>
    luci_commit: str
    manager: str  # opkg | apk
    arch: str  # the default target's package architecture (CONFIG_TARGET_ARCH_PACKAGES)

    @property
    def tree(self) -> Path:
        """The prepared buildroot (valid once `require(self.name)` has run)."""
        return BUILD / "src" / self.name / f"openwrt-{self.tag}"

    @property
    def luci_feed(self) -> Path:
        return BUILD / "src" / self.name / "luci-feed"

    @property
    def uses_apk(self) -> bool:
        return self.manager == "apk"


RELEASES = {
    "24.10": Release(
        "openwrt-24.10", "24.10", "v24.10.7",
        Source("openwrt-buildroot-v24.10.7-min.tar.gz", "b40dfac0a31695596f7c1f5f1519302ca8237f6e", OPENWRT_GIT),
        "luci.mk-b1968d9cdd64", "b1968d9cdd6425821553138e0487df8840785afa", "opkg", "mips_24kc"),
    "25.12": Release(
        "openwrt-25.12", "25.12", "v25.12.5",
        Source("openwrt-buildroot-v25.12.5-min.tar.gz", "f0a60eee2fe051741c643ea6118718aae1ef17fb", OPENWRT_GIT),
        "luci.mk-2f30690fe019", "2f30690fe019d6caf8f51d49d56c28df32b80932", "apk", "aarch64_cortex-a53"),
}


def stage_tool(name: str) -> Path:
    from . import STAGE
    return STAGE / "bin" / name


@recipe("opkg", (LIBUBOX_OPKG, OPKG), tools=("cmake",))
def opkg(ctx: Context) -> None:
    # libubox 49056d1 goes to a private prefix: the stage holds the newer libubox of base.py
    host = ctx.work / "host"
    ubox_src, opkg_src = ctx.sources[LIBUBOX_OPKG.archive], ctx.sources[OPKG.archive]
    jobs = f"-j{os.cpu_count() or 1}"
    ctx.run("cmake", "-S", ubox_src, "-B", ctx.work / "build-libubox", "-DBUILD_LUA=OFF", "-DBUILD_EXAMPLES=OFF",
            f"-DCMAKE_INSTALL_PREFIX={host}")
    ctx.run("make", "-C", ctx.work / "build-libubox", jobs, "install")
    # OpenWrt's CMAKE_HOST_OPTIONS for opkg; the include path is needed as well (blob.h)
    ctx.run("cmake", "-S", opkg_src, "-B", ctx.work / "build-opkg", f"-DCMAKE_PREFIX_PATH={host}",
            f"-DCMAKE_C_FLAGS=-I{host}/include", "-DSTATIC_UBOX=ON", "-DBUILD_TESTS=OFF",
            "-DHOST_CPU=mips_24kc", "-DLOCK_FILE=/tmp/opkg.lock", f"-DVERSION={OPKG_VERSION}")
    ctx.run("make", "-C", ctx.work / "build-opkg", jobs)
    target = ctx.stage / "bin" / "opkg"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ctx.work / "build-opkg" / "src" / "opkg-cl", target)


@recipe("apk", (APK_TOOLS, APK_PATCHES), tools=("meson", "ninja", "lua5.1", "patch"))
def apk(ctx: Context) -> None:
    source, patches = ctx.sources[APK_TOOLS.archive], ctx.sources[APK_PATCHES.archive]
    for patch in sorted((patches / "package/system/apk/patches").glob("*.patch")):
        ctx.run("patch", "-p1", "-d", source, "-i", patch)
    env = {"VERSION": "3.0.5"}
    # OpenWrt's MESON_HOST_ARGS
    ctx.run("meson", "setup", ctx.work / "build-apk", source, "-Db_lto=true", "-Ddocs=disabled",
            "-Dhelp=enabled", "-Dlua_version=5.1", "-Ddefault_library=static", "-Durl_backend=wget",
            "-Dzstd=disabled", "-Dpython=disabled", "-Dtests=disabled", "-Dcrypto_backend=openssl", env=env)
    ctx.run("ninja", "-C", ctx.work / "build-apk", f"-j{os.cpu_count() or 1}", env=env)
    target = ctx.stage / "bin" / "apk"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ctx.work / "build-apk" / "src" / "apk", target)


def _luci_mk(release: Release, into: Path) -> None:
    """LuCI's luci.mk: the vendor folder's copy, else the file at the same commit upstream."""
    local = vendor_file(release.luci_mk)
    if local is not None:
        shutil.copy2(local, into)
        return
    clone = into.parent / "luci-git"
    steps = [["git", "init", "-q", str(clone)],
             ["git", "-C", str(clone), "fetch", "-q", "--depth", "1", LUCI_GIT, release.luci_commit]]
    for step in steps:
        if shutil.which("git") is None or subprocess.run(step, capture_output=True, timeout=600).returncode:
            raise Unavailable(f"{release.luci_mk}: not in the vendor folder and {LUCI_GIT} is not reachable")
    text = subprocess.run(["git", "-C", str(clone), "show", "FETCH_HEAD:luci.mk"], capture_output=True, check=True).stdout
    into.write_bytes(text)
    shutil.rmtree(clone)


def _prepare_buildroot(ctx: Context, release: Release) -> None:
    tree = ctx.sources[release.buildroot.archive]
    if tree != release.tree:  # an upstream clone is named after the archive
        tree.rename(release.tree)
    release.luci_feed.mkdir(parents=True)
    _luci_mk(release, release.luci_feed / "luci.mk")
    (release.tree / "feeds.conf").write_text(f"src-link luci {release.luci_feed}\n")
    (release.tree / ".config").write_text("")
    # defconfig runs the prerequisite checks and makes staging_dir/host/bin (tool links, mkhash)
    ctx.run("make", "defconfig", cwd=release.tree)
    host_bin = release.tree / "staging_dir" / "host" / "bin"
    # what an SDK has prebuilt (tools/, the apk host package): Debian's fakeroot and openssl (25.12
    # signs with it), the apk built here
    (host_bin / "fakeroot").symlink_to(shutil.which("fakeroot") or "/usr/bin/fakeroot")
    if release.uses_apk:
        (host_bin / "apk").symlink_to(stage_tool("apk"))
        (host_bin / "openssl").symlink_to(shutil.which("openssl") or "/usr/bin/openssl")


BUILDROOT_TOOLS = ("gawk", "rsync", "unzip", "fakeroot", "bzip2", "patch", "perl", "git", "wget", "file")


@recipe("openwrt-24.10", (RELEASES["24.10"].buildroot,), tools=BUILDROOT_TOOLS, version=2)
def openwrt_24_10(ctx: Context) -> None:
    _prepare_buildroot(ctx, RELEASES["24.10"])


@recipe("openwrt-25.12", (RELEASES["25.12"].buildroot,), deps=("apk",), tools=BUILDROOT_TOOLS + ("openssl",),
        version=2)
def openwrt_25_12(ctx: Context) -> None:
    _prepare_buildroot(ctx, RELEASES["25.12"])

