"""The peer view over the sync channel: this node's report for the peer (served by the forced
command's `state` verb) and asking the peer for its own."""

from __future__ import annotations

import os
import time

from .. import __version__, leanjson, runfiles
from ..paths import Paths
from ..status.peer_report import MAX_REPORT_BYTES, parse_report, report
from . import hold

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any

ASK_TIMEOUT_S = 8.0


def local_report(paths: Paths) -> dict[str, Any]:
    """This node's report from its agent; without an agent, what the run files and the
    configuration on disk say."""
    from ..agent import control_client

    try:
        answer = control_client.request(paths.control_socket, "peer_report", timeout=2.0)
        if isinstance(answer, dict) and "error" not in answer:
            return answer
    except (OSError, ValueError):
        pass
    from ..config.load import validate
    from ..config.shared import vrrp_auth, vrrp_profile

    model = validate(paths).model
    status = {
        "state": runfiles.node_state(paths),
        "node": {"name": model.node.name if model else None},
        "config": {"shared_digest": model.shared_digest if model else None,
                   "vrrp": vrrp_profile(model) if model else None},
        "maintenance": hold.describe(paths),
        "agent": {"running": False, "version": __version__},
    }
    out = report(status, time.time())
    if model is not None:
        out["vrrp_auth"] = vrrp_auth(model)
    return out


def ask(paths: Paths, host: str, port: int, timeout: float = ASK_TIMEOUT_S, own_state: str | None = None
        ) -> dict[str, Any]:
    """The peer's report. With `own_state`, the question tells the peer this node's VRRP state:
    a master asking a master makes the peer ask back at once (split brain found on both nodes
    without fast polling). Raises leasesync.transport.TransportError (kind: unreachable, hostkey,
    auth, refused, rejected, failed)."""
    from ..leases.limits import Budget
    from ..leasesync.transport import TransportError, call

    question = leanjson.dumps({"state": own_state}).encode() if own_state else b""
    reply, _ = call(paths, host, port, "state", question, timeout=timeout, budget=Budget(max_bytes=MAX_REPORT_BYTES))
    try:
        return parse_report(reply.data)
    except ValueError as exc:
        raise TransportError("rejected", f"unreadable report from the peer: {exc}") from None


MAX_QUESTION_BYTES = 256


def heard_question(paths: Paths, raw: bytes) -> None:
    """On the asked node (the forced command): a peer that says it is master makes this node's
    agent ask it back now (the events FIFO; nothing when no agent reads it)."""
    try:
        question = leanjson.loads(raw.decode("utf-8")) if raw.strip() else {}
    except ValueError:
        return
    if not isinstance(question, dict) or question.get("state") != "master":
        return
    try:
        fd = os.open(paths.events_fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        os.write(fd, b"peer-master\n")
    except OSError:
        pass
    finally:
        os.close(fd)
