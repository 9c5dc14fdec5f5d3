"""`ha-pair trust-peer` with the real SSH clients against real SSH servers, in network namespaces.

The lab's sync link (tests/lab/pair_lab.py, without keepalived or dnsmasq): r1 runs trust-peer,
r2 serves. Two pairs of client and server:
- dbclient -> Debian's dropbear on 10.255.0.2:22 (OpenWrt's default pair);
- OpenSSH's ssh -> OpenSSH's sshd on 10.255.0.2:2222 (its own config and host keys in r2's tree,
  started only inside r2's namespace, in a mount namespace of its own).
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
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab import netns
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


@dataclass
class SshPair:
    lab: Lab
    ssh_path: Path  # a PATH directory with OpenSSH's ssh and no dbclient

    @property
    def r1(self) -> Router:
        return self.lab.routers["r1"]

    @property
    def r2(self) -> Router:
        return self.lab.routers["r2"]


def start_sshd(router: Router) -> None:
    """OpenSSH's sshd on the router's sync address, port 2222: host keys where OpenWrt's
    openssh-server keeps them (so `hello` lists them), the router's authorized_keys, no PAM. Its
    privilege-separation directory /run/sshd lives on a tmpfs of its own mount namespace."""
    etc = router.root / "etc/ssh"
    etc.mkdir(parents=True, exist_ok=True)
    for kind in ("ed25519", "ecdsa"):
        netns.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(etc / f"ssh_host_{kind}_key")])
    config = etc / "sshd_config"
    config.write_text(
        f"ListenAddress {PEER}:{PORTS['ssh']}\n"
        f"HostKey {etc}/ssh_host_ed25519_key\nHostKey {etc}/ssh_host_ecdsa_key\n"
        f"PidFile {router.root}/var/run/sshd.pid\n"
        f"AuthorizedKeysFile {router.root}/root/.ssh/authorized_keys\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n")
    log = open(router.log_dir / "sshd.log", "ab")
    script = (f"mount -t tmpfs -o mode=755 tmpfs /run && mkdir -m 755 /run/sshd && "
              f"exec {shutil.which('sshd')} -D -e -f {config}")
    netns.spawn(router.namespace, ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                stdout=log, stderr=log, text=False)
    log.close()


def path_without_dbclient(directory: Path) -> Path:
    directory.mkdir()
    for tool in ("ssh", "ssh-keygen", "dropbearkey", "dropbearconvert", "sh", "env"):
        (directory / tool).symlink_to(shutil.which(tool))
    (directory / "python3").symlink_to(sys.executable)
    return directory


@pytest.fixture(scope="module")
def ssh_pair():
    require_root_and("dropbear", "dbclient", "dropbearkey", "dropbearconvert", "sshd", "ssh", "ssh-keygen",
                     "ssh-keyscan", "unshare")
    install_signal_handlers()
    lab = Lab(LabOptions(dhcp=False), prefix=f"{DEFAULT_PREFIX}ssh-")
    try:
        lab.start_ssh()
        lab.authorize_keys()  # `ha-pair keys` on each router, the line in the peer's authorized_keys
        start_sshd(lab.routers["r2"])
        result = SshPair(lab, path_without_dbclient(lab.dir / "bin-ssh"))
        run(result, "ssh", "keys")  # with ssh as its client, keys adds the OpenSSH copy of the key
        for port in PORTS.values():
            lab.wait_for(lambda: port_open(result.r1.namespace, PEER, port), 10, f"an SSH server on {PEER}:{port}")
        yield result
    finally:
        lab.stop()


def run(ssh_pair: SshPair, client: str, *args: str, answer: str | None = None) -> subprocess.CompletedProcess:
    """r1's own ha-pair in its namespace, with `client` as its SSH client. `answer`: typed on a
    terminal (stdin is a pty); otherwise stdin is not a terminal."""
    r1 = ssh_pair.r1
    env = r1.env()
    if client == "ssh":
        env["PATH"] = str(ssh_pair.ssh_path)
    argv = ["ip", "netns", "exec", r1.namespace, "env", "-i", *(f"{k}={v}" for k, v in env.items()),
            *r1.ha_pair(*args)]
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
    """`type base64` of the host keys r2's server presents on the client's port (ssh-keyscan)."""
    out = netns.ns_run(ssh_pair.r1.namespace, "ssh-keyscan", "-p", str(PORTS[client]), PEER).stdout
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
    authorized = r2.root / "root/.ssh/authorized_keys"
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
    user_file = Path(os.path.expanduser("~root")) / ".ssh/known_hosts"  # OpenSSH's ~ is the passwd home
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
    directory = ssh_pair.r2.root / "hostile"
    directory.mkdir(exist_ok=True)
    (directory / "hello.json").write_text(json.dumps(hello) + "\n")
    (directory / "stderr").write_bytes(stderr)
    script = directory / "lease-peer"
    script.write_text(f"#!/bin/sh\ncat {directory}/hello.json\ncat {directory}/stderr >&2\nexit {status}\n")
    script.chmod(0o755)
    authorized = ssh_pair.r2.root / "root/.ssh/authorized_keys"
    honest = str(ssh_pair.r2.root / "usr/libexec/ha-pair/lease-peer")
    assert honest in authorized.read_text()
    authorized.write_text(authorized.read_text().replace(honest, str(script)))


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
