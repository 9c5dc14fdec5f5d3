"""`ha-pair trust-peer` with the real SSH clients against real SSH servers, on the lab's OpenWrt
routers.

Two lab routers (tests/lab/pair_lab.py, without dnsmasq) booted with ha-pair installed but not
started, each one's `ha-pair keys` line in the other's /etc/dropbear/authorized_keys, nothing
pinned: r1 runs trust-peer, r2 serves. Every ha-pair command runs inside r1 (Router.exec). Two
pairs of client and server:
- dbclient -> dropbear on 10.255.0.2:22 (OpenWrt's default pair, started by its init script);
- OpenSSH's ssh -> OpenSSH's sshd on 10.255.0.2:2222: Debian's OpenSSH programs and the libraries
  they link put into each router's flash, sshd run by procd from an init script as OpenWrt's
  openssh-server package runs it, host keys where that package keeps them (so `hello` lists them).
ha-pair takes the first client it finds on PATH, dbclient before ssh: the ssh runs get a PATH
without dbclient. What a known_hosts file holds for the peer is read with `ssh-keygen -F`
(OpenSSH's own matching: plain, [host]:port and hashed `|1|` entries), and what the server really
presents with `ssh-keyscan`, never with the code under test.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab import netns, rootfs
from tests.lab.pair_lab import Lab, LabOptions, Router, port_open
from tests.lab.topology import DEFAULT_PREFIX, install_signal_handlers
from tests.support import pair, tree
from tests.support.privileges import require_root_and

PEER = pair.ROUTERS["r2"]["sync"]
PORTS = {"dbclient": 22, "ssh": 2222}  # the client r1 uses -> the port of the server r2 runs for it
OTHER_HOST = "10.255.0.9"
# what the peer may send: terminal escapes (title, clear screen), a bell, a carriage return that
# overwrites the line, a fake second line, a right-to-left override
HOSTILE = "r2\x1b]0;owned\x07\x1b[2J\r\npinned 10.255.0.2 \u202eevil"
HOSTILE_PRINTED = "r2\\x1b]0;owned\\x07\\x1b[2J\\r\\npinned 10.255.0.2 \\u202eevil"
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# Debian's OpenSSH in a router (OpenWrt's openssh-client, openssh-server and dropbearconvert put
# the same programs there), and the directory of the ssh runs' PATH: no dbclient in it
OPENSSH = {"/usr/bin/ssh": "/usr/bin/ssh", "/usr/sbin/sshd": "/usr/sbin/sshd",
           "/usr/bin/ssh-keygen": "/usr/bin/ssh-keygen", "/usr/bin/ssh-keyscan": "/usr/bin/ssh-keyscan",
           "/usr/bin/dropbearconvert": "/usr/bin/dropbearconvert"}
SSH_ONLY = "/usr/libexec/lab-ssh-only"
SSH_ONLY_TOOLS = {"ssh": "/usr/bin/ssh", "ssh-keygen": "/usr/bin/ssh-keygen", "dropbearkey": "/usr/bin/dropbearkey",
                  "dropbearconvert": "/usr/bin/dropbearconvert", "sh": "/bin/busybox", "env": "/bin/busybox",
                  "python3": "/usr/bin/python3"}
SSHD_CONFIG = f"""# lab: OpenSSH's sshd beside dropbear, keys only
Port {PORTS["ssh"]}
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
PidFile /var/run/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
"""
# as OpenWrt's openssh-server runs it: host keys made on first start, sshd in the foreground under
# procd (Debian's build keeps its privilege separation directory in /run/sshd)
SSHD_INIT = """#!/bin/sh /etc/rc.common
# lab: OpenSSH's sshd (Debian's build), as OpenWrt's openssh-server package runs it
START=50
USE_PROCD=1

