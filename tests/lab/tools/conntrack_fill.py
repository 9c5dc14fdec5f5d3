"""Insert COUNT idle, established TCP connections into this namespace's conntrack table, as
`conntrack -I` does (the same ctnetlink IPCTNL_MSG_CT_NEW message), but many per send: 50 000
`conntrack -I` processes take minutes. Each is a LAN client's connection to the inet host,
source-NATed to the WAN VIP, with a long timeout; the kernel reports each as a NEW event, which
conntrackd syncs to the peer.

usage: conntrack_fill.py COUNT CLIENT_NET INET WAN_VIP TIMEOUT_S  (COUNT <= 220 000)
Prints the number the kernel refused (0 expected).
"""

import ipaddress
import socket
import struct
import sys

NETLINK_NETFILTER = 12
IPCTNL_MSG_CT_NEW = (1 << 8) | 0  # NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLA_F_NESTED = 0x8000
NLMSG_ERROR = 2
CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_STATUS, CTA_PROTOINFO, CTA_NAT_SRC, CTA_TIMEOUT = 1, 2, 3, 4, 6, 7
CTA_NAT_V4_MINIP, CTA_NAT_V4_MAXIP, CTA_NAT_PROTO = 1, 2, 3
CTA_PROTONAT_PORT_MIN, CTA_PROTONAT_PORT_MAX = 1, 2
CTA_TUPLE_IP, CTA_TUPLE_PROTO = 1, 2
CTA_IP_V4_SRC, CTA_IP_V4_DST = 1, 2
CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT = 1, 2, 3
CTA_PROTOINFO_TCP, CTA_PROTOINFO_TCP_STATE = 1, 1
TCP_CONNTRACK_ESTABLISHED = 3
# the status `conntrack -I -u SEEN_REPLY,ASSURED` sends (without CONFIRMED, or with IPS_SRC_NAT, the
# kernel answers EBUSY)
IPS_SEEN_REPLY, IPS_ASSURED, IPS_CONFIRMED = 1 << 1, 1 << 2, 1 << 3
BATCH = 200
SERVER_PORTS = (443, 80, 993, 22)


def attr(kind: int, payload: bytes, nested: bool = False) -> bytes:
    header = struct.pack("=HH", 4 + len(payload), kind | (NLA_F_NESTED if nested else 0))
    return header + payload + b"\0" * (-len(payload) % 4)


def tuple_of(src: bytes, dst: bytes, sport: int, dport: int) -> bytes:
    ip = attr(CTA_IP_V4_SRC, src) + attr(CTA_IP_V4_DST, dst)
    proto = (attr(CTA_PROTO_NUM, bytes([socket.IPPROTO_TCP])) + attr(CTA_PROTO_SRC_PORT, struct.pack("!H", sport))
             + attr(CTA_PROTO_DST_PORT, struct.pack("!H", dport)))
    return attr(CTA_TUPLE_IP, ip, True) + attr(CTA_TUPLE_PROTO, proto, True)


def message(seq: int, client: bytes, sport: int, inet: bytes, dport: int, vip: bytes, nat_port: int,
            timeout: int) -> bytes:
    body = (attr(CTA_TUPLE_ORIG, tuple_of(client, inet, sport, dport), True)
            + attr(CTA_TUPLE_REPLY, tuple_of(inet, vip, dport, nat_port), True)
            + attr(CTA_STATUS, struct.pack("!I", IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED))
            + attr(CTA_TIMEOUT, struct.pack("!I", timeout))
            + attr(CTA_PROTOINFO, attr(CTA_PROTOINFO_TCP, attr(CTA_PROTOINFO_TCP_STATE,
                                                                  bytes([TCP_CONNTRACK_ESTABLISHED])), True), True)
            # source NAT to the WAN VIP (`conntrack -I --src-nat`): the kernel marks it IPS_SRC_NAT, and
            # conntrackd syncs the NAT with it (without it the peer would rebuild an un-NATed entry)
            + attr(CTA_NAT_SRC, attr(CTA_NAT_V4_MINIP, vip) + attr(CTA_NAT_V4_MAXIP, vip)
                   + attr(CTA_NAT_PROTO, attr(CTA_PROTONAT_PORT_MIN, struct.pack("!H", nat_port))
                          + attr(CTA_PROTONAT_PORT_MAX, struct.pack("!H", nat_port)), True), True))
    nfgen = struct.pack("=BBH", socket.AF_INET, 0, 0)
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    payload = nfgen + body
    return struct.pack("=IHHII", 16 + len(payload), IPCTNL_MSG_CT_NEW, flags, seq, 0) + payload


def refused(data: bytes) -> tuple[int, int]:
    """(answers, errors) among the NLMSG_ERROR answers in one receive (error 0 is an ACK)."""
    answers = errors = 0
    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if kind == NLMSG_ERROR:
            answers += 1
            errors += struct.unpack_from("=i", data, offset + 16)[0] != 0
        offset += max(16, (length + 3) & ~3)
    return answers, errors


def main() -> int:
    count, timeout = int(sys.argv[1]), int(sys.argv[5])
    clients = [a.packed for a in ipaddress.ip_network(sys.argv[2]).hosts()][99:249]  # .100-.249: DHCP clients
    inet, vip = socket.inet_aton(sys.argv[3]), socket.inet_aton(sys.argv[4])
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((0, 0))
    errors = 0
    for start in range(0, count, BATCH):
        batch = range(start, min(count, start + BATCH))
        # connection i: one of 150 clients, a source port from 10 000 up, to one of 4 server ports; the
        # NAT port makes each reply tuple unique, as the kernel's NAT would (a clash is EEXIST)
        sock.send(b"".join(message(i + 1, clients[i % len(clients)], 10000 + i // len(clients), inet,
                                   SERVER_PORTS[i % 4], vip, 10000 + i // 4, timeout) for i in batch))
        answered = 0
        while answered < len(batch):
            got, bad = refused(sock.recv(1 << 20))
            answered += got
            errors += bad
    print(errors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
