"""Read dnsmasq's lease file, and the pair's state file (a lease file plus its own lines), from
bytes: hostnames are client data and need not be UTF-8.

dnsmasq's read_leases() (src/lease.c) reads whitespace-separated tokens with fscanf, not lines,
and tells IPv4 from DHCPv6 leases by the address alone. So a lease line is
`<expiry> <mac> <ipv4> <hostname|*> <client-id|*>` or `<expiry> [T]<iaid> <ipv6> <hostname|*>
<client-duid>` wherever it stands, before or after the `duid <hex>` line, and
`vendorclass|agent-info <address> <hex>` lines add to the lease with that address.

This reader is stricter, line by line (dnsmasq would take a short line's missing fields from the
next line), and refuses what dnsmasq would misread, truncate or silently blank. A refused line
is reported with its number, never silently; the other lines still load.
"""

from __future__ import annotations

import re
from ..record import record, replace

from .model import (MAX_CLIENT_ID, MAX_SERVER_DUID, Lease, LeaseDb, LeaseError, Tombstone,
                    canonical_hex, to_address)

_NUMBER = re.compile(rb"[0-9]{1,19}")
_IAID = re.compile(rb"(T?)([0-9]{1,10})")
_EXTRAS = {b"vendorclass": "vendorclass", b"agent-info": "agent_info"}


@record(frozen=True)
class LineProblem:
    line_number: int  # 1-based
    reason: str
    raw: bytes  # the line as read: hostile bytes, escape before printing
    kind: str  # the field at fault: fields, expiry, mac, address, hostname, client-id, ...


@record(frozen=True)
class ParseResult:
    db: LeaseDb
    problems: tuple[LineProblem, ...] = ()

    def count(self, kind: str | None = None) -> int:
        """Refused lines, all or of one kind (e.g. "hostname")."""
        return sum(1 for p in self.problems if kind is None or p.kind == kind)


def parse_leases(text: bytes) -> ParseResult:
    """dnsmasq's lease file."""
    return _parse(text, state=False)


def parse_state(text: bytes) -> ParseResult:
    """The pair's state file: a lease file plus `superseded` and `tombstone` lines."""
    return _parse(text, state=True)


def _ascii(field: bytes, kind: str) -> str:
    try:
        return field.decode("ascii")
    except UnicodeDecodeError:
        raise LeaseError(kind, f"{kind} is not ASCII: {field!r}") from None


def _number(field: bytes, kind: str) -> int:
    if not _NUMBER.fullmatch(field):
        raise LeaseError(kind, f"{kind} is not a decimal number: {field!r}")
    return int(field)


def lease_from_fields(fields: list[bytes]) -> Lease:
    """One lease from its five fields."""
    if len(fields) != 5:
        raise LeaseError("fields", f"expected 5 fields, found {len(fields)}")
    expiry = _number(fields[0], "expiry")
    address = _ascii(fields[2], "address")  # Lease parses it (once)
    hostname = None if fields[3] == b"*" else fields[3]
    client_id = None if fields[4] == b"*" else _ascii(fields[4], "client-id")
    if ":" not in address:  # every IPv6 address has a colon, no IPv4 address has one
        return Lease(expiry, address, hostname, client_id, mac=_ascii(fields[1], "mac"))
    parsed = to_address(address)  # fields in order: an unusable address is the address's fault
    match = _IAID.fullmatch(fields[1])
    if not match:
        raise LeaseError("iaid", f"not an IAID ([T]<decimal>): {fields[1]!r}")
    return Lease(expiry, parsed, hostname, client_id, iaid=int(match[2]), temporary=bool(match[1]))


def _extra(fields: list[bytes]) -> tuple[str, object, str]:
    name = _EXTRAS[fields[0]]
    if len(fields) != 3:
        raise LeaseError("fields", f"expected 3 fields, found {len(fields)}")
    return name, to_address(_ascii(fields[1], "address")), \
        canonical_hex(_ascii(fields[2], name), MAX_CLIENT_ID, name)