start_service() {
	local type
	for type in ed25519 ecdsa; do
		[ -f /etc/ssh/ssh_host_${type}_key ] || ssh-keygen -q -N '' -t $type -f /etc/ssh/ssh_host_${type}_key
	done
	mkdir -p -m 0755 /var/run/sshd
	procd_open_instance
	procd_set_param command /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
	procd_set_param respawn
	procd_set_param stderr 1
	procd_close_instance
}
"""


def install_openssh(router: Router) -> None:
    """OpenSSH on a router's flash before its first boot: the programs, sshd's user (the package's
    USERID sshd=22), configuration and init script, enabled."""
    rootfs.add_programs(router.flash, router.image, OPENSSH)
    for name, line in (("passwd", "sshd:x:22:22:sshd:/var/empty:/bin/false"), ("group", "sshd:x:22:"),
                       ("shadow", "sshd:*:0:0:99999:7:::")):
        text = (router.image / "etc" / name).read_text()
        router.write_flash(f"etc/{name}", text + line + "\n", 0o600 if name == "shadow" else 0o644)
    router.write_flash("etc/ssh/sshd_config", SSHD_CONFIG)
    router.write_flash("etc/init.d/sshd", SSHD_INIT, 0o755)
    rootfs.enable(router.flash, "sshd")
    (router.flash / SSH_ONLY.lstrip("/")).mkdir(parents=True)
    for name, target in SSH_ONLY_TOOLS.items():
        (router.flash / SSH_ONLY.lstrip("/") / name).symlink_to(target)


@dataclass
class SshPair:
    lab: Lab

    @property
    def r1(self) -> Router:
        return self.lab.routers["r1"]

    @property
    def r2(self) -> Router:
        return self.lab.routers["r2"]


@pytest.fixture(scope="module")
def ssh_pair():
    require_root_and("dropbear", "dbclient", "dropbearkey", "dropbearconvert", "sshd", "ssh", "ssh-keygen",
                     "ssh-keyscan", "nsenter", "unshare")
    install_signal_handlers()
    lab = Lab(LabOptions(dhcp=False, installs=(install_openssh,)), prefix=f"{DEFAULT_PREFIX}ssh-")
    try:
        lab.start_unpaired()  # `ha-pair keys` on each router, the line in the peer's authorized_keys
        result = SshPair(lab)
        run(result, "ssh", "keys")  # with ssh as its client, keys adds the OpenSSH copy of the key
        for port in PORTS.values():
            lab.wait_for(lambda: port_open(result.r1.namespace, PEER, port), 30, f"an SSH server on {PEER}:{port}")
        yield result
    finally:
        lab.stop()


def run(ssh_pair: SshPair, client: str, *args: str, answer: str | None = None) -> subprocess.CompletedProcess:
    """r1's own ha-pair, run on r1, with `client` as its SSH client. `answer`: typed on a terminal
    (stdin is a pty); otherwise stdin is not a terminal."""
    r1 = ssh_pair.r1
    argv = r1.argv(*r1.ha_pair(*args), env={"PATH": SSH_ONLY} if client == "ssh" else None)
    if answer is None:
        return subprocess.run(argv, input="", capture_output=True, text=True, timeout=60)
    controller, terminal = os.openpty()
    try:
        os.write(controller, answer.encode())  # held by the terminal until ha-pair reads it
        return subprocess.run(argv, stdin=terminal, capture_output=True, text=True, timeout=60)
    finally:
        os.close(terminal)
        os.close(controller)


def known_hosts(ssh_pair: SshPair) -> Path:
    return ssh_pair.r1.root / "etc/ha-pair/.ssh/known_hosts"


def entries(path: Path, host: str) -> list[str]:
    """The known_hosts lines OpenSSH matches for `host` (`ssh-keygen -F`: plain, hashed, lists)."""
    if not path.exists():
        return []
    out = netns.run(["ssh-keygen", "-F", host, "-f", str(path)], check=False).stdout
    return [line for line in out.splitlines() if line and not line.startswith("#")]


def peer_entries(ssh_pair: SshPair) -> list[str]:
    """Every entry of r1's pinned known_hosts for the peer, under any of its names."""
    path = known_hosts(ssh_pair)
    return [line for host in (PEER, f"[{PEER}]:22", f"[{PEER}]:{PORTS['ssh']}") for line in entries(path, host)]


