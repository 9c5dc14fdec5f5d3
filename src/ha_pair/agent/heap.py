"""Give the C library's free heap back to the kernel after the agent's bursts of work.

Starting (importing ~60 modules, compiling those without a .pyc) allocates and frees a few MB
(validating the configuration happens in a child: agent/config_child.py); glibc keeps the
freed pages mapped, so they stay in the agent's RSS for as long as it runs. malloc_trim(0) hands
every free page back. musl (OpenWrt's libc) has no malloc_trim: its allocator unmaps freed memory
itself, so there is nothing to do there. ctypes is loaded anyway (ubus, inotify)."""

from __future__ import annotations

import ctypes

_trim = None


def release_free_heap() -> bool:
    """Return the C heap's free pages to the kernel; False where the C library cannot."""
    global _trim
    if _trim is None:
        _trim = getattr(ctypes.CDLL(None), "malloc_trim", False)
        if _trim:
            _trim.argtypes = [ctypes.c_size_t]
    if not _trim:
        return False
    _trim(0)
    return True
