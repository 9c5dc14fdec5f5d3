"""keys, trust-peer, lease-peer, lease-sync: pairing two routers for lease sync, and the sync itself.

Pairing (README, "Pairing two routers"): on each router `ha-pair keys` creates the sync key and
prints the authorized_keys line to add on the other one; then `ha-pair trust-peer` shows the
peer's host key fingerprint and pins it once you confirm.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import subprocess
import sys
import time

from ..agent.probes import carrier
from ..config.load import validate
from ..fs import atomic_write
from ..fspath import FsPath
from ..leasesync import peer as peer_side
from ..leasesync.store import LeaseStore
from ..leasesync.sync import exchange, hello
from ..leasesync.transport import TransportError, client
from ..paths import Paths, known_hosts_in
from ..sha256 import sha256
from .output import EXIT_FAILED, EXIT_INVALID, EXIT_OK, fail, print_json

KEY_OPTIONS = "no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding"


KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")


class BadKey(ValueError):
    """Not an SSH public key (`type base64`)."""


def parse_key(text: str) -> tuple[str, bytes]:
    """`type base64 [comment]` -> (type, blob); BadKey with a plain reason otherwise."""
    words = text.split()
    if len(words) < 2 or words[0] not in KEY_TYPES:
        raise BadKey(f"not a public key of a known type ({', '.join(KEY_TYPES)}): {escape(text[:60])!r}")
    try:
        blob = base64.b64decode(words[1], validate=True)
    except ValueError:
        raise BadKey("the key's base64 part is broken") from None
    name = words[0].encode()
    if blob[:4] != len(name).to_bytes(4, "big") or blob[4:4 + len(name)] != name:
        raise BadKey(f"the key's data does not match its type {words[0]}")
    return words[0], blob


def fingerprint(key_line: str) -> str:
    """OpenSSH/dropbear style: SHA256 of the key blob, base64 without padding."""
    _, blob = parse_key(key_line)
    return "SHA256:" + base64.b64encode(sha256(blob).digest()).decode().rstrip("=")


def escape(text: str) -> str:
    """Text from the peer, safe for a terminal: no control characters, no escape sequences."""
    return "".join(c if c.isprintable() and c.isascii() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def _peer(paths: Paths) -> tuple[str, int, object]:
    result = validate(paths)
    if result.model is None or result.model.node.peer is None:
        raise SystemExit(fail("ha.global.peer must be set (and /etc/config/ha valid) to talk to the peer",
                              EXIT_INVALID))
    return str(result.model.node.peer), result.model.dhcp.ssh_port, result.model


def ensure_key(paths: Paths) -> str:
    """The sync key's public half, creating the key on first use: dropbear's format for dbclient,
    and an OpenSSH copy when the client is OpenSSH's ssh."""
    key = paths.sync_key
    openssh = FsPath(key + ".openssh")
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.state_dir, 0o700)
    if shutil.which("dropbearkey"):
        if not key.exists():
            subprocess.run(["dropbearkey", "-t", "ed25519", "-f", key], capture_output=True, check=True, timeout=60)
        out = subprocess.run(["dropbearkey", "-y", "-f", key], capture_output=True, text=True, check=True,
                             timeout=60).stdout
        public = next(line for line in out.splitlines() if line.startswith("ssh-"))
        if os.path.basename(client() or "") == "ssh" and not openssh.exists():
            subprocess.run(["dropbearconvert", "dropbear", "openssh", key, openssh], capture_output=True,
                           check=True, timeout=60)
    else:
        if not openssh.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", openssh], check=True, timeout=60)
        public = FsPath(openssh + ".pub").read_text().strip()
    return " ".join(public.split()[:2])


def keys(args: argparse.Namespace, paths: Paths) -> int:
    result = validate(paths)
    node = result.model.node.name if result.model else "ha-pair"
    try:
        public = ensure_key(paths)
    except (OSError, subprocess.SubprocessError, StopIteration) as exc:
        return fail(f"could not create the sync key in {paths.state_dir}: {exc}")
    command = paths.lease_peer
    line = f'command="{command}",{KEY_OPTIONS} {public} ha-pair@{node}'
    host_keys = peer_side.host_public_keys(paths)
    if args.json:
        print_json({"authorized_keys_line": line, "host_key_fingerprints": [fingerprint(k) for k in host_keys]})
        return EXIT_OK
    print("Add this line to /etc/dropbear/authorized_keys on the peer (it can only run the lease sync):")
    print(line)
    for key in host_keys:
        print(f"This router's SSH host key: {key.split()[0]} {fingerprint(key)}")
    return EXIT_OK


def trust_peer(args: argparse.Namespace, paths: Paths) -> int:
    peer, port, _ = _peer(paths)
    if args.key:
        return _pin(paths, peer, port, args.key.strip(), args.json)
    # The SSH client may record the unknown key only in a scratch directory: nothing is pinned
    # before the operator agrees, and what is shown is exactly the key the peer presented.
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    scratch = FsPath(paths.state_dir / f".trust-{os.getpid()}")
    try:
        os.makedirs(known_hosts_in(scratch).parent, mode=0o700)
        try:
            info, stderr = hello(paths, peer, port, scratch=scratch)
        except TransportError as exc:  # its text holds what the peer wrote on stderr
            return fail(f"could not reach the peer's sync command at {peer}: {escape(str(exc))}")
        presented = _presented_keys(known_hosts_in(scratch))
        if not presented:  # a client that printed the fingerprint but recorded nothing (dbclient -y)
            shown = _first_fingerprint(stderr)
            presented = [k for k in info.host_keys if shown and _fingerprint_or_none(k) == shown]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not presented:
        return fail(f"{peer} presented no host key the SSH client recorded; pin one by hand with --key")
    try:
        key = presented[0]
        shown = fingerprint(key)
    except BadKey as exc:
        return fail(f"the host key {peer} presented is malformed: {exc}", EXIT_INVALID)
    if not any(_same_key(key, k) for k in info.host_keys):
        print(f"note: the peer does not list this key among its host keys ({len(info.host_keys)} listed)")
    print(f"{escape(info.node)} at {peer}: {key.split()[0]} {shown}")
    if not args.yes:
        if not sys.stdin.isatty():
            return fail("check that fingerprint on the peer (`ha-pair keys` shows it) and run again with --yes",
                        EXIT_INVALID)
        if input("Pin this host key? [y/N] ").strip().lower() not in ("y", "yes"):
            return fail("not pinned", EXIT_FAILED)
    return _pin(paths, peer, port, key, args.json)


