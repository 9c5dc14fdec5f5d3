"""Leases as dnsmasq stores them (one line of its lease file each), and what the pair adds.

Identity -- whose lease it is -- is decided here once so that parse, merge and diff agree:
- IPv4: the client-id when the lease has one, else the hardware address. dnsmasq's own
  lease_find_by_client() (src/lease.c) looks a client up by client-id first, by MAC only for
  leases stored without one.
- DHCPv6: (client DUID, IA_NA or IA_TA, IAID, address). dnsmasq gives one IA an address per
  dhcp-range (rfc3315.c) and keys a v6 lease by all four (lease6_find()): two addresses of one
  IA are two leases, never rivals, so none of them is dropped for the other.
A lease's *slot* is (identity, address): older and renewed copies of one lease share it.

Order ("which is later"): expiry, 0 (infinite) being latest; then a copy that has a hostname
(a peer that never learnt the name cannot erase it); then the serialised line. The order is
total, so merging never depends on which side came first.
"""

from __future__ import annotations

import ipaddress
import re
import _socket  # inet_pton/inet_aton without socket.py's enums (the agent imports this module)
from ..record import record, field, replace

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_EXPIRY = 2**63 - 1  # time_t; dnsmasq reads it with atol()
INFINITE_RANK = 2**64  # expiry 0 sorts after every real time
MAX_HOSTNAME = 255  # read with fscanf("%255s"): longer would split into two fields
MAX_HWADDR = 16  # DHCP_CHADDR_MAX
MAX_CLIENT_ID = 255  # parse_hex(..., 255)
MAX_SERVER_DUID = 85  # the duid line is read with "%255s": 85 bytes are 254 characters
MAX_IAID = 2**32 - 1
_BAD_HOSTNAME_BYTES = bytes(range(0x21)) + b"\x7f"  # NUL, controls, whitespace, DEL
_HEX = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2})*")
_HWADDR = re.compile(r"(?:([0-9a-f]{2})-)?([0-9a-f]{2}(?::[0-9a-f]{2}){0,%d})?" % (MAX_HWADDR - 1))


class LeaseError(ValueError):
    """An invalid lease field; `kind` names the field, to count refused lines by cause."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def canonical_hex(text: str, max_bytes: int, kind: str) -> str:
    """Colon-separated hex bytes as dnsmasq writes them ("%.2x:"), lower case."""
    low = text.lower() if isinstance(text, str) and text.isascii() else ""
    if not _HEX.fullmatch(low) or (len(low) + 1) // 3 > max_bytes:
        raise LeaseError(kind, f"{kind} is not 1-{max_bytes} colon-separated hex bytes: {text!r}")
    return low


def canonical_hwaddr(text: str) -> str:
    """dnsmasq's hardware address field: `aa:bb:..` for Ethernet, else `<type>-aa:bb:..`."""
    low = text.lower() if isinstance(text, str) and text.isascii() else ""
    match = _HWADDR.fullmatch(low)
    if not match or not any(match.groups()):
        raise LeaseError("mac", f"not a hardware address (up to {MAX_HWADDR} hex bytes): {text!r}")
    hwtype, octets = match.groups()
    if octets is None:
        return f"{hwtype}-"
    return octets if hwtype in (None, "01") else f"{hwtype}-{octets}"  # 01 = ARPHRD_ETHER


def check_hostname(name: bytes) -> None:
    """One whitespace-free field of 1-255 bytes other than the `*` placeholder. Any other byte,
    UTF-8 or not, is kept as is: the name is client data, never interpreted here."""
    if not isinstance(name, bytes):
        raise LeaseError("hostname", f"hostname must be bytes, not {type(name).__name__}")
    if not 1 <= len(name) <= MAX_HOSTNAME or name == b"*":
        raise LeaseError("hostname", f"hostname must be 1-{MAX_HOSTNAME} bytes and not '*'")
    if len(name.translate(None, _BAD_HOSTNAME_BYTES)) != len(name):
        bad = next(b for b in name if b in _BAD_HOSTNAME_BYTES)
        raise LeaseError("hostname", f"hostname contains byte 0x{bad:02x} (whitespace or control)")


def _check_int(value: int, low: int, high: int, kind: str) -> None:
    if type(value) is not int or not low <= value <= high:
        raise LeaseError(kind, f"{kind} must be an integer {low}-{high}, not {value!r}")


def _dotted_quad(text: str) -> ipaddress.IPv4Address | None:
    """A dotted quad parsed by inet_pton (C; ipaddress's string parser is ten times slower, and
    lease tables hold tens of thousands); None for anything else, which ipaddress then judges.
    inet_pton takes exactly what ipaddress takes: four decimal octets, none above 255, no
    leading zero; so the text is already canonical."""
    try:
        packed = _socket.inet_pton(_socket.AF_INET, text)
    except (OSError, ValueError):  # ValueError: an embedded NUL
        return None
    return ipaddress.IPv4Address(packed)


