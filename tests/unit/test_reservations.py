"""Reservations for leases the running dnsmasq does not know (a grant the peer made during a
partition): the dhcp-hostsfile's lines, the file on a router tree, and /etc/config/dhcp pointing
dnsmasq to it (and back)."""

from __future__ import annotations

import _signal
import io
import os
import subprocess
import time
from pathlib import Path

import pytest

from ha_pair.leases import Lease, LeaseDb
from ha_pair.leases.reservations import dhcp_host_entry, dhcp_hosts_text, entry, reservations
from ha_pair.leasesync.peer import serve
from ha_pair.leasesync.store import LeaseStore
from ha_pair.paths import DHCP_RESERVATIONS, Paths
from ha_pair.uci import load
from tests.support import pair, tree
from tests.unit.test_cli import run

NOW = int(time.time())


def v4(n: int, client_id: str | None = "ff:00:00:00:01", mac: str = "02:00:00:00:00:01", expiry: int = NOW + 600) -> Lease:
    return Lease(expiry, f"192.168.50.{n}", None, client_id, mac)


def test_a_lease_dnsmasq_lacks_is_reserved_for_its_client_by_client_id_else_by_mac():
    known = LeaseDb((v4(10), v4(11, None, "02:00:00:00:00:0b"), v4(12, "ff:00:00:00:0c")))
    in_file = LeaseDb((v4(12, "ff:00:00:00:0c"),))
    assert reservations(known, in_file, NOW) == "id:ff:00:00:00:01,192.168.50.10\n02:00:00:00:00:0b,192.168.50.11\n"


def test_nothing_is_reserved_for_expired_leases_v6_leases_or_an_address_dnsmasq_gave_someone_else():
    six = Lease(NOW + 600, "fd00::10", None, "00:01:02", None, iaid=1)
    known = LeaseDb((v4(10, expiry=NOW - 1), v4(11, "ff:00:00:00:02"), six))
    in_file = LeaseDb((v4(11, "ff:00:00:00:03"),))  # dnsmasq holds .11 for another client: it wins
    assert reservations(known, in_file, NOW) == ""
    assert reservations(LeaseDb((v4(10, expiry=0),)), LeaseDb(), NOW) == "id:ff:00:00:00:01,192.168.50.10\n"


def test_clients_dnsmasq_could_not_name_in_a_dhcp_host_line_get_no_line():
    assert entry(v4(10, "ff")) is None  # one byte without a colon: dnsmasq would read text
    assert entry(v4(10, None, "06-aa:bb:cc:dd")) is None  # not Ethernet


@pytest.mark.parametrize("line", ["id:ff:00,192.168.50.1", "02:00:00:00:00:0b,10.0.0.255"])
def test_the_hostsfile_grammar_takes_what_ha_pair_writes(line: str):
    dhcp_host_entry(line)


@pytest.mark.parametrize("line", ["id:ff,192.168.50.1", "id:ff:00,192.168.50.1,name", "id:ff:00,192.168.50.256",
                                  "02:00:00:00:00,10.0.0.1", "id:ff:00,10.0.0.1\nid:aa:bb,10.0.0.2",
                                  "set:x,id:ff:00,10.0.0.1", "id:ff:0g,10.0.0.1", "id:FF:00,fd00::1"])
def test_the_hostsfile_grammar_refuses_anything_else(line: str):
    with pytest.raises(ValueError):
        dhcp_host_entry(line)
    good = [b"id:ff:00,192.168.50.1", b"02:00:00:00:00:0b,10.0.0.255"]
    assert dhcp_hosts_text(good) == b"id:ff:00,192.168.50.1\n02:00:00:00:00:0b,10.0.0.255\n"
    with pytest.raises(ValueError, match="not a dhcp-hostsfile line"):  # the whole file's check, as bytes
        dhcp_hosts_text(good + [line.encode()] + good)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tree.make_tree(tmp_path / "r1", pair.configs("r1"))


def test_render_points_dnsmasq_to_the_reservations_and_unapply_takes_it_back(root: Path):
    dhcp_path = root / "etc/config/dhcp"
    original = load(dhcp_path).content()
    assert f"+\toption dhcphostsfile '{DHCP_RESERVATIONS}'" in run(root, "show").stdout
    assert run(root, "render").returncode == 0
    dnsmasq = load(dhcp_path).find("@dnsmasq[0]")
    assert dnsmasq.get("dhcphostsfile") == DHCP_RESERVATIONS
    hostsfile = Paths(root).dhcp_reservations
    assert hostsfile.read_bytes() == b"" and oct(os.stat(hostsfile).st_mode & 0o777) == "0o644"
    assert run(root, "unapply").returncode == 0
    assert load(dhcp_path).content() == original
    assert not hostsfile.exists()


