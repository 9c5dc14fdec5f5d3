"""The lease core: dnsmasq's lease file read and written exactly, hostile hostnames, merge rules,
and merge's algebra (commutative, associative, idempotent, nothing valid lost)."""

from __future__ import annotations

from ha_pair import record
import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ha_pair.leases import (INFINITE_TOMBSTONE_TTL, TOMBSTONE_GRACE, Lease, LeaseDb, LeaseError,
                            LineProblem, Tombstone, diff, merge, parse_leases, parse_state,
                            serialise, serialise_state)

NOW = 1_800_000_000
MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
DUID = "00:01:00:01:2c:3d:4e:5f:02:00:00:00:00:01"
CLIENT_DUID = "00:01:00:01:aa:bb:cc:dd:02:00:00:00:00:0c"

SAMPLE = (
    b"1795309396 02:00:00:00:00:0a 192.168.50.172 clienta 01:02:00:00:00:00:0a\n"
    b"0 02:00:00:00:00:0b 192.168.50.173 * *\n"
    b"duid " + DUID.encode() + b"\n"
    b"1795309396 12345 fd00::10 host6 " + CLIENT_DUID.encode() + b"\n"
    b"1795309397 T7 fd00::11 * " + CLIENT_DUID.encode() + b"\n"
)


def v4(expiry: int, ip: str, mac: str = MAC_A, hostname: bytes | None = None,
       client_id: str | None = None, **kw) -> Lease:
    return Lease(expiry, ipaddress.ip_address(ip), hostname, client_id, mac=mac, **kw)


def v6(expiry: int, ip: str, iaid: int = 1, duid: str = CLIENT_DUID, **kw) -> Lease:
    return Lease(expiry, ipaddress.ip_address(ip), client_id=duid, iaid=iaid, **kw)


def clean(text: bytes) -> LeaseDb:
    result = parse_leases(text)
    assert result.problems == (), result.problems
    return result.db


# --- parsing ---------------------------------------------------------------------------------

def test_parses_every_field_of_dnsmasq_lines():
    db = clean(SAMPLE)
    assert db.duid == DUID
    assert db.leases == (
        v4(1795309396, "192.168.50.172", MAC_A, b"clienta", "01:02:00:00:00:00:0a"),
        v4(0, "192.168.50.173", MAC_B),
        v6(1795309396, "fd00::10", 12345, hostname=b"host6"),
        v6(1795309397, "fd00::11", 7, temporary=True),
    )
    star = db.leases[1]
    assert star.hostname is None and star.client_id is None
    assert db.leases[0].identity == (4, "id", "01:02:00:00:00:00:0a")  # client-id over MAC
    assert star.identity == (4, "hw", MAC_B)


def test_expiry_zero_is_infinite():
    forever = v4(0, "10.0.0.1")
    assert not forever.expired(2**62)
    assert forever.sort_key > v4(2**62, "10.0.0.1").sort_key
    assert v4(NOW, "10.0.0.1").expired(NOW) and not v4(NOW + 1, "10.0.0.1").expired(NOW)


def test_hardware_address_forms_are_dnsmasqs():
    text = (b"1 01-AA:BB:CC:DD:EE:FF 10.0.0.1 * *\n"  # explicit Ethernet type: written without
            b"1 20-01:02 10.0.0.2 * 01:02\n"  # other ARP types keep their prefix
            b"1 00- 10.0.0.3 * 01:03\n")  # no hardware address at all
    assert [lease.mac for lease in clean(text).leases] == ["aa:bb:cc:dd:ee:ff", "20-01:02", "00-"]


