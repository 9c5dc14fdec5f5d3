"""libubox, ubus and uci: the base every other OpenWrt component builds on.

Options from the vendor README: no Lua, no examples; the libraries stay shared (the agent loads
libubus.so with ctypes, exactly as on a router).
"""

from __future__ import annotations

from . import Context, Source, recipe

GIT = "https://git.openwrt.org/project"

LIBUBOX = Source("libubox-1aa36ee774c8.tar.gz", "1aa36ee774c8db4d7a396903e0d2e1fb79ee8bf1", f"{GIT}/libubox.git")
UBUS = Source("ubus-3cc98db1a422.tar.gz", "3cc98db1a422dcf560f2d6347fd410f17565a89d", f"{GIT}/ubus.git")
UCI = Source("uci-66127cd76c5d.tar.gz", "66127cd76c5d0bd46d5a90302cc6110f53a4e2f8", f"{GIT}/uci.git")


@recipe("libubox", (LIBUBOX,), tools=("pkg-config",))
def libubox(ctx: Context) -> None:
    ctx.cmake(ctx.src, "-DBUILD_LUA=OFF", "-DBUILD_EXAMPLES=OFF")


@recipe("ubus", (UBUS,), deps=("libubox",))
def ubus(ctx: Context) -> None:
    # the socket path stays the compiled-in /var/run/ubus/ubus.sock: routers run ubusd in their own
    # mount namespace; tests outside a router pass -s SOCKET
    ctx.cmake(ctx.src, "-DBUILD_LUA=OFF", "-DBUILD_EXAMPLES=OFF", "-DBUILD_STATIC=OFF")


@recipe("uci", (UCI,), deps=("libubox",))
def uci(ctx: Context) -> None:
    ctx.cmake(ctx.src, "-DBUILD_LUA=OFF", "-DBUILD_STATIC=OFF")
