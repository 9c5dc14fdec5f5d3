"""SSH to the peer with the least privilege: the package's own key, the peer's pinned host key,
and on the peer a forced command that knows seven verbs (see peer.py).

dropbear's dbclient (OpenWrt) or OpenSSH's ssh. dbclient has no UserKnownHostsFile: it always
reads $HOME/.ssh/known_hosts, so it runs with HOME set to the package's state directory, which
holds the key and the pinned host key (and is kept across sysupgrade). Never `-y -y`; no terminal
(a new session, stdin from the request), so an unknown or changed host key or a password prompt
fails instead of waiting; every call has a deadline.
"""

from __future__ import annotations

import os
import time

from .. import epoll_selector, spawn
from ..record import record
from ..paths import Paths, known_hosts_in
from ..leases.limits import MAX_ERROR_BYTES, Budget, MessageRefused
from .message import announced_length, without_mark

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Callable

CONNECT_TIMEOUT = 5
VERBS = ("hello", "get", "exchange", "push", "state", "config-get", "config-put")  # the forced command's, no other


class TransportError(Exception):
    """The peer could not be asked. `kind`: unreachable, hostkey, auth, refused (the peer refused
    what we sent), rejected (we refused what the peer sent: over a limit or unreadable), failed."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@record(frozen=True)
class Reply:
    data: bytes
    sent: int  # bytes written to the SSH client
    received: int


def client() -> str | None:
    # os.path rather than shutil.which: shutil loads bz2 and lzma into the long-running agent
    for name in ("dbclient", "ssh"):
        for directory in os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":"):
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
    return None


def _dbclient_options(binary: str) -> list[str]:
    """BatchMode / StrictHostKeyChecking where this dbclient knows them (newer dropbear)."""
    try:
        known = spawn.run([binary, "-o", "help"], timeout=5)[2].decode(errors="replace")
    except (OSError, TimeoutError):
        known = ""
    out = []
    for option in ("BatchMode=yes", "StrictHostKeyChecking=yes"):
        if option.split("=")[0] in known:
            out += ["-o", option]
    return out


def command(paths: Paths, host: str, port: int, verb: str, scratch: str | None = None) -> tuple[list[str], dict]:
    """The client command line and environment for one verb. With `scratch` (trust-peer) an unknown
    host key is accepted into the known_hosts file of that scratch directory, never into the pinned
    one: nothing is pinned before the operator agrees."""
    binary = client()
    if binary is None:
        raise TransportError("failed", "no SSH client: install dropbear (dbclient) or openssh-client")
    home = scratch or str(paths.state_dir)  # dbclient reads (and with -y writes) $HOME/.ssh/known_hosts
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "HOME": home}
    if os.path.basename(binary) == "dbclient":
        if not scratch and not _dbclient_knows(paths, host):
            # dbclient without BatchMode (Debian's 2022.83) asks about an unknown key on stdin and,
            # at its end, spins until killed: 15 s of a busy CPU per attempt
            raise TransportError("hostkey", f"no host key pinned for {host}: pair with `ha-pair trust-peer`")
        argv = [binary, "-T", "-i", paths.sync_key, "-p", str(port), *(_dbclient_options(binary))]
        if scratch:
            argv.append("-y")
        argv += [f"root@{host}", verb]
    else:
        checking = "accept-new" if scratch else "yes"
        hosts = known_hosts_in(scratch) if scratch else paths.known_hosts
        argv = [binary, "-T", "-i", paths.sync_key + ".openssh", "-p", str(port), "-o", "BatchMode=yes",
                "-o", f"StrictHostKeyChecking={checking}", "-o", f"UserKnownHostsFile={hosts}",
                "-o", "GlobalKnownHostsFile=/dev/null", "-o", "HashKnownHosts=no", "-o", "UpdateHostKeys=no",
                "-o", f"ConnectTimeout={CONNECT_TIMEOUT}", f"root@{host}", verb]
    return argv, env


def _dbclient_knows(paths: Paths, host: str) -> bool:
    """Whether the pinned known_hosts has a line dbclient matches: the host name, then a space."""
    try:
        with open(paths.known_hosts, "rb") as handle:
            return any(line.startswith(host.encode() + b" ") for line in handle)
    except OSError:
        return False


def classify(returncode: int, stderr: str) -> TransportError:
    text = stderr.lower()
    if "host key mismatch" in text or "remote host identification has changed" in text \
            or "host key verification failed" in text or "not in the trusted hosts file" in text:
        return TransportError("hostkey", f"the peer's host key is not the pinned one: {stderr.strip()[-300:]}")
    if "no auth methods" in text or "permission denied" in text or "password" in text:
        return TransportError("auth", f"the peer refused the sync key: {stderr.strip()[-300:]}")
    if "refused" in text and "connect" in text or "no route" in text or "timed out" in text \
            or "network is unreachable" in text or "connection refused" in text:
        return TransportError("unreachable", stderr.strip()[-300:] or "no connection")
    if "ha-pair lease-peer:" in text:
        return TransportError("refused", stderr.strip()[-300:])
    return TransportError("failed", f"exit {returncode}: {stderr.strip()[-300:]}")


def call(paths: Paths, host: str, port: int, verb: str, data: bytes | Callable[[], bytes] = b"",
         timeout: float = 15, scratch: str | None = None, budget: Budget | None = None,
         idle: Callable[[], None] | None = None, answered: Callable[[Callable[[], bytes]], None] | None = None,
         ) -> tuple[Reply, str]:
    """Run one verb on the peer; returns its stdout and the client's stderr. The answer is read as it
    comes, within `budget` (default: one message's limits): a peer that sends more is cut off at
    once and the call fails with kind `rejected`. `data` may be a function giving the bytes: it
    runs once the client is started, so that the connection and the peer's start-up overlap the
    work that makes them (its exception ends the call, the client killed). `idle` runs once all of
    `data` is written, while the peer works on it (the answer waits in the pipe meanwhile).
    `answered` takes the answer instead of the Reply (whose data is then empty), through the
    function it is given, which hands the bytes over once (the callee alone then holds them, and
    can free them as soon as it has parsed them: 50 000 leases are ~3.5 MB): as soon as the
    peer has announced its end (message.answer_mark) and all of `data` is written, while the peer
    may still be working on it; else once the peer exited 0. Its exceptions end the call (the
    client killed); a peer that fails after it ran still fails the call."""
    if verb not in VERBS:
        raise ValueError(f"unknown verb {verb}")
    argv, env = command(paths, host, port, verb, scratch)
    try:
        proc = spawn.Child(argv, env, spawn.PIPE, spawn.PIPE, spawn.PIPE, new_session=True)
    except OSError as exc:
        raise TransportError("failed", str(exc)) from None
    _running.add(proc)
    early = False
    try:
        if callable(data):
            data = data()
        started = time.monotonic()
        with _Conversation(proc, data, started + timeout, budget or Budget(), verb, idle) as conversation:
            if answered is not None and not conversation.run(until_answer=True):
                early = True
                answered(conversation.take_answer)  # the peer merges meanwhile
            conversation.run()
            proc.wait(max(0.1, timeout - (time.monotonic() - started)))  # output ended: let it exit
        stdout, raw_stderr, received = conversation.result()
    except TimeoutError:
        raise TransportError("unreachable", f"no answer from {host} within {timeout:.0f} s") from None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.close()
        _running.discard(proc)
    stderr = without_mark(raw_stderr).decode("utf-8", "replace")
    if proc.returncode != 0:
        raise classify(proc.returncode, stderr)
    announced = announced_length(raw_stderr)
    if announced is not None and announced != received:
        raise TransportError("rejected", f"the peer announced an answer to {verb} of {announced} bytes "
                                         f"and sent {received}")
    if answered is not None and not early:
        held, stdout = [stdout], b""
        answered(held.pop)  # a peer that answers only at its end (an older ha-pair)
    return Reply(stdout, len(data), received), stderr


class _Conversation:
    """The client's pipes: data written to its stdin while its stdout (within budget) and stderr
    (capped) are read."""

    def __init__(self, proc: spawn.Child, data: bytes, deadline: float, budget: Budget, verb: str,
                 idle: Callable[[], None] | None = None) -> None:
        self.proc, self.deadline, self.budget, self.verb = proc, deadline, budget, verb
        self.idle = idle  # runs once, when all of data is written
        self.out: list[bytes] = []
        self.received = 0
        self.err = bytearray()
        self.pending = memoryview(data)
        self.selector = epoll_selector.EpollSelector()
        for fd in (proc.stdout, proc.stderr):
            os.set_blocking(fd, False)
            self.selector.register(fd, epoll_selector.EVENT_READ)
        if self.pending:
            os.set_blocking(proc.stdin, False)
            self.selector.register(proc.stdin, epoll_selector.EVENT_WRITE)
        else:
            proc.close("stdin")

    def __enter__(self) -> _Conversation:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.selector.close()

    def run(self, until_answer: bool = False) -> bool:
        """Until both outputs end (True); `until_answer`: or until all data is written and the
        announced answer is all read (False: the client still runs)."""
        proc = self.proc
        while self.selector.get_map():
            if self.idle is not None and not self.pending:
                idle, self.idle = self.idle, None
                idle()
            if until_answer and not self.pending and self._answer_read():
                return False
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            for key, _ in self.selector.select(left):
                if key.fd == proc.stdin:
                    try:
                        written = os.write(proc.stdin, self.pending[:65536])
                    except BrokenPipeError:
                        written = len(self.pending)
                    self.pending = self.pending[written:]
                    if not self.pending:
                        self.selector.unregister(proc.stdin)
                        proc.close("stdin")
                    continue
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    self.selector.unregister(key.fd)
                elif key.fd == proc.stdout:
                    try:
                        self.budget.take(chunk)
                    except MessageRefused as exc:
                        raise TransportError("rejected", f"refused the peer's answer to {self.verb}: {exc}") from None
                    self.out.append(chunk)
                    self.received += len(chunk)
                elif len(self.err) < MAX_ERROR_BYTES:
                    self.err += chunk[:MAX_ERROR_BYTES - len(self.err)]
        return True

    def _answer_read(self) -> bool:
        announced = announced_length(self.err)
        return announced is not None and self.received >= announced

    def take_answer(self) -> bytes:
        """stdout so far, handed over (not kept: 50 000 leases are ~3.5 MB)."""
        answer = b"".join(self.out)
        self.out = []
        return answer

    def result(self) -> tuple[bytes, bytes, int]:
        """stdout not taken, stderr, and how many bytes stdout brought in all."""
        return b"".join(self.out), bytes(self.err), self.received


_running: set[spawn.Child] = set()


def stop_all() -> None:
    """Kill SSH clients still running (the agent is exiting): none outlives it."""
    for proc in list(_running):
        try:
            proc.kill()
        except OSError:
            pass
