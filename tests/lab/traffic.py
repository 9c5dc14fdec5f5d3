"""Traffic generators for the ha-pair lab: a fast pinger and long-lived TCP flows.

Why: a failover is judged from the client's side -- how long replies stopped
(:class:`Pinger`) and which TCP connections through the NAT survived
(:class:`Flows`).  Both run their programs inside namespaces via
:func:`netns.spawn`, track the PIDs and always stop them.

All times are ``time.monotonic()`` (CLOCK_MONOTONIC is one clock for the whole
machine, whatever the namespace), so event times taken by a test can be
compared with reply times and per-flow receive times directly.
"""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from . import netns
from .topology import Topology

TOOLS = Path(__file__).with_name("tools")

_REPLY = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from \S+: icmp_seq=(\d+)")  # IPv4 or IPv6
_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")
SEQ_SPAN = 1 << 16  # icmp_seq is 16 bits: a ping every 10 ms wraps it after about 11 minutes


def unwrap_seq(raw: int, last: Optional[int]) -> int:
    """`raw` icmp_seq (0-65535) as a count that goes on past the wrap: the candidate nearest the
    last reply's (replies come in order, give or take a few late ones)."""
    if last is None:
        return raw
    base = last - last % SEQ_SPAN + raw
    return min((base - SEQ_SPAN, base, base + SEQ_SPAN), key=lambda seq: abs(seq - last))


def _deadline(deadline: Optional[float], timeout: Optional[float], default: float) -> float:
    if deadline is not None:
        return deadline
    return time.monotonic() + (default if timeout is None else timeout)


def _clock_offset() -> float:
    """CLOCK_REALTIME - CLOCK_MONOTONIC, sampled tightly (ping -D stamps are realtime)."""
    best = None
    for _ in range(5):
        m0 = time.monotonic()
        r = time.time()
        m1 = time.monotonic()
        if best is None or m1 - m0 < best[0]:
            best = (m1 - m0, r - (m0 + m1) / 2)
    return best[1]  # type: ignore[index]


# --- ping ------------------------------------------------------------------------

