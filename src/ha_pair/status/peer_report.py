"""The peer view (pure): what a node tells its peer about itself over the sync channel (the forced
command's `state` verb), and what the peer makes of it.

A report is small: node name, VRRP state, effective priority, ha-pair version, the digest of the
shared configuration, maintenance, whether it could take over now, and the VRRP values both nodes
must agree on (config.shared.vrrp_profile) with a fingerprint of the VRRP authentication.
"""

from __future__ import annotations


TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any

REPORT_KEYS = ("node", "state", "effective_priority", "version", "config_digest", "maintenance", "hold",
               "ready", "not_ready", "agent", "time", "vrrp")  # vrrp_auth: compared, never shown
MAX_INSTANCES = 64
MAX_REPORT_BYTES = 16384  # a report is under 1 KiB with two VIP groups; anything past this is refused


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
        "vrrp": config.get("vrrp"),
    }


def parse_report(raw: bytes) -> dict[str, Any]:
    """The peer's report, checked: a JSON object with the known keys of the expected types (an
    unknown or mistyped value is left out, never passed on). Raises ValueError."""
    from .. import leanjson

    if len(raw) > MAX_REPORT_BYTES:
        raise ValueError(f"peer report larger than {MAX_REPORT_BYTES} bytes")
    data = leanjson.loads(raw.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("peer report is not a JSON object")
    types = {"node": str, "state": str, "effective_priority": int, "version": str, "config_digest": str,
             "maintenance": bool, "hold": str, "ready": bool, "not_ready": list, "agent": bool,
             "time": (int, float), "vrrp_auth": str}
    out: dict[str, Any] = {}
    for key, kind in types.items():
        value = data.get(key)
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            out[key] = value
    out["not_ready"] = [str(r)[:200] for r in out.get("not_ready", [])[:20]]
    for key in ("node", "state", "version", "config_digest", "hold", "vrrp_auth"):
        if key in out:
            out[key] = out[key][:100]
    vrrp = _parse_vrrp(data.get("vrrp"))
    if vrrp is not None:
        out["vrrp"] = vrrp
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_vrrp(data: Any) -> dict[str, Any] | None:
    """The peer's VRRP profile, or None when it is missing or malformed (then nothing is compared)."""
    if not isinstance(data, dict) or not _is_int(data.get("version")) or not _is_int(data.get("advert_cs")):
        return None
    instances = data.get("instances")
    if not isinstance(instances, dict) or len(instances) > MAX_INSTANCES:
        return None
    out: dict[str, Any] = {}
    for name, inst in instances.items():
        if not isinstance(name, str) or not isinstance(inst, dict) or not _is_int(inst.get("vrid")):
            return None
        addresses = inst.get("addresses")
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            return None
        out[name[:64]] = {"vrid": inst["vrid"], "addresses": [a[:64] for a in addresses[:32]]}
    return {"version": data["version"], "advert_cs": data["advert_cs"], "instances": out}


def vrrp_mismatches(own: dict[str, Any] | None, own_auth: str | None, peer: dict[str, Any] | None,
                    peer_auth: str | None) -> list[str]:
    """What differs between this node's VRRP values and the peer's (empty: they agree, or the peer
    did not say). Any of these makes the nodes drop each other's adverts: both become master."""
    if not own or not peer:
        return []
    out = []
    if own["version"] != peer["version"]:
        out.append(f"VRRP version {own['version']} here, {peer['version']} on the peer")
    if own["advert_cs"] != peer["advert_cs"]:
        out.append(f"advert_int {own['advert_cs'] / 100:g} s here, {peer['advert_cs'] / 100:g} s on the peer")
    if own_auth and peer_auth and own_auth != peer_auth:
        ours, theirs = own_auth.split(":")[0], peer_auth.split(":")[0]
        out.append(f"authentication differs (auth_type {ours} here, {theirs} on the peer)" if ours != theirs
                   else "authentication differs (auth_pass)")
    mine, theirs = own["instances"], peer["instances"]
    for interface in sorted(set(mine) | set(theirs)):
        a, b = mine.get(interface), theirs.get(interface)
        if a is None or b is None:
            out.append(f"{interface}: a VIP group {'on the peer only' if a is None else 'here only'}")
            continue
        if a["vrid"] != b["vrid"]:
            out.append(f"{interface}: vrid {a['vrid']} here, {b['vrid']} on the peer")
        if sorted(a["addresses"]) != sorted(b["addresses"]):
            out.append(f"{interface}: addresses {', '.join(a['addresses'])} here, "
                       f"{', '.join(b['addresses']) or 'none'} on the peer")
    return out


def view(reply: dict[str, Any] | None, heard: float | None, error: str | None, error_kind: str | None,
         own: dict[str, Any], now: float) -> dict[str, Any]:
    """What status shows as `peer_view`: the last report, how fresh it is, and how it compares with
    this node (`own`: shared_digest, vrrp, vrrp_auth)."""
    out: dict[str, Any] = {"reachable": error is None and reply is not None, "last_heard": heard,
                           "age_s": round(now - heard, 1) if heard else None, "error": error,
                           "error_kind": error_kind}
    reply = reply or {}
    for key in REPORT_KEYS:
        if key != "time":
            out[key] = reply.get(key)
    digest, own_digest = reply.get("config_digest"), own.get("shared_digest")
    out["config_match"] = None if not digest or not own_digest else digest == own_digest
    out["vrrp_mismatch"] = vrrp_mismatches(own.get("vrrp"), own.get("vrrp_auth"), reply.get("vrrp"),
                                           reply.get("vrrp_auth"))
    return out
