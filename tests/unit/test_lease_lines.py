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
from ha_pair.leases.model import MAX_EXPIRY
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


@settings(max_examples=300, deadline=None)
@given(db, db, st.integers(NOW - 60, NOW + 60), st.integers(0, 30))
def test_merging_an_answer_that_repeats_the_askers_lines_is_the_lease_merge(a: LeaseDb, b: LeaseDb, now: int,
                                                                            later: int):
    """An exchange's answer holds most of what the asker sent: the lines both sides hold are left
    out of the merge's loop (and out of split's match), with the same result."""
    text_a = serialise_state(a)
    answer = lines.merge(lines.split(text_a), lines.split(serialise_state(b)), now).text
    known = lines.split(text_a).leases
    assert lines.split(answer, known=set(known)) == lines.split(answer)
    assert lines.merge(lines.split(text_a), lines.split(answer), now + later) == reference(text_a, answer, now + later)
    assert lines.merge(lines.split(answer), lines.split(text_a), now + later) == reference(answer, text_a, now + later)


@settings(max_examples=400, deadline=None)
@given(db, db, db, st.integers(NOW - 60, NOW + 60), st.data())
def test_a_merge_whose_first_pass_ran_ahead_on_part_of_the_lines_is_the_lease_merge(
        a: LeaseDb, sent: LeaseDb, peer: LeaseDb, now: int, data: st.DataObject):
    """The caller of an exchange folds its knowledge (a) and the file's leases it sent, with a's
    tombstones, while the peer works; merge_onto then folds the rest of the answer (b): the
    result is merge(a, b)'s, or None (and merge() does it) when b's tombstones change the fold's."""
    split_a = lines.split(serialise_state(a))
    file_leases = lines.split(serialise_state(LeaseDb(sent.leases))).leases
    answer = lines.split(lines.merge(lines.split(serialise_state(peer)),
                                     lines.StateLines(split_a.leases + file_leases, split_a.superseded,
                                                      split_a.tombstones, split_a.duid), now).text)
    in_answer = set(answer.leases) | set(answer.superseded)
    b = lines.StateLines([line for line in file_leases if line not in in_answer] + answer.leases,
                         answer.superseded, answer.tombstones, answer.duid)
    ahead = split_a.leases + split_a.superseded + file_leases
    order = data.draw(st.permutations(range(len(ahead))))
    fold = lines.Fold(split_a.tombstones, now)
    cut = data.draw(st.integers(0, len(ahead)))
    fold.add([ahead[i] for i in order[:cut]])  # in parts, in any order
    fold.add([ahead[i] for i in order[cut:]])
    got = lines.merge_onto(fold, set(ahead), split_a, b)
    expected = reference(serialise_state(a), lines.serialise(b), now)
    if got is None:
        assert lines._tombs(split_a.tombstones + b.tombstones, now) != lines._tombs(split_a.tombstones, now)
    else:
        assert got == expected
    assert lines.merge(split_a, b, now) == expected


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
    assert got == expected.encode()


def classified(text: bytes, state: bool = True) -> lines.StateLines | None:
    """split() as the full pattern and parse.py's limits spell it, line by line: the reference for
    split's one cheap match per line (model.CANONICAL_V4_SHORT)."""
    leases, superseded, tombstones, duid = [], [], [], None
    rows = text.split(b"\n")
    for line in rows[:-1] if rows[-1] == b"" else rows:
        if lines._lease_line(line):
            leases.append(line)
        elif state and line.startswith(b"superseded ") and lines._lease_line(line[11:]):
            superseded.append(line[11:])
        elif state and line.startswith(b"tombstone "):
            _, deleted_at, expires, rest = line.split(b" ", 3)
            tomb = (int(deleted_at), int(expires), rest)
            if not lines._TOMBSTONE.fullmatch(line) or not lines._lease_line(rest) \
                    or max(tomb[:2]) > MAX_EXPIRY:
                return None
            tombstones.append(tomb)
        elif duid is None and lines._DUID.fullmatch(line):
            duid = line[5:]
        else:
            return None
    return lines.StateLines(leases, superseded, tombstones, duid)


near_expiry = st.sampled_from([0, 7, 10**17, 10**18 - 1, 10**18, MAX_EXPIRY - 1, MAX_EXPIRY, MAX_EXPIRY + 1,
                               10**19 - 1, 10**19])
field_text = st.sampled_from([b"02:00:00:00:00:01", b"aa", b"02:00:00:00:00:0", b"AA:bb", b"10.0.0.1", b"10.0.0.01",
                              b"256.0.0.1", b"pc", b"*", b"h\xc3\xb4st", b"a\tb", b"01:02:aa", b""])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(near_expiry, field_text, field_text, field_text, field_text, st.booleans()), max_size=6),
       st.booleans())
def test_split_takes_exactly_the_lines_the_full_pattern_takes(rows, state: bool):
    """Expiries around 18/19 digits and MAX_EXPIRY (the cheap pattern takes at most 18 digits, the
    full one the rest), and fields in and out of the canonical form."""
    text = b"".join(b"%d %s %s %s %s\n" % (e, m, a, h, c) if not canonical else
                    b"%d 02:00:00:00:00:01 10.0.0.1 %s *\n" % (e, h if h and b" " not in h else b"pc")
                    for e, m, a, h, c, canonical in rows)
    assert lines.split(text, state) == classified(text, state)


def test_a_19_digit_expiry_up_to_time_t_is_a_lease_and_past_it_declined():
    for expiry, taken in ((10**18, True), (MAX_EXPIRY, True), (MAX_EXPIRY + 1, False), (10**19, False)):
        text = b"%d 02:00:00:00:00:01 10.0.0.1 pc *\n" % expiry
        assert (lines.split(text) is not None) is taken, expiry


def test_a_bad_line_among_known_ones_still_sends_the_text_to_the_parser_which_names_its_line():
    good = [b"%d 02:00:00:00:00:0%d 10.0.0.%d pc *" % (NOW + 100, n, n) for n in (1, 2, 3)]
    bad = b"%d 02:00:00:00:00:04 10.0.0.04 pc *" % (NOW + 100)  # a leading zero: not canonical
    text = b"\n".join(good[:2] + [bad] + good[2:]) + b"\n"
    assert lines.split(text, known=set(good)) is None
    problems = parse_state(text.replace(b"10.0.0.04", b"10.0.0.x")).problems
    assert [(p.line_number, p.kind) for p in problems] == [(3, "address")]
