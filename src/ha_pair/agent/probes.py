"""What the agent reads from the system on demand (the side-effect edge of status).

Each probe is cheap, bounded and forks nothing: links and addresses come from rtnetlink,
conntrackd's counters from its control socket (what the shell scripts record in files is read by
runfiles.py). Nothing here polls; the agent calls these when asked for its status or when a
transition needs a reason.
"""

from __future__ import annotations

import re
import _socket  # socket.py's C core: socket.py's enums of every AF_/SOCK_/MSG_ constant cost the agent ~300 kB
import struct

from ..fspath import FsPath
from . import netlink

CONNTRACKD_STATS = 21  # conntrackd's request code for `conntrackd -s` (include/conntrackd.h)
CONNTRACKD_TIMEOUT_S = 1.0
CONNTRACKD_REPLY_LIMIT = 1 << 20


def interfaces(devices: list[str]) -> tuple[dict[str, list[str]], dict[str, bool | None]]:
    """For each device: the addresses on it (without prefix) and its carrier (None: no such
    device). Two netlink dumps, whatever the number of devices."""
    try:
        present = netlink.links()
        by_index = netlink.addresses()
    except OSError:
        return {device: [] for device in devices}, {device: None for device in devices}
    addresses = {d: by_index.get(present[d].index, []) if d in present else [] for d in devices}
    carriers = {d: present[d].carrier if d in present else None for d in devices}
    return addresses, carriers


def addresses_on(devices: list[str]) -> dict[str, list[str]]:
    """Addresses configured on each device, without prefix."""
    return interfaces(devices)[0]


def carrier(device: str) -> bool | None:
    """True when the device has carrier, None when it does not exist."""
    return interfaces([device])[1][device]


_NUMBER_FIELDS = {
    "current active connections": "active",
    "connections created": "created",
    "connections updated": "updated",
    "connections destroyed": "destroyed",
}


def conntrackd_stats(control_socket: FsPath) -> dict:
    """What `conntrackd -s` prints, as numbers (running, cache sizes, sync traffic and its
    errors), asked on conntrackd's control socket as the conntrackd CLI does: one native int,
    then the text until conntrackd closes."""
    try:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.settimeout(CONNTRACKD_TIMEOUT_S)
            sock.connect(str(control_socket))
            sock.sendall(struct.pack("=i", CONNTRACKD_STATS))
            chunks, size = [], 0
            while size < CONNTRACKD_REPLY_LIMIT:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            sock.close()
    except OSError:
        return {"running": False}
    return parse_conntrackd_stats(b"".join(chunks).decode(errors="replace"))


def parse_conntrackd_stats(text: str) -> dict:
    stats: dict = {"running": True, "internal": {}, "external": {}, "sync": {}}
    section: dict | None = None
    for raw in text.splitlines():
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


def peer_reachable(address: str, port: int = 22, timeout: float = 0.3) -> bool:
    """Any answer on the sync link (accepted or refused) means the peer is up."""
    # socket.connect with an ASCII address, not create_connection: getaddrinfo needs the idna
    # codec, which OpenWrt ships outside python3-light.
    family = _socket.AF_INET6 if ":" in address else _socket.AF_INET
    sock = _socket.socket(family, _socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((address, port))
        return True
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        sock.close()