def presented(ssh_pair: SshPair, client: str) -> set[str]:
    """`type base64` of the host keys r2's server presents on the client's port (ssh-keyscan, on r1)."""
    out = ssh_pair.r1.exec("ssh-keyscan", "-p", str(PORTS[client]), PEER).stdout
    return {" ".join(line.split()[1:3]) for line in out.splitlines() if line and not line.startswith("#")}


def other_key() -> str:
    """A well-formed ed25519 key nobody presents."""
    blob = len(b"ssh-ed25519").to_bytes(4, "big") + b"ssh-ed25519" + (32).to_bytes(4, "big") + bytes(range(32))
    return "ssh-ed25519 " + base64.b64encode(blob).decode()


def lease_sync(ssh_pair: SshPair, client: str) -> dict:
    """One real exchange with the pinned known_hosts (StrictHostKeyChecking)."""
    out = run(ssh_pair, client, "--json", "lease-sync")
    return json.loads(out.stdout) if out.stdout.strip() else {"ok": False, "stderr": out.stderr}


@pytest.fixture(params=sorted(PORTS))
def client(request, ssh_pair: SshPair):
    """r1 configured for the client's server port, nothing pinned; r2's authorized_keys restored."""
    name = request.param
    r1, r2 = ssh_pair.r1, ssh_pair.r2
    extra = f"\toption ssh_port '{PORTS[name]}'\n" if PORTS[name] != 22 else ""
    tree.write_config(r1.root, "ha", pair.configs("r1", extra=extra)["ha"])
    known_hosts(ssh_pair).unlink(missing_ok=True)
    authorized = r2.root / "etc/dropbear/authorized_keys"
    honest = authorized.read_text()
    yield name
    authorized.write_text(honest)


def assert_clean(out: subprocess.CompletedProcess) -> None:
    text = out.stdout + out.stderr
    assert "Traceback" not in text, text
    assert not RAW_CONTROL.search(text), f"raw control characters printed: {text!r}"


@pytest.mark.parametrize("answer", [None, "n\n"], ids=["no-terminal", "n"])
def test_nothing_is_pinned_before_the_operator_agrees(ssh_pair: SshPair, client: str, answer: str | None):
    """No --yes: without a terminal it refuses; on a terminal, `n` declines. Either way no
    entry for the peer (plain, [host]:port or hashed) appears anywhere, and what was there stays
    byte for byte. 70d7397 with OpenSSH: accept-new had already written a hashed entry."""
    path = known_hosts(ssh_pair)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{OTHER_HOST} {other_key()}\n")
    user_file = ssh_pair.r1.root / "root/.ssh/known_hosts"  # OpenSSH's ~ is the passwd home
    before = user_file.read_bytes() if user_file.exists() else None
    out = run(ssh_pair, client, "trust-peer", answer=answer)
    assert out.returncode != 0, out.stdout
    assert peer_entries(ssh_pair) == []
    assert path.read_text() == f"{OTHER_HOST} {other_key()}\n"
    assert (user_file.read_bytes() if user_file.exists() else None) == before, "nor in root's own known_hosts"
    assert not list((ssh_pair.r1.root / "etc/ha-pair").glob(".trust-*")), "the scratch directory is removed"
    assert_clean(out)
    shown = {f"{key.split()[0]} {fingerprint_of(key)}" for key in presented(ssh_pair, client)}
    assert any(line.endswith(tuple(shown)) for line in out.stdout.splitlines()), (out.stdout, shown)
    if answer is not None:
        assert "Pin this host key? [y/N]" in out.stdout
    refused = lease_sync(ssh_pair, client)
    # the real client does not trust the peer, and says so (dbclient 2022.83 used to spin until the
    # 15 s deadline, asking on its stdin, and the sync counted as "unreachable")
    assert refused["ok"] is False and refused["error_kind"] == "hostkey", refused


