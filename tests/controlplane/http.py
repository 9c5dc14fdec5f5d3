"""HTTP to a router's uhttpd from inside its network namespace (the tests' own process stays in
the host's): /ubus JSON-RPC calls as LuCI makes them, and plain requests.

`python3 -m tests.controlplane.http` is the client that runs in the namespace: it reads a JSON
list of requests on stdin and prints the answers, so a whole scenario costs one process.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NULL_SESSION = "00000000000000000000000000000000"


def rpc(sid: str, obj: str, method: str, args: dict | None = None, request_id: int = 1) -> dict:
    """One JSON-RPC 2.0 `call` as rpc.js sends it to /ubus."""
    return {"jsonrpc": "2.0", "id": request_id, "method": "call", "params": [sid, obj, method, args or {}]}


def exchange(namespace: str, base: str, requests: list[dict], timeout: float = 120,
             keepalive: bool = False, interval: float = 0.0) -> list[dict]:
    """Send each request ({"path", "body" (JSON, POSTed) or none (GET)}) in order; each answer is
    {"status", "body" (parsed JSON when it is), "ms"}. `keepalive`: all over one HTTP/1.1
    connection, as a browser sends LuCI's calls (else a connection each); `interval`: seconds
    at least between the starts of two requests."""
    mode = ["--keepalive"] if keepalive else []
    argv = [sys.executable, "-m", "tests.controlplane.http", base, str(interval), *mode]
    run = subprocess.run(["ip", "netns", "exec", namespace, *argv],
                         input=json.dumps(requests), capture_output=True, text=True, timeout=timeout,
                         cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})
    if run.returncode != 0:
        raise RuntimeError(f"HTTP client failed: {run.stderr[-2000:]}")
    return json.loads(run.stdout)


def ubus(namespace: str, base: str, calls: list[dict]) -> list[dict]:
    """POST each JSON-RPC call to /ubus; returns the JSON-RPC replies."""
    return [answer["body"] for answer in exchange(namespace, base, [{"path": "/ubus", "body": c} for c in calls])]


def login(namespace: str, base: str, user: str, password: str) -> str:
    reply = ubus(namespace, base, [rpc(NULL_SESSION, "session", "login", {"username": user, "password": password})])[0]
    status, data = reply["result"]
    assert status == 0, reply
    return data["ubus_rpc_session"]


def _send(base: str, request: dict) -> tuple[int, bytes]:
    body = json.dumps(request["body"]).encode() if "body" in request else None
    req = urllib.request.Request(base + request["path"], data=body,
                                 headers={"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(req, timeout=request.get("timeout", 90)) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _sender(base: str, keepalive: bool):
    """A function sending one request; with `keepalive`, all on one persistent connection."""
    if not keepalive:
        return lambda request: _send(base, request)
    connection = http.client.HTTPConnection(urllib.parse.urlsplit(base).netloc, timeout=90)

    def send(request: dict) -> tuple[int, bytes]:
        body = json.dumps(request["body"]).encode() if "body" in request else None
        connection.request("POST" if body else "GET", request["path"], body=body,
                           headers={"Content-Type": "application/json"} if body else {})
        answer = connection.getresponse()
        return answer.status, answer.read()
    return send


def _serve(base: str, interval: float, keepalive: bool) -> None:
    send = _sender(base, keepalive)
    out = []
    for number, request in enumerate(json.load(sys.stdin)):
        if number:
            time.sleep(max(0.0, interval - (time.perf_counter() - started)))
        started = time.perf_counter()
        status, raw = send(request)
        ms = round((time.perf_counter() - started) * 1000, 3)
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw.decode(errors="replace")
        out.append({"status": status, "body": parsed, "ms": ms})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    _serve(sys.argv[1], float(sys.argv[2]), "--keepalive" in sys.argv[3:])
