#!/usr/bin/env python3
"""TCP flow client for the ha-pair lab (runs in the "client" namespace; stdlib only).

Opens N "echo" flows (the client writes a line every INTERVAL, the server echoes
it) and N "push" flows (the server streams; the client only reads) to the
server behind the routers' NAT, and keeps per-flow state so a test can tell
which flows survived a failover: established, bytes/lines received, the
CLOCK_MONOTONIC time of the last received data (one clock for all namespaces),
receive pauses, and "broken" with the errno name (or EOF).

Push flows are silent from the client side, so a server-side death would be
invisible; TCP keepalive (default idle 2 s, interval 1 s, 10 probes) makes the
client probe an idle flow: a reset flow answers with RST and shows up broken
within seconds, while a flow that is merely paused by a failover (probes lost)
is tolerated for idle + interval * count seconds.

Line protocol on stdin/stdout: ``status`` -> one JSON line
``{"now": t, "flows": [...]}``; ``ping`` -> ``pong``; ``quit`` (or EOF) closes
all flows and exits.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import selectors
import signal
import socket
import sys
import time

GAP_FACTOR = 3.0     # a receive pause longer than GAP_FACTOR * interval is recorded
MAX_GAPS = 20


class Flow:
    def __init__(self, fid: int, kind: str, addr: tuple[str, int], keepalive: tuple[int, int, int]):
        self.id, self.kind, self.addr = fid, kind, addr
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        idle, intvl, cnt = keepalive
        if idle > 0:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, intvl)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, cnt)
        self.started = time.monotonic()
        self.established = False
        self.established_at: float | None = None
        self.local_port: int | None = None
        self.bytes_rx = self.lines_rx = self.bytes_tx = self.lines_tx = 0
        self.last_rx: float | None = None
        self.last_tx: float | None = None
        self.broken: str | None = None
        self.broken_at: float | None = None
        self.gaps: list[list[float]] = []
        self.max_gap = 0.0
        self.echo_mismatch = 0
        self.outbuf = b""
        self.expect = b""   # echo flows: bytes sent but not yet echoed
        self.seq = 0

    def as_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "local_port": self.local_port,
                "established": self.established, "established_at": self.established_at,
                "bytes_rx": self.bytes_rx, "lines_rx": self.lines_rx,
                "bytes_tx": self.bytes_tx, "lines_tx": self.lines_tx,
                "last_rx": self.last_rx, "last_tx": self.last_tx,
                "broken": self.broken, "broken_at": self.broken_at,
                "max_gap": round(self.max_gap, 6), "gaps": self.gaps,
                "echo_mismatch": self.echo_mismatch, "pending_tx": len(self.outbuf)}


class Client:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.sel = selectors.DefaultSelector()
        self.flows: list[Flow] = []
        ka = tuple(int(x) for x in args.keepalive.split(","))
        kinds = ["echo"] * args.echo + ["push"] * args.push
        for i, kind in enumerate(kinds):
            port = args.echo_port if kind == "echo" else args.push_port
            f = Flow(i, kind, (args.server, port), ka)  # type: ignore[arg-type]
            self.flows.append(f)
            rc = f.sock.connect_ex(f.addr)
            if rc not in (0, errno.EINPROGRESS):
                self.fail(f, errno.errorcode.get(rc, str(rc)), register=False)
            else:
                self.sel.register(f.sock, selectors.EVENT_WRITE, f)
        os.set_blocking(0, False)
        self.sel.register(0, selectors.EVENT_READ, None)
        self.stdin_buf = b""
        self.running = True

    # --- flow events ---------------------------------------------------------
    def fail(self, f: Flow, reason: str, register: bool = True) -> None:
        if f.broken:
            return
        f.broken, f.broken_at = reason, time.monotonic()
        if register:
            try:
                self.sel.unregister(f.sock)
            except (KeyError, ValueError):
                pass
        f.sock.close()

    def interest(self, f: Flow) -> None:
        ev = selectors.EVENT_READ | (selectors.EVENT_WRITE if f.outbuf else 0)
        self.sel.modify(f.sock, ev, f)

    def on_connect(self, f: Flow) -> None:
        rc = f.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if rc:
            self.fail(f, errno.errorcode.get(rc, str(rc)))
            return
        f.established, f.established_at = True, time.monotonic()
        f.local_port = f.sock.getsockname()[1]
        self.interest(f)

    def on_read(self, f: Flow) -> None:
        try:
            data = f.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self.fail(f, errno.errorcode.get(exc.errno or 0, type(exc).__name__))
            return
        if not data:
            self.fail(f, "EOF")
            return
        now = time.monotonic()
        if f.last_rx is not None:
            gap = now - f.last_rx
            f.max_gap = max(f.max_gap, gap)
            if gap > GAP_FACTOR * self.args.interval:
                f.gaps = (f.gaps + [[round(f.last_rx, 6), round(now, 6)]])[-MAX_GAPS:]
        f.last_rx = now
        f.bytes_rx += len(data)
        f.lines_rx += data.count(b"\n")
        if f.kind == "echo":
            n = len(data)
            if f.expect[:n] != data:
                f.echo_mismatch += 1
            f.expect = f.expect[n:]

    def on_write(self, f: Flow) -> None:
        try:
            n = f.sock.send(f.outbuf)
        except BlockingIOError:
            return
        except OSError as exc:
            self.fail(f, errno.errorcode.get(exc.errno or 0, type(exc).__name__))
            return
        f.outbuf = f.outbuf[n:]
        f.bytes_tx += n
        f.last_tx = time.monotonic()
        self.interest(f)

    def tick(self) -> None:
        now = time.monotonic()
        for f in self.flows:
            if f.broken:
                continue
            if not f.established:
                if now - f.started > self.args.connect_timeout:
                    self.fail(f, "CONNECT_TIMEOUT")
                continue
            if f.kind == "echo":
                f.seq += 1
                line = f"echo {f.id} {f.seq}\n".encode()
                f.outbuf += line
                f.expect += line
                f.lines_tx += 1
                self.interest(f)

    # --- control ---------------------------------------------------------------
    def on_stdin(self) -> None:
        try:
            chunk = os.read(0, 4096)
        except BlockingIOError:
            return
        if not chunk:
            self.running = False
            return
        self.stdin_buf += chunk
        while b"\n" in self.stdin_buf:
            line, self.stdin_buf = self.stdin_buf.split(b"\n", 1)
            cmd = line.decode(errors="replace").strip()
            if cmd == "status":
                reply = {"now": time.monotonic(), "flows": [f.as_dict() for f in self.flows]}
            elif cmd == "ping":
                reply = "pong"
            elif cmd == "quit":
                self.running = False
                reply = {"quit": True}
            elif not cmd:
                continue
            else:
                reply = {"error": f"unknown command {cmd!r}"}
            sys.stdout.write((reply if isinstance(reply, str) else json.dumps(reply)) + "\n")
            sys.stdout.flush()

    def run(self) -> None:
        next_tick = time.monotonic() + self.args.interval
        while self.running:
            timeout = max(0.0, next_tick - time.monotonic())
            for key, mask in self.sel.select(timeout):
                f = key.data
                if f is None:
                    self.on_stdin()
                    continue
                if f.broken:
                    continue
                if not f.established:
                    self.on_connect(f)
                    continue
                if mask & selectors.EVENT_READ:
                    self.on_read(f)
                if not f.broken and mask & selectors.EVENT_WRITE:
                    self.on_write(f)
            if time.monotonic() >= next_tick:
                self.tick()
                next_tick += self.args.interval
                if next_tick < time.monotonic():
                    next_tick = time.monotonic() + self.args.interval
        for f in self.flows:
            if not f.broken:
                f.sock.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default="198.51.100.254")
    ap.add_argument("--echo-port", type=int, default=5001)
    ap.add_argument("--push-port", type=int, default=5002)
    ap.add_argument("--echo", type=int, default=10, help="number of echo flows")
    ap.add_argument("--push", type=int, default=10, help="number of push flows")
    ap.add_argument("--interval", type=float, default=0.1, help="echo send period (s)")
    ap.add_argument("--connect-timeout", type=float, default=10.0)
    ap.add_argument("--keepalive", default="2,1,10",
                    help="TCP keepalive idle,interval,count in s (idle 0 = off)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    Client(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