def fingerprint_of(key: str) -> str:
    """OpenSSH's fingerprint of a `type base64` key (ssh-keygen -l)."""
    out = netns.run(["ssh-keygen", "-l", "-f", "-"], input=f"{PEER} {key}\n").stdout
    return out.split()[1]


def seed_stale_entries(path: Path, port: int) -> tuple[str, int]:
    """Entries of another key for the peer under every name OpenSSH and dropbear use, plain and
    hashed (by ssh-keygen -H), one in a list of names; and two for another host, which must stay.
    Returns the key and how many entries name the peer."""
    stale = other_key()
    names = sorted({PEER, f"[{PEER}]:{port}", f"[{PEER}]:22"})
    plain = [f"{name} {stale}" for name in [*names, OTHER_HOST]]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(plain) + "\n")
    netns.run(["ssh-keygen", "-H", "-f", str(path)])  # every line hashed: |1|salt|hmac
    Path(str(path) + ".old").unlink()
    hashed = path.read_text()
    assert hashed.count("|1|") == len(plain) and PEER not in hashed
    path.write_text(hashed + "\n".join(plain) + f"\n{PEER},r2 {stale}\n")
    return stale, 2 * len(names) + 1


@pytest.mark.parametrize("agree", ["--yes", "y\n"])
def test_agreeing_pins_exactly_the_presented_key_and_replaces_every_older_entry(ssh_pair: SshPair, client: str,
                                                                             agree: str):
    path = known_hosts(ssh_pair)
    stale, seeded = seed_stale_entries(path, PORTS[client])
    assert len(peer_entries(ssh_pair)) == seeded
    if agree == "--yes":
        out = run(ssh_pair, client, "trust-peer", "--yes")
    else:
        out = run(ssh_pair, client, "trust-peer", answer=agree)
    assert out.returncode == 0, out.stderr
    assert_clean(out)
    found = peer_entries(ssh_pair)
    assert len(found) == 1, found
    pinned = " ".join(found[0].split()[1:3])
    assert pinned in presented(ssh_pair, client), "the key pinned is one the server presents"
    assert pinned != stale
    assert len(entries(path, OTHER_HOST)) == 2, "another host's entries (plain and hashed) stay"
    assert len(path.read_text().splitlines()) == 3, path.read_text()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert lease_sync(ssh_pair, client)["ok"] is True, "the real client accepts the pinned key"


def test_key_replaces_an_earlier_pin_for_the_real_client(ssh_pair: SshPair, client: str):
    """--key after a pin: the earlier key is gone for the client itself, not only from the file
    (70d7397 with OpenSSH left the hashed entry accept-new wrote, so the old key still worked)."""
    assert run(ssh_pair, client, "trust-peer", "--yes").returncode == 0
    real = " ".join(peer_entries(ssh_pair)[0].split()[1:3])
    out = run(ssh_pair, client, "trust-peer", "--key", other_key())
    assert out.returncode == 0, out.stderr
    assert [" ".join(e.split()[1:3]) for e in peer_entries(ssh_pair)] == [other_key()]
    refused = lease_sync(ssh_pair, client)
    assert refused["ok"] is False and refused.get("error_kind") == "hostkey", refused
    assert run(ssh_pair, client, "trust-peer", "--key", real).returncode == 0
    assert lease_sync(ssh_pair, client)["ok"] is True


