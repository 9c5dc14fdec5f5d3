"""The agent's unix control socket: one JSON request line in, one JSON reply out, then close.

`ha-pair status` uses it; the ubus object calls the same handlers. Root only (mode 0600).
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any, Callable

from .. import log
from ..fspath import FsPath

Handler = Callable[[dict], dict]
REQUEST_LIMIT = 65536
CLIENT_TIMEOUT = 1.0


class ControlServer:
    def __init__(self, path: FsPath, handlers: dict[str, Handler]) -> None:
        self.path = path
        self.handlers = handlers
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # socket mode 0600: root only
        try:
            self.sock.bind(str(path))
        finally:
            os.umask(old)
        self.sock.listen(8)
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def serve_one(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return
        with conn:
            conn.settimeout(CLIENT_TIMEOUT)
            try:
                reply = self.dispatch(_read_line(conn))
            except (OSError, ValueError) as exc:
                reply = {"error": f"bad request: {exc}"}
            try:
                conn.sendall(json.dumps(reply, separators=(",", ":")).encode() + b"\n")
            except OSError:
                pass

    def dispatch(self, raw: bytes) -> dict[str, Any]:
        request = json.loads(raw or b"{}")
        if not isinstance(request, dict):
            return {"error": "request must be a JSON object"}
        method = request.get("method")
        handler = self.handlers.get(method) if isinstance(method, str) else None
        if handler is None:
            return {"error": f"unknown method {method!r}; known: {', '.join(sorted(self.handlers))}"}
        args = request.get("args") if isinstance(request.get("args"), dict) else {}
        try:
            return handler(args)
        except Exception as exc:  # a handler bug must not take the agent down
            log.exception(f"control method {method} failed")
            return {"error": f"{method} failed: {exc}"}

    def close(self) -> None:
        self.sock.close()
        try:
            self.path.unlink()
        except OSError:
            pass


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > REQUEST_LIMIT:
            raise ValueError("request too large")
    return data.split(b"\n", 1)[0]


def request(path: str, method: str, args: dict | None = None, timeout: float = 3.0) -> dict[str, Any]:
    """Client side: ask the agent. Raises OSError when it does not answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(json.dumps({"method": method, "args": args or {}}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    if not data:
        raise ConnectionError("the agent closed the connection without an answer")
    return json.loads(data)
