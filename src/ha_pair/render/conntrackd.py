"""conntrackd.conf from the model: a pure function, model in, text out.

FTFW (acknowledged, resent) over UDP on the dedicated sync link by default. Lock file and
control socket live in ha-pair's run directory so this conntrackd never collides with
another one (OpenWrt's own conntrackd package uses /var/lock and /var/run defaults).
"""

from __future__ import annotations

from .blocks import HEADER, block
from ..config.model import Model
from ..config.schema import CONNTRACK_PROTOCOLS

# ha.conntrack.protocol -> the name conntrackd passes to getprotobyname() (/etc/protocols)
PROTOCOL_NAMES = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP", "dccp": "DCCP", "icmp": "ICMP", "icmpv6": "IPv6-ICMP"}

# Sync socket buffers (conntrackd forces them past net.core.[rw]mem_max). A rebooted router's startup
# resync receives the peer's whole table at once: with 50 000 connections (~15 MB) and 1.2 MB
# buffers the lab lost 4 010 datagrams and the router got 34 of the connections in 4 of 5 runs; with
# 8 MB none was lost (make bench, part scale). A cap, not an allocation: idle sync uses little.
SOCKET_BUFFER = 8388608
NETLINK_BUFFER = 2097152
NETLINK_BUFFER_MAX = 8388608


def _block(name: str, lines: list[str]) -> list[str]:
    return block(name, lines, "\t")


def _mode(model: Model) -> list[str]:
    c = model.conntrack
    # StartupResync: a (re)started conntrackd asks the peer for its whole table itself. The notify
    # script's resync request on BACKUP can come before conntrackd listens (both start at boot).
    if c.mode == "ftfw":
        return _block("Mode FTFW", [
            "ResendQueueSize 131072",
            "PurgeTimeout 5",
            "ACKWindowSize 300",
            f"DisableExternalCache {'On' if c.disable_external_cache else 'Off'}",
            "StartupResync on",
        ])
    if c.mode == "alarm":
        return _block("Mode ALARM", ["RefreshTime 15", "CacheTimeout 180"])  # no DisableExternalCache here
    return _block("Mode NOTRACK", [
        f"DisableExternalCache {'On' if c.disable_external_cache else 'Off'}",
        "StartupResync on",
    ])


def _transport(model: Model) -> list[str]:
    c = model.conntrack
    node = model.node
    common = [
        f"Interface {node.sync_device}",
        f"SndSocketBuffer {SOCKET_BUFFER}",
        f"RcvSocketBuffer {SOCKET_BUFFER}",
        "Checksum on",
    ]
    if c.transport == "multicast":
        return _block("Multicast", [
            f"IPv4_address {c.multicast_group}",
            f"Group {c.port}",
            f"IPv4_interface {node.sync_address.ip if node.sync_address else ''}",
        ] + common)
    return _block("UDP", [
        f"IPv4_address {node.sync_address.ip if node.sync_address else ''}",
        f"IPv4_Destination_Address {node.peer}",
        f"Port {c.port}",
    ] + common)


def _filter(model: Model) -> list[str]:
    addresses = [
        f"IPv{net.version}_address {net if net.prefixlen != net.max_prefixlen else net.network_address}"
        for net in model.conntrack.ignore
    ]
    protocols = model.conntrack.protocols or CONNTRACK_PROTOCOLS
    return _block("Filter From Userspace", [
        *_block("Protocol Accept", [PROTOCOL_NAMES[p] for p in protocols]),
        *_block("Address Ignore", addresses),
    ])


def render_conntrackd(model: Model) -> str:
    paths = model.paths
    sync = _block("Sync", _mode(model) + _transport(model))
    general = _block("General", [
        "HashSize 32768",
        "HashLimit 131072",
        "LogFile off",
        "Syslog on",
        f"LockFile {paths.conntrackd_lock}",
        *_block("UNIX", [f"Path {paths.conntrackd_socket}"]),
        f"NetlinkBufferSize {NETLINK_BUFFER}",
        f"NetlinkBufferSizeMaxGrowth {NETLINK_BUFFER_MAX}",
        "NetlinkOverrunResync On",
        "NetlinkEventsReliable Off",
        *_filter(model),
    ])
    return HEADER + "\n".join(sync + general) + "\n"