def test_malformed_lines_are_reported_with_their_numbers_and_the_rest_loads():
    text = (b"1795309396 02:00:00:00:00:0a 10.0.0.1 good *\n"  # 1
            b"1795309396 02:00:00:00:00:0a 10.0.0.2 *\n"  # 2 too few fields
            b"\n"  # 3 blank: skipped, still counted
            b"1795309396 02:00:00:00:00:zz 10.0.0.3 * *\n"  # 4 bad MAC
            b"1795309396 02:00:00:00:00:0b 10.0.0.300 * *\n"  # 5 bad IP
            b"soon 02:00:00:00:00:0c 10.0.0.4 * *\n"  # 6 non-numeric expiry
            b"1795309396 02:00:00:00:00:0d 10.0.0.5 bad\x1bname *\n"  # 7 control character
            b"\xff\xfe\x00garbage\x80\n"  # 8 garbage bytes
            b"1795309396 02:00:00:00:00:0e 10.0.0.6 * 01:zz\n"  # 9 bad client-id
            b"-5 02:00:00:00:00:0f 10.0.0.7 * *\n"  # 10 negative expiry
            b"   \t \n"  # 11 whitespace only
            b"1795309396 02:00:00:00:00:10 10.0.0.8 last *\n")  # 12
    result = parse_leases(text)
    assert [str(lease.address) for lease in result.db.leases] == ["10.0.0.1", "10.0.0.8"]
    assert [(p.line_number, p.kind) for p in result.problems] == [
        (2, "fields"), (4, "mac"), (5, "address"), (6, "expiry"), (7, "hostname"), (8, "fields"),
        (9, "client-id"), (10, "expiry")]
    assert result.problems[0].raw == b"1795309396 02:00:00:00:00:0a 10.0.0.2 *"
    assert result.count() == 8 and result.count("hostname") == 1
    assert "expected 5 fields, found 4" in result.problems[0].reason


def test_a_v6_line_before_the_duid_line_loads_as_dnsmasq_reads_it():
    # read_leases() tells v4 from v6 by the address alone, wherever the line stands.
    text = (b"1795309396 5 fd00::1 * " + CLIENT_DUID.encode() + b"\n"
            b"duid " + DUID.encode() + b"\n"
            b"1795309396 02:00:00:00:00:0a 10.0.0.1 * *\n")
    db = clean(text)
    assert [lease.version for lease in db.leases] == [4, 6]
    assert serialise(db).splitlines()[1] == b"duid " + DUID.encode()  # rewritten in dnsmasq's order


@pytest.mark.parametrize("line, kind", [
    (b"1 1 fd00::1 * *", "client-id"),  # a DHCPv6 lease needs the client DUID
    (b"1 X1 fd00::1 * 01:02", "iaid"),
    (b"1 4294967296 fd00::1 * 01:02", "iaid"),
    (b"1 02:00:00:00:00:0a fe80::1%eth0 * 01:02", "address"),  # inet_pton refuses scope ids
    (b"1 02:00:00:00:00:0a 010.0.0.1 * *", "address"),
    (b"9223372036854775808 02:00:00:00:00:0a 10.0.0.1 * *", "expiry"),
    (b"1 " + b":".join([b"aa"] * 17) + b" 10.0.0.1 * *", "mac"),  # DHCP_CHADDR_MAX is 16
    (b"1 02:00:00:00:00:0a 10.0.0.1 " + b"h" * 256 + b" *", "hostname"),  # fscanf %255s
    (b"1 02:00:00:00:00:0a 10.0.0.1 * " + b":".join([b"01"] * 256), "client-id"),
    (b"1 02:00:00:00:00:0a 10.0.0.1 h\xc3\xa9 01-02", "client-id"),
    (b"duid " + b":".join([b"01"] * 86), "duid"),  # dnsmasq reads back 254 characters
    (b"duid 00:01 extra", "fields"),
    (b"vendorclass 10.9.9.9 41:42", "extra"),  # no such lease
    (b"tombstone 1 2 1 02:00:00:00:00:0a 10.0.0.1 * *", "fields"),  # a state line: not dnsmasq's
])
def test_refused_lines(line, kind):
    result = parse_leases(b"1795309396 02:00:00:00:00:0a 10.0.0.1 * *\n" + line + b"\n")
    assert [(p.line_number, p.kind) for p in result.problems] == [(2, kind)]
    assert len(result.db.leases) == 1


def test_bad_duid_line_does_not_stop_the_rest():
    # dnsmasq's read_leases() returns on a bad duid and drops every line after it.
    result = parse_leases(b"duid 0g\n1795309396 02:00:00:00:00:0a 10.0.0.1 * *\n")
    assert result.count("duid") == 1 and len(result.db.leases) == 1


def test_second_duid_line_wins_as_in_dnsmasq_and_the_first_is_reported():
    result = parse_leases(b"duid 00:01\nduid 00:02\n")
    assert result.db.duid == "00:02"
    assert result.problems == (LineProblem(1, "replaced by the duid line at line 2 (dnsmasq keeps "
                                           "the last)", b"duid 00:01", "duid"),)


def test_crlf_and_missing_final_newline():
    db = clean(b"1795309396 02:00:00:00:00:0a 10.0.0.1 a *\r\n0 02:00:00:00:00:0b 10.0.0.2 * *")
    assert [lease.hostname for lease in db.leases] == [b"a", None]