@dataclass
class PingResult:
    """Outcome of a :class:`Pinger` run.  Times are monotonic seconds, gaps in ms."""

    sent: int
    received: int
    lost: int
    longest_gap_ms: float
    reply_times: list[float]
    reply_seqs: list[int]
    started: float
    stopped: float
    window_start: Optional[float] = None

    def gap_around(self, t: float) -> float:
        """ms from the last reply at or before ``t`` to the first reply after it."""
        before = [x for x in self.reply_times if x <= t]
        after = [x for x in self.reply_times if x > t]
        start = before[-1] if before else self.started
        end = after[0] if after else self.stopped
        return (end - start) * 1000.0

    def longest_gap_ms_between(self, since: float, until: Optional[float] = None) -> float:
        """The longest interval between consecutive replies that ends after ``since`` and starts
        before ``until`` (the silence spanning a failure injected at ``since`` included); 0 if none."""
        pairs = zip(self.reply_times, self.reply_times[1:])
        return max([(b - a) * 1000.0 for a, b in pairs if b > since and (until is None or a < until)] or [0.0])

    def gaps(self, min_ms: float = 100.0) -> list[tuple[float, float]]:
        """(start, end) of every reply-less interval longer than ``min_ms``."""
        pts = [self.started, *self.reply_times, self.stopped]
        return [(a, b) for a, b in zip(pts, pts[1:]) if (b - a) * 1000.0 > min_ms]

    def median_spacing_ms(self) -> float:
        d = sorted(b - a for a, b in zip(self.reply_times, self.reply_times[1:]))
        return d[len(d) // 2] * 1000.0 if d else float("nan")


class Pinger:
    """iputils ``ping -D -n -i INTERVAL DEST`` in a namespace, replies timestamped.

    ``longest_gap_ms`` is the longest interval without replies: between
    consecutive replies, from :meth:`mark` (start of a failure window) to the
    next reply, and from the last reply to :meth:`stop`.
    """

    def __init__(self, ns: str, dest: str, interval: float = 0.01) -> None:
        self.ns, self.dest, self.interval = ns, dest, interval
        self.proc: Optional[subprocess.Popen] = None
        self._lock = threading.Lock()
        self._times: list[float] = []
        self._seqs: list[int] = []
        self._seen: set[int] = set()
        self._summary: Optional[tuple[int, int]] = None
        self._errors: list[str] = []
        self._thread: Optional[threading.Thread] = None
        self.started = self.stopped = 0.0
        self.window_start: Optional[float] = None
        self._offset = 0.0

    def start(self) -> "Pinger":
        self._offset = _clock_offset()
        self.started = time.monotonic()
        self.proc = netns.spawn(self.ns, ["ping", "-D", "-n", "-i", str(self.interval), self.dest],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            m = _REPLY.match(line)
            if m:
                seq = unwrap_seq(int(m.group(2)), self._seqs[-1] if self._seqs else None)
                with self._lock:
                    if seq not in self._seen:   # ignore DUP! replies
                        self._seen.add(seq)
                        self._times.append(float(m.group(1)) - self._offset)
                        self._seqs.append(seq)
                continue
            s = _SUMMARY.search(line)
            if s:
                self._summary = (int(s.group(1)), int(s.group(2)))
            elif line.strip() and not line.startswith(("PING", "---", "rtt")):
                self._errors.append(line.strip())

    @property
    def replies(self) -> list[float]:
        """Monotonic times of the (non-duplicate) replies so far."""
        with self._lock:
            return list(self._times)

    def wait_flowing(self, deadline: Optional[float] = None, *, timeout: Optional[float] = None,
                     min_replies: int = 5, since: Optional[float] = None) -> bool:
        """Poll until ``min_replies`` replies arrived after ``since`` (default: the
        moment of the call, so replies from before an outage do not count).
        ``deadline`` is absolute monotonic time; or give ``timeout`` seconds
        (default 10 s).  False on timeout or if ping exited."""
        end = _deadline(deadline, timeout, 10.0)
        since = time.monotonic() if since is None else since
        while True:
            now = time.monotonic()
            recent = [t for t in self.replies if t > since]
            if len(recent) >= min_replies:
                return True
            if now >= end or (self.proc and self.proc.poll() is not None):
                return False
            time.sleep(0.02)

    def mark(self, t: Optional[float] = None) -> float:
        """Record the start of a failure window (default: now); returns it."""
        self.window_start = time.monotonic() if t is None else t
        return self.window_start

    def stop(self) -> PingResult:
        """Stop ping (SIGINT, so it prints its summary) and return the result."""
        self.stopped = time.monotonic()
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
                try:
                    self.proc.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    pass
            if self._thread is not None:   # let it read the summary before the pipe closes
                self._thread.join(timeout=2.0)
            netns.kill_pid(self.proc.pid)
        with self._lock:
            times, seqs = list(self._times), list(self._seqs)
        if self._summary:
            sent, received = self._summary
        else:  # ping did not print a summary: estimate from sequence numbers
            sent, received = (max(seqs) if seqs else 0), len(seqs)
        pts = [self.started, *times, self.stopped]
        gaps = [b - a for a, b in zip(pts, pts[1:])]
        if self.window_start is not None:
            nxt = [t for t in times if t > self.window_start]
            gaps.append((nxt[0] if nxt else self.stopped) - self.window_start)
        # the leading gap (start -> first reply) is set-up time, not an outage
        if times:
            gaps = gaps[1:]
        return PingResult(sent=sent, received=received, lost=max(0, sent - received),
                          longest_gap_ms=max(gaps, default=0.0) * 1000.0,
                          reply_times=times, reply_seqs=seqs, started=self.started,
                          stopped=self.stopped, window_start=self.window_start)

    def __enter__(self) -> "Pinger":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()


# --- TCP flows ---------------------------------------------------------------------

@dataclass
class FlowState:
    """One flow as reported by flow_client.py (times monotonic, None if never)."""

    id: int
    kind: str                      # "echo" or "push"
    established: bool
    bytes_rx: int
    lines_rx: int
    last_rx: Optional[float]
    broken: Optional[str]          # None, "EOF", or an errno name like "ECONNRESET"
    broken_at: Optional[float] = None
    local_port: Optional[int] = None
    established_at: Optional[float] = None
    bytes_tx: int = 0
    lines_tx: int = 0
    last_tx: Optional[float] = None
    max_gap: float = 0.0
    gaps: list = field(default_factory=list)
    echo_mismatch: int = 0
    pending_tx: int = 0


class _LineProc:
    """A spawned tool speaking a line protocol on stdin/stdout."""

    def __init__(self, ns: str, argv: list[str], name: str) -> None:
        self.name = name
        self.proc = netns.spawn(ns, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self.stderr: list[str] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put, True),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append, False),
                         daemon=True).start()

    @staticmethod
    def _pump(stream: Any, sink: Any, mark_eof: bool) -> None:
        try:
            for line in stream:
                sink(line.rstrip("\n"))
        except (OSError, ValueError):
            pass
        if mark_eof:
            sink(None)

    def readline(self, timeout: float) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"{self.name}: no answer within {timeout}s") from None
        if line is None:
            raise RuntimeError(f"{self.name} exited (rc={self.proc.poll()}); stderr tail: "
                               f"{[s for s in self.stderr if s][-5:]}")
        return line

    def request(self, cmd: str, timeout: float = 5.0) -> str:
        with self._lock:
            assert self.proc.stdin
            self.proc.stdin.write(cmd + "\n")
            self.proc.stdin.flush()
            return self.readline(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=2.0)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        netns.kill_pid(self.proc.pid)


