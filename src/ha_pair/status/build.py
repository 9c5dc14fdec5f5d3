"""Build the status JSON (pure), every field of it in one place: the model in effect, the
agent's PairState, a snapshot of probe results, the configuration on disk and the lease sync's
own report.

The schema is documented field by field in README.md ("ubus call ha status"). No secrets:
nothing from auth_pass or key files is ever read here.
"""

from __future__ import annotations

from ..record import record

from .. import jsonsafe
from ..config.model import Check, Model
from ..config.shared import vrrp_profile
from ..state.observed import UNKNOWN_CHECK, CheckResult, Snapshot
from ..state.pair import PairState
from ..operate.hold import NORMAL, VALUES as HOLD_VALUES, YIELD

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any

SCHEMA_VERSION = 1


@record(frozen=True)
class ConfigOnDisk:
    """/etc/config as validated now, which may differ from the configuration in effect."""

    errors: tuple[str, ...] = ()
    digest: str | None = None  # of the configuration on disk; None when it does not validate


def check_down(check: Check, result: CheckResult, carrier: bool | None) -> bool:
    """As keepalived sees it: an interface check is down without carrier; a ping or script check
    after `fall` failures in a row."""
    if check.kind == "interface":
        return not carrier
    return result.result == "fail" and result.consecutive >= check.fall


def _checks(model: Model, snapshot: Snapshot) -> dict[str, Any]:
    out = {}
    for check in model.checks:
        result = snapshot.checks.get(check.name, UNKNOWN_CHECK)
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


def effective_priority(priority: int, checks: tuple[Check, ...], results: dict[str, Any], hold: int = 0,
                       gate_closed: bool = False) -> int:
    """The priority keepalived advertises: a negative weight counts while its check is down, a
    positive one while it is up (keepalived's track_script/track_interface rule), and the
    operator's hold (a track_file of weight 1), kept in 1-254; below -253 the hold is FAULT,
    which advertises priority 0, and so is a closed sync gate (the other track_file)."""
    if hold < YIELD or gate_closed:
        return 0
    total = priority + hold
    for check in checks:
        if check.failure != "weight":
            continue
        down = results.get(check.name, {}).get("down")
        if (check.weight < 0 and down) or (check.weight > 0 and down is False):
            total += check.weight
    return max(1, min(254, total))


