"""The agent's unix control socket: one JSON request line in, one JSON reply out, then close.

`ha-pair status` uses it (through control_client); the ubus object calls the same handlers. Root only (mode 0600).
Every connection is handled without blocking inside the agent's selector loop: a slow or stuck
client holds a few bytes of buffer until its deadline, never the loop. Requests are bounded in
size and nesting; replies never hold NaN or infinity.
"""

from __future__ import annotations

import os
import _socket  # socket.py's C core: socket.py's enums of every AF_/SOCK_/MSG_ constant cost the agent ~300 kB
import time

from .. import epoll_selector, jsonsafe, log
from ..fspath import FsPath

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any, Callable

    Handler = Callable[[dict], dict]

REQUEST_LIMIT = 65536  # bytes of one request line
CLIENT_TIMEOUT = 1.0  # seconds a connection may take from accept to the last byte of the reply
MAX_CLIENTS = 32  # connections open at once; more are closed at once (the backlog queues a few)


class _Client:
    __slots__ = ("conn", "deadline", "data", "reply")

    def __init__(self, conn: _socket.socket, deadline: float) -> None:
        self.conn = conn
        self.deadline = deadline
        self.data = b""
        self.reply = b""


class ControlServer:
    def __init__(self, path: FsPath, handlers: dict[str, Handler],
                 selector: epoll_selector.EpollSelector | None = None) -> None:
        self.path = path
        self.handlers = handlers
        self.selector = selector
        self.clients: dict[int, _Client] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        old = os.umask(0o177)  # socket mode 0600: root only
        try:
            self.sock.bind(str(path))
        finally:
            os.umask(old)
        self.sock.listen(8)
        self.sock.setblocking(False)
        if selector is not None:
            selector.register(self.sock, epoll_selector.EVENT_READ, self._accept)

    def fileno(self) -> int:
        return self.sock.fileno()

    # -- the selector loop's callbacks -------------------------------------------------------------
    def _accept(self, _fd: int) -> None:
        for _ in range(MAX_CLIENTS):
            try:
                fd, _ = self.sock._accept()  # what socket.socket.accept wraps: a new fd, close-on-exec
                conn = _socket.socket(fileno=fd)
            except (BlockingIOError, InterruptedError):
                return
            if len(self.clients) >= MAX_CLIENTS:
                conn.close()  # a flood of idle connections: the newest waits for nothing
                continue
            conn.setblocking(False)
            self.clients[conn.fileno()] = _Client(conn, time.monotonic() + CLIENT_TIMEOUT)
            self.selector.register(conn, epoll_selector.EVENT_READ, self._readable)

    def _readable(self, fd: int) -> None:
        client = self.clients.get(fd)
        if client is None:
            return
        try:
            chunk = client.conn.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(fd)
            return
        client.data += chunk
        if len(client.data) > REQUEST_LIMIT and b"\n" not in client.data[:REQUEST_LIMIT + 1]:
            self._answer(fd, {"error": f"bad request: larger than {REQUEST_LIMIT} bytes"})
        elif b"\n" in client.data or not chunk:
            self._answer(fd, self.handle(client.data.split(b"\n", 1)[0]))

    def _answer(self, fd: int, reply: dict[str, Any]) -> None:
        client = self.clients[fd]
        client.data = b""
        client.reply = jsonsafe.dumps(reply).encode() + b"\n"
        self.selector.modify(client.conn, epoll_selector.EVENT_WRITE, self._writable)
        self._writable(fd)

    def _writable(self, fd: int) -> None:
        client = self.clients.get(fd)
        if client is None:
            return
        try:
            sent = client.conn.send(client.reply)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            sent = len(client.reply)
        client.reply = client.reply[sent:]
        if not client.reply:
            self._drop(fd)

    def _drop(self, fd: int) -> None:
        client = self.clients.pop(fd, None)
        if client is None:
            return
        try:
            self.selector.unregister(client.conn)
        except (KeyError, ValueError):
            pass
        client.conn.close()

    def next_deadline(self) -> float | None:
        """When the oldest connection times out (time.monotonic()), for the loop's wake-up."""
        return min((c.deadline for c in self.clients.values()), default=None)

    def expire(self) -> None:
        now = time.monotonic()
        for fd in [fd for fd, c in self.clients.items() if c.deadline <= now]:
            self._drop(fd)

    # -- requests ------------------------------------------------------------------------------
    def handle(self, raw: bytes) -> dict[str, Any]:
        try:
            return self.dispatch(raw)
        except (ValueError, RecursionError) as exc:
            return {"error": f"bad request: {exc}"}

    def dispatch(self, raw: bytes) -> dict[str, Any]:
        request = jsonsafe.loads(raw or b"{}")
        if not isinstance(request, dict):
            return {"error": "request must be a JSON object"}
        method = request.get("method")
        handler = self.handlers.get(method) if isinstance(method, str) else None
        if handler is None:
            return {"error": f"unknown method {str(method)[:64]!r}; known: {', '.join(sorted(self.handlers))}"}
        args = request.get("args") if isinstance(request.get("args"), dict) else {}
        try:
            return handler(args)
        except Exception as exc:  # a handler bug must not take the agent down
            log.exception(f"control method {method} failed")
            return {"error": f"{method} failed: {exc}"}

    def close(self) -> None:
        for fd in list(self.clients):
            self._drop(fd)
        if self.selector is not None:
            try:
                self.selector.unregister(self.sock)
            except (KeyError, ValueError):
                pass
        self.sock.close()
        try:
            self.path.unlink()
        except OSError:
            pass

