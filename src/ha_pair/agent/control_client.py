"""The client side of the agent's control socket (agent/control.py), for `ha-pair status` and
`history`: one JSON request line, one JSON reply. `_socket` and leanjson rather than socket and
json, whose enums and regular expressions cost a status run about a quarter of its start-up."""

from __future__ import annotations

from _socket import AF_UNIX, SOCK_STREAM, socket

from .. import leanjson

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any


def request(path: str, method: str, args: dict | None = None, timeout: float = 3.0) -> dict[str, Any]:
    """Ask the agent. Raises OSError when it does not answer, ValueError on a reply not JSON."""
    sock = socket(AF_UNIX, SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(leanjson.dumps({"method": method, "args": args or {}}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    if not data:
        raise ConnectionError("the agent closed the connection without an answer")
    return leanjson.loads(data)
