"""Every rendered configuration of the matrix passes the real `keepalived -t` (and conntrackd's
parser), in a network namespace that has the router's interfaces: keepalived -t fails on
interfaces that do not exist."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.support import pair, tree
from tests.support.privileges import require_root_and
from tests.unit.render_cases import CASES, EXECUTABLES

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def namespace():
    require_root_and("keepalived", "conntrackd", "nft")
    name = f"hpkt-{uuid.uuid4().hex[:6]}"  # not the lab's "hap-" prefix: the lab clears those
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        def ip(*args: str) -> None:
            subprocess.run(["ip", "-n", name, *args], check=True)
        ip("link", "add", "br-lan", "type", "bridge")
        ip("link", "add", "eth1", "type", "veth", "peer", "name", "eth2")
        ip("link", "add", "eth3", "type", "veth", "peer", "name", "eth4")
        ip("link", "add", "lan1", "type", "veth", "peer", "name", "lan1p")
        ip("link", "set", "lan1", "master", "br-lan")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def render_in_tree(root: Path, name: str) -> Path:
    router, ha_text, network = CASES[name]
    configs = pair.configs(router)
    configs["ha"] = ha_text
    if network:
        configs["network"] = network
    tree.make_tree(root, configs)
    for script in EXECUTABLES:
        target = root / script.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("#!/bin/sh\nexit 0\n")
        target.chmod(0o755)
    proc = subprocess.run(
        ["python3", "-m", "ha_pair", "--root", str(root), "render"],
        capture_output=True, text=True, env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    return root / "var" / "etc" / "ha-pair"


@pytest.mark.parametrize("name", sorted(CASES))
def test_keepalived_accepts_rendered_config(name: str, namespace: str, tmp_path: Path):
    generated = render_in_tree(tmp_path / "root", name)
    proc = subprocess.run(["ip", "netns", "exec", namespace, "keepalived", "-t", "-l", "-f",
                           str(generated / "keepalived.conf")], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # -t exits 0 even for some ignored lines: nothing may have been warned about either.
    assert "WARNING" not in proc.stdout + proc.stderr
    assert "Unknown keyword" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("name", sorted(n for n in CASES if "conntrack" in n or n.startswith("pair")))
def test_conntrackd_parses_rendered_config(name: str, namespace: str, tmp_path: Path):
    generated = render_in_tree(tmp_path / "root", name)
    # With a valid file conntrackd gets as far as contacting the (absent) daemon.
    proc = subprocess.run(["ip", "netns", "exec", namespace, "conntrackd", "-C", str(generated / "conntrackd.conf"),
                           "-s"], capture_output=True, text=True, timeout=30)
    output = proc.stdout + proc.stderr
    assert "can't connect" in output, output
    assert "parsing config file" not in output and "warning" not in output.lower(), output


@pytest.mark.parametrize("name", sorted(n for n in CASES if n.startswith("pair") or n == "dhcp-sections"))
def test_nft_accepts_rendered_dhcp_guard(name: str, namespace: str, tmp_path: Path):
    generated = render_in_tree(tmp_path / "root", name)
    guard = generated / "dhcp-guard.nft"
    assert guard.exists()
    proc = subprocess.run(["ip", "netns", "exec", namespace, "nft", "-c", "-f", str(guard)], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def test_check_command_runs_keepalived_test(namespace: str, tmp_path: Path):
    root = tmp_path / "root"
    render_in_tree(root, "pair-r1")
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    inside = subprocess.run(["ip", "netns", "exec", namespace, "python3", "-m", "ha_pair", "--root", str(root),
                             "--json", "check"], capture_output=True, text=True, env=env)
    assert inside.returncode == 0, inside.stdout + inside.stderr
    tests = {t["program"]: t for t in json.loads(inside.stdout)["daemon_tests"]}
    assert set(tests) == {"keepalived -t", "conntrackd", "nft -c"}
    assert all(t["ran"] and t["ok"] and not t["warning"] for t in tests.values()), tests
    # Outside the namespace br-lan does not exist (yet, as at boot before netifd): a warning only.
    outside = subprocess.run(["ip", "netns", "exec", namespace, "unshare", "--net", "python3", "-m", "ha_pair",
                              "--root", str(root), "check"], capture_output=True, text=True, env=env)
    assert outside.returncode == 0, outside.stderr
    assert "warning: keepalived -t: interfaces not present (yet): br-lan" in outside.stderr