def test_extra_lines_attach_to_their_lease_and_are_written_last():
    text = (b"1795309396 02:00:00:00:00:0a 10.0.0.1 * *\n"
            b"agent-info 10.0.0.1 01:04:00:00:00:01\n"
            b"vendorclass 10.0.0.1 4d:53:46:54\n")
    db = clean(text)
    assert db.leases[0].vendorclass == "4d:53:46:54" and db.leases[0].agent_info == "01:04:00:00:00:01"
    assert serialise(db) == text


def test_parse_wants_bytes():
    with pytest.raises(TypeError):
        parse_leases(SAMPLE.decode())


# --- serialisation ---------------------------------------------------------------------------

def test_serialise_writes_dnsmasqs_layout():
    db = LeaseDb((v6(5, "fd00::1", 3, hostname=b"six"), v4(7, "10.0.0.2", MAC_B, client_id="01:aa"),
                  v4(0, "10.0.0.1")), duid=DUID)
    assert serialise(db) == (b"0 02:00:00:00:00:0a 10.0.0.1 * *\n"
                             b"7 02:00:00:00:00:0b 10.0.0.2 * 01:aa\n"
                             b"duid " + DUID.encode() + b"\n"
                             b"5 3 fd00::1 six " + CLIENT_DUID.encode() + b"\n")


def test_round_trip_of_a_dnsmasq_file_is_exact():
    assert serialise(clean(SAMPLE)) == SAMPLE
    assert serialise(LeaseDb()) == b""


def test_v6_leases_without_a_server_duid_are_still_written():
    db = LeaseDb((v6(5, "fd00::1"),))
    assert clean(serialise(db)) == db


def test_state_file_keeps_superseded_leases_and_tombstones():
    db = LeaseDb((v4(NOW + 9, "10.0.0.1"),), DUID,
                 (Tombstone(v4(NOW + 5, "10.0.0.2", MAC_B, b"gone"), NOW, NOW + 600),),
                 (v4(NOW + 5, "10.0.0.3", vendorclass="41", agent_info="42"),))
    text = serialise_state(db)
    assert b"superseded %d 02:00:00:00:00:0a 10.0.0.3 * * vendorclass=41 agent-info=42" % (NOW + 5) in text
    assert parse_state(text).problems == () and parse_state(text).db == db
    assert parse_leases(serialise(db)).db == record.replace(db, tombstones=(), superseded=())


# --- hostile hostnames -----------------------------------------------------------------------

HOSTILE = [b"$(reboot)", b"`reboot`", b"a;reboot", b"'quoted'", b'"dq"', b"\xff\xfe\x80",
           b"caf\xc3\xa9", b"<script>", b"a|b&c>d", b"%s%n", b"--help", b"\\x00"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_hostnames_round_trip_untouched(name):
    db = LeaseDb((v4(NOW + 1, "10.0.0.1", hostname=name),))
    text = serialise(db)
    assert text.count(b"\n") == 1 and text.split()[3] == name
    assert clean(text) == db
    assert merge(db, LeaseDb(), NOW).db.leases[0].hostname == name


@pytest.mark.parametrize("name", [b"a\nb", b"a\x00b", b"a b", b"a\tb", b"a\rb", b"\x1b[31m",
                                  b"a\x7f", b"", b"*", b"x" * 256, "unicode-str-is-encoded"])
def test_hostnames_that_would_break_the_line_cannot_be_constructed(name):
    if isinstance(name, str):  # a str is accepted, as UTF-8
        assert v4(1, "10.0.0.1", hostname=name).hostname == name.encode()
        return
    with pytest.raises(LeaseError) as error:
        v4(1, "10.0.0.1", hostname=name)
    assert error.value.kind == "hostname"


def test_hostnames_with_control_bytes_in_a_file_are_refused_with_a_count():
    lines = [b"1 02:00:00:00:00:%02x 10.0.0.%d %s *" % (i, i, name)
             for i, name in enumerate([b"ok", b"a\x00b", b"\x01", b"x\x7f", b"\x1b[2J", b"fine"], 1)]
    result = parse_leases(b"\n".join(lines))
    assert result.count("hostname") == 4
    assert [lease.hostname for lease in result.db.leases] == [b"ok", b"fine"]


def test_serialise_refuses_a_lease_changed_behind_its_back():
    lease = v4(1, "10.0.0.1")
    object.__setattr__(lease, "line", b"1 02:00:00:00:00:0a 10.0.0.1 a\nb *")
    with pytest.raises(ValueError):
        serialise(LeaseDb((lease,)))


@settings(deadline=None)
@given(st.binary(max_size=40))
def test_any_hostname_either_round_trips_as_one_line_or_is_refused(name):
    try:
        lease = v4(NOW, "10.0.0.1", hostname=name)
    except LeaseError:
        return
    text = serialise(LeaseDb((lease,)))
    assert text.count(b"\n") == 1 and clean(text).leases == (lease,)


@settings(deadline=None)
@given(st.binary(max_size=300))
def test_parse_never_raises_and_reports_every_refused_line(text):
    result = parse_leases(text)
    nonblank = [n for n, line in enumerate(text.split(b"\n"), 1) if line.split()]
    assert {p.line_number for p in result.problems} <= set(nonblank)
    assert len(result.db.leases) + result.count() <= len(nonblank)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.builds(lambda lease: ("lease", lease), st.deferred(lambda: leases)),
                          st.builds(lambda junk: ("junk", b"!" + junk),
                                    st.binary(max_size=30).filter(lambda b: b"\n" not in b))),
                max_size=12))