def _superseded(fields: list[bytes]) -> Lease:
    """`superseded <lease fields> [vendorclass=<hex>] [agent-info=<hex>]`"""
    extras: dict[str, str] = {}
    for field in fields[5:]:
        key, sep, value = field.partition(b"=")
        name = _EXTRAS.get(key)
        if not sep or name is None or name in extras:
            raise LeaseError("fields", f"unexpected field {field!r}")
        extras[name] = _ascii(value, name)
    return replace(lease_from_fields(fields[:5]), **extras)


def _tombstone(fields: list[bytes]) -> Tombstone:
    """`tombstone <deleted_at> <expires> <lease fields>`"""
    if len(fields) != 7:
        raise LeaseError("fields", f"expected 8 fields, found {len(fields) + 1}")
    return Tombstone(lease_from_fields(fields[2:]), _number(fields[0], "deleted_at"),
                     _number(fields[1], "expires"))


def _parse(text: bytes, state: bool) -> ParseResult:
    if not isinstance(text, bytes):
        raise TypeError("lease files are read as bytes")
    leases: list[Lease] = []
    superseded: list[Lease] = []
    tombstones: list[Tombstone] = []
    extras: list[tuple[int, bytes, tuple]] = []
    problems: list[LineProblem] = []
    duid: str | None = None
    duid_line: tuple[int, bytes] | None = None
    fast = Lease.from_canonical_line
    for number, raw in enumerate(text.split(b"\n"), 1):
        lease = fast(raw)
        if lease is not None:  # the usual line, in the pair's own form: no field-by-field parse
            leases.append(lease)
            continue
        fields = raw.split()  # ASCII whitespace, as C's isspace(): a hostname cannot hold any
        if not fields:
            continue  # blank: fscanf skips these too
        try:
            if fields[0] == b"duid":
                if len(fields) != 2:
                    raise LeaseError("fields", f"expected 2 fields, found {len(fields)}")
                new = canonical_hex(_ascii(fields[1], "duid"), MAX_SERVER_DUID, "duid")
                if duid_line is not None:
                    problems.append(LineProblem(duid_line[0], f"replaced by the duid line at line "
                                                f"{number} (dnsmasq keeps the last)",
                                                duid_line[1], "duid"))
                duid, duid_line = new, (number, raw)
            elif fields[0] in _EXTRAS:
                extras.append((number, raw, _extra(fields)))
            elif state and fields[0] == b"superseded":
                superseded.append(_superseded(fields[1:]))
            elif state and fields[0] == b"tombstone":
                tombstones.append(_tombstone(fields[1:]))
            else:
                leases.append(lease_from_fields(fields))
        except LeaseError as error:
            problems.append(LineProblem(number, str(error), raw, error.kind))
    _attach(leases, extras, problems)
    problems.sort(key=lambda p: p.line_number)
    return ParseResult(LeaseDb(tuple(leases), duid, tuple(tombstones), tuple(superseded)),
                       tuple(problems))


def _attach(leases: list[Lease], extras: list[tuple[int, bytes, tuple]],
            problems: list[LineProblem]) -> None:
    """Put vendorclass/agent-info on the one lease with that address (dnsmasq writes them last)."""
    if not extras:
        return
    by_address: dict[object, list[int]] = {}
    for index, lease in enumerate(leases):
        by_address.setdefault(lease.address, []).append(index)
    for number, raw, (name, address, value) in extras:
        found = by_address.get(address, [])
        why = ("no lease has that address" if not found
               else "more than one lease has that address" if len(found) > 1
               else "given twice" if getattr(leases[found[0]], name) is not None else None)
        if why:
            problems.append(LineProblem(number, f"{name} for {address}: {why}", raw, "extra"))
            continue
        leases[found[0]] = replace(leases[found[0]], **{name: value})
