"""Ask one DNS server for a name's A record and print the addresses (one per line).

usage: dns_query.py SERVER NAME        (exit 1 when no answer within 2 s)
"""

from __future__ import annotations

import random
import socket
import struct
import sys


def query(server: str, name: str, timeout: float = 2.0) -> list[str]:
    ident = random.randrange(65536)
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
    packet = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (server, 53))
        reply, _ = sock.recvfrom(4096)
    answers = struct.unpack("!H", reply[6:8])[0]
    offset = 12 + len(question)
    out = []
    for _ in range(answers):
        if reply[offset] & 0xC0 == 0xC0:  # compressed name
            offset += 2
        else:
            while reply[offset]:
                offset += reply[offset] + 1
            offset += 1
        rtype, _, _, length = struct.unpack("!HHIH", reply[offset:offset + 10])
        offset += 10
        if rtype == 1 and length == 4:
            out.append(socket.inet_ntoa(reply[offset:offset + 4]))
        offset += length
    return out


if __name__ == "__main__":
    try:
        addresses = query(sys.argv[1], sys.argv[2])
    except OSError as exc:
        print(f"no answer: {exc}", file=sys.stderr)
        sys.exit(1)
    print("\n".join(addresses))
    sys.exit(0 if addresses else 1)