def _first_fingerprint(stderr: str) -> str | None:
    """The fingerprint dbclient printed when it accepted the key. Only the first one: the client
    checks the host key before the peer's command runs, and whatever that command writes on its
    stderr (a forged `SHA256:...` too) comes after it in the same stream."""
    for word in stderr.split():
        if word.startswith("SHA256:"):
            return word.rstrip(").,")
    return None


def _fingerprint_or_none(key: str) -> str | None:
    try:
        return fingerprint(key)
    except BadKey:
        return None


def _presented_keys(path: FsPath) -> list[str]:
    """`type base64` of each entry the client wrote to the scratch known_hosts."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [" ".join(line.split()[1:3]) for line in lines if len(line.split()) >= 3]


def _same_key(a: str, b: str) -> bool:
    return a.split()[:2] == b.split()[:2]


def host_patterns(peer: str, port: int) -> set[str]:
    return {peer, f"[{peer}]:{port}", f"[{peer}]:22"}


def names_host(field: str, patterns: set[str]) -> bool:
    """Whether a known_hosts host field names one of `patterns`: a plain or comma-separated list,
    or OpenSSH's hashed form |1|salt|hmac-sha1."""
    for entry in field.split(","):
        if entry in patterns:
            return True
        if entry.startswith("|1|"):
            import hashlib
            import hmac
            try:
                _, _, salt, digest = entry.split("|")
                key, wanted = base64.b64decode(salt), base64.b64decode(digest)
            except ValueError:
                continue
            if any(hmac.compare_digest(hmac.new(key, p.encode(), hashlib.sha1).digest(), wanted) for p in patterns):
                return True
    return False


def _pin(paths: Paths, peer: str, port: int, key: str, as_json: bool) -> int:
    try:
        key_type, blob = parse_key(key)
    except BadKey as exc:
        return fail(str(exc), EXIT_INVALID)
    path = paths.known_hosts
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    kept = []
    patterns = host_patterns(peer, port)
    if path.exists():
        for line in path.read_text(errors="surrogateescape").splitlines():
            words = line.split()
            field = words[1] if words[:1] in (["@revoked"], ["@cert-authority"]) and len(words) > 1 else \
                words[0] if words else ""
            if not names_host(field, patterns):
                kept.append(line)  # every entry for this host goes: the new pin replaces them all
    encoded = base64.b64encode(blob).decode()
    atomic_write(path, "\n".join(kept + [f"{peer} {key_type} {encoded}"]) + "\n", 0o600)
    if as_json:
        print_json({"pinned": peer, "fingerprint": fingerprint(key)})
    else:
        print(f"pinned {peer} {key_type} {fingerprint(key)} in {path}")
    return EXIT_OK


def lease_sync(args: argparse.Namespace, paths: Paths) -> int:
    """One exchange now. --catch-up: before this node answers DHCP (keepalived's notify on MASTER):
    bounded in time, and dnsmasq's file is brought up to date since it does not answer yet."""
    try:
        return _lease_sync(args, paths)
    finally:
        if args.catch_up:
            _restart_if_behind(paths)


def _restart_if_behind(paths: Paths) -> None:
    """Before this node answers DHCP: a dnsmasq whose file was written ahead of its memory
    (store.write_ahead) is restarted, whether or not the peer could be asked. Checked under the
    lease lock after keepalived's MASTER word is recorded: no later write ahead happens."""
    store = LeaseStore(paths)
    with store.locked():
        behind = store.dnsmasq_behind()
    if behind:
        store.apply_to_dnsmasq(int(time.time()))


def _lease_sync(args: argparse.Namespace, paths: Paths) -> int:
    peer, port, model = _peer(paths)
    if not model.dhcp.lease_sync:
        return EXIT_OK
    if args.catch_up and model.node.sync_device and carrier(model.node.sync_device) is False:
        print(f"sync link {model.node.sync_device} is down: no peer to catch up with")
        return EXIT_OK  # a failover: the peer is gone, answer DHCP with what this node has
    outcome = exchange(paths, peer, port, apply_if_not_answering=True,
                       answering=peer_side.answering_dhcp(paths) and not args.catch_up,
                       timeout=1.5 if args.catch_up else 15)
    if args.json:
        print_json(outcome.__dict__)
    elif outcome.ok:
        print(f"exchanged with {peer}: {outcome.leases_local} leases known, {outcome.leases_peer} on the peer, "
              f"{outcome.conflicts} conflicts{', dnsmasq updated' if outcome.applied else ''}")
    else:
        print(f"ha-pair: lease sync with {peer} failed ({outcome.error_kind}): {outcome.error}", file=sys.stderr)
    return EXIT_OK if outcome.ok else EXIT_FAILED
