"""Count the IPv6 router advertisements this namespace's links receive, by the Ethernet source
address of the frame that carried them, for SECONDS; print {"mac": count, ...} as JSON.

usage: ra_watch.py SECONDS

A packet socket sees every frame as it arrives, whatever the kernel then does with it (an RA
whose router the client already knows changes nothing it could observe otherwise).
"""

import json
import socket
import sys
import time

ETH_P_IPV6 = 0x86DD
ICMPV6 = 58
ROUTER_ADVERT = 134


def main() -> int:
    deadline = time.monotonic() + float(sys.argv[1])
    seen: dict[str, int] = {}
    with socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IPV6)) as sock:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                packet, address = sock.recvfrom(2048)
            except socket.timeout:
                break
            # address: (ifname, proto, pkttype, hatype, source hardware address); no extension headers in an RA
            if len(packet) > 40 and packet[6] == ICMPV6 and packet[40] == ROUTER_ADVERT:
                mac = address[4].hex(":")
                seen[mac] = seen.get(mac, 0) + 1
    print(json.dumps(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
