"""The agent's rtnetlink probe sees what `ip` sees, in a network namespace of its own (needs root)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.privileges import isolated_net

REPO = Path(__file__).resolve().parents[2]

# In a fresh network namespace: devices up and down, with and without carrier, IPv4 and IPv6,
# a point-to-point address whose peer differs from the local one; then what netlink and `ip` see.
COMPARE = textwrap.dedent("""
    import json, subprocess
    from ha_pair.agent import netlink
    def ip(*args):
        subprocess.run(["ip", *args], check=True)
    ip("link", "set", "lo", "up")
    ip("link", "add", "up0", "type", "veth", "peer", "name", "up1")
    ip("link", "set", "up0", "up"); ip("link", "set", "up1", "up")
    ip("addr", "add", "192.0.2.1/24", "dev", "up0"); ip("addr", "add", "192.0.2.7/24", "dev", "up0")
    ip("addr", "add", "2001:db8::1/64", "dev", "up0", "nodad")
    ip("link", "add", "down0", "type", "veth", "peer", "name", "down1")  # both down: no carrier
    ip("addr", "add", "198.51.100.9/32", "peer", "198.51.100.10", "dev", "down0")
    ip("link", "add", "vA", "type", "veth", "peer", "name", "vB"); ip("link", "set", "vA", "up")  # peer down
    ip("link", "add", "br-lan", "type", "bridge"); ip("link", "set", "br-lan", "up")
    ip("addr", "add", "192.168.50.2/24", "dev", "br-lan")
    links = netlink.links(); by_index = netlink.addresses()
    ours = {name: {"carrier": link.carrier, "addresses": sorted(by_index.get(link.index, []))}
            for name, link in links.items()}
    theirs = {}
    for line in subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout.splitlines():
        name = line.split(": ")[1].split("@")[0]
        theirs[name] = {"carrier": "LOWER_UP" in line.split("<")[1].split(">")[0].split(","), "addresses": []}
    for line in subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True).stdout.splitlines():
        words = line.split()
        theirs[words[1]]["addresses"].append(words[3].split("/")[0])
    theirs = {name: {**v, "addresses": sorted(v["addresses"])} for name, v in theirs.items()}
    print(json.dumps([ours, theirs]))
""")


def test_netlink_sees_what_ip_sees():
    run = subprocess.run([*isolated_net(), sys.executable, "-c", COMPARE], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert run.returncode == 0, run.stderr
    ours, theirs = json.loads(run.stdout)
    assert ours == theirs
    assert ours["up0"]["carrier"] is True
    assert [a for a in ours["up0"]["addresses"] if not a.startswith("fe80:")] == [
        "192.0.2.1", "192.0.2.7", "2001:db8::1"]
    assert ours["down0"] == {"carrier": False, "addresses": ["198.51.100.9"]}
    assert ours["vA"]["carrier"] is False and ours["lo"]["addresses"] == ["127.0.0.1", "::1"]