def address_and_text(value: object) -> tuple[Address, str]:
    """The address and its canonical text (what dnsmasq writes: inet_ntop's form)."""
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return value, str(value)
    if isinstance(value, str) and "." in value and ":" not in value:
        quad = _dotted_quad(value)
        if quad is not None:
            return quad, value  # canonical already: no leading zeros, four decimal octets
    try:
        if not isinstance(value, str) or "%" in value:  # no scope ids: inet_pton refuses them
            raise ValueError(value)
        address = ipaddress.ip_address(value)
    except ValueError:
        raise LeaseError("address", f"not an IPv4 or IPv6 address: {value!r}") from None
    return address, str(address)


def to_address(value: object) -> Address:
    return address_and_text(value)[0]


_OCTET = rb"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"


def _v4_line(expiry: bytes, group: bytes) -> bytes:
    """The pattern of a lease line in the canonical IPv4 form: expiry, Ethernet-style MAC, dotted
    quad, hostname or *, client-id or *; each field in a group opened by `group`: b"(" or b"(?:"."""
    fields = (expiry, rb"[0-9a-f]{2}(?::[0-9a-f]{2}){0,%d}" % (MAX_HWADDR - 1), rb"%s(?:\.%s){3}" % (_OCTET, _OCTET),
              rb"[^\x00-\x20\x7f]{1,%d}" % MAX_HOSTNAME, rb"\*|[0-9a-f]{2}(?::[0-9a-f]{2}){0,%d}" % (MAX_CLIENT_ID - 1))
    return b" ".join(group + field + b")" for field in fields)


_CANONICAL_V4 = re.compile(_v4_line(rb"0|[1-9][0-9]{0,18}", b"("))
# The same lines with an expiry of at most 18 digits (always below MAX_EXPIRY), nothing captured:
# what lines.split checks every line against (groups cost a third of the match).
CANONICAL_V4_SHORT = re.compile(_v4_line(rb"0|[1-9][0-9]{0,17}", b"(?:"))


def _derive(lease: Lease, version: int, number: int, address_text: str, expiry: int, hostname: bytes | None,
            client_id: str | None, mac: str | None) -> None:
    """The keys a lease is compared by, computed once (merge looks them up many times, and ipaddress
    objects hash slowly): one place for both constructors."""
    put = object.__setattr__
    address_key = (version, number)
    put(lease, "address_key", address_key)
    if version == 6:
        identity = (6, client_id, lease.temporary, lease.iaid, address_key)
        first = f"{'T' if lease.temporary else ''}{lease.iaid}"
    else:
        identity = (4, "id", client_id) if client_id else (4, "hw", mac)
        first = mac
    put(lease, "identity", identity)
    put(lease, "slot", (identity, address_key))
    line = b"%d %s %s %s %s" % (expiry, first.encode(), address_text.encode(), hostname or b"*",
                                (client_id or "*").encode())
    put(lease, "line", line)
    put(lease, "sort_key", (expiry or INFINITE_RANK, hostname is not None, line,
                            lease.vendorclass or "", lease.agent_info or ""))


def _derived():  # noqa: ANN202
    return field(init=False, repr=False, compare=False)


def _put(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)  # frozen records: only while constructing