def test_a_hostsfile_of_the_users_own_is_left_alone(root: Path):
    dhcp_path = root / "etc/config/dhcp"
    dhcp_path.write_text(dhcp_path.read_text().replace("config dnsmasq", "config dnsmasq\n\toption dhcphostsfile '/etc/mine'", 1))
    assert run(root, "render").returncode == 0
    assert load(dhcp_path).find("@dnsmasq[0]").get("dhcphostsfile") == "/etc/mine"
    assert not Paths(root).dhcp_reservations.exists()


def test_without_lease_sync_dnsmasq_gets_no_hostsfile(root: Path):
    ha = root / "etc/config/ha"
    ha.write_text(ha.read_text() + "\nconfig dhcp 'dhcp'\n\toption lease_sync '0'\n")
    assert run(root, "render").returncode == 0, run(root, "render").stderr
    assert load(root / "etc/config/dhcp").find("@dnsmasq[0]").get("dhcphostsfile") is None


def lease_line(n: int, client: int) -> str:
    return f"{NOW + 3600} 02:00:00:00:00:{client:02x} 192.168.50.{n} * ff:00:00:00:{client:02x}\n"


def test_after_an_import_nothing_is_left_to_reserve(root: Path):
    assert run(root, "render").returncode == 0
    (root / "tmp").mkdir(exist_ok=True)
    (root / "tmp/dhcp.leases").write_text(lease_line(100, 1))
    store = LeaseStore(Paths(root))
    remote, _ = store.decode_remote(lease_line(242, 2).encode())
    with store.locked():
        store.observe_local(NOW)
        store.absorb(remote, NOW)
        assert store.refresh_reservations(NOW)
    assert Paths(root).dhcp_reservations.read_text() == "id:ff:00:00:00:02,192.168.50.242\n"
    assert store.apply_to_dnsmasq(NOW)  # no dnsmasq init script in this tree: just the swap
    assert Paths(root).dhcp_reservations.read_text() == ""


def test_the_real_forced_command_answers_and_its_child_writes_the_reservations(root: Path):
    """lease-peer as dropbear runs it (bound_process: the reservations are a child's work after
    the answer): the answer and exit status as before, and the reservations land."""
    assert run(root, "render").returncode == 0
    (root / "tmp").mkdir(exist_ok=True)
    (root / "tmp/dhcp.leases").write_text(lease_line(100, 1))
    hostsfile = Paths(root).dhcp_reservations
    env = {"PATH": os.environ["PATH"], "SSH_ORIGINAL_COMMAND": "push"}
    proc = subprocess.run([str(root / "usr/libexec/ha-pair/lease-peer")], input=lease_line(242, 2).encode(),
                          capture_output=True, env=env, timeout=30)
    assert (proc.returncode, proc.stdout) == (0, b"ok\n"), proc.stderr
    deadline = time.monotonic() + 10
    while hostsfile.read_text() == "" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hostsfile.read_text() == "id:ff:00:00:00:02,192.168.50.242\n"


def test_reservations_after_the_answer_run_in_another_process_when_the_forced_command_is_bounded(
        root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Inside the forced command's own process (bound_process's alarm set) the reservations are the
    child's work: serve() returns with the answer written while another process does them."""
    assert run(root, "render").returncode == 0
    (root / "tmp").mkdir(exist_ok=True)
    (root / "tmp/dhcp.leases").write_text(lease_line(100, 1))
    record = tmp_path / "reserved-by"
    real = LeaseStore.refresh_reservations

    def noted(self: LeaseStore, now: int) -> bool:
        record.write_text(str(os.getpid()))
        return real(self, now)

    monkeypatch.setattr(LeaseStore, "refresh_reservations", noted)
    out = io.BytesIO()
    _signal.setitimer(_signal.ITIMER_REAL, 60)
    try:
        assert serve(Paths(root), "exchange", io.BytesIO(lease_line(242, 2).encode()), out) == 0
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0)
    assert b"192.168.50.100" in out.getvalue() and b"192.168.50.242" not in out.getvalue(), "its own, unmerged"
    assert "192.168.50.242" in {str(lease.address) for lease in LeaseStore(Paths(root)).knowledge().leases}
    deadline = time.monotonic() + 10
    while not record.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert record.read_text() != str(os.getpid()), "reserved by the forced command itself"
    while Paths(root).dhcp_reservations.read_text() == "" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Paths(root).dhcp_reservations.read_text() == "id:ff:00:00:00:02,192.168.50.242\n"
