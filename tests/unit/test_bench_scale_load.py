"""The scale and load bench parts' own pieces: the Poisson bound behind "per hour", the ctnetlink
message that fills the conntrack table, and the lab's extra VIP sections."""

from __future__ import annotations

import re
import socket
import sys
from pathlib import Path

import pytest

from tests.bench.rates import poisson_upper95
from tests.support import pair, tree
from ha_pair.config.load import validate
from ha_pair.paths import Paths
from ha_pair.render.keepalived import render_keepalived

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab" / "tools"))
import conntrack_fill  # noqa: E402

# What `conntrack -I -p tcp -s 192.168.50.100 -d 198.51.100.254 --sport 10000 --dport 443 -r 198.51.100.254
# -q 198.51.100.1 --reply-port-src 443 --reply-port-dst 10000 --state ESTABLISHED -t 3600 -u SEEN_REPLY,ASSURED`
# (conntrack-tools 1.4.7) sent after its netlink header, up to its protocol info (strace): nfgenmsg,
# original and reply tuple, status, timeout
CONNTRACK_I = bytes.fromhex(
    "02000000" "34000180" "14000180" "08000100c0a83264" "08000200c63364fe" "1c000280" "0500010006000000"
    "0600020027100000" "0600030001bb0000" "34000280" "14000180" "08000100c63364fe" "08000200c6336401" "1c000280"
    "0500010006000000" "0600020001bb0000" "0600030027100000" "080003000000000e" "0800070000000e10")


@pytest.mark.parametrize("seen, bound", [(0, 2.996), (1, 4.744), (2, 6.296), (10, 16.962)])
def test_poisson_upper_bound_matches_the_tables(seen: int, bound: float):
    assert poisson_upper95(seen) == pytest.approx(bound, abs=0.001)


def test_fill_message_is_what_conntrack_dash_i_sends_plus_source_nat():
    message = conntrack_fill.message(7, socket.inet_aton("192.168.50.100"), 10000, socket.inet_aton("198.51.100.254"),
                                     443, socket.inet_aton("198.51.100.1"), 10000, 3600)
    length, kind, flags, seq = int.from_bytes(message[:4], "little"), message[4:6], message[6:8], message[8:12]
    assert length == len(message) and kind == (0x100).to_bytes(2, "little") and seq == (7).to_bytes(4, "little")
    assert int.from_bytes(flags, "little") == 0x605  # REQUEST | ACK | CREATE | EXCL, as conntrack -I
    assert message[16:16 + len(CONNTRACK_I)] == CONNTRACK_I
    rest = message[16 + len(CONNTRACK_I):]
    assert rest[2:4] == (4 | 0x8000).to_bytes(2, "little")  # CTA_PROTOINFO (nested) follows
    nat = rest[rest.index((6 | 0x8000).to_bytes(2, "little")) - 2:]  # CTA_NAT_SRC, nested
    assert socket.inet_aton("198.51.100.1") in nat and (10000).to_bytes(2, "big") in nat


def test_answers_are_counted_and_errors_told_apart():
    ack = (36).to_bytes(4, "little") + (2).to_bytes(2, "little") + bytes(10) + (0).to_bytes(4, "little", signed=True) \
        + bytes(16)
    busy = (36).to_bytes(4, "little") + (2).to_bytes(2, "little") + bytes(10) + (-16).to_bytes(4, "little", signed=True) \
        + bytes(16)
    assert conntrack_fill.refused(ack + busy + ack) == (3, 1)


def test_twenty_vip_groups_validate_and_render_into_one_sync_group(tmp_path: Path):
    configs = pair.configs("r1")
    configs["ha"] = pair.ha("r1", extra_global="\toption profile 'fast'\n", extra=pair.extra_vip_sections(18))
    root = tree.make_tree(tmp_path / "r1", configs)
    result = validate(Paths(str(root)))
    assert result.ok, [str(e) for e in result.errors]
    text = render_keepalived(result.model)
    instances = re.findall(r"vrrp_instance (\S+) \{.*?virtual_router_id (\d+).*?virtual_ipaddress \{\s*(\S+) dev (\S+)",
                           text, re.S)
    assert len(instances) == 20 and len({vrid for _, vrid, _, _ in instances}) == 20
    group = re.search(r"vrrp_sync_group ha \{\s*group \{([^}]*)\}", text).group(1).split()
    assert group == [name for name, _, _, _ in instances]
    addresses = {address.split("/")[0]: device for _, _, address, device in instances}
    assert set(addresses) == {pair.LAN_VIP, pair.WAN_VIP, *pair.extra_vip_addresses(18)}
    for address, device in addresses.items():
        assert device == ("br-lan" if address.startswith("192.168.50.") else "eth1")