def test_malformed_lines_never_stop_the_rest_and_are_always_reported(lines):
    text = b"".join((item.line if kind == "lease" else item) + b"\n" for kind, item in lines)
    result = parse_leases(text)
    assert result.db.leases == LeaseDb(tuple(item for kind, item in lines if kind == "lease")).leases
    assert [p.line_number for p in result.problems] == [
        number for number, (kind, _) in enumerate(lines, 1) if kind == "junk"]


# --- merge rules -----------------------------------------------------------------------------

def test_later_expiry_wins_for_the_same_lease():
    old, renewed = v4(NOW + 10, "10.0.0.1", hostname=b"a"), v4(NOW + 20, "10.0.0.1")
    result = merge(LeaseDb((old,)), LeaseDb((renewed,)), NOW)
    assert result.db.leases == (renewed,) and result.db.superseded == ()  # renewal: copy replaced


def test_later_expiry_wins_when_a_client_moved():
    old, new = v4(NOW + 10, "10.0.0.1"), v4(NOW + 20, "10.0.0.2")
    db = merge(LeaseDb((old,)), LeaseDb((new,)), NOW).db
    assert db.leases == (new,) and db.superseded == (old,)
    assert merge(LeaseDb((v4(0, "10.0.0.1"),)), LeaseDb((new,)), NOW).db.leases == (v4(0, "10.0.0.1"),)


def test_on_equal_expiry_the_copy_with_a_hostname_wins():
    named, anonymous = v4(NOW + 10, "10.0.0.1", hostname=b"laptop"), v4(NOW + 10, "10.0.0.1")
    assert merge(LeaseDb((anonymous,)), LeaseDb((named,)), NOW).db.leases == (named,)


def test_expired_leases_drop_out():
    gone, last_second = v4(NOW - 1, "10.0.0.1"), v4(NOW, "10.0.0.2", MAC_B)
    kept = v4(NOW + 1, "10.0.0.3", "02:00:00:00:00:0c")
    result = merge(LeaseDb((gone, last_second)), LeaseDb((kept, gone)), NOW)
    assert result.db.leases == (kept,) and result.dropped_expired == 2


def test_an_expired_winner_does_not_hide_an_infinite_lease():
    result = merge(LeaseDb((v4(NOW - 5, "10.0.0.1"),)), LeaseDb((v4(0, "10.0.0.2"),)), NOW)
    assert result.db.leases == (v4(0, "10.0.0.2"),)


def test_tombstone_stops_the_peers_older_copy_coming_back():
    lease = v4(NOW + 100, "10.0.0.1", hostname=b"x")
    stale = v4(NOW + 50, "10.0.0.1")
    released = LeaseDb(tombstones=diff(LeaseDb((lease,)), LeaseDb(), NOW))
    result = merge(released, LeaseDb((lease, )), NOW)
    assert result.db.leases == () and result.tombstoned == 1
    assert merge(released, LeaseDb((stale,)), NOW).db.leases == ()
    again = record.replace(lease, hostname=b"other")  # same expiry, other name: still dead
    assert merge(released, LeaseDb((again,)), NOW).db.leases == ()


def test_a_newer_grant_beats_the_tombstone():
    tomb = Tombstone(v4(NOW + 100, "10.0.0.1"), NOW, NOW + 100 + TOMBSTONE_GRACE)
    regrant = v4(NOW + 101, "10.0.0.1")
    result = merge(LeaseDb(tombstones=(tomb,)), LeaseDb((regrant,)), NOW)
    assert result.db.leases == (regrant,) and result.tombstoned == 0


