"""Reservations for the leases the running dnsmasq does not know: a dhcp-hostsfile.

dnsmasq reads its lease file only at start, and the node answering DHCP is never restarted for a
sync. A lease the peer granted while the two could not talk (a partition) therefore reaches this
node's lease knowledge but not its dnsmasq, which would hand the address to another client as soon
as the holder stops answering pings. dnsmasq re-reads a dhcp-hostsfile on SIGHUP, and never offers
an address that a dhcp-host line names to any other client (nor acknowledges a request for it),
while the holder named on that line still gets it. So every IPv4 lease this node knows and its
dnsmasq file lacks becomes one line `id:<client-id>,<address>` (dnsmasq identifies a client by
its client-id first) or `<mac>,<address>` for a client that sent none.
"""

from __future__ import annotations

import re

from .model import Lease, LeaseDb

# dnsmasq's dhcp-hostsfile (one --dhcp-host per line, re-read on SIGHUP): `id:` followed by the
# client-id as colon-separated hex (with a colon dnsmasq reads it as hex, without as a string),
# or an Ethernet address, then the IPv4 address. Nothing else: no tag, name or lease time. Its
# grammar lives here with its only writer, not in config.grammar (the configuration's rules,
# which the agent that writes the file never loads).
_DHCP_HOST = re.compile(r"(?:id:[0-9a-f]{2}(?::[0-9a-f]{2})+|[0-9a-f]{2}(?::[0-9a-f]{2}){5}),"
                        r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}"
                        r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])")


def dhcp_host_entry(line: str) -> None:
    """One line of a dhcp-hostsfile as ha-pair writes it: `id:<hex:hex..>,<ipv4>` or `<mac>,<ipv4>`."""
    if not _DHCP_HOST.fullmatch(line):
        raise ValueError(f"not a dhcp-hostsfile line of the form id:HEX,IPV4 or MAC,IPV4: {line[:80]!r}")


_DHCP_HOST_BYTES = re.compile(_DHCP_HOST.pattern.encode())
_DHCP_HOST_FILE = re.compile(rb"(?:%s\n)*+" % _DHCP_HOST_BYTES.pattern)  # possessive: no state per line


def dhcp_hosts_text(lines: list[bytes]) -> bytes:
    """The file of these lines (built as bytes: tens of thousands of them), each checked as
    dhcp_host_entry does: all at once by one match, and line by line only to name a bad one."""
    text = b"".join(line + b"\n" for line in lines)
    if text.count(b"\n") != len(lines) or _DHCP_HOST_FILE.fullmatch(text) is None:
        for line in lines:
            if _DHCP_HOST_BYTES.fullmatch(line) is None:
                dhcp_host_entry(line.decode("ascii", "backslashreplace"))  # raises, naming the line
    return text


def entry(lease: Lease) -> str | None:
    """The hostsfile line that reserves `lease`'s address for its client; None when dnsmasq could
    not name that client in a dhcp-host line (a one-byte client-id, which dnsmasq would read as
    text, or a hardware address that is not Ethernet, without a client-id)."""
    if lease.version != 4:
        return None  # DHCPv6 on OpenWrt is odhcpd's, not dnsmasq's
    if lease.client_id and ":" in lease.client_id:
        who = f"id:{lease.client_id}"
    elif not lease.client_id and lease.mac and lease.mac.count(":") == 5 and "-" not in lease.mac:
        who = lease.mac
    else:
        return None
    line = f"{who},{lease.address}"
    dhcp_host_entry(line)  # the values come from the lease parser; this is the file's own guard
    return line


def reservations(knowledge: LeaseDb, in_dnsmasq: LeaseDb, now: int) -> str:
    """The hostsfile: a line for each live IPv4 lease of `knowledge` that dnsmasq's file (as read
    now) does not hold for the same client and address. Sorted by address, so equal knowledge gives
    an equal file (and no needless SIGHUP)."""
    held = {lease.slot for lease in in_dnsmasq.leases}
    taken = {lease.address_key for lease in in_dnsmasq.leases}
    lines = []
    for lease in knowledge.leases:  # sorted by address; one lease per address after a merge
        if lease.slot in held or lease.address_key in taken or lease.expired(now):
            continue  # dnsmasq knows it (or holds the address for someone itself: its own lease wins)
        line = entry(lease)
        if line is not None:
            lines.append(line)
    return "".join(f"{line}\n" for line in lines)
