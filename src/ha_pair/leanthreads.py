"""The agent's threads on the interpreter's _thread, without threading.py: ~200 kB of the agent's RSS
for the few calls it makes. Its threads are all daemons (the process ends without waiting for
them, as with daemon=True); an exception that escapes one is logged with its traceback. Lock and
RLock are threading's own (threading takes them from _thread too)."""

from __future__ import annotations

import _thread

from . import log

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Callable

Lock = _thread.allocate_lock
RLock = _thread.RLock
get_ident = _thread.get_ident
MAIN = _thread.get_ident()  # ha_pair's modules are imported by the main thread, before any other starts


class Thread:
    """threading.Thread(target=..., daemon=True)'s start, join and is_alive."""

    def __init__(self, target: Callable[[], object]) -> None:
        self._target = target
        self._running = _thread.allocate_lock()  # held from start() until the target returns

    def start(self) -> None:
        self._running.acquire()
        _thread.start_new_thread(self._run, ())

    def _run(self) -> None:
        try:
            self._target()
        except Exception:  # threading would print it to stderr: the log has the agent's other errors
            log.exception(f"thread {getattr(self._target, '__qualname__', self._target)} failed")
        finally:
            self._running.release()

    def join(self, timeout: float = -1) -> None:
        if self._running.acquire(timeout=timeout):
            self._running.release()

    def is_alive(self) -> bool:
        return self._running.locked()


class Event:
    """threading.Event's set, clear and wait: the lock is free while the event is set."""

    def __init__(self) -> None:
        self._clear = _thread.allocate_lock()
        self._clear.acquire()

    def set(self) -> None:
        try:
            self._clear.release()
        except RuntimeError:  # already set
            pass

    def clear(self) -> None:
        self._clear.acquire(False)

    def is_set(self) -> bool:
        return not self._clear.locked()

    def wait(self, timeout: float | None = None) -> bool:
        """True when set (now or within `timeout` s), which it stays until clear()."""
        if not self._clear.acquire(timeout=-1 if timeout is None else max(timeout, 0)):
            return False
        self.set()  # give the lock back (unless a set() racing with us already has)
        return True
