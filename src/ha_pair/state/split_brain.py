"""Split brain (pure): both nodes master for the same VIPs, each told by the other over the sync
channel (the peer view), not guessed from VRRP, whose adverts are exactly what is lost then.

An episode starts when two reports from the peer in a row, taken at least CONFIRM_S apart while
this node is master, say the peer is master too (one report could be the moment of an ordinary failback,
before the peer has heard the preempting advert); it ends at the first fresh report that does not,
or when this node stops being master. An unreachable peer changes nothing: it proves neither.
"""

from __future__ import annotations

from ..record import record, replace

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any

CONFIRM_S = 1.0  # between the report that raises the suspicion and the one that confirms it


@record(frozen=True)
class SplitBrain:
    active: bool = False
    since: float | None = None  # when the first of the confirming reports was heard
    detected: float | None = None  # when the second one confirmed it
    cause: str | None = None
    suspected: float | None = None  # one report said both are master: the next one decides
    episodes: int = 0
    last_end: float | None = None
    counted: float | None = None  # last_heard of the last report taken into account

    def as_dict(self) -> dict[str, Any]:
        return {"active": self.active, "since": self.since, "detected": self.detected, "cause": self.cause,
                "suspected": self.suspected is not None and not self.active, "episodes": self.episodes,
                "last_end": self.last_end}


def cause(peer_view: dict[str, Any]) -> str:
    mismatch = peer_view.get("vrrp_mismatch") or []
    if mismatch:
        return "both nodes are master: the VRRP settings differ from the peer's: " + "; ".join(mismatch)
    return ("both nodes are master while the sync link works: VRRP adverts between them are lost "
            "(filtered or blocked on the LAN/WAN side?)")


def _end(current: SplitBrain, now: float) -> tuple[SplitBrain, str | None]:
    if current.active:
        return replace(current, active=False, suspected=None, last_end=now), "end"
    return replace(current, suspected=None), None


def step(current: SplitBrain, own_state: str, own_since: float | None, peer_view: dict[str, Any] | None,
         now: float) -> tuple[SplitBrain, str | None]:
    """The next state from this node's VRRP state (and since when it is in it) and the peer view
    (status.peer_report.view); the event is "start", "end" or None. Only reports heard while this
    node is master count: one heard before says nothing about now (a preempting node's last report
    says the peer is master, as it then was)."""
    if own_state != "master":
        return _end(current, now)
    peer_view = peer_view or {}
    heard = peer_view.get("last_heard")
    if not peer_view.get("reachable") or heard is None or heard == current.counted \
            or (own_since is not None and heard < own_since):
        return current, None  # nothing new from the peer
    current = replace(current, counted=heard)
    if peer_view.get("state") != "master":
        return _end(current, now)
    if current.active:
        return replace(current, cause=cause(peer_view)), None
    if current.suspected is None:
        return replace(current, suspected=heard), None
    if heard - current.suspected < CONFIRM_S:
        return current, None
    return replace(current, active=True, since=current.suspected, detected=now, cause=cause(peer_view),
                   suspected=None, episodes=current.episodes + 1), "start"