def test_a_tombstone_never_kills_another_clients_lease():
    # After a release the address may go to another client with a shorter lease (a client may
    # ask for as little as 120 s): the tombstone is for the released lease only.
    tomb = Tombstone(v4(NOW + 40000, "10.0.0.1"), NOW, NOW + 40000 + TOMBSTONE_GRACE)
    other = v4(NOW + 120, "10.0.0.1", MAC_B)
    assert merge(LeaseDb(tombstones=(tomb,)), LeaseDb((other,)), NOW).db.leases == (other,)


def test_tombstones_expire():
    forever = v4(0, "10.0.0.1")
    (tomb,) = diff(LeaseDb((forever,)), LeaseDb(), NOW)
    assert tomb.expires == NOW + INFINITE_TOMBSTONE_TTL
    peer = LeaseDb((forever,))
    assert merge(LeaseDb(tombstones=(tomb,)), peer, tomb.expires).db.leases == ()
    later = merge(LeaseDb(tombstones=(tomb,)), peer, tomb.expires + 1).db
    assert later.leases == (forever,) and later.tombstones == ()


def test_address_conflict_keeps_the_later_lease_and_is_counted_once():
    a = LeaseDb((v4(NOW + 10, "10.0.0.1", MAC_A, b"printer"),))
    b = LeaseDb((v4(NOW + 20, "10.0.0.1", MAC_B, b"phone"),))
    result = merge(a, b, NOW)
    assert result.db.leases == b.leases and result.db.superseded == a.leases
    assert result.conflicts == 1
    assert result.conflict_descriptions == (
        f"address conflict on 10.0.0.1: kept {MAC_B} (phone, expires {NOW + 20}), "
        f"set aside {MAC_A} (printer, expires {NOW + 10})",)
    assert merge(result.db, result.db, NOW).conflicts == 0  # a standing conflict is not recounted


def test_conflict_loser_comes_back_when_the_winner_is_released():
    loser, winner = v4(NOW + 10, "10.0.0.1", MAC_A), v4(NOW + 20, "10.0.0.1", MAC_B)
    merged = merge(LeaseDb((loser,)), LeaseDb((winner,)), NOW).db
    released = LeaseDb(tombstones=diff(LeaseDb((winner,)), LeaseDb(), NOW + 1))
    assert merge(merged, released, NOW + 1).db.leases == (loser,)


def test_descriptions_escape_hostile_hostnames():
    a = LeaseDb((v4(NOW + 10, "10.0.0.1", MAC_A, b"\xff$(x)"),))
    b = LeaseDb((v4(NOW + 20, "10.0.0.1", MAC_B),))
    (text,) = merge(a, b, NOW).conflict_descriptions
    assert "\\xff$(x)" in text and text.isprintable()


def test_one_ia_may_hold_several_addresses():
    one, two = v6(NOW + 10, "fd00::1"), v6(NOW + 20, "fd00:1::1")
    assert merge(LeaseDb((one,)), LeaseDb((two,)), NOW).db.leases == (one, two)


def test_mac_and_client_id_are_different_identities():
    by_mac, by_id = v4(NOW + 10, "10.0.0.1"), v4(NOW + 20, "10.0.0.2", client_id="01:aa")
    assert len(merge(LeaseDb((by_mac,)), LeaseDb((by_id,)), NOW).db.leases) == 2


def test_server_duid_settles_on_one():
    result = merge(LeaseDb(duid="00:02"), LeaseDb(duid="00:01"), NOW)
    assert result.db.duid == "00:01" and "server DUIDs differ" in result.conflict_descriptions[0]
    assert merge(LeaseDb(), LeaseDb(duid="00:02"), NOW).db.duid == "00:02"


def test_diff_records_releases_but_not_renewals():
    kept, renewed, moved, released = (v4(NOW + 50, "10.0.0.1"), v4(NOW + 50, "10.0.0.2", MAC_B),
                                      v4(NOW + 50, "10.0.0.3", "02:00:00:00:00:0c"),
                                      v4(NOW + 50, "10.0.0.4", "02:00:00:00:00:0d"))
    old = LeaseDb((kept, renewed, moved, released))
    new = LeaseDb((kept, record.replace(renewed, expiry=NOW + 40),  # even shortened
                   record.replace(moved, address=ipaddress.ip_address("10.0.0.9"))))
    tombs = diff(old, new, NOW)
    assert [t.lease for t in tombs] == [moved, released]
    assert tombs[0] == Tombstone(moved, NOW, NOW + 50 + TOMBSTONE_GRACE)
    assert tombs[0].key == moved.slot and tombs[0].lease.expiry == NOW + 50


