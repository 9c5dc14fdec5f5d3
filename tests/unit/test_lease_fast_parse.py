"""The fast constructor for canonical IPv4 lease lines (Lease.from_canonical_line, used by the
parser for every line) builds exactly the lease the checked constructor builds, every field and
derived key included, and declines (None) every line that the checked path would refuse or write
differently: it never lets through what __post_init__ would stop."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ha_pair.leases import Lease, LeaseError, parse_leases
from ha_pair.leases.model import MAX_EXPIRY
from ha_pair.leases.parse import lease_from_fields

SLOTS = ("expiry", "address", "hostname", "client_id", "mac", "iaid", "temporary", "vendorclass", "agent_info",
         "address_key", "identity", "slot", "line", "sort_key")


def checked(line: bytes) -> Lease | None:
    try:
        return lease_from_fields(line.split())
    except LeaseError:
        return None


def same(a: Lease, b: Lease) -> bool:
    return all(getattr(a, name) == getattr(b, name) for name in SLOTS) and type(a.address) is type(b.address)


hexbyte = st.integers(0, 255).map(lambda n: b"%02x" % n)
junk = st.one_of(st.binary(min_size=1, max_size=12),
                 st.sampled_from([b"*", b"00", b"-1", b"AA:bb", b"01-aa:bb", b"h\x7fst", b"h\x01", "hôst".encode(),
                                  b"a" * 256, b"::1", b"1.2.3", b"T5", b"0x10"]))
octet = st.one_of(st.integers(0, 255).map(lambda n: b"%d" % n), st.sampled_from([b"256", b"01", b"000", b"1000"]))
POSITIONS = (
    st.one_of(st.integers(0, 2**64).map(lambda n: b"%d" % n), st.sampled_from([b"%d" % MAX_EXPIRY, b"%d" % (MAX_EXPIRY + 1), b"9999999999999999999", b"007"])),
    st.lists(hexbyte, min_size=1, max_size=17).map(b":".join),
    st.lists(octet, min_size=4, max_size=4).map(b".".join),
    st.one_of(st.just(b"*"), st.binary(min_size=1, max_size=8), st.sampled_from([b"a" * 255, b"a" * 256])),
    st.one_of(st.just(b"*"), st.lists(hexbyte, min_size=1, max_size=4).map(b":".join),
              st.lists(hexbyte, min_size=255, max_size=256).map(b":".join)),
)
separator = st.sampled_from([b" ", b" ", b" ", b" ", b"  ", b"\t"])


@st.composite
def lines(draw) -> bytes:
    fields = [draw(st.one_of(position, junk) if draw(st.integers(0, 4)) == 0 else position) for position in POSITIONS]
    if draw(st.integers(0, 9)) == 0:
        fields = fields[:draw(st.integers(1, 4))] if draw(st.booleans()) else fields + [draw(junk)]
    line = fields[0] + b"".join(draw(separator) + f for f in fields[1:])
    return line + draw(st.sampled_from([b"", b"", b"", b" ", b"\r"]))


@settings(max_examples=800, deadline=None)
@given(lines())
def test_fast_path_agrees_with_the_checked_constructor(line):
    fast = Lease.from_canonical_line(line)
    slow = checked(line)
    if fast is not None:
        assert slow is not None and same(fast, slow), line
        assert fast.line == line  # canonical: written back byte for byte
    elif slow is not None and slow.line == line:
        raise AssertionError(f"a canonical line took the slow path: {line!r}")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, MAX_EXPIRY), st.integers(0, 2**32 - 1), st.lists(hexbyte, min_size=1, max_size=16),
       st.one_of(st.none(), st.binary(min_size=1, max_size=255)), st.one_of(st.none(), st.lists(hexbyte, min_size=1,
                                                                                           max_size=255)))
def test_every_valid_ipv4_lease_takes_the_fast_path_and_parses_the_same(expiry, number, mac, hostname, client_id):
    try:
        lease = Lease(expiry, ".".join(str(b) for b in number.to_bytes(4, "big")), hostname,
                      b":".join(client_id).decode() if client_id else None, mac=b":".join(mac).decode())
    except LeaseError:
        return  # e.g. a hostname with whitespace: nothing to write
    fast = Lease.from_canonical_line(lease.line)
    assert fast is not None and same(fast, lease) and fast == lease and hash(fast) == hash(lease)
    assert parse_leases(lease.line + b"\n").db.leases == (lease,)
