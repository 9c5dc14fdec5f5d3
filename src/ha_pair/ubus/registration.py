"""Keep one ubus object registered for a daemon driven by a selector loop: through ubusd restarts
(re-registered as soon as the new ubusd listens), and while another process holds the name
(logged once, retried, never fatal).

Nothing runs on a timer while the object is registered, nor while ubusd is away and inotify
watches for its socket; a timer runs only for the short retries after the socket appeared,
while another process holds the name, or (without inotify) to look for ubusd now and then.
"""

from __future__ import annotations

import os
import time

from .. import epoll_selector, log
from .libubus import UbusConnection, UbusError, UbusUnavailable, load_libs
from ..inotify import PathWatch

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from .libubus import Handler

LISTEN_RETRY_S = 0.05  # the socket file exists, ubusd may not listen yet (bind comes before listen)
LISTEN_RETRIES = 40
TAKEN_RETRY_S = 2.0  # another process holds the name
POLL_RETRY_S = 10.0  # no inotify: look for ubusd this often


class Registration:
    def __init__(self, name: str, methods: dict[str, Handler], socket_path: str | None, watch_path: str,
                 selector: epoll_selector.EpollSelector, root: str = "/",
                 policies: dict[str, dict[str, str]] | None = None) -> None:
        """`socket_path` None: libubus's compiled-in socket, expected at `watch_path`; `root`: the
        router's / (where libubus is looked for first)."""
        self.root = root
        self.name = name
        self.methods = methods
        self.policies = policies
        self.socket_path = socket_path
        self.watch_path = socket_path or watch_path
        self.selector = selector
        self.connection: UbusConnection | None = None
        self.disabled = ""  # why ubus is never tried (no libubus on this system)
        self.next_attempt: float | None = None
        self._listen_retries = 0
        self._problem = ""  # the last problem logged, so that a retry loop logs it once
        self._lost_at: float | None = None
        self._watch: PathWatch | None = None

    # -- life cycle -----------------------------------------------------------------------------
    def start(self) -> None:
        try:
            load_libs(self.root)
        except UbusUnavailable as exc:
            self.disabled = f"libubus not found ({exc}): status only on the control socket"
            log.info(self.disabled)
            return
        try:
            self._watch = PathWatch(self.watch_path)
            self.selector.register(self._watch.fileno(), epoll_selector.EVENT_READ, self._on_watch)
        except OSError as exc:
            log.warning(f"cannot watch {self.watch_path} ({exc}): looking for ubusd every {POLL_RETRY_S:.0f} s")
            self._watch = None
        self.attempt()

    def close(self) -> None:
        self._drop()
        if self._watch is not None:
            self.selector.unregister(self._watch.fileno())
            self._watch.close()
            self._watch = None

    # -- for the event loop ---------------------------------------------------------------------
    def deadline(self) -> float | None:
        """When run_due() has something to do (time.monotonic()), or None."""
        return None if self.connection is not None or self.disabled else self.next_attempt

    def run_due(self) -> None:
        if self.connection is None and self.next_attempt is not None and time.monotonic() >= self.next_attempt:
            self.attempt()

    def send_event(self, event: str, data: dict) -> None:
        """Broadcast an event when connected; a lost ubusd is noticed here too, never raised."""
        if self.connection is None:
            return
        try:
            self.connection.send_event(event, data)
        except (UbusError, UbusUnavailable) as exc:
            log.warning(f"ubus event {event} not sent: {exc}")
            self._lost()

    # -- connecting -----------------------------------------------------------------------------
    def attempt(self) -> None:
        self.next_attempt = None
        where = self.socket_path or "the default ubus socket"
        try:
            connection = UbusConnection(self.socket_path)
        except UbusUnavailable as exc:
            self._retry_unreachable(f"ubusd not reachable at {where}: {exc}")
            return
        try:
            connection.add_object(self.name, self.methods, self.policies)
        except (UbusError, UbusUnavailable) as exc:
            connection.close()
            self._report(f"ubus object {self.name} not registered ({exc}): another process (a second ha-pair "
                         f"agent?) holds the name; retrying every {TAKEN_RETRY_S:.0f} s")
            self.next_attempt = time.monotonic() + TAKEN_RETRY_S
            return
        self.connection = connection
        self.selector.register(connection.fileno(), epoll_selector.EVENT_READ, self._on_readable)
        self._listen_retries = 0
        self._problem = ""
        again = f" again, {time.monotonic() - self._lost_at:.2f} s after losing ubusd" if self._lost_at else ""
        self._lost_at = None
        log.info(f"registered ubus object {self.name}{again}")

    def _retry_unreachable(self, problem: str) -> None:
        self._report(problem)
        if self._watch is None:
            self.next_attempt = time.monotonic() + POLL_RETRY_S
        elif os.path.exists(self.watch_path) and self._listen_retries < LISTEN_RETRIES:
            self._listen_retries += 1
            self.next_attempt = time.monotonic() + LISTEN_RETRY_S
        # else: the watch says when a socket appears

    def _report(self, problem: str) -> None:
        if problem != self._problem:
            log.warning(problem)
            self._problem = problem

    def _on_watch(self, _fd: int) -> None:
        if self._watch is not None and self._watch.read() and self.connection is None:
            self._listen_retries = 0
            self.attempt()

    def _on_readable(self, _fd: int) -> None:
        try:
            self.connection.handle_readable()
        except UbusUnavailable as exc:
            log.warning(f"lost ubus: {exc}")
            self._lost()

    def _lost(self) -> None:
        self._drop()
        self._lost_at = time.monotonic()
        self.attempt()

    def _drop(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            self.selector.unregister(connection.fileno())
        except (KeyError, ValueError, OSError, UbusUnavailable):
            pass
        try:
            connection.close()
        except Exception:  # closing a dead connection must not take the agent down
            pass