# --- algebra (hypothesis) --------------------------------------------------------------------

EXPIRIES = [0, NOW - 10, NOW, NOW + 1, NOW + 100, NOW + 200]
NAMES = [None, b"a", b"b", b"$(reboot)", b"\xff"]
v4_leases = st.builds(v4, st.sampled_from(EXPIRIES), st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
                      st.sampled_from([MAC_A, MAC_B, "20-01:02"]), st.sampled_from(NAMES),
                      st.sampled_from([None, "01:aa", "01:bb"]))
v6_leases = st.builds(v6, st.sampled_from(EXPIRIES), st.sampled_from(["fd00::1", "fd00::2"]),
                      st.sampled_from([1, 2]), st.sampled_from([CLIENT_DUID, "00:03:00:01:aa"]),
                      hostname=st.sampled_from(NAMES), temporary=st.booleans())
leases = st.one_of(v4_leases, v6_leases)
tombstones = st.builds(Tombstone, leases, st.sampled_from([NOW - 100, NOW]),
                       st.sampled_from([NOW - 1, NOW, NOW + 50, NOW + 10**6]))
dbs = st.builds(LeaseDb, st.lists(leases, max_size=6).map(tuple),
                st.sampled_from([None, "00:01", "00:02"]),
                st.lists(tombstones, max_size=3).map(tuple), st.lists(leases, max_size=3).map(tuple))


@settings(max_examples=300, deadline=None)
@given(dbs, dbs)
def test_merge_is_commutative(a, b):
    assert merge(a, b, NOW) == merge(b, a, NOW)


@settings(max_examples=300, deadline=None)
@given(dbs, dbs, dbs)
def test_merge_is_associative(a, b, c):
    left = merge(merge(a, b, NOW).db, c, NOW).db
    right = merge(a, merge(b, c, NOW).db, NOW).db
    assert left == right and serialise_state(left) == serialise_state(right)


@settings(max_examples=300, deadline=None)
@given(dbs, dbs)
def test_merge_is_idempotent(a, b):
    merged = merge(a, b, NOW).db
    assert merge(merged, merged, NOW).db == merged
    assert merge(merged, LeaseDb(), NOW).db == merged
    assert merge(a, a, NOW).db == merge(a, LeaseDb(), NOW).db


@settings(max_examples=300, deadline=None)
@given(dbs, dbs)
def test_merge_result_is_one_lease_per_client_and_address(a, b):
    db = merge(a, b, NOW).db
    assert len({lease.identity for lease in db.leases}) == len(db.leases)
    assert len({lease.address for lease in db.leases}) == len(db.leases)
    assert not any(lease.expired(NOW) for lease in db.leases + db.superseded)
    assert all(NOW <= tomb.expires for tomb in db.tombstones)
    assert parse_state(serialise_state(db)).db == db
    assert parse_leases(serialise(db)).db == LeaseDb(db.leases, db.duid)


@settings(max_examples=300, deadline=None)
@given(dbs, dbs)
def test_nothing_valid_is_lost(a, b):
    db = merge(a, b, NOW).db
    tombs = [t for t in a.tombstones + b.tombstones if NOW <= t.expires]
    for lease in a.leases + a.superseded + b.leases + b.superseded:
        if lease.expired(NOW) or any(t.kills(lease) for t in tombs):
            continue
        # kept, or a *kept* lease at least as late holds its client or its address
        assert any(k.sort_key >= lease.sort_key and (k.identity == lease.identity
                                                     or k.address == lease.address)
                   for k in db.leases), lease
        # and it is remembered (itself or a later copy) so it can come back
        assert any(k.slot == lease.slot and k.sort_key >= lease.sort_key
                   for k in db.leases + db.superseded), lease


def test_merging_50000_leases_runs():
    from tests.bench.lease_merge import NOW as BENCH_NOW
    from tests.bench.lease_merge import two_dbs

    a, b = two_dbs(50_000)
    result = merge(a, b, BENCH_NOW)
    assert len(result.db.leases) == 75_000 and result.db.superseded == ()
    assert result.conflicts == 0 and result.dropped_expired == 0
    assert result.db.leases[-1] == b.leases[-1]
