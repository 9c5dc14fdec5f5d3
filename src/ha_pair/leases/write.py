"""Write dnsmasq's lease file, and the pair's state file, from a LeaseDb.

The layout is dnsmasq's own lease_update_file() (src/lease.c): IPv4 leases, then the
`duid` line and the DHCPv6 leases, then the `agent-info`/`vendorclass` lines. dnsmasq writes
DHCPv6 leases only when it has a server DUID; these are written even without one, because
dnsmasq reads a lease line by its address wherever it stands and would otherwise lose them.
"""

from __future__ import annotations

from .model import Lease, LeaseDb

_BAD_BUT_SPACE = bytes(range(0x20)) + b"\x7f"  # controls, DEL; whitespace other than the separator


def _checked(line: bytes, fields: int) -> bytes:
    """The line, once sure it is one line of exactly `fields` fields. A Lease cannot hold a bad
    hostname; this guards against one changed behind the frozen dataclass's back. (Whole-line
    byte operations: this runs for every line of every lease file written.)"""
    if (line.count(b" ") != fields - 1 or b"  " in line or line[:1] == b" " or line[-1:] == b" "
            or len(line.translate(None, _BAD_BUT_SPACE)) != len(line)):
        raise ValueError(f"refusing to write a line that is not {fields} plain fields: {line!r}")
    return line


def _lease_lines(leases: tuple[Lease, ...], duid: str | None) -> list[bytes]:
    lines = [_checked(lease.line, 5) for lease in leases if lease.version == 4]
    if duid is not None:
        lines.append(_checked(b"duid " + duid.encode(), 2))
    lines += [_checked(lease.line, 5) for lease in leases if lease.version == 6]
    for lease in leases:  # dnsmasq: "at the end for least confusion with older parsing code"
        if not (lease.agent_info or lease.vendorclass):
            continue
        address = str(lease.address).encode()
        if lease.agent_info:
            lines.append(_checked(b"agent-info %s %s" % (address, lease.agent_info.encode()), 3))
        if lease.vendorclass:
            lines.append(_checked(b"vendorclass %s %s" % (address, lease.vendorclass.encode()), 3))
    return lines


def serialise(db: LeaseDb) -> bytes:
    """dnsmasq's lease file for db.leases and db.duid (superseded leases and tombstones are the
    pair's own and never reach dnsmasq: see serialise_state)."""
    return b"".join(line + b"\n" for line in _lease_lines(db.leases, db.duid))


def serialise_state(db: LeaseDb) -> bytes:
    """The whole db for the pair's own state file and for the peer: the lease file, then
    `superseded <lease> [vendorclass=<hex>] [agent-info=<hex>]` and
    `tombstone <deleted_at> <expires> <lease>` lines. Not for dnsmasq: it cannot read them."""
    lines = _lease_lines(db.leases, db.duid)
    for lease in db.superseded:
        extras = [b"vendorclass=" + lease.vendorclass.encode()] if lease.vendorclass else []
        extras += [b"agent-info=" + lease.agent_info.encode()] if lease.agent_info else []
        lines.append(_checked(b" ".join([b"superseded", lease.line, *extras]), 6 + len(extras)))
    for tomb in db.tombstones:
        lines.append(_checked(b"tombstone %d %d %s" % (tomb.deleted_at, tomb.expires,
                                                      tomb.lease.line), 8))
    return b"".join(line + b"\n" for line in lines)
