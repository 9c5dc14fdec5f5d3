"""select.epoll behind the part of the selectors API that ha-pair uses (register, modify, unregister,
select, get_map, close, with): the stdlib's selectors module, with its five selector classes and
its namedtuple keys, costs the long-running agent ~180 kB of RSS for what these few lines do.
Behaves as selectors.EpollSelector: a hang-up or an error reports the descriptor ready for what it
was registered for; a regular file cannot be registered (PermissionError, as epoll says)."""

from __future__ import annotations

import select

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any

EVENT_READ = 1
EVENT_WRITE = 2


def _fd(fileobj: Any) -> int:
    return fileobj if isinstance(fileobj, int) else fileobj.fileno()


class Key:
    """What select() returns for a ready descriptor, as selectors.SelectorKey."""

    __slots__ = ("fileobj", "fd", "events", "data")

    def __init__(self, fileobj: Any, fd: int, events: int, data: Any) -> None:
        self.fileobj, self.fd, self.events, self.data = fileobj, fd, events, data


class EpollSelector:
    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._keys: dict[int, Key] = {}

    @staticmethod
    def _mask(events: int) -> int:
        if not events or events & ~(EVENT_READ | EVENT_WRITE):
            raise ValueError(f"invalid events: {events!r}")
        return (select.EPOLLIN if events & EVENT_READ else 0) | (select.EPOLLOUT if events & EVENT_WRITE else 0)

    def register(self, fileobj: Any, events: int, data: Any = None) -> Key:
        fd = _fd(fileobj)
        if fd in self._keys:
            raise KeyError(f"{fileobj!r} (fd {fd}) is already registered")
        mask = self._mask(events)
        self._epoll.register(fd, mask)
        key = self._keys[fd] = Key(fileobj, fd, events, data)
        return key

    def unregister(self, fileobj: Any) -> Key:
        key = self._keys.pop(_fd(fileobj))
        try:
            self._epoll.unregister(key.fd)
        except OSError:  # already closed: the kernel dropped it from the set
            pass
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> Key:
        key = self._keys[_fd(fileobj)]
        self._epoll.modify(key.fd, self._mask(events))
        key.events, key.data = events, data
        return key

    def select(self, timeout: float | None = None) -> list[tuple[Key, int]]:
        """(key, ready events) for each ready descriptor; None waits for ever, <= 0 polls. A
        timeout is rounded up to the millisecond, so that it never wakes up just before it is due."""
        if timeout is None:
            wait = -1.0
        elif timeout <= 0:
            wait = 0.0
        else:
            wait = -(-timeout * 1000 // 1) / 1000  # ceil to ms without math
        ready = []
        for fd, event in self._epoll.poll(wait, max(len(self._keys), 1)):
            key = self._keys.get(fd)
            if key is None:
                continue
            events = (EVENT_WRITE if event & ~select.EPOLLIN else 0) | (EVENT_READ if event & ~select.EPOLLOUT else 0)
            if events & key.events:
                ready.append((key, events & key.events))
        return ready

    def get_map(self) -> dict[int, Key]:
        """The registered descriptors (fd -> key)."""
        return self._keys

    def close(self) -> None:
        self._epoll.close()
        self._keys.clear()

    def __enter__(self) -> EpollSelector:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
