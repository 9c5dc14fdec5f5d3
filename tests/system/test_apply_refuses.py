"""`start` and `reload` never apply what `ha-pair check` refuses, including what only a daemon's own
parser catches (here: a route keyword keepalived does not know). Run through the package's init
script, with procd's instance calls recorded, in a network namespace of its own (the script loads
nftables)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import pair, tree
from tests.support.privileges import isolated_net, require_root_and

REPO = Path(__file__).resolve().parents[2]
# What procd's rc.common provides to start_service/reload_service: instance calls are recorded.
HARNESS = r"""
procd_open_instance() { echo "instance $1" >> "$PROCD_LOG"; }
procd_set_param() { :; }
procd_close_instance() { :; }
logger() { :; }
pidof() { echo 1; }  # dnsmasq runs (the stand-in init script below records what it is asked)
start() { start_service; }
. "$HA_PAIR_ROOT/etc/init.d/ha-pair"
"$1"_service
"""


def init(root: Path, action: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HA_PAIR_ROOT": str(root), "PROCD_LOG": str(root / "procd.log")}
    # busybox's ash, OpenWrt's /bin/sh (dash takes no file descriptor above 9, as `exec 1000>...`)
    return subprocess.run([*isolated_net(), "busybox", "sh", "-c", HARNESS, "init", action], capture_output=True,
                          text=True, env=env, timeout=120)


def instances(root: Path) -> list[str]:
    log = root / "procd.log"
    words = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return [w for w in words if w != "instance"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    require_root_and("keepalived", "nft", "busybox")
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    dnsmasq = root / "etc/init.d/dnsmasq"
    dnsmasq.parent.mkdir(parents=True, exist_ok=True)
    dnsmasq.write_text(f"#!/bin/sh\necho \"$1\" >> {root / 'dnsmasq.log'}\n")
    dnsmasq.chmod(0o755)
    return root


def dnsmasq_calls(root: Path) -> list[str]:
    log = root / "dnsmasq.log"
    calls = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return calls


def test_start_reloads_dnsmasq_only_when_render_changed_its_config(root: Path):
    """The init script asks render which files it changed (--list-changed), not its human output."""
    assert init(root, "start").returncode == 0
    assert dnsmasq_calls(root) == ["start"], "the VIP became gateway and DNS server in /etc/config/dhcp"
    changed = (root / "var/run/ha-pair/render.changed").read_text().splitlines()
    assert str(root / "etc/config/dhcp") in changed and str(root / "var/etc/ha-pair/keepalived.conf") in changed
    assert init(root, "start").returncode == 0
    assert dnsmasq_calls(root) == [] and (root / "var/run/ha-pair/render.changed").read_text() == ""
    conf = root / "var/etc/ha-pair/keepalived.conf"
    conf.write_text(conf.read_text() + "# edited\n")  # render puts it back: changed, but not /etc/config/dhcp
    assert init(root, "start").returncode == 0
    assert dnsmasq_calls(root) == []
    assert (root / "var/run/ha-pair/render.changed").read_text().splitlines() == [str(conf)]


def test_reload_and_start_refuse_what_only_keepalived_t_catches(root: Path):
    assert init(root, "start").returncode == 0
    assert instances(root) == ["agent", "keepalived", "conntrackd"]
    dnsmasq_calls(root)
    conf = root / "var/etc/ha-pair/keepalived.conf"
    applied = conf.read_bytes()

    ha = root / "etc/config/ha"
    ha.write_text(ha.read_text().replace("list address '198.51.100.1/24'",
                                         "list address '198.51.100.1/24'\n\tlist virtual_routes '10.9.0.0/16 bogus 5'"))
    check = subprocess.run([str(root / "usr/sbin/ha-pair"), "--root", str(root), "check"], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 2 and "unknown route keyword bogus" in check.stderr, check.stderr

    reload = init(root, "reload")
    assert reload.returncode == 1 and "unknown route keyword bogus" in reload.stderr, reload.stderr
    assert instances(root) == [], "a refused reload leaves procd's instances as they are"
    assert conf.read_bytes() == applied

    start = init(root, "start")
    assert start.returncode == 1 and "not started" in start.stderr
    assert instances(root) == []
    assert conf.read_bytes() == applied, "render wrote nothing"
