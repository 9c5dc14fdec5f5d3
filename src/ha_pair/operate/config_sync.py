"""Config sync: the shared part of /etc/config/ha (config/shared.py) from this node to the peer,
over the sync channel's forced command (verbs `config-get` and `config-put`).

The sender shows the difference first (`--dry-run` stops there). The peer takes only the shared
part: a message carrying a per-node option (role, priority, peer, node_name, unicast_peer,
unicast_src) is refused, and its own per-node values are put back before it validates the result
with the rules of `ha-pair check` against its own network, dhcp and system files. Refused: nothing
changes there, and both ends say why. Accepted: /etc/config/ha is replaced in one rename and
ha-pair reloads.
"""

from __future__ import annotations

import difflib
import subprocess

from .. import log
from ..config.load import validate_proposal
from ..config.shared import merge_shared, per_node_options, shared_part
from ..fs import KEEP_MODE, atomic_write
from ..paths import Paths
from ..uci import UciSyntaxError, load, parse
from ..uci.writer import dump

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any

MAX_CONFIG_BYTES = 64 * 1024  # a large /etc/config/ha is a few KiB


class Refused(Exception):
    """The peer's configuration is not taken; the message says why."""


def shared_text(paths: Paths) -> str:
    """This node's shared part of /etc/config/ha, as UCI text."""
    return dump(shared_part(load(paths.ha_config, "ha")))


def diff(theirs: str, ours: str) -> str:
    """What the peer's shared configuration becomes, as a unified diff ('' when nothing)."""
    return "".join(difflib.unified_diff(theirs.splitlines(keepends=True), ours.splitlines(keepends=True),
                                        "peer: /etc/config/ha (shared part)", "this node: /etc/config/ha (shared part)"))


def accept(paths: Paths, raw: bytes) -> dict[str, Any]:
    """On the peer (the forced command's `config-put`): take the sender's shared part, keep this
    node's per-node values, validate, replace /etc/config/ha atomically and reload. Raises Refused."""
    if len(raw) > MAX_CONFIG_BYTES:
        raise Refused(f"configuration larger than {MAX_CONFIG_BYTES} bytes")
    try:
        incoming = parse(raw.decode("utf-8"), "ha", "the peer's /etc/config/ha")
    except (UnicodeDecodeError, UciSyntaxError) as exc:
        raise Refused(f"unreadable configuration from the peer: {exc}") from None
    carried = per_node_options(incoming)
    if carried:
        raise Refused(f"the message carries per-node options ({', '.join(carried)}): never overwritten")
    local = load(paths.ha_config, "ha")
    merged = merge_shared(local, incoming)
    result = validate_proposal(paths, merged)
    if result.model is None:
        raise Refused("it would not validate here: " + "; ".join(str(e) for e in result.errors))
    text = dump(merged)
    changed = atomic_write(paths.ha_config, text, KEEP_MODE)
    if changed:
        log.warning("config sync: /etc/config/ha replaced by the peer's shared part (per-node values kept)")
        _reload(paths)
    return {"ok": True, "changed": changed}


def _reload(paths: Paths) -> None:
    """The init script's reload (render, then keepalived and the agent pick it up), as `uci
    commit ha` would trigger it through procd."""
    script = paths.under("/etc/init.d/ha-pair")
    try:
        done = subprocess.run([str(script), "reload"], capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.error(f"config sync: /etc/config/ha written, but the reload failed: {exc}")
        return
    if done.returncode != 0:
        log.error(f"config sync: /etc/config/ha written, but the reload failed: {done.stderr.strip()[-300:]}")


def push(paths: Paths, host: str, port: int, dry_run: bool) -> dict[str, Any]:
    """The sender: the peer's shared part, the difference, and unless `dry_run` (or nothing
    differs) the peer's answer. Raises leasesync.transport.TransportError (kind `refused` with
    the peer's reason when it does not take it)."""
    from ..leases.limits import Budget
    from ..leasesync.transport import TransportError, call

    ours = shared_text(paths)
    reply, _ = call(paths, host, port, "config-get", timeout=15, budget=Budget(max_bytes=MAX_CONFIG_BYTES))
    try:
        theirs = reply.data.decode("utf-8")
    except UnicodeDecodeError:
        raise TransportError("rejected", "the peer's configuration is not UTF-8") from None
    changes = diff(theirs, ours)
    out: dict[str, Any] = {"ok": True, "diff": changes, "dry_run": dry_run, "sent": False}
    if dry_run or not changes:
        return out
    call(paths, host, port, "config-put", ours.encode("utf-8", "surrogateescape"), timeout=45)
    log.info(f"config sync: the shared part of /etc/config/ha sent to {host} and taken")
    return {**out, "sent": True}


def run(paths: Paths, dry_run: bool) -> dict[str, Any]:
    """`ha-pair config-sync` and luci.ha's config_sync: push() from this node's configuration to
    its peer; the answer has `ok`, and `error` (with the peer's reason when it refused) when not."""
    from ..config.load import validate
    from ..leasesync.transport import TransportError

    model = validate(paths).model
    if model is None:
        return {"ok": False, "refused": False, "error": f"{paths.ha_config} is invalid here: run `ha-pair check` "
                                                        "(nothing was sent)"}
    if model.node.peer is None:
        return {"ok": False, "refused": False, "error": "no peer configured (ha.global.peer)"}
    try:
        return push(paths, str(model.node.peer), model.dhcp.ssh_port, dry_run)
    except TransportError as exc:
        if exc.kind == "refused":
            reason = str(exc).split("refused: ", 1)[-1]
            return {"ok": False, "refused": True, "error": f"the peer refused it, nothing changed there: {reason}"}
        return {"ok": False, "refused": False, "error": f"{exc.kind}: {exc}"}
