"""What the agent reads from the system on demand (the side-effect edge of status).

Each probe is cheap and bounded: a file read or one short command with a timeout. Nothing here
polls; the agent calls these when asked for its status or when a transition needs a reason.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from ..fspath import FsPath

COMMAND_TIMEOUT = 2.0


def _run(args: list[str]) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None


def addresses_on(devices: list[str]) -> dict[str, list[str]]:
    """Addresses configured on each device (`ip -o addr show`), without prefix."""
    out: dict[str, list[str]] = {device: [] for device in devices}
    proc = _run(["ip", "-o", "addr", "show"])
    if proc is None or proc.returncode != 0:
        return out
    for line in proc.stdout.splitlines():
        words = line.split()
        if len(words) < 4:
            continue
        device = words[1].split("@")[0]
        if device in out and words[2] in ("inet", "inet6"):
            out[device].append(words[3].split("/")[0])
    return out


def carrier(device: str) -> bool | None:
    """True when the device has carrier, None when it does not exist."""
    try:
        with open(f"/sys/class/net/{device}/carrier") as handle:
            return handle.read().strip() == "1"
    except OSError:
        return None if not os.path.exists(f"/sys/class/net/{device}") else False


@dataclass(frozen=True)
class CheckResult:
    result: str  # ok | fail | unknown
    since: float | None  # when the current run of results began
    consecutive: int  # results in a row equal to `result`
    last_run: float | None


def check_result(run_dir: FsPath, name: str) -> CheckResult:
    """Written by the package's `check` helper each time keepalived runs a check."""
    path = run_dir / "checks" / name
    try:
        result, since, consecutive = path.read_text().split()[:3]
        return CheckResult(result, float(since), int(consecutive), path.stat().st_mtime)
    except (OSError, ValueError):
        return CheckResult("unknown", None, 0, None)


_NUMBER_FIELDS = {
    "current active connections": "active",
    "connections created": "created",
    "connections updated": "updated",
    "connections destroyed": "destroyed",
}


def conntrackd_stats(config: FsPath) -> dict:
    """`conntrackd -s` as numbers: running, cache sizes, sync traffic and its errors."""
    proc = _run(["conntrackd", "-C", str(config), "-s"])
    if proc is None or proc.returncode != 0 or "can't connect" in proc.stdout + proc.stderr:
        return {"running": False}
    stats: dict = {"running": True, "internal": {}, "external": {}, "sync": {}}
    section: dict | None = None
    for raw in proc.stdout.splitlines():
        line = raw.strip()
        if line.startswith("cache internal"):
            section = stats["internal"]
        elif line.startswith("cache external"):
            section = stats["external"]
        elif "traffic (active device=" in line:
            section = stats["sync"]
            stats["sync"]["device"] = line.split("=", 1)[1].rstrip("):")
        elif line.startswith("message tracking"):
            section = stats["sync"]
        elif section is not None:
            _parse_stat_line(line, section)
    return stats


def _parse_stat_line(line: str, section: dict) -> None:
    for label, key in _NUMBER_FIELDS.items():
        if line.startswith(label):
            numbers = re.findall(r"\d+", line)
            if numbers:
                section[key] = int(numbers[0])
            return
    # "4416 Bytes sent   1632 Bytes recv", "0 Error send  0 Error recv", "0 Malformed msgs  0 Lost msgs"
    for number, label in re.findall(r"(\d+)\s+([A-Za-z]+ [A-Za-z]+)", line):
        section[label.lower().replace(" ", "_")] = int(number)


def dhcp_answering(run_dir: FsPath) -> bool | None:
    """Whether the DHCP guard lets requests through, as the notify script recorded it after
    switching nft (reading a file is cheap; `nft list` costs milliseconds per status call).
    None: no record (no transition yet, or the switch failed)."""
    try:
        return {"yes": True, "no": False}.get((run_dir / "dhcp").read_text().strip())
    except OSError:
        return None


def peer_reachable(address: str, port: int = 22, timeout: float = 0.3) -> bool:
    """Any answer on the sync link (accepted or refused) means the peer is up."""
    # socket.connect with an ASCII address, not create_connection: getaddrinfo needs the idna
    # codec, which OpenWrt ships outside python3-light.
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
            return True
        except ConnectionRefusedError:
            return True
        except OSError:
            return False


def process_alive(pid_file: FsPath) -> bool:
    try:
        pid = int(pid_file.read_text().split()[0])
        return os.path.exists(f"/proc/{pid}")
    except (OSError, ValueError, IndexError):
        return False


def now() -> float:
    return time.time()
