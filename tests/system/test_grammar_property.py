"""Property: a hostile value in any option of any source file (ha, network, system) is either refused
by validation with a UCI path and file:line, or every generated file passes the daemon's own parser
(`keepalived -t` in a namespace that has the interfaces, conntrackd's parser, `nft -c`) and holds
exactly the blocks and keywords the model asked for."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ha_pair.apply.daemon_tests import keepalived_test
from ha_pair.config.validate import Inputs, build_model
from ha_pair.paths import Paths
from ha_pair.render import generated_files
from ha_pair.uci import UciSyntaxError, parse, quote
from tests.support import pair
from tests.support.privileges import require_root_and

PIECES = list("ab1-._ /:\"'#!{}$~@\\;\t\n%é") + ["\udcff", "include ", "eth1", "10.0.0.1", "x" * 300, "\r"]
HOSTILE = st.lists(st.sampled_from(PIECES), min_size=1, max_size=6).map("".join)

# (package, how the value goes in): every destination kind the grammar knows about
TARGETS = {
    "ha.global.node_name": ("ha", lambda t, v: t.replace("option role 'primary'", f"option role 'primary'\n\toption node_name {v}")),
    "ha.global.auth_pass": ("ha", lambda t, v: t.replace("option role 'primary'",
                                                         f"option role 'primary'\n\toption auth_type 'pass'\n\toption auth_pass {v}")),
    "ha.wan.virtual_routes": ("ha", lambda t, v: t.replace("list address '198.51.100.1/24'",
                                                           f"list address '198.51.100.1/24'\n\tlist virtual_routes {v}")),
    "ha.wan.virtual_rules": ("ha", lambda t, v: t.replace("list address '198.51.100.1/24'",
                                                          f"list address '198.51.100.1/24'\n\tlist virtual_rules {v}")),
    "ha.lan.address": ("ha", lambda t, v: t.replace("list address '192.168.50.1/24'",
                                                    f"list address '192.168.50.1/24'\n\tlist address {v}")),
    "ha.lan.vrid": ("ha", lambda t, v: t.replace("option vrid '51'", f"option vrid {v}")),
    "ha.mine.script": ("ha", lambda t, v: t + f"\nconfig check 'mine'\n\toption type 'script'\n\toption script {v}\n"),
    "network.wan.device": ("network", lambda t, v: t.replace("option device 'eth1'", f"option device {v}")),
    "network.br_lan.ports": ("network", lambda t, v: t.replace("list ports 'lan1'", f"list ports {v}")),
    "system.hostname": ("system", lambda t, v: t.replace("option hostname 'r1'", f"option hostname {v}")),
}
FREE_TEXT = {"ha.wan.virtual_routes", "ha.wan.virtual_rules"}
TOP_BLOCKS = {"global_defs", "vrrp_script", "track_file", "vrrp_instance", "vrrp_sync_group"}  # track_file: the operator hold
INSTANCE_KEYWORDS = {"state", "interface", "virtual_router_id", "priority", "advert_int", "version", "nopreempt",
                     "preempt_delay", "use_vmac", "vmac_xmit_base", "unicast_src_ip", "unicast_peer", "authentication",
                     "virtual_ipaddress", "virtual_ipaddress_excluded", "virtual_routes", "virtual_rules",
                     "track_script", "track_interface", "track_file", "notify", "down_timer_adverts"}


@pytest.fixture(scope="module")
def namespace():
    require_root_and("keepalived", "conntrackd", "nft")
    name = f"hpg-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    ip = lambda *a: subprocess.run(["ip", "-n", name, *a], check=True, capture_output=True)  # noqa: E731
    ip("link", "add", "br-lan", "type", "bridge")
    ip("link", "add", "eth1", "type", "veth", "peer", "name", "eth2")
    yield name
    subprocess.run(["ip", "netns", "del", name], check=True)


def blocks(text: str) -> list[tuple[tuple[str, ...], str]]:
    """(enclosing block keywords, keyword) of every line, read the way keepalived splits them:
    comments from ! or # anywhere, braces open and close blocks."""
    out, stack = [], []
    for raw in text.splitlines():
        line = re.split(r"[!#]", raw, maxsplit=1)[0]
        words = line.replace("{", " { ").replace("}", " } ").split()
        if not words:
            continue
        if words[0] == "}":
            stack.pop()
            continue
        out.append((tuple(stack), words[0]))
        if words[-1] == "{":
            stack.append(words[0])
    assert stack == [], "unbalanced braces"
    return out


def check_structure(model, text: str) -> None:
    found = blocks(text)
    top = [kw for parents, kw in found if not parents]
    assert set(top) <= TOP_BLOCKS, top
    assert top.count("vrrp_instance") == len(model.vips)
    assert top.count("vrrp_script") == sum(c.kind in ("ping", "script") for c in model.checks)
    for vip in model.vips:
        routes = [kw for parents, kw in found if parents == ("vrrp_instance", "virtual_routes")]
        rules = [kw for parents, kw in found if parents == ("vrrp_instance", "virtual_rules")]
        assert len(routes) == sum(len(v.virtual_routes) for v in model.vips)
        assert len(rules) == sum(len(v.virtual_rules) for v in model.vips)
    inside = {kw for parents, kw in found if parents == ("vrrp_instance",)}
    assert inside <= INSTANCE_KEYWORDS, inside - INSTANCE_KEYWORDS


def run_in(namespace: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", namespace, *argv], capture_output=True, text=True, timeout=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(sorted(TARGETS)), value=HOSTILE)
def test_hostile_values_are_refused_or_parse_cleanly(namespace: str, tmp_path_factory, target: str, value: str):
    package, put = TARGETS[target]
    configs = pair.configs("r1")
    configs[package] = put(configs[package], quote(value))
    try:
        packages = {name: parse(text, name, f"/etc/config/{name}") for name, text in configs.items()}
    except UciSyntaxError as exc:
        assert exc.path.startswith("/etc/config/") and exc.line > 0
        return
    result = build_model(Inputs(packages["ha"], packages["network"], packages["dhcp"], packages["system"]),
                         Paths("/"), lambda p: True)
    if result.model is None:
        assert all(e.file and e.line > 0 for e in result.errors), [str(e) for e in result.errors]
        return
    model = result.model
    work = tmp_path_factory.mktemp("render")
    for device in {v.device for v in model.vips} | {p for v in model.vips for p in v.track_ports}:
        exists = run_in(namespace, "ip", "link", "show", "dev", device).returncode == 0
        if not exists:  # an accepted device name: the namespace must have it for keepalived -t
            assert run_in(namespace, "ip", "link", "add", "name", device, "type", "veth", "peer", "name",
                          f"p{uuid.uuid4().hex[:8]}").returncode == 0, f"Linux refuses a device name we accepted: {device!r}"
    for path, text in generated_files(model).items():
        file = work / Path(path).name
        file.write_text(text)
        if file.name == "keepalived.conf":
            check_structure(model, text)
            proc = run_in(namespace, "keepalived", "-t", "-l", "-f", str(file))
            if proc.returncode != 0 and target in FREE_TEXT:
                # route/rule semantics are keepalived's to judge: then check and render refuse it too
                assert not keepalived_test(text, "keepalived.conf").ok, proc.stdout + proc.stderr
                continue
            assert proc.returncode == 0 and "WARNING" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
        elif file.name == "conntrackd.conf":
            proc = run_in(namespace, "conntrackd", "-C", str(file), "-s")
            assert "parsing config file" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
        else:
            proc = run_in(namespace, "nft", "-c", "-f", str(file))
            assert proc.returncode == 0, proc.stderr
