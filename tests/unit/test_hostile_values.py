"""Hostile or unlucky values in any source file (ha, network, system) are refused at their source,
with the UCI path and file:line, before anything reaches keepalived.conf, conntrackd.conf, the
nft file or a command line; bytes that are not UTF-8 never crash check or status."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ha_pair.uci import UciSyntaxError, parse
from tests.support import pair, tree
from tests.unit.test_validate import assert_error, base, model_for

REPO = Path(__file__).resolve().parents[2]
LINE_MAX = 1023  # keepalived 2.2.7 reads a line into 1024 bytes: byte 1024 starts a new line
ROUTE_MAX = LINE_MAX - 8  # a virtual_routes line is indented by two blocks


def network_with(wan_device: str) -> str:
    return pair.network("r1").replace("option device 'eth1'", f"option device '{wan_device}'")


@pytest.mark.parametrize("device, fragment", [
    ("eth1\nx {", "contains whitespace '\\n'"),
    ("eth1 eth2", "contains whitespace ' '"),
    ("a23456789012345x", "is 16 bytes"),
    ('eth"1', "contains '\"'"),
    ("eth1#", "contains '#'"),
    ("et/h1", "contains '/'"),
])
def test_a_hostile_device_name_in_network_is_refused_with_its_file_and_line(device: str, fragment: str):
    result = model_for(base(), network=network_with(device))
    problems = [p for p in result.errors if p.path == "network.wan.device"]
    assert result.model is None and problems, [str(p) for p in result.errors]
    assert fragment in problems[0].message and "used by ha.wan.interface" in problems[0].message
    line = next(n for n, text in enumerate(network_with(device).split("\n"), 1) if "option device 'et" in text
                or "option device 'a2" in text)
    assert (problems[0].file, problems[0].line) == ("/etc/config/network", line)


def test_a_protocol_device_name_too_long_for_linux_names_the_proto_option():
    network = pair.network("r1") + "\nconfig interface 'wanuplinkname'\n\toption proto 'pppoe'\n"
    text = base().replace("option interface 'wan'", "option interface 'wanuplinkname'")
    assert_error(model_for(text, network=network), "network.wanuplinkname.proto", "'pppoe-wanuplinkname' (of interface")


def test_section_names_libuci_refuses_are_refused_by_the_parser():
    with pytest.raises(UciSyntaxError, match="invalid character in section name"):
        parse("config vip 'lan\n'\n\toption vrid '1'\n", "ha")
    with pytest.raises(UciSyntaxError, match="invalid character in option name"):
        parse("config vip 'lan'\n\toption 'vrid\n' '1'\n", "ha")


def test_a_route_that_would_pass_keepalived_line_limit_is_refused():
    def with_route(route: str):
        return model_for(base().replace("list address '198.51.100.1/24'",
                                        f"list address '198.51.100.1/24'\n\tlist virtual_routes '{route}'"))
    head = "10.9.0.0/16 via 198.51.100.254 dev eth1 "
    fits = head + "metric " + "1" * (ROUTE_MAX - len(head) - 7)
    assert len(fits) == ROUTE_MAX
    model = with_route(fits).model
    assert model is not None
    from ha_pair.render.keepalived import render_keepalived
    longest = max(render_keepalived(model).split("\n"), key=len)
    assert len(longest.encode()) == LINE_MAX, "the limit is exact, not a guess"
    assert_error(with_route(fits + "1"), "ha.wan.virtual_routes", "the line would pass keepalived's 1023-byte")


@pytest.mark.parametrize("route, fragment", [
    ("include /etc/shadow", "starts with `include`"),
    ("10.9.0.0/16 via $GW", "contains '$'"),
    ("~SEQ(i,1,3) 10.$i.0.0/16", "contains '~'"),
    ("@r2 10.9.0.0/16 via 198.51.100.254", "contains '@'"),
    ("10.9.0.0/16 via 198.51.100.254#x", "contains '#'"),
    ("10.9.0.0/16 via 198.51.100.254 \\", "contains '\\\\'"),
])
def test_route_text_that_keepalived_would_expand_include_or_cut_is_refused(route: str, fragment: str):
    text = base().replace("list address '198.51.100.1/24'",
                          f"list address '198.51.100.1/24'\n\tlist virtual_routes '{route}'")
    assert_error(model_for(text), "ha.wan.virtual_routes", fragment)


@pytest.mark.parametrize("script", ["/usr/bin/my check", "/usr/bin/it's", '/usr/bin/a"b', "/usr/bin/a\tb"])
def test_a_script_path_keepalived_would_split_is_refused(script: str):
    check = f"\nconfig check 'mine'\n\toption type 'script'\n\toption script '{script}'\n" if "'" not in script \
        else f'\nconfig check \'mine\'\n\toption type \'script\'\n\toption script "{script}"\n'
    result = model_for(base(extra=check), executables=(script,))
    assert_error(result, "ha.mine.script", "keepalived would split or reinterpret the command")


def test_auth_pass_is_counted_in_bytes():
    result = model_for(base("\toption auth_type 'pass'\n\toption auth_pass 'ééééé'\n"))
    assert_error(result, "ha.global.auth_pass", "is 10 bytes")


@pytest.mark.parametrize("option, value", [("vrid", "٥١"), ("vrid", "５１"), ("vrid", "5_1"), ("vrid", "+51")])
def test_numbers_take_ascii_digits_only(option: str, value: str):
    text = base().replace("option vrid '51'", f"option {option} '{value}'")
    assert_error(model_for(text), f"ha.lan.{option}", "is not an integer (ASCII digits")


@pytest.mark.parametrize("address", ["fe80::1%eth0\nvrrp_script x {/64", "fd00:50::9%x y/64"])
def test_an_ipv6_scope_is_refused(address: str):
    text = base("\toption vrrp_version '3'\n").replace("list address '192.168.50.1/24'",
                                                       f"list address '192.168.50.1/24'\n\tlist address '{address}'")
    assert_error(model_for(text), "ha.lan.address", "is not an address or address/prefix")


def test_a_hostname_that_cannot_be_a_router_id_is_refused_at_its_source():
    from ha_pair.config.validate import Inputs, build_model
    from ha_pair.paths import Paths
    system = "\nconfig system\n\toption hostname 'r1 vrrp_script'\n"
    inputs = Inputs(ha=parse(base(), "ha", "/etc/config/ha"), network=parse(pair.network("r1"), "network"),
                    dhcp=parse(pair.dhcp(), "dhcp"), system=parse(system, "system", "/etc/config/system"))
    result = build_model(inputs, Paths("/"), lambda p: False)
    problems = [p for p in result.errors if p.path == "system.@system[0].hostname"]
    assert problems and (problems[0].file, problems[0].line) == ("/etc/config/system", 3), result.errors
    assert "set ha.global.node_name" in problems[0].message
    named = Inputs(ha=parse(base("\toption node_name 'r1'\n"), "ha"), network=inputs.network, dhcp=inputs.dhcp,
                   system=inputs.system)
    assert build_model(named, Paths("/"), lambda p: False).ok, "node_name set: the hostname is not used"


def test_two_checks_rendered_under_one_name_are_refused():
    checks = ("\nconfig check\n\toption type 'ping'\n\toption target '198.51.100.254'\n"
              "\nconfig check 'check0'\n\toption type 'ping'\n\toption target '198.51.100.253'\n")
    assert_error(model_for(base(extra=checks)), "ha.check0", "is rendered as check 'check0', like ha.@check[0]")


def test_a_vip_rendered_under_another_vips_name_is_refused():
    vips = "\nconfig vip\n\toption interface 'lan'\n\toption vrid '60'\n\tlist address '192.168.50.60/24'\n" \
           "\nconfig vip 'vip2'\n\toption interface 'lan'\n\toption vrid '61'\n\tlist address '192.168.50.61/24'\n"
    assert_error(model_for(base(extra=vips)), "ha.vip2", "is rendered as vip 'vip2', like ha.@vip[2]")


def run(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(["python3", "-m", "ha_pair", "--root", str(root), *args], capture_output=True,
                          env=env, timeout=60)


@pytest.mark.parametrize("package, old, new", [
    ("ha", b"option role 'primary'", b"option role 'primary'\n\toption node_name 'r\xff1'"),
    ("network", b"option device 'eth1'", b"option device 'eth\xfe1'"),
    ("system", b"option hostname 'r1'", b"option hostname 'r\xc3\x281'"),
    ("ha", b"list address '192.168.50.1/24'", b"list address '192.168.50.1/24'\n\tlist virtual_rules 'to \xff'"),
])
def test_bytes_that_are_not_utf8_give_an_error_not_a_crash(tmp_path: Path, package: str, old: bytes, new: bytes):
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    path = root / "etc/config" / package
    path.write_bytes(path.read_bytes().replace(old, new))
    for args in (["check", "--no-keepalived-test"], ["--json", "check", "--no-keepalived-test"], ["render"]):
        result = run(root, *args)
        assert result.returncode == 2, result.stderr.decode(errors="replace")
        assert b"Traceback" not in result.stderr
        assert b"not UTF-8" in result.stdout + result.stderr
    status = run(root, "--json", "status")  # no agent: the offline status, which validates too
    assert b"Traceback" not in status.stderr
    data = json.loads(status.stdout)  # JSON, and UTF-8 encodable all through (ubus needs that)
    json.dumps(data, ensure_ascii=False).encode("utf-8")
    assert data["config"]["valid"] is False
