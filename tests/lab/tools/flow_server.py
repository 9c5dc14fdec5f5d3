#!/usr/bin/env python3
"""TCP test server for the ha-pair lab (runs in the "inet" namespace; stdlib only).

Two listeners, because NAT failover treats the two directions differently
(lab.md: client-first flows can survive without state sync by loose TCP pickup,
server-first flows cannot):

* echo port: echoes every byte the client sends (client speaks first);
* push port: writes ``push <counter> <monotonic>\\n`` every INTERVAL, speaking
  first; the client never writes.  On any send error the socket is closed at
  once, so that a path that still works tells the client the flow is dead.

Protocol on stdin/stdout: prints ``ready`` once listening; answers ``status``
with one JSON line; ``quit`` or EOF on stdin exits.  Events go to stderr.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import socket
import sys
import threading
import time

LOCK = threading.Lock()
STATS = {"echo": {"accepted": 0, "open": 0, "errors": {}},
         "push": {"accepted": 0, "open": 0, "errors": {}}}
STOP = threading.Event()


def log(msg: str) -> None:
    print(f"{time.monotonic():.3f} {msg}", file=sys.stderr, flush=True)


def err_name(exc: BaseException) -> str:
    code = getattr(exc, "errno", None)
    return errno.errorcode.get(code, type(exc).__name__) if code else type(exc).__name__


def note(kind: str, what: str, delta: int = 0, error: str | None = None) -> None:
    with LOCK:
        st = STATS[kind]
        if what == "accepted":
            st["accepted"] += 1
        st["open"] += delta
        if error:
            st["errors"][error] = st["errors"].get(error, 0) + 1


def serve_echo(conn: socket.socket, peer: tuple) -> None:
    reason = "EOF"
    try:
        while not STOP.is_set():
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
    except OSError as exc:
        reason = err_name(exc)
        note("echo", "error", error=reason)
    finally:
        conn.close()
        note("echo", "closed", -1)
        log(f"echo {peer[0]}:{peer[1]} closed: {reason}")


def serve_push(conn: socket.socket, peer: tuple, interval: float) -> None:
    counter = 0
    reason = "quit"
    next_t = time.monotonic()
    try:
        while not STOP.is_set():
            counter += 1
            conn.sendall(f"push {counter} {time.monotonic():.6f}\n".encode())
            next_t += interval
            delay = next_t - time.monotonic()
            if delay > 0:
                STOP.wait(delay)
            else:
                next_t = time.monotonic()
    except OSError as exc:  # RST from the peer, EPIPE...: close so the client learns
        reason = err_name(exc)
        note("push", "error", error=reason)
    finally:
        conn.close()
        note("push", "closed", -1)
        log(f"push {peer[0]}:{peer[1]} closed after {counter} lines: {reason}")


def listener(kind: str, sock: socket.socket, interval: float) -> None:
    while not STOP.is_set():
        try:
            conn, peer = sock.accept()
        except OSError:
            if STOP.is_set():
                return
            continue
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        note(kind, "accepted", +1)
        log(f"{kind} accepted {peer[0]}:{peer[1]}")
        target = serve_echo if kind == "echo" else serve_push
        args = (conn, peer) if kind == "echo" else (conn, peer, interval)
        threading.Thread(target=target, args=args, daemon=True).start()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--echo-port", type=int, default=5001)
    ap.add_argument("--push-port", type=int, default=5002)
    ap.add_argument("--interval", type=float, default=0.1, help="push period (s)")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    for kind, port in (("echo", args.echo_port), ("push", args.push_port)):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((args.bind, port))
        s.listen(128)
        threading.Thread(target=listener, args=(kind, s, args.interval), daemon=True).start()
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "status":
            with LOCK:
                print(json.dumps({"now": time.monotonic(), **STATS}), flush=True)
        elif cmd == "quit":
            break
        elif cmd:
            print(json.dumps({"error": f"unknown command {cmd!r}"}), flush=True)
    STOP.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
