"""Print the monotonic time of the next VRRP advertisement from SOURCE seen on this namespace's
links, then exit (exit 1 after TIMEOUT seconds without one).

usage: advert_watch.py SOURCE TIMEOUT

CLOCK_MONOTONIC is one clock for every namespace of the machine, so the caller can schedule a
failure at a fixed phase after the advert. A packet socket sees the advert as it arrives, before
any daemon would; only IPv4 VRRP (protocol 112) is looked at.
"""

import socket
import sys
import time

ETH_P_IP = 0x0800
VRRP = 112


def main() -> int:
    source = socket.inet_aton(sys.argv[1])
    deadline = time.monotonic() + float(sys.argv[2])
    with socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP)) as sock:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return 1
            sock.settimeout(left)
            try:
                packet = sock.recv(128)
            except socket.timeout:
                return 1
            seen = time.monotonic()
            if len(packet) >= 20 and packet[9] == VRRP and packet[12:16] == source:
                print(f"{seen:.6f}", flush=True)
                return 0


if __name__ == "__main__":
    sys.exit(main())
