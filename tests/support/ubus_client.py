"""A ubus client that sends what the ubus CLI cannot: arguments nested deeper than json-c's 32
levels, built directly with libubox's blobmsg (a local process talking to ubusd can send any
blob up to ubusd's message limit, UBUS_MAX_MSGLEN). Independent of ha_pair's binding: the test
checks that binding's owner, the agent.

Run it as a program (`python3 -m tests.support.ubus_client SOCKET OBJECT METHOD DEPTH`) so that
libubus never runs inside the test process; it prints the call's ubus status.
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import POINTER, Structure, c_bool, c_char_p, c_int, c_uint32, c_void_p

from ha_pair.ubus.libubus import LIBDIR_ENV


class BlobBuf(Structure):  # libubox/blob.h: struct blob_buf
    _fields_ = [("head", c_void_p), ("grow", c_void_p), ("buflen", c_int), ("buf", c_void_p)]


def call_nested(socket: str, obj: str, method: str, depth: int, timeout_ms: int = 10000) -> int:
    """`ubus call OBJECT METHOD` with the arguments {"a": [[[...]]]}, `depth` levels deep in all
    (the object counts: as JSON nesting counts);
    returns the ubus status (0 ok, 2 invalid argument, 7 timeout, ...)."""
    libdir = os.environ[LIBDIR_ENV]
    ubox = ctypes.CDLL(os.path.join(libdir, "libubox.so"), mode=ctypes.RTLD_GLOBAL)
    ubus = ctypes.CDLL(os.path.join(libdir, "libubus.so"), mode=ctypes.RTLD_GLOBAL)
    ubox.blob_buf_init.argtypes = [POINTER(BlobBuf), c_int]
    ubox.blobmsg_open_nested.argtypes = [POINTER(BlobBuf), c_char_p, c_bool]
    ubox.blobmsg_open_nested.restype = c_void_p
    ubox.blob_nest_end.argtypes = [POINTER(BlobBuf), c_void_p]
    ubus.ubus_connect.argtypes = [c_char_p]
    ubus.ubus_connect.restype = c_void_p
    ubus.ubus_lookup_id.argtypes = [c_void_p, c_char_p, POINTER(c_uint32)]
    ubus.ubus_invoke_fd.argtypes = [c_void_p, c_uint32, c_char_p, c_void_p, c_void_p, c_void_p, c_int, c_int]

    buf = BlobBuf()
    ubox.blob_buf_init(ctypes.byref(buf), 0)
    cookies = [ubox.blobmsg_open_nested(ctypes.byref(buf), b"a", True)]
    for _ in range(depth - 2):
        cookies.append(ubox.blobmsg_open_nested(ctypes.byref(buf), b"", True))
    for cookie in reversed(cookies):
        ubox.blob_nest_end(ctypes.byref(buf), cookie)
    ctx = ubus.ubus_connect(socket.encode())
    if not ctx:
        raise ConnectionError(f"cannot connect to ubusd at {socket}")
    target = c_uint32()
    status = ubus.ubus_lookup_id(ctx, obj.encode(), ctypes.byref(target))
    if status:
        return status
    return ubus.ubus_invoke_fd(ctx, target, method.encode(), buf.head, None, None, timeout_ms, -1)


if __name__ == "__main__":
    print(call_nested(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
