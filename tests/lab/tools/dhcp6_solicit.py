"""Send COUNT DHCPv6 Solicits out of DEVICE, one per second, and count the servers' answers
(Advertise, or Reply to a rapid commit) by the Ethernet source address of the frame that carried
them, until SECONDS have passed; print {"mac": count, ...} as JSON.

usage: dhcp6_solicit.py DEVICE SECONDS COUNT

A packet socket sees every frame as it arrives; the UDP socket on port 546 sends the Solicits
(RFC 8415: from the client port, to All_DHCP_Relay_Agents_and_Servers) and keeps the port open.
"""

import json
import os
import socket
import struct
import sys
import time

ETH_P_IPV6 = 0x86DD
UDP = 17
CLIENT_PORT, SERVER_PORT = 546, 547
SOLICIT, ADVERTISE, REPLY = 1, 2, 7
OPTION_CLIENTID, OPTION_IA_NA, OPTION_ORO, OPTION_ELAPSED_TIME = 1, 3, 6, 8


def option(code: int, data: bytes) -> bytes:
    return struct.pack("!HH", code, len(data)) + data


def solicit(mac: bytes, transaction: int) -> bytes:
    duid = struct.pack("!HH", 3, 1) + mac  # DUID-LL, Ethernet
    return (bytes([SOLICIT]) + transaction.to_bytes(3, "big") + option(OPTION_CLIENTID, duid)
            + option(OPTION_ELAPSED_TIME, b"\0\0") + option(OPTION_IA_NA, struct.pack("!III", 1, 0, 0))
            + option(OPTION_ORO, struct.pack("!H", 23)))  # DNS servers


def main() -> int:
    device, seconds, count = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    mac = bytes.fromhex(open(f"/sys/class/net/{device}/address").read().strip().replace(":", ""))
    index = socket.if_nametoindex(device)
    seen: dict[str, int] = {}
    with socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IPV6)) as capture, \
            socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as client:
        capture.bind((device, ETH_P_IPV6))
        client.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
        client.bind(("::", CLIENT_PORT))
        started = time.monotonic()
        sent = 0
        while (left := started + seconds - time.monotonic()) > 0:
            if sent < count and time.monotonic() >= started + sent:
                client.sendto(solicit(mac, int.from_bytes(os.urandom(3), "big")), ("ff02::1:2", SERVER_PORT, 0, index))
                sent += 1
            capture.settimeout(min(left, max(0.01, started + sent - time.monotonic())) if sent < count else left)
            try:
                packet, address = capture.recvfrom(2048)
            except socket.timeout:
                continue
            # IPv6 header (40 bytes, no extension headers from odhcpd), UDP header (8), DHCPv6
            if len(packet) > 48 and packet[6] == UDP and struct.unpack("!H", packet[42:44])[0] == CLIENT_PORT \
                    and packet[48] in (ADVERTISE, REPLY):
                source = address[4].hex(":")
                seen[source] = seen.get(source, 0) + 1
    print(json.dumps(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
