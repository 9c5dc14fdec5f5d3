"""Planned handover and maintenance mode: checks against the peer view, then a change of the hold
file (operate/hold.py) that keepalived acts on by itself. The command line and the agent's ubus
methods run the same procedures; neither needs the other.

handover (on the master): the peer must say it could take over now (backup, not in maintenance,
links up, no health check down). The hold goes OUT: keepalived enters FAULT and sends a
priority-0 advert, so the peer takes the VIPs after its skew time (nopreempt or not); once the
peer reports master, the hold becomes YIELD: this node is a backup with priority 1 that does not
take mastership back, but still takes over if the peer fails (the notify script then ends the
yield). If the peer has not taken over in time, the hold is lifted again and the handover fails.

maintenance on: recorded under /etc/ha-pair, the hold OUT until `maintenance off` (a master hands
over as above). Refused when the peer cannot be asked, is in maintenance itself (no node would
hold the VIPs) or, for a master, could not take over now; `force` overrides these.
"""

from __future__ import annotations

import time

from .. import log, runfiles
from ..config.model import Model
from ..paths import Paths
from . import hold

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any, Callable

    PeerAsk = Callable[[], dict]  # the peer's report (status.peer_report), raises on failure

POLL_S = 0.1


class Refused(Exception):
    """The request was not carried out; the message says why. Nothing changed."""


class Failed(Exception):
    """Carried out, but it did not have the effect wanted; the message says what is now."""


def _takeover_timeout(model: Model) -> float:
    # the peer takes over after its skew time (priority 0 advert), at worst after Master_Down
    return 3 * model.node.advert_centis / 100 + 5.0


def _ask(ask_peer: PeerAsk) -> tuple[dict | None, str]:
    try:
        return ask_peer(), ""
    except Exception as exc:  # TransportError and whatever else: the reason is shown
        return None, str(exc)


def _wait_peer_master(ask_peer: PeerAsk, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report, _ = _ask(ask_peer)
        if report and report.get("state") == "master":
            return True
        time.sleep(POLL_S)
    return False


def handover(paths: Paths, model: Model, ask_peer: PeerAsk, by: str = "operator") -> dict[str, Any]:
    state = runfiles.node_state(paths)
    if hold.maintenance(paths) is not None:
        raise Refused("this node is in maintenance mode: it holds no VIPs to hand over")
    if state != "master":
        if runfiles.pending_state(paths) == "master":
            raise Refused("this node is becoming master: keepalived gave it the VIPs and its MASTER actions "
                          "(conntrack, lease catch-up, DHCP) are still running; try again in a moment")
        raise Refused(f"this node is {state}, not master: nothing to hand over")
    report, error = _ask(ask_peer)
    if report is None:
        raise Refused(f"the peer cannot be asked whether it could take over: {error}")
    if not report.get("ready"):
        raise Refused(f"the peer is not ready to take over: {'; '.join(report.get('not_ready') or ['unknown'])}")
    started = time.monotonic()
    log.warning(f"handover to {report.get('node')} requested by {by}: leaving mastership")
    hold.write_hold(paths, hold.OUT)
    if not _wait_peer_master(ask_peer, _takeover_timeout(model)):
        hold.write_hold(paths, hold.NORMAL)
        log.error("handover: the peer did not take over in time; this node is eligible for mastership again")
        raise Failed("the peer did not take over in time; this node is eligible for mastership again")
    hold.write_hold(paths, hold.YIELD)
    took = round(time.monotonic() - started, 3)
    log.info(f"handover: {report.get('node')} is master ({took} s); this node yields until it is master again")
    return {"ok": True, "peer": report.get("node"), "took_s": took}


def maintenance(paths: Paths, model: Model, on: bool, force: bool, ask_peer: PeerAsk,
                by: str = "operator") -> dict[str, Any]:
    current = hold.maintenance(paths) is not None
    if not on:
        hold.record_maintenance(paths, False, by)
        if current:
            log.warning(f"maintenance mode OFF (by {by}): this node may hold the VIPs again")
        return {"ok": True, "maintenance": False, "changed": current}
    if current:
        hold.write_hold(paths, hold.OUT)  # idempotent: the hold follows the record
        return {"ok": True, "maintenance": True, "changed": False}
    master = runfiles.node_state(paths) == "master"
    report, error = _ask(ask_peer)
    if not force:
        if report is None:
            raise Refused(f"the peer cannot be asked ({error}); --force enters maintenance anyway")
        if report.get("maintenance"):
            raise Refused("the peer is in maintenance mode too: no node would hold the VIPs; "
                          "--force enters maintenance anyway")
        if master and not report.get("ready"):
            raise Refused("the peer could not take over: "
                          f"{'; '.join(report.get('not_ready') or ['unknown'])}; --force enters maintenance anyway")
    hold.record_maintenance(paths, True, by)
    log.warning(f"maintenance mode ON (by {by}{', forced' if force else ''}): this node stays out of mastership "
                "until `ha-pair maintenance off`")
    out: dict[str, Any] = {"ok": True, "maintenance": True, "changed": True, "forced": force}
    if master and report is not None and report.get("ready"):
        out["peer_took_over"] = _wait_peer_master(ask_peer, _takeover_timeout(model))
    return out
