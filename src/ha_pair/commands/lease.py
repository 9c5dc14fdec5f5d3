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

from ..agent.probes import carrier
from ..config.load import validate
from ..fspath import FsPath
from ..leases import peer as peer_side
from ..leases.sync import exchange, hello
from ..leases.transport import TransportError, client, key_path, known_hosts
from ..paths import Paths
from ..sha256 import sha256
from .output import EXIT_FAILED, EXIT_INVALID, EXIT_OK, fail, print_json

KEY_OPTIONS = "no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding"


def fingerprint(key_line: str) -> str:
    """OpenSSH/dropbear style: SHA256 of the key blob, base64 without padding."""
    blob = base64.b64decode(key_line.split()[1])
    return "SHA256:" + base64.b64encode(sha256(blob).digest()).decode().rstrip("=")


def _peer(paths: Paths) -> tuple[str, int, object]:
    result = validate(paths)
    if result.model is None or result.model.node.peer is None:
        raise SystemExit(fail("ha.global.peer must be set (and /etc/config/ha valid) to talk to the peer",
                              EXIT_INVALID))
    return str(result.model.node.peer), result.model.dhcp.ssh_port, result.model


def ensure_key(paths: Paths) -> str:
    """The sync key's public half, creating the key on first use: dropbear's format for dbclient,
    and an OpenSSH copy when the client is OpenSSH's ssh."""
    key = key_path(paths)
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
    command = paths.libexec_dir / "lease-peer"
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
        return _pin(paths, peer, args.key.strip(), args.json)
    try:
        info, stderr = hello(paths, peer, port, accept_new=True)
    except TransportError as exc:
        return fail(f"could not reach the peer's sync command at {peer}: {exc}")
    presented = [word.rstrip(")") for word in stderr.split() if word.startswith("SHA256:")]
    candidates = [k for k in info.host_keys if not presented or fingerprint(k) in presented]
    if not candidates:
        return fail(f"the host key {peer} presented ({', '.join(presented) or 'unknown'}) is not among the keys "
                    "it reports; pin one by hand with --key")
    key = candidates[0]
    print(f"{info.node} at {peer}: {key.split()[0]} {fingerprint(key)}")
    if not args.yes:
        if not sys.stdin.isatty():
            return fail("check that fingerprint on the peer (`ha-pair keys` shows it) and run again with --yes",
                        EXIT_INVALID)
        if input("Pin this host key? [y/N] ").strip().lower() not in ("y", "yes"):
            return fail("not pinned", EXIT_FAILED)
    return _pin(paths, peer, key, args.json)


def _pin(paths: Paths, peer: str, key: str, as_json: bool) -> int:
    words = key.split()
    if len(words) < 2 or not words[0].startswith(("ssh-", "ecdsa-")):
        return fail(f"not a public key: {key[:60]!r}", EXIT_INVALID)
    try:
        base64.b64decode(words[1], validate=True)
    except ValueError:
        return fail("the key's base64 part is broken", EXIT_INVALID)
    path = known_hosts(paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    kept = []
    if path.exists():
        kept = [line for line in path.read_text().splitlines() if line.split()[:1] != [peer]]
    from ..apply.files import atomic_write
    atomic_write(path, "\n".join(kept + [f"{peer} {words[0]} {words[1]}"]) + "\n", 0o600)
    if as_json:
        print_json({"pinned": peer, "fingerprint": fingerprint(key)})
    else:
        print(f"pinned {peer} {words[0]} {fingerprint(key)} in {path}")
    return EXIT_OK


def lease_peer(args: argparse.Namespace, paths: Paths) -> int:
    """The forced command (run by dropbear for the sync key): the verb is SSH_ORIGINAL_COMMAND."""
    verb = os.environ.get("SSH_ORIGINAL_COMMAND", "").strip()
    return peer_side.serve(paths, verb, sys.stdin.buffer, sys.stdout.buffer)


def lease_sync(args: argparse.Namespace, paths: Paths) -> int:
    """One exchange now. --catch-up: before this node answers DHCP (keepalived's notify on MASTER):
    bounded in time, and dnsmasq's file is brought up to date since it does not answer yet."""
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
