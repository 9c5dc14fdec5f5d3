"""SSH to the peer with the least privilege: the package's own key, the peer's pinned host key,
and on the peer a forced command that knows three verbs (see peer.py).

dropbear's dbclient (OpenWrt) or OpenSSH's ssh. dbclient has no UserKnownHostsFile: it always
reads $HOME/.ssh/known_hosts, so it runs with HOME set to the package's state directory, which
holds the key and the pinned host key (and is kept across sysupgrade). Never `-y -y`; no terminal
(a new session, stdin from the request), so an unknown or changed host key or a password prompt
fails instead of waiting; every call has a deadline.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from ..fspath import FsPath
from ..paths import Paths

CONNECT_TIMEOUT = 5
VERBS = ("hello", "exchange", "get", "push")


class TransportError(Exception):
    """The peer could not be asked. `kind`: unreachable, hostkey, auth, refused, failed."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Reply:
    data: bytes
    sent: int  # bytes written to the SSH client
    received: int


def key_path(paths: Paths) -> FsPath:
    return paths.state_dir / "sync_key"


def known_hosts(paths: Paths) -> FsPath:
    return paths.state_dir / ".ssh" / "known_hosts"


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
        known = subprocess.run([binary, "-o", "help"], capture_output=True, text=True, timeout=5).stderr
    except (OSError, subprocess.TimeoutExpired):
        known = ""
    out = []
    for option in ("BatchMode=yes", "StrictHostKeyChecking=yes"):
        if option.split("=")[0] in known:
            out += ["-o", option]
    return out


def command(paths: Paths, host: str, port: int, verb: str, accept_new: bool = False) -> tuple[list[str], dict]:
    """The client command line and environment for one verb."""
    binary = client()
    if binary is None:
        raise TransportError("failed", "no SSH client: install dropbear (dbclient) or openssh-client")
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "HOME": str(paths.state_dir)}
    if os.path.basename(binary) == "dbclient":
        argv = [binary, "-T", "-i", key_path(paths), "-p", str(port), *(_dbclient_options(binary))]
        if accept_new:
            argv.append("-y")  # trust-peer only: show the key, pin it after the operator agreed
        argv += [f"root@{host}", verb]
    else:
        checking = "accept-new" if accept_new else "yes"
        argv = [binary, "-T", "-i", key_path(paths) + ".openssh", "-p", str(port), "-o", "BatchMode=yes",
                "-o", f"StrictHostKeyChecking={checking}", "-o", f"UserKnownHostsFile={known_hosts(paths)}",
                "-o", f"ConnectTimeout={CONNECT_TIMEOUT}", f"root@{host}", verb]
    return argv, env


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


def call(paths: Paths, host: str, port: int, verb: str, data: bytes = b"", timeout: float = 15,
         accept_new: bool = False) -> tuple[Reply, str]:
    """Run one verb on the peer; returns its stdout and the client's stderr."""
    if verb not in VERBS:
        raise ValueError(f"unknown verb {verb}")
    argv, env = command(paths, host, port, verb, accept_new)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, start_new_session=True)
    except OSError as exc:
        raise TransportError("failed", str(exc)) from None
    _running.add(proc)
    try:
        stdout, raw_stderr = proc.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise TransportError("unreachable", f"no answer from {host} within {timeout:.0f} s") from None
    finally:
        _running.discard(proc)
    stderr = raw_stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise classify(proc.returncode, stderr)
    return Reply(stdout, len(data), len(stdout)), stderr


_running: set[subprocess.Popen] = set()


def stop_all() -> None:
    """Kill SSH clients still running (the agent is exiting): none outlives it."""
    for proc in list(_running):
        try:
            proc.kill()
        except OSError:
            pass
