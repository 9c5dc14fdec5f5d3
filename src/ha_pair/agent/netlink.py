"""Links and addresses straight from the kernel (rtnetlink), without forking `ip`.

One RTM_GETLINK dump gives every device's name, index and carrier (IFF_LOWER_UP: what
/sys/class/net/DEV/carrier says for an up device, and "no carrier" for a down one); one
RTM_GETADDR dump gives every address. About 0.1 ms for both on a router with a few devices,
where `ip -o addr show` costs a fork and exec (5 ms here, far more on a router). Needs only
`socket` and `struct` (python3-light), and no /sys (a router namespace may not mount it).
"""

from __future__ import annotations

import _socket  # socket.py's C core: socket.py's enums of every AF_/SOCK_/MSG_ constant cost the agent ~300 kB
import struct
from ..record import record

NETLINK_ROUTE = 0
RTM_GETLINK, RTM_NEWLINK = 18, 16
RTM_GETADDR, RTM_NEWADDR = 22, 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
IFLA_IFNAME = 3
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFF_LOWER_UP = 0x10000

_HEADER = struct.Struct("=IHHII")  # struct nlmsghdr: len, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")  # struct ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # struct ifaddrmsg: family, prefixlen, flags, scope, index
_ATTR = struct.Struct("=HH")  # struct rtattr: len, type
RECV_SIZE = 65536
TIMEOUT_S = 1.0


class NetlinkError(OSError):
    """The kernel answered a dump with an error."""


@record(frozen=True)
class Link:
    name: str
    index: int
    carrier: bool


def _align(length: int) -> int:
    return (length + 3) & ~3


def _attribute(data: bytes, offset: int, end: int, wanted: int) -> bytes | None:
    """The payload of the first attribute of type `wanted` (a link carries ~50 attributes: only
    the one asked for is sliced)."""
    while offset + _ATTR.size <= end:
        length, kind = _ATTR.unpack_from(data, offset)
        if length < _ATTR.size:
            return None
        if kind == wanted:
            return data[offset + _ATTR.size:offset + length]
        offset += _align(length)
    return None


def _dump(message_type: int, body: bytes) -> list[tuple[int, bytes, int, int]]:
    """Every message of one dump: (type, the buffer holding it, offset of its payload, its end)."""
    sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW, NETLINK_ROUTE)
    try:
        sock.settimeout(TIMEOUT_S)
        sock.bind((0, 0))
        seq = 1
        sock.send(_HEADER.pack(_HEADER.size + len(body), message_type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body)
        messages = []
        while True:
            data = sock.recv(RECV_SIZE)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, kind, _flags, got_seq, _pid = _HEADER.unpack_from(data, offset)
                if length < _HEADER.size:
                    return messages
                if got_seq == seq:
                    if kind == NLMSG_DONE:
                        return messages
                    if kind == NLMSG_ERROR:
                        (errno,) = struct.unpack_from("=i", data, offset + _HEADER.size)
                        if errno:
                            raise NetlinkError(-errno, f"rtnetlink dump {message_type}: error {-errno}")
                    else:
                        messages.append((kind, data, offset + _HEADER.size, offset + length))
                offset += _align(length)
    finally:
        sock.close()


def links() -> dict[str, Link]:
    """Every network device of this namespace, by name."""
    out = {}
    for kind, data, start, end in _dump(RTM_GETLINK, _IFINFO.pack(_socket.AF_UNSPEC, 0, 0, 0, 0)):
        if kind != RTM_NEWLINK:
            continue
        _family, _type, index, flags, _change = _IFINFO.unpack_from(data, start)
        name = (_attribute(data, start + _IFINFO.size, end, IFLA_IFNAME) or b"").split(b"\0")[0].decode()
        if name:
            out[name] = Link(name, index, bool(flags & IFF_LOWER_UP))
    return out


def addresses() -> dict[int, list[str]]:
    """Every IPv4 and IPv6 address, by device index, as `ip addr` shows them (without prefix)."""
    out: dict[int, list[str]] = {}
    for kind, data, start, end in _dump(RTM_GETADDR, _IFADDR.pack(_socket.AF_UNSPEC, 0, 0, 0, 0)):
        if kind != RTM_NEWADDR:
            continue
        family, _prefix, _flags, _scope, index = _IFADDR.unpack_from(data, start)
        if family not in (_socket.AF_INET, _socket.AF_INET6):
            continue
        # IFA_LOCAL: this end of a point-to-point link; otherwise IFA_ADDRESS is the address
        raw = _attribute(data, start + _IFADDR.size, end, IFA_LOCAL) or \
            _attribute(data, start + _IFADDR.size, end, IFA_ADDRESS)
        if raw:
            out.setdefault(index, []).append(_socket.inet_ntop(family, raw))
    return out
