"""OpenWrt's router userspace: procd, ubox (logd, validate_data), jsonfilter, udebug, libnl-tiny,
ucode, netifd, odhcpd and firewall4, plus OpenWrt 24.10.7's router-side files.

What the lab's routers run (tests/lab/rootfs.py puts them where OpenWrt does). Build facts from
../shared/vendor/openwrt/router-userspace.md and odhcpd.md: no source is changed except netifd's
bridge creation (see `netifd`). Paths compiled into the programs are the router's own
(/lib/netifd, /usr/lib/ucode, ...): these builds run inside a router tree, not on the host.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from . import Context, Source, recipe

GIT = "https://git.openwrt.org/project"

UDEBUG = Source("udebug-875e1a7af6ca.tar.gz", "875e1a7af6ca9d86524d18169c3a79f4a1920053", f"{GIT}/udebug.git")
LIBNL_TINY = Source("libnl-tiny-feca1d341d4b.tar.gz", "feca1d341d4baa9579ec62762672aa0f20edf564",
                    f"{GIT}/libnl-tiny.git")
UCODE = Source("ucode-81205a25437a.tar.gz", "81205a25437a83e3b9e1eb55ac169be84453d53b", "https://github.com/jow-/ucode.git")
PROCD = Source("procd-2c1834abae17.tar.gz", "2c1834abae171261f2d9161e5a28c36cbcc394a4", f"{GIT}/procd.git")
UBOX = Source("ubox-85f1053019ca.tar.gz", "85f1053019caf4cd333795760950235ee4529ba7", f"{GIT}/ubox.git")
JSONPATH = Source("jsonpath-afe72ad6414e.tar.gz", "afe72ad6414e0faedd3d780d9328e514b0083cae", f"{GIT}/jsonpath.git")
NETIFD = Source("netifd-c6122254eb70.tar.gz", "c6122254eb7003377b67a6ad14d284b69725bbee", f"{GIT}/netifd.git")
ODHCPD = Source("odhcpd-68f382690bfa.tar.gz", "68f382690bfaec56d5b1f31c3c31c48bcb642e3a", f"{GIT}/odhcpd.git")
FIREWALL4 = Source("firewall4-b6e5157527d3.tar.gz", "b6e5157527d361f99ad52eaa6da273cb0f2dfd59", f"{GIT}/firewall4.git")
# the files OpenWrt's packages install beside their programs (init scripts, base-files, ...)
OPENWRT_FILES = Source("openwrt-v24.10.7-router-files.tar.gz", "b40dfac0a31695596f7c1f5f1519302ca8237f6e",
                       "https://git.openwrt.org/openwrt/openwrt.git")

# glibc 2.36 has no strlcpy (procd uses it); a definition that needs no other header
STRLCPY_H = """#include <stddef.h>
static inline size_t strlcpy(char *dst, const char *src, size_t size)
{
\tsize_t len = __builtin_strlen(src);
\tif (size) {
\t\tsize_t n = len >= size ? size - 1 : len;
\t\t__builtin_memcpy(dst, src, n);
\t\tdst[n] = 0;
\t}
\treturn len;
}
"""


def copy_tree(ctx: Context, source: Path, name: str) -> Path:
    """Install a tree of files (no build) under stage/share/openwrt/NAME."""
    target = ctx.stage / "share" / "openwrt" / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, symlinks=True)
    return target


@recipe("udebug", (UDEBUG,), deps=("ubus",))
def udebug(ctx: Context) -> None:
    # only the library (procd, logd and netifd link it); udebug's CMakeLists wants ucode headers
    # for its ucode module, which nothing here needs
    lib = ctx.stage / "lib" / "libudebug.so"
    ctx.run("cc", "-O2", "-fPIC", "-shared", "-fwrapv", f"-I{ctx.stage}/include", "-o", lib,
            ctx.src / "lib.c", ctx.src / "lib-pcap.c", f"-L{ctx.stage}/lib", f"-Wl,-rpath,{ctx.stage}/lib",
            "-lubox", "-lubus")
    for header in ("udebug.h", "udebug-pcap.h"):
        shutil.copy2(ctx.src / header, ctx.stage / "include" / header)


@recipe("libnl-tiny", (LIBNL_TINY,))
def libnl_tiny(ctx: Context) -> None:
    ctx.cmake(ctx.src)


@recipe("ucode", (UCODE,), deps=("libubox", "ubus", "uci", "libnl-tiny"))
def ucode(ctx: Context) -> None:
    # modules and fw4 are searched where OpenWrt installs them, not in the stage
    ctx.cmake(ctx.src, "-DNL80211_SUPPORT=OFF", "-DRTNL_SUPPORT=ON", "-DUBUS_SUPPORT=ON", "-DUCI_SUPPORT=ON",
              "-DULOOP_SUPPORT=ON", "-DZLIB_SUPPORT=OFF", "-DDIGEST_SUPPORT=OFF", "-DDEBUG_SUPPORT=OFF",
              "-DLIB_SEARCH_PATH=/usr/lib/ucode/*.so:/usr/share/ucode/*.uc:./*.so:./*.uc",
              c_flags=f"-I{ctx.stage}/include/libnl-tiny")


@recipe("procd", (PROCD,), deps=("libubox", "ubus", "udebug"))
def procd(ctx: Context) -> None:
    compat = ctx.work / "strlcpy.h"
    compat.write_text(STRLCPY_H)
    ctx.cmake(ctx.src, "-DEARLY_PATH=/usr/sbin:/usr/bin:/sbin:/bin", "-DSECCOMP_SUPPORT=OFF",
              "-DJAIL_SUPPORT=OFF", "-DUTRACE_SUPPORT=OFF",
              c_flags=f"-Wno-error=format-overflow -include {compat}")


@recipe("ubox", (UBOX,), deps=("libubox", "ubus", "uci", "udebug"))
def ubox(ctx: Context) -> None:
    ctx.cmake(ctx.src)


@recipe("jsonpath", (JSONPATH,), deps=("libubox",))
def jsonpath(ctx: Context) -> None:
    # in-tree: the build runs ./contrib/lemon relative to the build directory
    ctx.cmake(ctx.src, build_dir=ctx.src)


@recipe("netifd", (NETIFD,), deps=("libubox", "ubus", "uci", "ucode", "udebug", "libnl-tiny"), version=1)
def netifd(ctx: Context) -> None:
    # netifd always sends IFLA_BR_VLAN_FILTERING when it creates a bridge; a kernel without bridge
    # VLAN filtering refuses the whole request ("Error adding bridge: -10"). Send it only when
    # VLAN filtering is configured (OpenWrt's default is off).
    source = ctx.src / "system-linux.c"
    text = source.read_text()
    always = "\tnla_put_u8(msg, IFLA_BR_VLAN_FILTERING, !!cfg->vlan_filtering);\n"
    if text.count(always) != 1:
        raise RuntimeError("netifd: the IFLA_BR_VLAN_FILTERING line moved; recheck the bridge change")
    source.write_text(text.replace(always, "\tif (cfg->vlan_filtering)\n\t" + always.lstrip("\t")))
    # in-tree (a build step runs ./make_ethtool_modes_h.sh); glibc hides vasprintf without
    # _GNU_SOURCE, and a value for it clashes with handler.c's own define under -Werror
    ctx.cmake(ctx.src, "-DLIBNL_LIBS=nl-tiny", build_dir=ctx.src,
              c_flags=f"-D_GNU_SOURCE= -I{ctx.stage}/include/libnl-tiny")
    target = ctx.stage / "share" / "openwrt" / "netifd"
    shutil.rmtree(target, ignore_errors=True)
    (target / "ucode").mkdir(parents=True)
    shutil.copytree(ctx.src / "scripts", target / "scripts")
    for name in ("main.uc", "utils.uc", "proto.uc", "proto-ucode.uc"):
        shutil.copy2(ctx.src / "examples" / name, target / "ucode" / name)


@recipe("odhcpd", (ODHCPD,), deps=("libubox", "ubus", "uci", "libnl-tiny"))
def odhcpd(ctx: Context) -> None:
    # GCC 12 -Os warns about a use guarded by first_key_valid (odhcpd.md)
    ctx.cmake(ctx.src, "-DDHCPV4_SUPPORT=ON", "-DUBUS=ON",
              c_flags=f"-Wno-error=maybe-uninitialized -I{ctx.stage}/include/libnl-tiny")


@recipe("firewall4", (FIREWALL4,))
def firewall4(ctx: Context) -> None:
    # ucode scripts only: installed as they are (OpenWrt's package copies root/*)
    copy_tree(ctx, ctx.src / "root", "firewall4")


@recipe("openwrt-files", (OPENWRT_FILES,))
def openwrt_files(ctx: Context) -> None:
    copy_tree(ctx, ctx.src / "package", "files-24.10.7")


ROUTER_COMPONENTS = ("libubox", "ubus", "uci", "udebug", "libnl-tiny", "ucode", "procd", "ubox", "jsonpath",
                     "netifd", "odhcpd", "firewall4", "openwrt-files")

