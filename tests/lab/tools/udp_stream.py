#!/usr/bin/env python3
"""UDP streams through the pair's NAT for the ha-pair lab (stdlib only).

`server PORT` (inet namespace): every datagram `echo ...` is sent back to its sender; a datagram
`hello` registers its sender, which from then on gets `push <n>` every INTERVAL, whether it says
anything more or not (like a WireGuard peer or a media stream behind NAT: after a failover only a
synced conntrack entry lets these in, since the client sends nothing that would make a new one).

`client SERVER PORT ECHO PUSH` (client namespace): ECHO sockets that send `echo <n>` every
INTERVAL and count the answers, PUSH sockets that send one `hello` (resent until the first push
arrives) and then only listen. Answers `status` on stdin with one JSON line: per stream its kind,
datagrams received, the monotonic time of the last one, and every gap over 50 ms as [start, end].

Both print `ready` once running; `quit` or EOF on stdin ends them.
"""

from __future__ import annotations

import json
import select
import socket
import sys
import threading
import time

INTERVAL = 0.01
GAP = 0.05


def _until_quit(stop: threading.Event) -> None:
    for line in sys.stdin:
        if line.strip() == "quit":
            break
    stop.set()


def server(port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    sock.setblocking(False)
    pushed: dict[tuple, int] = {}
    stop = threading.Event()
    threading.Thread(target=_until_quit, args=(stop,), daemon=True).start()
    print("ready", flush=True)
    next_push = time.monotonic()
    while not stop.is_set():
        ready, _, _ = select.select([sock], [], [], max(0.0, next_push - time.monotonic()))
        if ready:
            try:
                data, peer = sock.recvfrom(2048)
            except OSError:
                continue
            if data.startswith(b"echo"):
                try:
                    sock.sendto(data, peer)
                except OSError:
                    pass
            elif data == b"hello":
                pushed.setdefault(peer, 0)
        if time.monotonic() >= next_push:
            next_push += INTERVAL
            for peer in pushed:
                pushed[peer] += 1
                try:
                    sock.sendto(b"push %d" % pushed[peer], peer)
                except OSError:  # no route for a moment: the next one may pass
                    pass


class Stream:
    def __init__(self, kind: str, target: tuple) -> None:
        self.kind, self.target = kind, target
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.setblocking(False)
        self.received = 0
        self.last: float | None = None
        self.gaps: list[list[float]] = []
        self.sent = 0

    def send(self) -> None:
        if self.kind == "echo":
            message = b"echo %d" % self.sent
        elif self.received == 0:
            message = b"hello"
        else:
            return
        self.sent += 1
        try:
            self.sock.sendto(message, self.target)
        except OSError:
            pass

    def receive(self, now: float) -> None:
        while True:
            try:
                self.sock.recv(2048)
            except OSError:
                return
            if self.last is not None and now - self.last > GAP:
                self.gaps.append([round(self.last, 4), round(now, 4)])
            self.last = now
            self.received += 1

    def status(self) -> dict:
        return {"kind": self.kind, "port": self.sock.getsockname()[1], "received": self.received,
                "last": self.last, "gaps": self.gaps}


def client(host: str, port: int, echo: int, push: int) -> None:
    streams = [Stream("echo", (host, port)) for _ in range(echo)] + [Stream("push", (host, port)) for _ in range(push)]
    lock = threading.Lock()
    stop = threading.Event()

    def run() -> None:
        by_fd = {s.sock.fileno(): s for s in streams}
        next_send = time.monotonic()
        while not stop.is_set():
            ready, _, _ = select.select(list(by_fd), [], [], max(0.0, next_send - time.monotonic()))
            now = time.monotonic()
            with lock:
                for fd in ready:
                    by_fd[fd].receive(now)
                if now >= next_send:
                    next_send += INTERVAL
                    for s in streams:
                        s.send()

    threading.Thread(target=run, daemon=True).start()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "status":
            with lock:
                print(json.dumps({"now": time.monotonic(), "streams": [s.status() for s in streams]}), flush=True)
        elif line.strip() == "quit":
            break
    stop.set()


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]))
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
