"""keepalived-run, the package's keepalived starter, with IPv6 VIPs waits for the VIP interfaces'
duplicate address detection (a router preempting during DAD holds forwarded IPv6 traffic), at
most 5 s, and never for an IPv4-only configuration (needs root: a network namespace of its own)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.privileges import isolated_net

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "files/usr/libexec/ha-pair/keepalived-run"

# In a fresh namespace: veth v0 (up, peer up, so DAD runs) with DAD_TRANSMITS probes of 1 s,
# a keepalived.conf naming it, then keepalived-run starting a "keepalived" that reports how long
# it waited and how many of v0's addresses were still tentative (flag 0x40) when it started.
SCRIPT = r"""
set -e
mount -t sysfs sysfs /sys  # this namespace's devices (keepalived-run waits for them in /sys/class/net)
ip link set lo up
sysctl -qw net.ipv6.conf.default.dad_transmits="$DAD_TRANSMITS"
ip link add v0 type veth peer name v1
ip link set v1 up; ip link set v0 up
ip addr add 2001:db8:50::2/64 dev v0
printf 'vrrp_instance lan {\n    interface v0\n    virtual_ipaddress {\n        192.168.50.1/24 dev v0\n%s    }\n}\n' \
    "$IPV6_LINE" > "$CONF"
date +%s%N > "$START"
"$RUN" sh "$REPORT" -f "$CONF"
"""
# the stand-in for keepalived: milliseconds since the start, v0's tentative addresses
REPORT = r"""
now=$(date +%s%N)
echo "$(( (now - $(cat "$START")) / 1000000 ))" \
    "$(awk '$6 == "v0" && index("4567cdef", substr($5, 1, 1))' /proc/net/if_inet6 | wc -l)"
"""


def started_after(tmp_path: Path, ipv6_vip: bool, dad_transmits: int) -> tuple[int, int]:
    """(ms keepalived-run waited, v0's tentative addresses when it started the program)."""
    line = "        fe80::1/64 dev v0\n" if ipv6_vip else ""
    (tmp_path / "report.sh").write_text(REPORT)
    unshare = isolated_net()  # skips without root; plus a mount namespace of its own for /sys
    run = subprocess.run([unshare[0], "--mount", *unshare[1:], "sh", "-c", SCRIPT], capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "RUN": str(RUN), "CONF": str(tmp_path / "k.conf"),
                              "IPV6_LINE": line, "DAD_TRANSMITS": str(dad_transmits),
                              "START": str(tmp_path / "start"), "REPORT": str(tmp_path / "report.sh")})
    assert run.returncode == 0, run.stderr
    waited, tentative = run.stdout.split()
    return int(waited), int(tentative)


def test_ipv6_vips_wait_until_dad_is_done(tmp_path):
    waited, tentative = started_after(tmp_path, ipv6_vip=True, dad_transmits=1)
    assert tentative == 0, waited
    assert waited >= 500  # DAD takes at least one retransmission interval (1 s)


def test_the_wait_ends_after_5_s(tmp_path):
    waited, tentative = started_after(tmp_path, ipv6_vip=True, dad_transmits=30)
    assert tentative > 0
    assert 4500 <= waited < 8000


def test_ipv4_only_configurations_do_not_wait(tmp_path):
    waited, tentative = started_after(tmp_path, ipv6_vip=False, dad_transmits=30)
    assert tentative > 0 and waited < 1000
