"""Notice at once when a file is (re)created at a path: inotify on the path's directory.

The agent needs this twice: procd restarts a dead ubusd within milliseconds, and `ha` should be
back on ubus as fast (a retry timer would leave it missing that long, polling would wake the agent
for nothing while ubusd is away); and keepalived unlinks and re-creates its notify FIFO on every
reload when it created it itself, so the agent must open the new one. inotify has no wrapper in
Python's standard library: it is called through ctypes (python3-ctypes, which ubus needs anyway).
While the directory itself is missing, the nearest existing ancestor is watched until it appears.
"""

from __future__ import annotations

import ctypes
import os
import struct

IN_ATTRIB = 0x00000004
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_IGNORED = 0x00008000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("=iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)
_WATCHED = IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF


class PathWatch:
    """A readable fd for selectors that fires when something is created where the path (or a
    missing directory above it) belongs. Raises OSError when inotify is not available."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._libc.inotify_init1.argtypes = [ctypes.c_int]
        self._libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self._libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self._fd = fd
        self._wd = -1
        self.watched = ""
        self._arm()

    def fileno(self) -> int:
        return self._fd

    def _arm(self) -> None:
        """Watch the socket's directory, or its nearest existing ancestor."""
        directory = os.path.dirname(self.path)
        while not os.path.isdir(directory) and directory != os.path.dirname(directory):
            directory = os.path.dirname(directory)
        if directory == self.watched and self._wd >= 0:
            return
        if self._wd >= 0:
            self._libc.inotify_rm_watch(self._fd, self._wd)
        self._wd = self._libc.inotify_add_watch(self._fd, directory.encode(), _WATCHED)
        if self._wd < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch({directory}) failed")
        self.watched = directory

    def read(self) -> bool:
        """Drain the pending events; True when the path now exists."""
        try:
            while True:
                data = os.read(self._fd, 4096)
                offset = 0
                while offset + _EVENT.size <= len(data):
                    wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
                    if wd == self._wd and mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED):
                        self._wd = -1  # the watched directory is gone: watch an ancestor instead
                    offset += _EVENT.size + length
        except BlockingIOError:
            pass
        self._arm()
        return os.path.exists(self.path)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
