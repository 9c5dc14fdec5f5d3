"""The peer view (pure): what a node tells its peer about itself over the sync channel (the forced
command's `state` verb), and what the peer makes of it.

A report is small and flat: node name, VRRP state, effective priority, ha-pair version, the
digest of the shared configuration, maintenance, and whether it could take over now.
"""

from __future__ import annotations

from typing import Any

REPORT_KEYS = ("node", "state", "effective_priority", "version", "config_digest", "maintenance", "hold",
               "ready", "not_ready", "agent", "time")
MAX_REPORT_BYTES = 4096  # a report is a few hundred bytes; anything larger is refused


def not_ready(status: dict[str, Any]) -> list[str]:
    """Why this node could not take the VIPs now (empty: it can)."""
    reasons = []
    maintenance = status.get("maintenance") or {}
    if maintenance.get("on"):
        reasons.append("it is in maintenance mode")
    state = status.get("state")
    if state != "backup":
        reasons.append(f"it is {state}, not backup")
    for name, inst in (status.get("instances") or {}).items():
        if inst.get("link") is False:
            reasons.append(f"link down on {inst.get('device')} ({name})")
    reasons += [f"health check {name} down" for name, check in (status.get("checks") or {}).items()
                if check.get("down")]
    return reasons


def report(status: dict[str, Any], now: float) -> dict[str, Any]:
    """This node's report to its peer, from its own status (the agent's, or the offline one)."""
    node = status.get("node") or {}
    config = status.get("config") or {}
    agent = status.get("agent") or {}
    maintenance = status.get("maintenance") or {}
    reasons = not_ready(status)
    return {
        "node": node.get("name"), "state": status.get("state"),
        "effective_priority": node.get("effective_priority"), "version": agent.get("version"),
        "config_digest": config.get("shared_digest"), "maintenance": bool(maintenance.get("on")),
        "hold": maintenance.get("hold"), "ready": not reasons, "not_ready": reasons,
        "agent": agent.get("running", True) and agent.get("pid") is not None, "time": round(now, 3),
    }


def parse_report(raw: bytes) -> dict[str, Any]:
    """The peer's report, checked: a JSON object with the known keys of the expected types (an
    unknown or mistyped value is left out, never passed on). Raises ValueError."""
    import json

    if len(raw) > MAX_REPORT_BYTES:
        raise ValueError(f"peer report larger than {MAX_REPORT_BYTES} bytes")
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("peer report is not a JSON object")
    types = {"node": str, "state": str, "effective_priority": int, "version": str, "config_digest": str,
             "maintenance": bool, "hold": str, "ready": bool, "not_ready": list, "agent": bool,
             "time": (int, float)}
    out: dict[str, Any] = {}
    for key, kind in types.items():
        value = data.get(key)
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            out[key] = value
    out["not_ready"] = [str(r)[:200] for r in out.get("not_ready", [])[:20]]
    for key in ("node", "state", "version", "config_digest", "hold"):
        if key in out:
            out[key] = out[key][:100]
    return out


def view(reply: dict[str, Any] | None, heard: float | None, error: str | None, error_kind: str | None,
         own_digest: str | None, now: float) -> dict[str, Any]:
    """What status shows as `peer_view`: the last report and how fresh it is."""
    out: dict[str, Any] = {"reachable": error is None and reply is not None, "last_heard": heard,
                           "age_s": round(now - heard, 1) if heard else None, "error": error,
                           "error_kind": error_kind}
    reply = reply or {}
    for key in REPORT_KEYS:
        if key != "time":
            out[key] = reply.get(key)
    digest = reply.get("config_digest")
    out["config_match"] = None if not digest or not own_digest else digest == own_digest
    return out