class _ClientServer:
    """A tool's server on the inet host and its client on the LAN client, started by `start`."""

    client: "_LineProc | None"
    server: "_LineProc | None"

    def start(self):  # noqa: ANN201 (the subclass itself)
        raise NotImplementedError

    def stop(self) -> None:
        """Stop both processes (quit, then TERM/KILL by PID).  Safe to call twice."""
        for p in (self.client, self.server):
            if p is not None:
                p.stop()

    def __enter__(self):  # noqa: ANN204
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Flows(_ClientServer):
    """flow_server.py in the inet namespace + flow_client.py in the client namespace.

    ``n`` echo flows and ``n`` push flows (or ``n_push``) through the routers'
    NAT.  Use as a context manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(self, topo: Topology, n: int = 10, *, n_push: Optional[int] = None,
                 echo_port: int = 5001, push_port: int = 5002, interval: float = 0.1,
                 keepalive: tuple[int, int, int] = (2, 1, 10)) -> None:
        self.topo = topo
        self.n_echo, self.n_push = n, (n if n_push is None else n_push)
        self.echo_port, self.push_port, self.interval = echo_port, push_port, interval
        self.keepalive = keepalive
        self.server: Optional[_LineProc] = None
        self.client: Optional[_LineProc] = None

    @property
    def pids(self) -> list[int]:
        return [p.proc.pid for p in (self.server, self.client) if p is not None]

    def start(self, timeout: float = 10.0) -> "Flows":
        py = sys.executable
        try:
            self.server = _LineProc(self.topo.inet_ns, [
                py, "-u", str(TOOLS / "flow_server.py"), "--echo-port", str(self.echo_port),
                "--push-port", str(self.push_port), "--interval", str(self.interval)],
                "flow_server")
            ready = self.server.readline(timeout)
            if ready != "ready":
                raise RuntimeError(f"flow_server said {ready!r} instead of ready")
            self.client = _LineProc(self.topo.client_ns, [
                py, "-u", str(TOOLS / "flow_client.py"), "--server", self.topo.inet_addr,
                "--echo-port", str(self.echo_port), "--push-port", str(self.push_port),
                "--echo", str(self.n_echo), "--push", str(self.n_push),
                "--interval", str(self.interval),
                "--keepalive", ",".join(str(x) for x in self.keepalive)], "flow_client")
            pong = self.client.request("ping", timeout)
            if pong != "pong":
                raise RuntimeError(f"flow_client said {pong!r} instead of pong")
        except BaseException:
            self.stop()
            raise
        return self


    # --- queries -------------------------------------------------------------
    def raw_status(self) -> dict:
        """The client's status JSON (``{"now": t, "flows": [...]}``)."""
        if self.client is None:
            raise RuntimeError("flows not started")
        return json.loads(self.client.request("status"))

    def status(self) -> list[FlowState]:
        """Every flow's current state, from the client."""
        known = set(FlowState.__dataclass_fields__)
        return [FlowState(**{k: v for k, v in f.items() if k in known})
                for f in self.raw_status()["flows"]]

    def server_status(self) -> dict:
        """flow_server's counters: accepted/open/errors per kind."""
        if self.server is None:
            raise RuntimeError("flows not started")
        return json.loads(self.server.request("status"))

    def broken(self) -> list[FlowState]:
        """Flows that ended (EOF, RST, error, connect timeout)."""
        return [f for f in self.status() if f.broken]

    def survivors_since(self, t: float, flows: Optional[list[FlowState]] = None) -> list[FlowState]:
        """Flows not broken that received data after monotonic time ``t``."""
        flows = self.status() if flows is None else flows
        return [f for f in flows if not f.broken and f.last_rx is not None and f.last_rx > t]

    def wait_all_established(self, deadline: Optional[float] = None, *,
                             timeout: Optional[float] = None) -> bool:
        """Poll until every flow is established and has received data (absolute
        monotonic ``deadline``, or ``timeout`` seconds; default 10 s).  False if
        a flow broke or time ran out."""
        end = _deadline(deadline, timeout, 10.0)
        while True:
            flows = self.status()
            if any(f.broken for f in flows):
                return False
            if all(f.established and f.last_rx is not None for f in flows):
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.05)

    def wait_resumed(self, t: float, deadline: Optional[float] = None, *,
                     timeout: Optional[float] = None) -> bool:
        """Poll until every non-broken flow received data after ``t`` (True), or the
        deadline passes (False).  Broken flows are ignored: check :meth:`broken`."""
        end = _deadline(deadline, timeout, 10.0)
        while True:
            flows = self.status()
            alive = [f for f in flows if not f.broken]
            if len(self.survivors_since(t, flows)) == len(alive):
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.05)


