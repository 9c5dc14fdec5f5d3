"""Print the monotonic time of the next VRRP advertisement from SOURCE seen on this namespace's
links, then exit (exit 1 after TIMEOUT seconds without one). With --all, print the kernel's
receive time (CLOCK_REALTIME, seconds) of every advertisement from SOURCE until TIMEOUT, then exit
0 if any was seen: the silences between them are the master's, not this watcher's scheduling.

usage: advert_watch.py SOURCE TIMEOUT [--all]

CLOCK_MONOTONIC is one clock for every namespace of the machine, so the caller can schedule a
failure at a fixed phase after the advert. A packet socket sees the advert as it arrives, before
any daemon would; only IPv4 VRRP (protocol 112) is looked at.
"""

import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
VRRP = 112
SO_TIMESTAMPNS = 35  # asm-generic/socket.h: the receive time as a struct timespec


def is_advert(packet: bytes, source: bytes) -> bool:
    return len(packet) >= 20 and packet[9] == VRRP and packet[12:16] == source


def kernel_time(ancillary) -> float:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, nanoseconds = struct.unpack("qq", data[:16])
            return seconds + nanoseconds / 1e9
    return time.time()


def main() -> int:
    source = socket.inet_aton(sys.argv[1])
    deadline = time.monotonic() + float(sys.argv[2])
    every = sys.argv[3:] == ["--all"]
    seen_any = False
    with socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return 0 if seen_any else 1
            sock.settimeout(left)
            try:
                packet, ancillary, _, _ = sock.recvmsg(128, socket.CMSG_SPACE(16))
            except socket.timeout:
                return 0 if seen_any else 1
            seen = time.monotonic()
            if not is_advert(packet, source):
                continue
            if not every:
                print(f"{seen:.6f}", flush=True)
                return 0
            seen_any = True
            print(f"{kernel_time(ancillary):.6f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
