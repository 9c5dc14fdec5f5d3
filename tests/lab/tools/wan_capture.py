#!/usr/bin/env python3
"""Capture what arrives on one switch port (the lab's ISP side of a router's WAN cable): one line
per frame the router sent, `<unix time> <source MAC> <ethertype hex> <length>`, flushed at once,
until killed. Frames the switch sends out of that port toward the router are not counted."""

import socket
import sys
import time

ETH_P_ALL = 0x0003


def main() -> None:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((sys.argv[1], 0))
    print("ready", flush=True)
    while True:
        data, address = sock.recvfrom(65535)
        if address[2] == socket.PACKET_OUTGOING:
            continue
        print(f"{time.time():.6f} {data[6:12].hex(':')} {data[12:14].hex()} {len(data)}", flush=True)


if __name__ == "__main__":
    main()
