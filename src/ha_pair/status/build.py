"""Build the status JSON (pure): model + the agent's PairState + a snapshot of probe results.

The schema is documented field by field in README.md ("ubus call ha status"). No secrets:
nothing from auth_pass or key files is ever read here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..agent.probes import CheckResult
from ..agent.state import PairState
from ..config.model import Check, Model

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Snapshot:
    """What the probes saw, at `time`."""

    time: float
    addresses: dict[str, list[str]] = field(default_factory=dict)  # device -> addresses on it
    carriers: dict[str, bool | None] = field(default_factory=dict)  # device -> carrier
    checks: dict[str, CheckResult] = field(default_factory=dict)
    conntrack: dict[str, Any] = field(default_factory=dict)  # probes.conntrackd_stats()
    dhcp_answering: bool | None = None


def check_down(check: Check, result: CheckResult, carrier: bool | None) -> bool:
    """As keepalived sees it: an interface check is down without carrier; a ping or script check
    after `fall` failures in a row."""
    if check.kind == "interface":
        return not carrier
    return result.result == "fail" and result.consecutive >= check.fall


def _checks(model: Model, snapshot: Snapshot) -> dict[str, Any]:
    out = {}
    for check in model.checks:
        result = snapshot.checks.get(check.name, CheckResult("unknown", None, 0, None))
        entry: dict[str, Any] = {
            "type": check.kind, "failure": check.failure, "interval": check.interval, "fall": check.fall,
            "rise": check.rise,
        }
        if check.failure == "weight":
            entry["weight"] = check.weight
        if check.kind == "ping":
            entry["target"] = str(check.target)
        elif check.kind == "script":
            entry["script"] = check.script
        down = check_down(check, result, snapshot.carriers.get(check.device or ""))
        if check.kind == "interface":
            entry.update(interface=check.interface, device=check.device, result="fail" if down else "ok",
                         down=down)
        else:
            entry.update(result=result.result, since=result.since, consecutive=result.consecutive,
                         last_run=result.last_run, down=down)
        out[check.name] = entry
    return out


def _instances(model: Model, state: PairState, snapshot: Snapshot) -> dict[str, Any]:
    out = {}
    for vip in model.vips:
        member = state.instance(vip.name)
        present = snapshot.addresses.get(vip.device, [])
        addresses = [str(a.ip) for a in vip.addresses]
        out[vip.name] = {
            "state": member.state if member else "unknown",
            "since": member.since if member else None,
            "interface": vip.interface, "device": vip.device, "vrid": vip.vrid,
            "vips": [str(a) for a in vip.addresses],
            "vips_present": all(a in present for a in addresses) if not vip.use_vmac else None,
            "link": snapshot.carriers.get(vip.device),
        }
    return out


def _conntrack(model: Model, snapshot: Snapshot) -> dict[str, Any]:
    c = model.conntrack
    if not c.enabled:
        return {"enabled": False}
    stats = snapshot.conntrack
    sync = stats.get("sync", {})
    warnings = []
    if not stats.get("running"):
        warnings.append("conntrackd is not running (procd restarts it)")
    for key in ("error_send", "error_recv", "lost_msgs", "malformed_msgs"):
        if sync.get(key):
            warnings.append(f"{key.replace('_', ' ')}: {sync[key]}")
    return {
        "enabled": True, "running": bool(stats.get("running")), "mode": c.mode, "transport": c.transport,
        "internal_active": stats.get("internal", {}).get("active"),
        "external_active": stats.get("external", {}).get("active"),
        "sync": sync, "warnings": warnings,
    }


def build_status(model: Model | None, state: PairState, snapshot: Snapshot, agent: dict[str, Any],
                 config_errors: list[str] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {
        "version": SCHEMA_VERSION,
        "time": round(snapshot.time, 3),
        "state": state.node_state,
        "since": state.since,
        "last_transition": state.last_transition.as_dict() if state.last_transition else None,
        "history_size": len(state.history),
        "agent": agent,
        "config": {"valid": model is not None, "errors": config_errors or [],
                   "digest": model.digest if model else None},
    }
    if state.group is not None:
        name, member = state.group
        status["sync_group"] = {"name": name, "state": member.state, "since": member.since}
    else:
        status["sync_group"] = None
    if model is None:
        return status
    node = model.node
    status["node"] = {"name": node.name, "role": node.role, "priority": node.priority, "enabled": node.enabled,
                      "vrrp_version": node.vrrp_version, "advert_int_cs": node.advert_centis}
    status["instances"] = _instances(model, state, snapshot)
    status["checks"] = _checks(model, snapshot)
    status["conntrack"] = _conntrack(model, snapshot)
    expected = state.node_state == "master"
    answering = snapshot.dhcp_answering
    status["dhcp"] = {
        "managed": model.dhcp.managed, "sections": [s.section for s in model.dhcp.sections],
        "answering": answering,
        "consistent": answering is None or answering == expected,
    }
    status["peer"] = {
        "address": str(node.peer) if node.peer else None, "sync_interface": node.sync_interface,
        "sync_device": node.sync_device,
        "sync_link": snapshot.carriers.get(node.sync_device) if node.sync_device else None,
    }
    return status
