"""The UCI parser and writer: libuci's grammar, real OpenWrt files, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ha_pair.uci import Package, Section, UciSyntaxError, dump, load, parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openwrt"


def test_options_lists_quotes_and_comments():
    text = r"""# a comment line
config interface 'lan'
	option device 'br-lan'
	option proto "static"   # trailing comment
	list ipaddr '192.168.1.1/24'
	list ipaddr 10.0.0.1/8
	option quoted 'it'\''s'
	option escaped a\ b
	option mixed 'one'"two"three
	option dq "say \"hi\" \\ ok"
"""
    section = parse(text, "network").find("lan")
    assert section.type == "interface"
    assert section.options == {
        "device": "br-lan",
        "proto": "static",
        "ipaddr": ["192.168.1.1/24", "10.0.0.1/8"],
        "quoted": "it's",
        "escaped": "a b",
        "mixed": "onetwothree",
        "dq": 'say "hi" \\ ok',
    }


def test_hash_inside_quotes_is_data_and_outside_ends_the_line():
    section = parse("config x 'a'\n\toption v '#not a comment'\n\toption w abc#def ghi\n", "p").find("a")
    assert section.options == {"v": "#not a comment", "w": "abc"}


def test_multiline_values_and_continuation():
    text = "config x 'a'\n\toption s 'line1\nline2'\n\toption d \"x\\\ny\"\n\toption c one\\\n"
    section = parse(text, "p").find("a")
    assert section.options["s"] == "line1\nline2"
    assert section.options["d"] == "xy"  # backslash-newline inside double quotes joins lines
    assert section.options["c"] == "one"


def test_semicolons_and_short_commands():
    package = parse("c rule; o name one; l proto tcp; l proto udp\nconfig rule\n\toption name two\n", "firewall")
    first, second = package.of_type("rule")
    assert first.options == {"name": "one", "proto": ["tcp", "udp"]}
    assert second.options == {"name": "two"}


def test_anonymous_and_indexed_access():
    package = parse("config rule\n\toption n a\nconfig rule\n\toption n b\nconfig zone 'z'\n", "firewall")
    assert package.find("@rule[0]").get("n") == "a"
    assert package.find("@rule[1]").get("n") == "b"
    assert package.find("@rule[-1]").get("n") == "b"
    assert package.find("@rule[2]") is None
    assert package.find("z").type == "zone"
    assert package.ref(package.sections[1]) == "@rule[1]"
    assert package.ref(package.sections[2]) == "z"


def test_named_section_reopened_merges_and_empty_option_deletes():
    package = parse("config a 'x'\n\toption k 1\n\toption gone 1\nconfig a 'x'\n\toption j 2\n\toption gone ''\n", "p")
    assert len(package.sections) == 1
    assert package.find("x").options == {"k": "1", "j": "2"}


def test_list_after_option_keeps_the_option_value():
    section = parse("config a 'x'\n\toption l one\n\tlist l two\n", "p").find("x")
    assert section.options["l"] == ["one", "two"]


def test_package_line_is_accepted():
    assert parse("package network\n\nconfig a 'x'\n", "network").find("x") is not None


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("config a 'x'\n\toption v 'open\n", 2, "unterminated '"),
        ('config a \'x\'\n\toption v "open\n', 2, 'unterminated "'),
        ("\toption v 1\n", 1, "before the first section"),
        ("config a 'x'\nfoo bar\n", 2, "invalid command"),
        ("config a 'x'\n\toption bad-name 1\n", 2, "invalid character in option name"),
        ("config a 'bad-name'\n", 1, "invalid character in section name"),
        ("config a 'x'\nconfig b 'x'\n", 2, "overwrites prior section"),
        ("config a 'x' extra\n", 1, "too many arguments"),
        ("config\n", 1, "insufficient arguments"),
        ("config a 'x'\n\toption\n", 2, "insufficient arguments"),
        ("config a 'x'\x00\n", 1, "NUL"),
    ],
)
def test_syntax_errors_name_file_and_line(text, line, fragment):
    with pytest.raises(UciSyntaxError) as caught:
        parse(text, "p", "/etc/config/p")
    assert caught.value.line == line
    assert fragment in caught.value.message
    assert str(caught.value).startswith(f"/etc/config/p:{line}:")


def test_writer_matches_uci_commit_format():
    package = Package("p")
    section = package.add("zone")
    section.set("name", "lan")
    section.add_list("network", "lan")
    section.add_list("network", "it's")
    assert dump(package) == "\nconfig zone\n\toption name 'lan'\n\tlist network 'lan'\n\tlist network 'it'\\''s'\n\n"


FIXTURE_FILES = sorted(p for p in FIXTURES.glob("*/*") if p.is_file() and p.name != "README.md")


def test_fixtures_exist_for_every_release():
    releases = {p.parent.name for p in FIXTURE_FILES}
    assert {"19.07", "23.05", "24.10", "25.12"} <= releases
    for release in ("23.05", "24.10", "25.12"):
        assert {p.name for p in FIXTURE_FILES if p.parent.name == release} >= {"network", "dhcp", "firewall"}


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_openwrt_files_load_and_round_trip_without_loss(path: Path):
    package = load(path)
    assert package.sections, "a real file has sections"
    # Every option line of the file is in the model (nothing silently dropped): count them.
    option_lines = [
        line for line in path.read_text().splitlines()
        if line.strip().startswith(("option ", "list ")) and not line.strip().startswith("#")
    ]
    values = sum(len(v) if isinstance(v, list) else 1 for s in package.sections for v in s.options.values())
    assert values == len(option_lines)
    again = parse(dump(package), package.name)
    assert again.content() == package.content()
    assert dump(again) == dump(package)


def test_fixture_24_10_customisations_are_read_exactly():
    dhcp = load(FIXTURES / "24.10" / "dhcp")
    options = [o for s in dhcp.sections for o in s.get_list("dhcp_option")]
    assert "42,192.168.1.1" in options
    firewall_or_network = [load(FIXTURES / "24.10" / name) for name in ("network", "dhcp", "firewall")]
    values = [v for p in firewall_or_network for s in p.sections for o in s.options.values()
              for v in (o if isinstance(o, list) else [o])]
    assert any(" " in v for v in values), "a value with a space"
    assert any("'" in v or '"' in v for v in values), "a value with a quote"


# --- properties -------------------------------------------------------------------------------

NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
names = st.text(alphabet=NAME_CHARS, min_size=1, max_size=12)
# Section types: printable ASCII without space, as libuci allows.
types = st.text(alphabet="".join(chr(c) for c in range(33, 127)), min_size=1, max_size=12)
values = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40)


@st.composite
def packages(draw) -> Package:
    package = Package("p")
    used: set[str] = set()
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.one_of(st.none(), names))
        if name in used:
            name = None
        if name:
            used.add(name)
        section = Section(type=draw(types), name=name)
        for option in draw(st.lists(names, max_size=5, unique=True)):
            if draw(st.booleans()):
                section.options[option] = draw(st.lists(values, min_size=1, max_size=4))
            else:
                section.options[option] = draw(values.filter(bool))
        package.sections.append(section)
    return package


@settings(max_examples=300, deadline=None)
@given(packages())
def test_round_trip_property(package: Package):
    text = dump(package)
    again = parse(text, "p")
    assert again.content() == package.content()
    assert dump(again) == text


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_parses_or_fails_cleanly(text: str):
    try:
        package = parse(text, "p")
    except UciSyntaxError as exc:
        assert exc.line >= 1
        return
    # Whatever parsed must survive a round trip.
    assert parse(dump(package), "p").content() == package.content()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["config", "option", "list", "'", '"', "\\", "#", ";", "\n", " ", "\t", "a", "b_1",
                                 "x y", "''", "\\\n", "c", "o", "l", "package"]), max_size=40))
def test_uci_shaped_noise_parses_or_fails_cleanly(pieces: list[str]):
    text = "".join(pieces)
    try:
        package = parse(text, "p")
    except UciSyntaxError:
        return
    assert parse(dump(package), "p").content() == package.content()


def test_a_copy_shares_nothing_with_its_original():
    """Package.copy copies by hand (no copy module in the agent): every section, option, list and
    line number, none of them shared."""
    original = parse("config dhcp 'lan'\n\toption start '100'\n\tlist dhcp_option '6,1.1.1.1'\n\n"
                     "config host\n\toption name 'x'\n", "dhcp", "/etc/config/dhcp")
    copy = original.copy()
    assert copy == original and copy.content() == original.content() and copy.path == original.path
    copy.sections[0].add_list("dhcp_option", "3,10.0.0.1")
    copy.sections[0].set("start", "50")
    copy.sections[0].option_lines["start"] = 99
    copy.sections.append(Section("host"))
    assert original.sections[0].options == {"start": "100", "dhcp_option": ["6,1.1.1.1"]}
    assert original.sections[0].option_lines["start"] != 99 and len(original.sections) == 2
    content = original.content()
    content[0][2]["dhcp_option"].append("y")
    assert original.sections[0].options["dhcp_option"] == ["6,1.1.1.1"]