def health(status: dict[str, Any]) -> dict[str, Any]:
    """A one-line verdict over a complete status: healthy, or what is wrong (pure)."""
    problems: list[str] = []
    config = status.get("config") or {}
    node = status.get("node") or {}
    if not config.get("valid", True):
        problems.append("configuration rejected, the previous one is still in effect" if node
                        else "configuration invalid, nothing is running")
    if node and not node.get("enabled", True):
        return {"healthy": False, "summary": "disabled (ha.global.enabled is 0)", "problems": problems}
    state = status.get("state")
    split = status.get("split_brain") or {}
    if split.get("active"):  # the worst news first: the VIPs answer from two routers
        problems.append(f"SPLIT BRAIN: {split.get('cause')}")
    maintenance = status.get("maintenance") or {}
    if maintenance.get("on"):  # said first and loudly: the operator holds this node out of mastership
        problems.append("MAINTENANCE: this node is held out of mastership (ha-pair maintenance off)")
    elif split.get("stepped_down"):
        problems.append("this secondary stepped down for a split brain (ha.global.split_brain): out of mastership "
                        "until it tries again")
    elif state == "fault":
        problems.append("this node is in FAULT")
    elif state not in ("master", "backup"):
        problems.append(f"no VRRP state yet ({state})")
    for name, inst in (status.get("instances") or {}).items():
        if inst.get("link") is False:
            problems.append(f"link down on {inst.get('device')} ({name})")
        if state == "master" and inst.get("vips_present") is False:
            problems.append(f"virtual IPs of {name} missing on the master")
        if state == "backup" and inst.get("vips_present") is True:
            problems.append(f"virtual IPs of {name} held by a backup")
    problems += [f"health check {name} down" for name, check in (status.get("checks") or {}).items()
                 if check.get("down")]
    conntrack = status.get("conntrack") or {}
    if conntrack.get("enabled") and not conntrack.get("running"):
        problems.append("conntrackd stopped")  # (its error counters only add up: shown, not judged)
    peer = status.get("peer") or {}
    if peer.get("sync_link") is False:
        problems.append(f"sync link down ({peer.get('sync_device')})")
    leases = status.get("lease_sync") or {}
    if leases.get("enabled") and leases.get("peer_reachable") is False:
        problems.append("peer unreachable (lease sync)")
    elif leases.get("enabled") and leases.get("last_error_kind"):
        problems.append(f"lease sync failing ({leases['last_error_kind']})")
    if leases.get("clock_warning"):
        problems.append(f"clocks of the pair differ by {leases.get('clock_offset_s')} s")
    peer_view = status.get("peer_view") or {}
    if peer_view.get("config_match") is False:
        problems.append("the shared configuration differs from the peer's")
    if peer_view.get("vrrp_mismatch"):  # said before it makes both nodes master
        problems.append("VRRP settings differ from the peer's: " + "; ".join(peer_view["vrrp_mismatch"]))
    if (status.get("dhcp") or {}).get("consistent") is False:
        problems.append("DHCP answering does not match the VRRP state")
    if config.get("pending_changes") and config.get("valid", True):
        problems.append("changes to /etc/config/ha not applied yet (reload ha-pair)")
    summary = "healthy" if not problems else "degraded: " + "; ".join(problems)
    return {"healthy": not problems, "summary": summary, "problems": problems}


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
                 on_disk: ConfigOnDisk, lease_sync: dict[str, Any] | None = None,
                 maintenance: dict[str, Any] | None = None, peer_view: dict[str, Any] | None = None,
                 split_brain: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole answer of `ubus call ha status`. `model` is the configuration in effect (None
    when none ever validated), `lease_sync` the lease sync's report (None: not running),
    `maintenance` the operator's hold (operate.hold.describe), `peer_view` the peer's last report
    (status.peer_report.view; None: no peer to ask), `split_brain` the episode as
    state.split_brain.SplitBrain.as_dict() has it."""
    status: dict[str, Any] = {
        "version": SCHEMA_VERSION,
        "time": round(snapshot.time, 3),
        "state": state.node_state,
        "since": state.since,
        "last_transition": state.last_transition.as_dict() if state.last_transition else None,
        "history_size": len(state.history),
        "agent": agent,
        "config": {"valid": not on_disk.errors, "errors": list(on_disk.errors),
                   "digest": model.digest if model else None,
                   "pending_changes": model is not None and on_disk.digest != model.digest,
                   "shared_digest": model.shared_digest if model else None,
                   "peer_match": (peer_view or {}).get("config_match"),
                   "vrrp": vrrp_profile(model) if model else None},
        "maintenance": maintenance or {"on": False, "since": None, "by": None, "hold": None},
        "peer_view": peer_view,
        "split_brain": split_brain or {"active": False, "since": None, "detected": None, "cause": None,
                                       "suspected": False,
                                       "episodes": 0, "last_end": None, "policy": None, "stepped_down": None},
    }
    if state.group is not None:
        name, member = state.group
        status["sync_group"] = {"name": name, "state": member.state, "since": member.since}
    else:
        status["sync_group"] = None
    if model is not None:
        held = HOLD_VALUES.get((maintenance or {}).get("hold"), NORMAL)
        status.update(_pair(model, state, snapshot, held))
    status["lease_sync"] = lease_sync if lease_sync is not None else {"enabled": False}
    status["health"] = health(status)
    return jsonsafe.finite(status)  # JSON for ubus and LuCI: no NaN or infinity, whatever a probe read


def _pair(model: Model, state: PairState, snapshot: Snapshot, hold: int) -> dict[str, Any]:
    """The fields that need a configuration in effect; `hold` the operator's (operate.hold)."""
    node = model.node
    checks = _checks(model, snapshot)
    expected = state.node_state == "master"
    answering = snapshot.dhcp_answering
    return {
        "node": {"name": node.name, "role": node.role, "priority": node.priority, "enabled": node.enabled,
                 "effective_priority": effective_priority(node.priority, model.checks, checks, hold,
                                                          snapshot.sync_gate_closed),
                 "vrrp_version": node.vrrp_version, "advert_int_cs": node.advert_centis},
        "instances": _instances(model, state, snapshot),
        "checks": checks,
        "conntrack": _conntrack(model, snapshot),
        "dhcp": {
            "managed": model.dhcp.managed, "sections": [s.section for s in model.dhcp.sections],
            "answering": answering,
            "consistent": answering is None or answering == expected,
        },
        "peer": {
            "address": str(node.peer) if node.peer else None, "sync_interface": node.sync_interface,
            "sync_device": node.sync_device,
            "sync_link": snapshot.carriers.get(node.sync_device) if node.sync_device else None,
        },
    }