def hostile_peer(ssh_pair: SshPair, hello: dict, stderr: bytes, status: int) -> None:
    """r2's forced command for r1's key becomes a script that answers `hello` and `stderr` and
    exits with `status` (the client fixture restores the honest one)."""
    directory = "/hostile"  # on r2
    on_r2 = ssh_pair.r2.root / directory.lstrip("/")
    on_r2.mkdir(exist_ok=True)
    (on_r2 / "hello.json").write_text(json.dumps(hello) + "\n")
    (on_r2 / "stderr").write_bytes(stderr)
    script = on_r2 / "lease-peer"
    script.write_text(f"#!/bin/sh\ncat {directory}/hello.json\ncat {directory}/stderr >&2\nexit {status}\n")
    script.chmod(0o755)
    authorized = ssh_pair.r2.root / "etc/dropbear/authorized_keys"
    honest = 'command="/usr/libexec/ha-pair/lease-peer"'
    assert honest in authorized.read_text()
    authorized.write_text(authorized.read_text().replace(honest, f'command="{directory}/lease-peer"'))


def decoy(ssh_pair: SshPair) -> tuple[str, str]:
    """Another real ed25519 key, and its fingerprint."""
    path = ssh_pair.lab.dir / "decoy"
    if not path.exists():
        netns.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)])
    key = " ".join(Path(str(path) + ".pub").read_text().split()[:2])
    return key, fingerprint_of(key)


def test_text_from_a_hostile_peer_is_printed_escaped_and_cannot_choose_the_key(ssh_pair: SshPair, client: str):
    """The peer's node name and its stderr reach the operator's terminal escaped. A forged
    `fingerprint SHA256:...` on its stderr, for a key it lists first in hello, does not make
    trust-peer show or pin that key: what is pinned is what the server presented."""
    real = sorted(presented(ssh_pair, client))
    fake, fake_fingerprint = decoy(ssh_pair)
    hostile_peer(ssh_pair, {"node": HOSTILE, "time": 1.0e9, "version": "0",
                            "host_keys": [fake, "ssh-ed25519 \x1b[31mAAAA", *real]},
                 f"(ssh-ed25519 fingerprint {fake_fingerprint})\n\x1b[2J{HOSTILE}\n".encode(), 0)
    out = run(ssh_pair, client, "trust-peer", "--yes")
    assert out.returncode == 0, out.stderr
    assert_clean(out)
    assert HOSTILE_PRINTED in out.stdout, out.stdout
    assert fake_fingerprint not in out.stdout
    found = peer_entries(ssh_pair)
    assert len(found) == 1 and " ".join(found[0].split()[1:3]) in real, (found, fake)


def test_a_hostile_peers_error_text_is_printed_escaped(ssh_pair: SshPair, client: str):
    hostile_peer(ssh_pair, {}, f"ha-pair lease-peer: {HOSTILE}\x1b]52;c;cm0gLXJmIH4=\x07\n".encode(), 1)
    out = run(ssh_pair, client, "trust-peer", "--yes")
    assert out.returncode != 0
    assert_clean(out)
    assert "could not reach the peer's sync command" in out.stderr and "\\x1b]52;c;" in out.stderr, out.stderr
    assert peer_entries(ssh_pair) == []


@pytest.mark.parametrize("key, reason", [
    ("ssh-ed25519 not+base64!", "base64"),
    ("ssh-ed25519 " + base64.b64encode(b"\x00\x00\x00\x07ssh-rsa" + bytes(40)).decode(), "does not match its type"),
    ("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "not a public key"),
    ("\x1b[31mssh-ed25519\x1b[0m AAAA", "not a public key"),
    ("ssh-ed25519", "not a public key"),
])
def test_a_malformed_key_is_a_clear_error(ssh_pair: SshPair, key: str, reason: str):
    path = known_hosts(ssh_pair)
    path.unlink(missing_ok=True)
    out = run(ssh_pair, "dbclient", "trust-peer", "--key", key)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert_clean(out)
    assert out.stderr.startswith("ha-pair: ") and reason in out.stderr, out.stderr
    assert not path.exists()