# --- UDP streams -------------------------------------------------------------------

@dataclass
class UdpStream:
    """One stream as reported by udp_stream.py (times monotonic)."""

    kind: str  # "echo" (the client sends every 10 ms, the server answers) or "push" (the server sends)
    port: int
    received: int
    last: Optional[float]
    gaps: list  # [start, end] of every silence over 50 ms

    def gap_ms_after(self, t: float) -> float:
        """The longest silence that ended after ``t`` (from its last datagram before), in ms."""
        return max([(end - start) * 1000 for start, end in self.gaps if end > t] or [0.0])


class UdpStreams(_ClientServer):
    """udp_stream.py's server in the inet namespace and its client in the client namespace:
    ``echo`` client-driven and ``push`` server-driven UDP streams through the routers' NAT."""

    def __init__(self, topo: Topology, echo: int = 2, push: int = 2, port: int = 5005) -> None:
        self.topo, self.echo, self.push, self.port = topo, echo, push, port
        self.server: Optional[_LineProc] = None
        self.client: Optional[_LineProc] = None

    def start(self, timeout: float = 10.0) -> "UdpStreams":
        tool = str(TOOLS / "udp_stream.py")
        try:
            self.server = _LineProc(self.topo.inet_ns, [sys.executable, "-u", tool, "server", str(self.port)],
                                    "udp_stream server")
            if self.server.readline(timeout) != "ready":
                raise RuntimeError("udp_stream server did not start")
            self.client = _LineProc(self.topo.client_ns, [
                sys.executable, "-u", tool, "client", self.topo.inet_addr, str(self.port), str(self.echo),
                str(self.push)], "udp_stream client")
            if self.client.readline(timeout) != "ready":
                raise RuntimeError("udp_stream client did not start")
        except BaseException:
            self.stop()
            raise
        return self


    def status(self) -> list[UdpStream]:
        if self.client is None:
            raise RuntimeError("streams not started")
        return [UdpStream(**s) for s in json.loads(self.client.request("status"))["streams"]]

    def wait_flowing(self, since: float, timeout: float = 10.0) -> bool:
        """Every stream received a datagram after ``since``."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if all(s.last is not None and s.last > since for s in self.status()):
                return True
            time.sleep(0.05)
        return False
