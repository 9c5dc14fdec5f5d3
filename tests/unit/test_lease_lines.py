"""The line merge (leases/lines.py, what a 50 000-lease exchange runs) is merge.py's merge, byte for
byte: on random pairs of canonical state texts (renewals, lost hostnames, address conflicts,
client-id and MAC clients, infinite leases, tombstones, superseded leases, DUIDs, expired entries)
its text is serialise_state(merge(...).db) and its counts and log lines are merge's. Texts outside
the canonical form are declined (None), never merged differently. And its memory at 50 000 leases
per side stays a fraction of the Lease path's."""

from __future__ import annotations

import ipaddress
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from ha_pair.leases import Lease, LeaseDb, Tombstone, diff, lines, merge, parse_state, serialise, serialise_state
from ha_pair.leases.reservations import reservations
from tests.bench.lease_merge import two_dbs

NOW = 1_800_000_000

expiry = st.one_of(st.just(0), st.integers(NOW - 50, NOW + 50))
lease = st.builds(
    lambda e, a, h, c, m: Lease(e, ipaddress.IPv4Address(0x0A000000 + a), h, c, mac=m),
    expiry, st.integers(0, 5), st.sampled_from([None, b"pc", b"phone", b"h\xc3\xb4st"]),
    st.sampled_from([None, "01:02:aa", "01:02:bb", "ff:00"]),
    st.sampled_from(["02:00:00:00:00:01", "02:00:00:00:00:02", "aa:bb"]))
tombstone = st.builds(lambda l, d, x: Tombstone(l, d, x), lease, st.integers(NOW - 100, NOW),
                      st.integers(NOW - 20, NOW + 100))
db = st.builds(lambda l, s, t, d: LeaseDb(tuple(l), d, tuple(t), tuple(s)),
               st.lists(lease, max_size=8), st.lists(lease, max_size=4), st.lists(tombstone, max_size=4),
               st.sampled_from([None, "00:01:02", "00:01:03"]))


def reference(a: bytes, b: bytes, now: int) -> lines.LinesMerge:
    result = merge(parse_state(a).db, parse_state(b).db, now)
    return lines.LinesMerge(serialise_state(result.db), len(result.db.leases), len(result.db.tombstones),
                            len(result.db.superseded), result.conflicts, result.dropped_expired,
                            result.tombstoned, result.conflict_descriptions)


@settings(max_examples=400, deadline=None)
@given(db, db, st.integers(NOW - 60, NOW + 60))
def test_the_line_merge_is_the_lease_merge(a: LeaseDb, b: LeaseDb, now: int):
    text_a, text_b = serialise_state(a), serialise_state(b)
    split_a, split_b = lines.split(text_a), lines.split(text_b)
    assert split_a is not None and split_b is not None, "canonical texts are taken"
    assert lines.merge(split_a, split_b, now) == reference(text_a, text_b, now)


@settings(max_examples=200, deadline=None)
@given(db, db, st.integers(NOW - 60, NOW + 60))
def test_the_line_diff_is_the_lease_diff(old: LeaseDb, new: LeaseDb, now: int):
    expected = diff(old, new, now)
    got = lines.diff(lines.split(serialise_state(old)).leases, lines.split(serialise_state(new)).leases, now)
    assert sorted(got) == sorted((t.deleted_at, t.expires, t.lease.line) for t in expected)


def test_conflicts_are_reported_as_the_lease_merge_reports_them():
    a = b"%d 02:00:00:00:00:01 10.0.0.1 pc *\n" % (NOW + 100)
    b = b"%d 02:00:00:00:00:02 10.0.0.1 phone *\n" % (NOW + 200)
    got = lines.merge(lines.split(a), lines.split(b), NOW)
    assert got.conflicts == 1 and got.leases == 1 and got.superseded == 1
    assert got.conflict_descriptions == (
        f"address conflict on 10.0.0.1: kept 02:00:00:00:00:02 (phone, expires {NOW + 200}), "
        f"set aside 02:00:00:00:00:01 (pc, expires {NOW + 100})",)
    assert got == reference(a, b, NOW)


def test_texts_outside_the_canonical_form_are_declined():
    good = b"%d 02:00:00:00:00:01 10.0.0.1 pc *\n" % (NOW + 100)
    for bad in (b"%d 02:00:00:00:00:01 10.0.0.01 pc *\n" % NOW,  # leading zero: parse canonicalises
                b"%d 02:00:00:00:00:01 10.0.0.1 pc 01:AA\n" % NOW,  # upper case
                b"%d 1234 fd00::1 pc 00:01\n" % NOW,  # DHCPv6
                b"vendorclass 10.0.0.1 aa:bb\n",
                b"%d 02:00:00:00:00:01 10.0.0.1 pc\n" % NOW,  # a field missing
                b"%d 02:00:00:00:00:01 10.0.0.1 pc *\n" % (2**63),  # past time_t
                b"superseded %d 02:00:00:00:00:01 10.0.0.1 pc * vendorclass=aa\n" % NOW,
                b"tombstone 1 0 %d 02:00:00:00:00:01 10.0.0.1 pc *\n" % NOW,  # expires 0
                b"duid 00:01\nduid 00:02\n",  # two: parse reports the first as replaced
                b"\n", b" \n", b"garbage\n"):
        assert lines.split(good + bad) is None, bad
    assert lines.split(good) is not None
    assert lines.split(good + b"superseded " + good, state=False) is None, "a lease file has no state lines"


def test_50k_leases_a_side_merge_in_a_fraction_of_the_lease_paths_memory():
    a, b = two_dbs(50_000)
    text_a, text_b = serialise_state(a), serialise_state(b)
    del a, b
    tracemalloc.start()
    try:
        result = lines.merge(lines.split(text_a), lines.split(text_b), NOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.leases == 75_000
    # the Lease path peaks above 100 MB here; the texts themselves are 3.5 MB each
    assert peak < 40e6, f"line merge peaked at {peak / 1e6:.0f} MB"


@settings(max_examples=200, deadline=None)
@given(db, db, st.integers(NOW - 60, NOW + 60))
def test_the_line_reservations_are_the_lease_reservations(knowledge: LeaseDb, in_dnsmasq: LeaseDb, now: int):
    merged = merge(knowledge, LeaseDb(), now).db  # one lease per address, as knowledge always is
    expected = reservations(merged, in_dnsmasq, now)
    got = lines.reservations(lines.split(serialise_state(merged)), lines.split(serialise(in_dnsmasq), state=False), now)
    assert got == expected