@record(frozen=True, slots=True)
class Lease:
    """One lease. For DHCPv6, `client_id` is the client's DUID (required) and `iaid`/`temporary`
    are set; for IPv4, `mac` is set. vendorclass/agent_info are dnsmasq's optional extra lines
    (only written with --leasequery)."""

    expiry: int  # absolute Unix time; 0 = infinite
    address: Address
    hostname: bytes | None = None
    client_id: str | None = None
    mac: str | None = None
    iaid: int | None = None
    temporary: bool = False  # IA_TA: dnsmasq writes "T<iaid>"
    vendorclass: str | None = None
    agent_info: str | None = None
    # Derived, set by __post_init__:
    address_key: tuple = _derived()  # (version, int): the address as a cheap dict key
    identity: tuple = _derived()  # the client (see the module docstring)
    slot: tuple = _derived()  # (identity, address_key): all copies of one lease
    line: bytes = _derived()  # the lease file line, without the newline
    sort_key: tuple = _derived()  # the order: later sorts higher

    def __post_init__(self) -> None:
        # Runs for every lease of every file read (tens of thousands per sync): plain locals,
        # object.__setattr__ called directly, each value computed once.
        put = object.__setattr__
        address, address_text = address_and_text(self.address)
        version = address.version
        put(self, "address", address)
        expiry = self.expiry
        _check_int(expiry, 0, MAX_EXPIRY, "expiry")
        if version == 4:  # checked in the order of the line's fields
            if self.iaid is not None or self.temporary is not False:
                raise LeaseError("iaid", "an IPv4 lease has no IAID")
            mac = canonical_hwaddr(self.mac)
            put(self, "mac", mac)
        else:
            if self.mac is not None:
                raise LeaseError("mac", "dnsmasq stores no hardware address for DHCPv6 leases")
            _check_int(self.iaid, 0, MAX_IAID, "iaid")
            if type(self.temporary) is not bool:
                raise LeaseError("iaid", f"temporary must be True or False, not {self.temporary!r}")
        hostname = self.hostname
        if isinstance(hostname, str):
            hostname = hostname.encode()
            put(self, "hostname", hostname)
        if hostname is not None:
            check_hostname(hostname)
        client_id = self.client_id
        if client_id is not None:
            client_id = canonical_hex(client_id, MAX_CLIENT_ID, "client-id")
            put(self, "client_id", client_id)
        elif version == 6:
            raise LeaseError("client-id", "a DHCPv6 lease needs the client's DUID")
        for name in ("vendorclass", "agent_info"):
            if getattr(self, name) is not None:
                put(self, name, canonical_hex(getattr(self, name), MAX_CLIENT_ID, name))
        _derive(self, version, int(address), address_text, expiry, hostname, client_id,
                mac if version == 4 else None)

    @classmethod
    def from_canonical_line(cls, line: bytes) -> Lease | None:
        """The lease of one IPv4 lease line already in the exact form this class writes (lower-case
        hex, no leading zeros, single spaces: what the pair's own files and messages hold), built
        without __post_init__'s checks, which the pattern makes up for field by field; None for any
        other line (then the full parser judges it). A lease file holds tens of thousands of
        these: this is three times faster."""
        match = _CANONICAL_V4.fullmatch(line)
        if match is None:
            return None
        expiry_text, mac, address_text, hostname, client_id = match.groups()
        expiry = int(expiry_text)
        if expiry > MAX_EXPIRY:
            return None
        packed = _socket.inet_aton(address_text.decode())  # the pattern allows canonical quads only
        lease = object.__new__(cls)
        put = object.__setattr__
        put(lease, "expiry", expiry)
        put(lease, "address", ipaddress.IPv4Address(packed))
        hostname = None if hostname == b"*" else hostname
        put(lease, "hostname", hostname)
        client_id = None if client_id == b"*" else client_id.decode()
        put(lease, "client_id", client_id)
        mac = mac.decode()
        put(lease, "mac", mac)
        put(lease, "iaid", None)
        put(lease, "temporary", False)
        put(lease, "vendorclass", None)
        put(lease, "agent_info", None)
        _derive(lease, 4, int.from_bytes(packed, "big"), address_text.decode(), expiry, hostname, client_id, mac)
        return lease

    @property
    def version(self) -> int:
        return self.address_key[0]

    @property
    def rank(self) -> int:
        """Expiry for comparisons: infinite after everything."""
        return self.expiry or INFINITE_RANK

    def expired(self, now: int) -> bool:
        return 0 < self.expiry <= now  # dnsmasq's lease_prune(): gone once now >= expires


@record(frozen=True)
class Tombstone:
    """A lease this node saw released or expired. It kills copies of that lease (same slot, expiry
    no later), so a peer's stale copy cannot bring it back; a later grant beats it. It is
    forgotten once now > expires."""

    lease: Lease  # the lease that went (extras dropped: they play no part)
    deleted_at: int
    expires: int

    def __post_init__(self) -> None:
        _check_int(self.deleted_at, 0, MAX_EXPIRY, "deleted_at")
        _check_int(self.expires, 1, MAX_EXPIRY, "expires")
        if self.lease.vendorclass or self.lease.agent_info:
            _put(self, "lease", replace(self.lease, vendorclass=None, agent_info=None))

    @property
    def key(self) -> tuple:
        """The slot whose copies it kills."""
        return self.lease.slot

    def kills(self, lease: Lease) -> bool:
        return lease.slot == self.key and lease.rank <= self.lease.rank

    @property
    def sort_key(self) -> tuple:
        return (self.lease.rank, self.expires, self.deleted_at, self.lease.line)


def _address_order(lease: Lease) -> tuple:
    return (lease.address_key, lease.sort_key)


@record(frozen=True)
class LeaseDb:
    """A lease file's content plus the pair's memory. `leases` and `duid` are what dnsmasq reads;
    `superseded` (leases that lost to a later one, kept until they expire so they come back if
    the winner goes) and `tombstones` live only in the pair's own state file. Stored sorted, so
    equal content compares equal."""

    leases: tuple[Lease, ...] = ()
    duid: str | None = None
    tombstones: tuple[Tombstone, ...] = ()
    superseded: tuple[Lease, ...] = ()

    def __post_init__(self) -> None:
        put = _put.__get__(self)
        put("leases", tuple(sorted(self.leases, key=_address_order)))
        put("superseded", tuple(sorted(self.superseded, key=_address_order)))
        put("tombstones", tuple(sorted(self.tombstones,
                                       key=lambda t: (_address_order(t.lease), t.sort_key))))
        if self.duid is not None:
            put("duid", canonical_hex(self.duid, MAX_SERVER_DUID, "duid"))
